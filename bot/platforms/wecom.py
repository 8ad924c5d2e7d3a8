"""WeCom self-built app (企业微信自建应用): `GET/POST /wecom/callback` and the "wecom" sender.

Inbound, in this order: verify (msg_signature over token, timestamp, nonce and the ciphertext; 403
otherwise) → decrypt (wechatpy.enterprise's WeChatCrypto) → parse (defusedxml: no DTD, no entities)
→ dedupe (MsgId; an event by sender + CreateTime + EventKey, through `handle`) → dispatch → answer.

Replies go out through the app API, not as a passive reply: a confirmation needs a template card with
buttons, which a passive reply cannot carry, and the outbox gives every reply the same retries,
fallback and per-target order as any later push. The callback answers an empty 200 as soon as the
message is handled and its replies are queued (a redelivered message queues nothing twice:
services.reply_delivery); the replies are then sent at once by this worker. When handling takes longer
than `ANSWER_WITHIN` seconds the callback answers anyway and the replies follow when ready.

A click on a card button (`template_card_event`) carries the button's callback token: it is handled
as that button's text from that member, then the card's buttons are replaced by the decision.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.background import BackgroundTask
from wechatpy.enterprise.crypto import WeChatCrypto

from handlers.all import handle
from handlers.messages import InboundMessage, Reply
from services import callback_tokens, dispatcher, reply_delivery

from ..console import make_deps
from ..web import runtime_of, worker_id
from ._http_logs import mask_http_logs
from ._wecom_api import WecomApi, WecomError
from ._wecom_send import CHANNEL, WecomSender, png_b64

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024  # a WeCom callback is a few KB
ANSWER_WITHIN = 4.0             # seconds; WeCom waits 5 s, then retries the callback
TEXTS = {
    "unsupported": {"zh-CN": "抱歉，目前只能处理文字消息，请直接输入文字（发送「帮助」查看用法）。",
                    "en": "Sorry, only text messages can be handled. Please type your message (send \"help\")."},
    "stale_button": {"zh-CN": "这个按钮已失效，请直接回复文字（例如「确认」）。",
                     "en": "This button has expired; please reply with text instead (e.g. \"yes\")."},
    "foreign_button": {"zh-CN": "这个按钮不是发给您的。", "en": "This button was not meant for you."},
}
STALE_LABEL = {"zh-CN": "已失效", "en": "Expired"}

router = APIRouter(tags=["wecom"])
_SENDERS: dict[int, WecomSender] = {}  # id(runtime) → its open sender, for replies sent at once
_LATER: set[asyncio.Task] = set()      # replies still being worked on after the callback answered
_WORKER = worker_id()
mask_http_logs()


@dataclass(frozen=True)
class Click:
    """A template card button pressed by `user_id`: its token and the code to update the card with."""

    user_id: str
    token: str
    response_code: str
    message_id: str


# --- inbound ------------------------------------------------------------------------------------

def _crypto(settings) -> WeChatCrypto | None:
    """The callback's crypto, or None when [wecom] token, aes_key and corp_id are not all set (or the
    aes_key is not an EncodingAESKey)."""
    w = settings.wecom
    if not (w.token and w.aes_key and w.corp_id):
        return None
    try:
        return WeChatCrypto(w.token, w.aes_key, w.corp_id)
    except Exception:  # noqa: BLE001 - wechatpy asserts on a key that does not decode to 32 bytes
        log.error("[wecom] aes_key is not a valid EncodingAESKey (43 characters); WeCom callbacks are refused")
        return None


def _signed(token: str, timestamp: str, nonce: str, data: str, signature: str) -> bool:
    """msg_signature = sha1 of the sorted (token, timestamp, nonce, data), compared in constant time."""
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce, data])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature or "")


def parse_xml(data: bytes | str) -> dict[str, str]:
    """The child elements of a flat XML document; refuses DTDs, entities and external references."""
    root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    return {child.tag: child.text or "" for child in root}


@router.get("/wecom/callback")
async def verify_url(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "",
                     echostr: str = "") -> Response:
    """The URL check when the callback is saved in the WeCom admin console: answers the decrypted echostr."""
    crypto = _crypto(runtime_of(request).settings)
    if crypto is None:
        return PlainTextResponse("WeCom is not configured", status_code=404)
    if not echostr or not _signed(crypto.token, timestamp, nonce, echostr, msg_signature):
        return PlainTextResponse("bad signature", status_code=403)
    try:
        echo = crypto.check_signature(msg_signature, timestamp, nonce, echostr)
    except Exception:  # noqa: BLE001 - not our corp id, not our key, not base64: all refused alike
        return PlainTextResponse("cannot decrypt", status_code=403)
    return PlainTextResponse(echo)


@router.post("/wecom/callback")
async def receive(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
    """One encrypted message or event from WeCom; answered with an empty 200 (replies go by the app API)."""
    started = time.monotonic()
    runtime = runtime_of(request)
    crypto = _crypto(runtime.settings)
    if crypto is None:
        return PlainTextResponse("WeCom is not configured", status_code=404)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        return PlainTextResponse(f"body over {MAX_CALLBACK_BYTES} bytes", status_code=413)
    body = await request.body()  # (the app's BodyLimit stops a stream with no or a false length at 1 MB)
    if len(body) > MAX_CALLBACK_BYTES:
        return PlainTextResponse(f"body over {MAX_CALLBACK_BYTES} bytes", status_code=413)
    try:
        encrypted = parse_xml(body).get("Encrypt", "")
    except (DefusedXmlException, ParseError):
        return PlainTextResponse("malformed or unsafe XML", status_code=400)
    if not encrypted or not _signed(crypto.token, timestamp, nonce, encrypted, msg_signature):
        return PlainTextResponse("bad signature", status_code=403)
    try:
        plain = crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
    except Exception:  # noqa: BLE001 - signed but not decryptable with our key and corp id
        return PlainTextResponse("cannot decrypt", status_code=403)
    try:
        fields = parse_xml(plain)
    except (DefusedXmlException, ParseError):
        return PlainTextResponse("malformed or unsafe XML", status_code=400)

    event = _classify(fields, agent_id=runtime.settings.wecom.agent_id)
    if event is None:
        return Response(status_code=200)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.inbound_message(CHANNEL)
    work = asyncio.create_task(_handle(runtime, event))
    try:
        await asyncio.wait_for(asyncio.shield(work), timeout=max(0.1, ANSWER_WITHIN - (time.monotonic() - started)))
    except TimeoutError:
        log.info("WeCom message from %s still in hand after %.1fs; answering now, replies follow",
                 event.user_id, ANSWER_WITHIN)
        _later(_send_replies(runtime, event, work))
        return Response(status_code=200)
    except Exception:  # noqa: BLE001 - nothing recorded: WeCom retries the callback
        log.exception("WeCom message from %s failed before its replies were queued", event.user_id)
        return PlainTextResponse("try again later", status_code=500)
    return Response(status_code=200, background=BackgroundTask(_send_replies, runtime, event, work))


def _classify(f: dict[str, str], *, agent_id: int) -> InboundMessage | Click | None:
    """The message or click in a decrypted callback, or None when there is nothing to answer."""
    user = f.get("FromUserName", "").strip()
    agent = f.get("AgentID", "").strip()
    if not user or (agent and agent != str(agent_id)):
        return None
    created = f.get("CreateTime", "").strip()
    kind = f.get("MsgType", "").strip()
    if kind == "event":
        event, key = f.get("Event", "").strip(), f.get("EventKey", "").strip()
        if event == "template_card_event" and key:
            return Click(user, key, f.get("ResponseCode", "").strip(), _event_id(user, created, key))
        if event == "subscribe":  # joined the app's visible range: tell how to start
            return InboundMessage(channel=CHANNEL, user_id=user, chat_id=user, text="帮助", kind="event",
                                  message_id=_event_id(user, created, event), raw=f)
        return None
    message_id = f.get("MsgId", "").strip() or _event_id(user, created, kind)
    if kind == "text":
        return InboundMessage(channel=CHANNEL, user_id=user, chat_id=user, text=f.get("Content", ""),
                              message_id=message_id, raw=f)
    return InboundMessage(channel=CHANNEL, user_id=user, chat_id=user, text="", kind="unsupported",
                          message_id=message_id, raw=f)


def _event_id(user: str, created: str, key: str) -> str:
    """Events have no MsgId: sender + CreateTime (+ key) identify a retried one."""
    ident = f"{user}:{created}:{key}"
    return ident if len(ident) <= 120 else "ev:" + hashlib.sha256(ident.encode()).hexdigest()


# --- handling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Handled:
    queued: bool           # replies were queued now (False: a redelivery, already answered)
    card_label: str = ""   # what the clicked card's buttons become


async def _handle(runtime, event: InboundMessage | Click) -> _Handled:
    """Handles the message once and queues its replies (in the outbox, to be sent at once)."""
    locale = runtime.settings.app.locale
    label = ""
    if isinstance(event, Click):
        pressed = await callback_tokens.press(runtime.uow(), channel=CHANNEL, token=event.token,
                                              external_id=event.user_id)
        if pressed.ok:
            msg = InboundMessage(channel=CHANNEL, user_id=event.user_id, chat_id=event.user_id, text=pressed.text,
                                 kind="button", message_id=event.message_id)
            replies = await handle(make_deps(runtime), msg)
            label = decided_label(pressed.text)
        else:
            key = "foreign_button" if pressed.status == "foreign" else "stale_button"
            replies = [Reply(_t(key, locale))]
            label = STALE_LABEL.get(locale, STALE_LABEL["zh-CN"]) if pressed.status != "foreign" else ""
        message_id = event.message_id
    else:
        if event.kind == "unsupported":
            replies = [Reply(_t("unsupported", locale))]
        else:
            replies = await handle(make_deps(runtime), event)
        message_id = event.message_id
    pending = [reply_delivery.PendingReply(r.text, r.buttons, png_b64(r.image_png)) for r in replies]
    queued = await reply_delivery.settle(runtime.uow(), channel=CHANNEL, message_id=message_id,
                                         target=event.user_id, undelivered=pending)
    return _Handled(queued=queued, card_label=label)


def decided_label(button_text: str) -> str:
    """What a card's buttons become once one was pressed: the choice, whatever came of it (the reply
    says that): 确认 → 已选：确认."""
    text = button_text.strip()
    if text and "\u4e00" <= text[0] <= "\u9fff":
        return f"已选：{text}"
    return f"Chosen: {text}"


async def _send_replies(runtime, event: InboundMessage | Click, work: asyncio.Task) -> None:
    """After the callback answered: updates a clicked card, then sends the queued replies now."""
    try:
        done = await work
    except Exception:  # noqa: BLE001 - the slow path: nothing was queued, WeCom was answered already
        log.exception("WeCom message from %s failed after the callback was answered", event.user_id)
        return
    if not done.queued:
        return
    sender = _SENDERS.get(id(runtime))
    if sender is None:  # no sender in this process: the dispatcher loop of any worker delivers them
        return
    if isinstance(event, Click) and done.card_label and event.response_code:
        try:
            await sender.api.update_card_button(userid=event.user_id, response_code=event.response_code,
                                                replace_name=done.card_label)
        except WecomError as exc:
            log.warning("could not update the card clicked by %s: %s", event.user_id, exc.reason)
    try:
        await dispatcher.drain(runtime.uow, {CHANNEL: sender}, worker=_WORKER, targets=[(CHANNEL, event.user_id)])
    except Exception:  # noqa: BLE001 - the rows stay queued for the dispatcher loop
        log.exception("sending replies to WeCom member %s failed; the dispatcher will retry", event.user_id)


def _later(coro) -> None:
    task = asyncio.create_task(coro)
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)


def _t(key: str, locale: str) -> str:
    return TEXTS[key].get(locale, TEXTS[key]["zh-CN"])


# --- outbound -----------------------------------------------------------------------------------

async def open_sender(runtime, stack: AsyncExitStack) -> WecomSender | None:
    """The "wecom" sender when the app is configured (corp_id, agent_id, secret), else None."""
    w = runtime.settings.wecom
    if not (w.corp_id and w.agent_id and w.secret):
        return None
    client = httpx.AsyncClient()
    stack.push_async_callback(client.aclose)
    api = WecomApi(corp_id=w.corp_id, agent_id=w.agent_id, secret=w.secret, base_url=w.api_base_url,
                   uow_factory=runtime.uow, client=client)
    sender = WecomSender(api, uow_factory=runtime.uow)
    _SENDERS[id(runtime)] = sender
    stack.callback(_SENDERS.pop, id(runtime), None)
    return sender
