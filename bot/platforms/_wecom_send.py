"""Outbound WeCom app messages (sender "wecom"): text, template cards with buttons, images.

A message with buttons becomes a `button_interaction` template card whose buttons carry short
callback tokens (services.callback_tokens): a click comes back as a `template_card_event` with the
token as EventKey, and the adapter handles it as that button's text. A message is sent in parts (text
chunks of at most 2048 bytes, the card, the image); when a part fails, a retry of the same message by
this worker sends only the parts that did not go out yet.
"""
from __future__ import annotations

import base64
import logging
import secrets
from collections import OrderedDict

from services import callback_tokens
from services.dispatcher import SendError
from services.outbox import OutboundMessage, mask_secrets

from ._wecom_api import WecomApi, WecomError

log = logging.getLogger(__name__)

CHANNEL = "wecom"
TEXT_MAX_BYTES = 2048     # text.content, longer is cut by WeCom
TITLE_MAX_CHARS = 36      # template_card main_title.title, advised maximum
SUBTITLE_MAX_CHARS = 160  # template_card sub_title_text, advised maximum
MAX_BUTTONS = 6           # template_card button_list
RETRY_LATER = {-1: 5.0, 45009: 60.0, 45033: 60.0}  # busy, frequency limit, concurrency limit
MISCONFIGURED = frozenset({40001, 40013, 40056, 48002, 60020})  # secret, corp id, agent id, API or IP not allowed
UNREACHABLE_USER = frozenset({60111, 81013, 40031})  # no such member / nobody valid to send to


def split_utf8(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    if len(text.encode()) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:  # a single over-long line: cut it by characters
            room = limit - len(current.encode())
            head = _prefix_within(line, room) if room > 0 else ""
            if not head:
                pieces.append(current)
                current = ""
                continue
            pieces.append(current + head)
            current, line = "", line[len(head):]
        if len((current + line).encode()) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [p.rstrip("\n") for p in pieces if p.strip()]


def _prefix_within(text: str, limit: int) -> str:
    out, size = [], 0
    for ch in text:
        size += len(ch.encode())
        if size > limit:
            break
        out.append(ch)
    return "".join(out)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class SentParts:
    """Which parts of a multi-part message this worker already sent, so a retry sends only the rest."""

    def __init__(self, capacity: int = 2000):
        self._done: OrderedDict[tuple, int] = OrderedDict()
        self._capacity = capacity

    @staticmethod
    def key_of(msg: OutboundMessage) -> tuple:
        return msg.channel, msg.target, tuple(getattr(msg, "row_ids", ()) or (msg.id,))

    def done(self, key: tuple) -> int:
        return self._done.get(key, 0)

    def mark(self, key: tuple, count: int) -> None:
        self._done[key] = count
        self._done.move_to_end(key)
        while len(self._done) > self._capacity:
            self._done.popitem(last=False)

    def forget(self, key: tuple) -> None:
        self._done.pop(key, None)


def send_error(exc: WecomError, *, userid: str) -> SendError:
    """What the dispatcher should do about a WeCom failure."""
    code = exc.errcode
    if code is None:  # unreachable, or not WeCom answering (it always answers 200 with an errcode)
        return SendError(exc.reason)
    if code in RETRY_LATER:
        return SendError(exc.reason, retry_after=RETRY_LATER[code])
    if code in MISCONFIGURED:  # an administrator can fix it; the messages wait
        return SendError(f"WeCom app configuration: {exc.reason}", retry_after=300)
    if code in UNREACHABLE_USER:
        return SendError(f"WeCom member {userid!r} cannot be reached: {exc.reason}", fallback=True)
    return SendError(exc.reason, retryable=False)


class WecomSender:
    """Sends outbox messages to WeCom members (target: the member's userid) through the app."""

    def __init__(self, api: WecomApi, *, uow_factory):
        self.api = api
        self._uow = uow_factory
        self._sent = SentParts()

    async def send(self, msg: OutboundMessage) -> None:
        """Sends the message's parts in order; raises SendError when a part fails."""
        userid = msg.target
        key = SentParts.key_of(msg)
        parts = self._parts(msg)
        try:
            for i in range(self._sent.done(key), len(parts)):
                answer = await parts[i]()
                self._check_receivers(answer, userid)
                self._sent.mark(key, i + 1)
        except WecomError as exc:
            log.warning("WeCom message #%s to %s failed: %s", msg.id, userid, mask_secrets(exc.reason))
            raise send_error(exc, userid=userid) from None
        self._sent.forget(key)

    def _parts(self, msg: OutboundMessage) -> list:
        text = (msg.text or "").strip()
        parts: list = []
        if msg.buttons:
            title, rest = _title_and_rest(text)
            if len(title) > TITLE_MAX_CHARS or len(rest) > SUBTITLE_MAX_CHARS:
                parts += [self._text_part(msg.target, chunk) for chunk in split_utf8(text, TEXT_MAX_BYTES)]
                title, rest = clip(title, TITLE_MAX_CHARS), ""
            parts.append(self._card_part(msg, title, rest))
        elif text:
            parts += [self._text_part(msg.target, chunk) for chunk in split_utf8(text, TEXT_MAX_BYTES)]
        if msg.image_png:
            parts.append(self._image_part(msg.target, msg.image_png))
        return parts

    def _text_part(self, userid: str, content: str):
        async def send() -> dict:
            return await self.api.send_message({"touser": userid, "msgtype": "text", "text": {"content": content}})
        return send

    def _image_part(self, userid: str, png: bytes):
        async def send() -> dict:
            media_id = await self.api.upload_image(png)
            return await self.api.send_message({"touser": userid, "msgtype": "image", "image": {"media_id": media_id}})
        return send

    def _card_part(self, msg: OutboundMessage, title: str, rest: str):
        async def send() -> dict:
            shown, extra = msg.buttons[:MAX_BUTTONS], msg.buttons[MAX_BUTTONS:]
            tokens = await callback_tokens.issue(self._uow(), channel=CHANNEL, texts=tuple(shown),
                                                 external_id=msg.target)
            subtitle = rest
            if extra:  # more choices than a card holds: name the others as replies
                subtitle = (subtitle + "\n" if subtitle else "") + "也可回复：" + " / ".join(extra)
            card = {"card_type": "button_interaction", "main_title": {"title": title or "请选择"},
                    "task_id": f"pb{msg.id}_{secrets.token_hex(6)}",
                    "button_list": [{"text": label, "style": 1 if i == 0 else 2, "key": token}
                                    for i, (label, token) in enumerate(zip(shown, tokens))]}
            if subtitle:
                card["sub_title_text"] = subtitle
            return await self.api.send_message({"touser": msg.target, "msgtype": "template_card",
                                                "template_card": card})
        return send

    @staticmethod
    def _check_receivers(answer: dict, userid: str) -> None:
        """WeCom accepts a send with some receivers invalid and names them; ours is the only one."""
        for field in ("invaliduser", "unlicenseduser"):
            if userid in str(answer.get(field) or "").split("|"):
                raise WecomError(f"{field}: the member is not in the app's visible range or has no licence",
                                 81013)


def _title_and_rest(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    if not lines:
        return "", ""
    return lines[0].strip(), "\n".join(lines[1:]).strip()


def png_b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode() if png else None
