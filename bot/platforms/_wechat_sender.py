"""Outbound to a WeChat user (channel "wechat", target = openid), for the dispatcher.

Inside 48 hours of the user's last message (ChatIdentity.last_inbound_at) a message goes by the
customer-service API: text in pieces of at most 2048 bytes, an image by temporary-media upload.
Outside it — or when WeChat says the window is closed (45015) or its quota of messages per user
message is spent (45047) — a template message goes if `[wechat.templates]` has one for the
message's kind; otherwise the message is undeliverable here (SendError with `fallback`: the
dispatcher passes it to the user's other identities).

A template is `"TEMPLATE_ID"` (fields first / keyword1 / keyword2 / remark: title, text, time and a
hint) or `"TEMPLATE_ID?thing1=title&time2=time"` naming the template's own fields and what fills
them: `title` (first line), `text`, `time`, `kind`, `hint`. Values are cut to the field type's limit
(thing 20 characters, phrase 5, …).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qsl

import httpx
from sqlalchemy import select

from services.dispatcher import SendError
from services.outbox import OutboundMessage
from storage.models import ChatIdentity

from ._wechat_client import WechatApi, WechatError
from ._wechat_protocol import split_text
from ._shared_token import TokenUnavailable

log = logging.getLogger("partnerbot.wechat")

WINDOW = timedelta(hours=48) - timedelta(minutes=1)  # a minute's margin for clock differences
WINDOW_CLOSED = {45015: "超出48小时客服消息窗口", 45047: "客服消息条数已用完（每条用户消息后最多5条）"}
UNREACHABLE = {43004: "用户未关注公众号", 40003: "openid 无效", 43019: "用户已将公众号拉黑",
               40037: "模板ID无效", 43101: "用户拒收模板消息"}
TRANSIENT = {-1: "微信系统繁忙", 45009: "接口调用超过每日限额", 45011: "接口调用过于频繁"}
DEFAULT_FIELDS = (("first", "title"), ("keyword1", "text"), ("keyword2", "time"), ("remark", "hint"))
FIELD_LIMITS = (("thing", 20), ("character_string", 32), ("number", 32), ("letter", 32), ("symbol", 5),
                ("phrase", 5), ("name", 10), ("amount", 10), ("phone_number", 17), ("car_number", 8))
HINT = "回复任意消息查看详情"


class WechatSender:
    """Customer-service messages inside the 48-hour window, template messages outside it."""

    def __init__(self, runtime, api: WechatApi):
        self.runtime = runtime
        self.api = api
        self._progress: dict[int, int] = {}  # outbox id -> text pieces already sent (a retry resumes there)

    async def send(self, msg: OutboundMessage) -> None:
        """Delivers `msg` or raises SendError saying why not."""
        try:
            last = await self._last_inbound(msg.target)
            now = self.runtime.clock.now()
            closed = "超出48小时客服消息窗口" if last is None or now - last > WINDOW else None
            if closed is None:
                try:
                    await self._customer_service(msg)
                    return
                except WechatError as exc:
                    if exc.errcode not in WINDOW_CLOSED:
                        raise
                    closed = WINDOW_CLOSED[exc.errcode]
            await self._template(msg, closed, last)
        except WechatError as exc:
            raise _send_error(exc) from exc
        except TokenUnavailable as exc:
            raise SendError(f"没有可用的 access_token：{exc}", retry_after=30) from exc
        except httpx.HTTPError as exc:
            raise SendError(f"微信接口无法访问：{type(exc).__name__}") from exc

    async def _last_inbound(self, openid: str):
        async with self.runtime.uow().reading() as ro:
            return await ro.session.scalar(select(ChatIdentity.last_inbound_at).where(
                ChatIdentity.channel == "wechat", ChatIdentity.external_id == openid))

    async def _customer_service(self, msg: OutboundMessage) -> None:
        pieces = split_text(msg.text)
        done = self._progress.get(msg.id, 0)
        for i, piece in enumerate(pieces):
            if i < done:
                continue
            await self.api.send_custom({"touser": msg.target, "msgtype": "text", "text": {"content": piece}})
            self._progress[msg.id] = i + 1
        if msg.image_png:
            media_id = await self.api.upload_image(msg.image_png)
            await self.api.send_custom({"touser": msg.target, "msgtype": "image", "image": {"media_id": media_id}})
        self._progress.pop(msg.id, None)

    async def _template(self, msg: OutboundMessage, closed: str, last) -> None:
        spec = self.runtime.settings.wechat.templates.get(msg.kind)
        if not spec:
            since = "从未发过消息" if last is None else \
                f"最后一条消息在 {last.astimezone(self.runtime.settings.tz):%Y-%m-%d %H:%M}"
            raise SendError(f"{closed}（用户{since}），且 [wechat.templates] 没有「{msg.kind}」的模板消息",
                            retryable=False, fallback=True)
        await self.api.send_template(template_payload(spec, msg, self.runtime.clock.now(), self.runtime.settings.tz))


def template_payload(spec: str, msg: OutboundMessage, now, tz) -> dict:
    """The template/send body for `msg` under the template spec `ID[?field=source&…]`."""
    template_id, _, fields = spec.partition("?")
    mapping = parse_qsl(fields) or list(DEFAULT_FIELDS)
    lines = [line.strip() for line in msg.text.splitlines() if line.strip()]
    sources = {"title": lines[0] if lines else msg.kind, "text": " ".join(lines[1:] or lines),
               "time": f"{now.astimezone(tz):%Y-%m-%d %H:%M}", "kind": msg.kind, "hint": HINT}
    data = {name: {"value": _cut(name, sources.get(source, source))} for name, source in mapping}
    return {"touser": msg.target, "template_id": template_id.strip(), "data": data}


def _cut(field: str, value: str) -> str:
    limit = next((n for prefix, n in FIELD_LIMITS if field.startswith(prefix)), 200)
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _send_error(exc: WechatError) -> SendError:
    code, why = exc.errcode, f"微信 {exc.errcode}: {exc.errmsg}"
    if code in UNREACHABLE:
        return SendError(f"{UNREACHABLE[code]}（{why}）", retryable=False, fallback=True)
    if code in TRANSIENT:
        return SendError(f"{TRANSIENT[code]}（{why}）", retry_after=3600 if code == 45009 else 60)
    if code is None or code in (40001, 42001, 40014):  # not JSON, or the token still refused after a refresh
        return SendError(why)
    return SendError(why, retryable=False)
