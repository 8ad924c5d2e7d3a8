"""WeChat Official Account (服务号): `GET/POST /wechat/callback` and the "wechat" sender.

The callback pipeline is verify → read (capped) → parse safely → decrypt (safe mode) → parse →
dedupe and answer inside the 5-second window (`_wechat_answer`) → render → encrypt. Anything
refused before parsing is a 403 (bad signature or key), 400 (XML refused) or 413 (body too big);
users never see a stack trace. Text and voice (its recognition text) go to the handlers; a
subscribe gets a welcome that explains binding; a menu click is handled as its key's text;
other message types get a polite "text or voice only".

Configuration: `[wechat] token` (callback signature), `aes_key` (EncodingAESKey: safe mode; empty:
plaintext mode), `app_id`/`app_secret` (API access; without them there is no sender),
`api_base_url`, `templates` (see `_wechat_sender`).
"""
from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from handlers.messages import InboundMessage

from ..web import runtime_of
from ._http_logs import mask_http_logs
from ._wechat_answer import Answerer, wait_pending
from ._wechat_client import TIMEOUT, WechatApi
from ._wechat_protocol import Refused, crypto_for, decrypt, decrypt_echo, parse, reply_xml, safe_fields, verify
from ._wechat_sender import WechatSender

log = logging.getLogger("partnerbot.wechat")

CHANNEL = "wechat"
MAX_BODY_BYTES = 64 * 1024    # a WeChat callback is a few hundred bytes
MAX_CLOCK_SKEW = 600          # seconds between a callback's timestamp and our clock
SHUTDOWN_WAIT = 10.0

TEXTS = {
    "welcome": {
        "zh-CN": "欢迎关注！在这里可以报单、查库存、报备客户、看返利。\n"
                 "首次使用请先绑定：向渠道经理索取邀请码，然后发送「绑定 邀请码」，例如：绑定 8F3K2Q7A\n"
                 "已绑定的用户发送「帮助」查看常用指令。",
        "en": "Welcome! Report sales, check stock, claim customers and follow your rebates here.\n"
              "First, bind your account: ask your channel manager for an invite code, then send \"bind CODE\", "
              "e.g. bind 8F3K2Q7A\nAlready bound? Send \"help\" for the commands.",
    },
    "voice_unclear": {"zh-CN": "抱歉，没听清您的语音，请再说一遍，或直接发文字。",
                      "en": "Sorry, I could not make out that voice message; please say it again or type it."},
    "unsupported": {"zh-CN": "抱歉，目前只支持文字和语音消息，请用文字或语音告诉我。",
                    "en": "Sorry, only text and voice messages are supported; please type or say it."},
}

router = APIRouter(tags=["wechat"])


@router.get("/wechat/callback", response_class=PlainTextResponse)
async def echo_check(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                     echostr: str = "", msg_signature: str = "") -> Response:
    """The URL check of the WeChat admin console: echoes `echostr` when the signature is ours."""
    cfg = runtime_of(request).settings.wechat
    try:
        _channel(request).check()
        if msg_signature:  # safe mode with an encrypted echostr
            plain = decrypt_echo(_channel(request).crypto, cfg.token, msg_signature=msg_signature,
                                 timestamp=timestamp, nonce=nonce, echostr=echostr)
        else:
            verify(cfg.token, signature, timestamp, nonce)
            plain = echostr
    except Refused as exc:
        return _refused(exc)
    return PlainTextResponse(plain)


@router.post("/wechat/callback")
async def callback(request: Request) -> Response:
    """One message or event from WeChat; answers with a passive reply or "success"."""
    runtime = runtime_of(request)
    cfg = runtime.settings.wechat
    q = request.query_params
    timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
    channel = _channel(request)
    try:
        channel.check()
        verify(cfg.token, q.get("signature"), timestamp, nonce)
        _check_fresh(timestamp, runtime.clock.now().timestamp())
        body = await _read_capped(request)
        outer = safe_fields(body)
        encrypted = "Encrypt" in outer and (channel.crypto is not None or "MsgType" not in outer)
        if channel.crypto is not None and not encrypted:
            raise Refused(403, "safe mode is configured (aes_key) but the callback is plaintext")
        xml = decrypt(channel.crypto, cfg.token, outer, msg_signature=q.get("msg_signature"),
                      timestamp=timestamp, nonce=nonce) if encrypted else body.decode()
        message = parse(xml)
    except Refused as exc:
        return _refused(exc)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.inbound_message(CHANNEL)
    text = await _respond(channel, message, runtime.settings.app.locale)
    if not text:
        return PlainTextResponse("success")
    crypto = channel.crypto if encrypted else None
    return Response(reply_xml(message, text, crypto, nonce=nonce, timestamp=timestamp), media_type="application/xml")


async def _respond(channel: _Channel, message, locale: str) -> str | None:
    """The passive reply's text for a parsed message or event (None: an empty answer)."""
    openid = message.source
    lang = "en" if locale.startswith("en") else "zh-CN"
    if message.type == "text":
        return await channel.answer(openid, message.content or "", str(message.id or f"{openid}:{message.time}"),
                                    "text", message)
    if message.type == "voice":
        heard = (message.recognition or "").strip()
        if not heard:
            return TEXTS["voice_unclear"][lang]
        return await channel.answer(openid, heard, str(message.id or f"{openid}:{message.time}"), "voice", message)
    if message.type == "event":
        event = message.event
        if event in ("subscribe", "subscribe_scan"):
            return TEXTS["welcome"][lang]  # the same answer to a retried event, and nothing written
        if event == "click" and (message.key or "").strip():  # a menu button whose key is a command
            return await channel.answer(openid, message.key.strip(), f"{openid}:{message.time}", "button", message)
        return None  # unsubscribe, view, scan, template-send reports…: nothing to say
    return TEXTS["unsupported"][lang]


class _Channel:
    """Per app: the safe-mode crypto and the answerer with its messages in flight."""

    def __init__(self, runtime):
        from ..console import make_deps  # (loads every handler module)

        cfg = runtime.settings.wechat
        self.runtime = runtime
        self.problem = "" if cfg.token else "[wechat] token is not configured"
        try:
            self.crypto = crypto_for(cfg.token, cfg.aes_key, cfg.app_id)
        except ValueError as exc:  # refuse every callback rather than fall back to plaintext
            self.crypto, self.problem = None, str(exc)
            log.error("wechat callbacks refused: %s", exc)
        self.answerer = Answerer(runtime, make_deps(runtime), _handler)

    def check(self) -> None:
        if self.problem:
            raise Refused(403, self.problem)

    async def answer(self, openid: str, text: str, message_id: str, kind: str, message) -> str | None:
        msg = InboundMessage(channel=CHANNEL, user_id=openid, chat_id=openid, text=text, message_id=message_id,
                             kind=kind, raw=dict(message._data))
        timeout = self.runtime.settings.wechat.reply_deadline_seconds
        return await self.answerer.answer(msg, timeout=timeout)


HANDLE = None  # tests put a slower handler here


def _handler():
    from handlers.all import handle
    return HANDLE or handle


def _channel(request: Request) -> _Channel:
    channel = getattr(request.app.state, "wechat", None)
    runtime = runtime_of(request)
    if channel is None or channel.runtime is not runtime:
        channel = request.app.state.wechat = _Channel(runtime)
    return channel


async def _read_capped(request: Request) -> bytes:
    """The body, refused with 413 past MAX_BODY_BYTES (the app-wide cap is larger)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _check_fresh(timestamp: str, now: float) -> None:
    """A signed URL is not good forever: its timestamp must be near our clock."""
    if not timestamp.isdigit() or abs(int(timestamp) - now) > MAX_CLOCK_SKEW:
        raise Refused(403, "timestamp missing or too far from our clock")


def _refused(exc: Refused) -> Response:
    log.warning("wechat callback refused (%s): %s", exc.status, exc.why)
    return PlainTextResponse({403: "forbidden", 400: "bad request", 413: "request body too large"}
                             .get(exc.status, "refused"), status_code=exc.status)


async def open_sender(runtime, stack: AsyncExitStack) -> WechatSender | None:
    """The "wechat" sender, or None without app_id and app_secret."""
    cfg = runtime.settings.wechat
    if not (cfg.app_id and cfg.app_secret):
        return None
    mask_http_logs()
    http = httpx.AsyncClient(base_url=cfg.api_base_url.rstrip("/"), timeout=TIMEOUT)
    stack.push_async_callback(http.aclose)
    return WechatSender(runtime, WechatApi(http, runtime.uow, app_id=cfg.app_id, app_secret=cfg.app_secret))


async def start_background(runtime, stack: AsyncExitStack) -> None:
    """At shutdown, lets answers still being worked out finish into the outbox (before the dispatcher stops)."""
    stack.push_async_callback(wait_pending, SHUTDOWN_WAIT)

