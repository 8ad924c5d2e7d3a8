"""WeChat Official Account callback protocol: signatures, safe XML, AES, replies, text limits.

wechatpy does the crypto (WeChatCrypto), message parsing and reply XML; everything it is handed
has first been parsed by defusedxml with DTDs, entities and external references refused.
Signatures are compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from handlers.messages import Reply

TEXT_LIMIT = 2048  # bytes of UTF-8 in one WeChat text message (passive reply and customer service)


class Refused(Exception):
    """A callback that must not be processed; `status` is the HTTP answer (403 or 400)."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status
        self.why = why


def signature(*parts: str) -> str:
    """WeChat's SHA-1 over the sorted parts (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def verify(token: str, given: str | None, *parts: str) -> None:
    """Raises Refused(403) unless `given` is the signature of token and `parts`."""
    if not token or not given or not hmac.compare_digest(signature(token, *parts), given.lower()):
        raise Refused(403, "bad signature")


def safe_fields(body: bytes | str) -> dict[str, str]:
    """The child elements of an `<xml>` document; no DTD, no entities, nothing external."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise Refused(400, f"XML refused: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise Refused(400, "XML refused: root is not <xml>")
    return {child.tag: (child.text or "") for child in root}


def crypto_for(token: str, aes_key: str, app_id: str) -> WeChatCrypto | None:
    """wechatpy's crypto for safe mode, or None in plaintext mode (no EncodingAESKey); ValueError for a
    key that is not base64 of 32 bytes."""
    if not aes_key:
        return None
    try:
        return WeChatCrypto(token, aes_key, app_id)
    except (AssertionError, ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError("[wechat] aes_key is not a valid EncodingAESKey (43 characters of base64)") from exc


def decrypt(crypto: WeChatCrypto | None, token: str, outer: dict[str, str], *, msg_signature: str | None,
            timestamp: str, nonce: str) -> str:
    """The plaintext XML inside a safe-mode envelope, its msg_signature checked first."""
    encrypted = outer.get("Encrypt")
    if not encrypted:
        raise Refused(400, "safe mode: no <Encrypt> in the body")
    if crypto is None:
        raise Refused(403, "an encrypted callback, but no aes_key is configured")
    verify(token, msg_signature, timestamp, nonce, encrypted)
    try:
        return crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
    except Exception as exc:  # noqa: BLE001 - a wrong key or app id: the sender is not our WeChat
        raise Refused(403, f"cannot decrypt: {type(exc).__name__}") from exc


def decrypt_echo(crypto: WeChatCrypto | None, token: str, *, msg_signature: str, timestamp: str, nonce: str,
                 echostr: str) -> str:
    """The plaintext of an encrypted echostr, its msg_signature checked first."""
    if crypto is None:
        raise Refused(403, "an encrypted echo check, but no aes_key is configured")
    verify(token, msg_signature, timestamp, nonce, echostr)
    try:
        return PrpCrypto(crypto.key).decrypt(echostr, crypto.app_id)
    except Exception as exc:  # noqa: BLE001
        raise Refused(403, f"cannot decrypt echostr: {type(exc).__name__}") from exc


def parse(xml: str) -> BaseMessage:
    """wechatpy's message or event for plaintext XML that defusedxml has accepted."""
    fields = safe_fields(xml)
    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise Refused(400, "not a WeChat message: MsgType or FromUserName missing")
    if not fields.get("CreateTime", "").isdigit() or not fields.get("MsgId", "0").isdigit():
        raise Refused(400, "not a WeChat message: CreateTime or MsgId is not a number")
    return parse_message(xml)


def reply_xml(message: BaseMessage, text: str, crypto: WeChatCrypto | None, *, nonce: str, timestamp: str) -> str:
    """A passive text reply to `message`, encrypted when the callback was."""
    xml = TextReply(message=message, content=text.replace("]]>", "]]]]><![CDATA[>")).render()
    return crypto.encrypt_message(xml, nonce, timestamp) if crypto is not None else xml


def with_button_hint(text: str, buttons: tuple[str, ...]) -> str:
    """WeChat text has no buttons: say what to reply, unless the text already does."""
    if not buttons or all(f"「{b}」" in text or f'"{b}"' in text for b in buttons):
        return text
    if all(b.isascii() for b in buttons):
        return f"{text}\nReply " + " or ".join(f'"{b}"' for b in buttons)
    labels = [f"「{b}」" for b in buttons]
    joined = labels[0] if len(labels) == 1 else "、".join(labels[:-1]) + "或" + labels[-1]
    return f"{text}\n回复{joined}"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut at line ends where possible, never inside a character."""
    text = text.strip("\n")
    if len(text.encode()) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while len(line.encode()) > limit:  # one line longer than a message: cut it by characters
            cut = _fit(line, limit)
            chunks.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        chunks.append(current)
    return [c for c in (c.strip("\n") for c in chunks) if c.strip()]


def _fit(line: str, limit: int) -> int:
    """How many characters of `line` fit in `limit` bytes."""
    used = 0
    for i, ch in enumerate(line):
        used += len(ch.encode())
        if used > limit:
            return max(i, 1)
    return len(line)


def render(replies: list[Reply]) -> tuple[list[str], list[bytes]]:
    """The text messages (joined, with button hints, split to the limit) and images of `replies`."""
    texts = [with_button_hint(r.text, r.buttons) for r in replies if r.text.strip()]
    return split_text("\n\n".join(texts)), [r.image_png for r in replies if r.image_png]
