"""Platform-neutral messages: what adapters hand in and what they render back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    channel: str            # wechat | wecom | telegram | console
    user_id: str            # the platform's id of the sender
    text: str
    message_id: str         # the platform's id of this message, for dedupe and idempotency
    chat_id: str = ""
    kind: str = "text"      # text | voice | event | button
    display_name: str = ""
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[str, ...] = ()
    image_png: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        out: dict = {"text": self.text}
        if self.buttons:
            out["buttons"] = list(self.buttons)
        if self.image_png is not None:
            out["image"] = True
        return out

    @classmethod
    def from_json(cls, data: dict) -> Reply:
        return cls(text=data.get("text", ""), buttons=tuple(data.get("buttons", ())))
