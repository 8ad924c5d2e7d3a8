"""Short ids behind chat buttons (Telegram allows 64 bytes of callback data; a button's text may not fit).

A token stands for the text a button sends, for the chat identity that was shown it (or for anyone in a
group, when the message went to a group). Only the newest keyboard of an identity is live: issuing a
button with the same text again (a new read-back with 确认) retires the old one, so an old message's
确认 can never confirm a newer draft. Tokens expire after `TTL`.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from storage.models import CallbackToken, ChatIdentity
from storage.uow import UnitOfWork

TTL = timedelta(days=7)
TOKEN_BYTES = 9  # 12 characters of URL-safe base64


@dataclass(frozen=True)
class Pressed:
    """What a pressed token means: `text` when `status` is "ok", else why not ("unknown", "expired",
    "foreign": shown to another identity)."""

    status: str
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def _identity_id(uow: UnitOfWork, channel: str, external_id: str) -> int | None:
    return await uow.session.scalar(select(ChatIdentity.id).where(
        ChatIdentity.channel == channel, ChatIdentity.external_id == external_id))


async def issue(uow: UnitOfWork, *, channel: str, texts: tuple[str, ...], external_id: str | None) -> list[str]:
    """Tokens for `texts`, in order, for the identity (`channel`, `external_id`) or, with no such identity
    (a group), for anyone; retires that identity's older tokens with the same texts."""
    async with uow:
        identity_id = await _identity_id(uow, channel, external_id) if external_id else None
        if identity_id is not None:
            await uow.session.execute(delete(CallbackToken).where(
                CallbackToken.identity_id == identity_id, CallbackToken.text.in_([t[:200] for t in texts])))
        tokens = []
        for text in texts:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            uow.add(CallbackToken(token=token, text=text[:200], identity_id=identity_id, created_at=uow.now()))
            tokens.append(token)
        await uow.commit()
    return tokens


async def press(uow: UnitOfWork, *, channel: str, token: str, external_id: str) -> Pressed:
    """What the token means when pressed by the identity (`channel`, `external_id`)."""
    async with uow.reading() as ro:
        row = await ro.session.scalar(select(CallbackToken).where(CallbackToken.token == token[:16]))
        if row is None:
            return Pressed("unknown")
        if row.created_at < ro.now() - TTL:
            return Pressed("expired")
        if row.identity_id is not None and row.identity_id != await _identity_id(ro, channel, external_id):
            return Pressed("foreign")
        return Pressed("ok", row.text)


async def purge_expired(uow: UnitOfWork) -> int:
    """Deletes tokens past their TTL; returns how many."""
    async with uow:
        result = await uow.session.execute(delete(CallbackToken).where(CallbackToken.created_at < uow.now() - TTL))
        await uow.commit()
    return result.rowcount or 0
