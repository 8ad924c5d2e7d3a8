"""Conversation state: what the bot waits for from one chat identity, kept in the database
so any worker can take the next message."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from storage.models import ConversationState
from storage.uow import UnitOfWork

DEFAULT_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class State:
    flow: str
    step: str
    data: dict


async def load(uow: UnitOfWork, *, identity_id: int) -> State | None:
    """The identity's live conversation state, or None (expired states count as none)."""
    async with uow.reading() as ro:
        row = await ro.session.scalar(select(ConversationState).where(
            ConversationState.identity_id == identity_id))
        if row is None or row.expires_at <= ro.now():
            return None
        return State(row.flow, row.step, dict(row.data))


async def save(uow: UnitOfWork, *, identity_id: int, flow: str, step: str, data: dict,
               ttl: timedelta = DEFAULT_TTL) -> None:
    """Replaces the identity's state (written in the caller's open unit of work if any)."""
    async with uow:
        await _put(uow, identity_id, flow, step, data, ttl)
        await uow.commit()


async def _put(uow: UnitOfWork, identity_id: int, flow: str, step: str, data: dict, ttl: timedelta) -> None:
    row = await uow.session.scalar(select(ConversationState).where(ConversationState.identity_id == identity_id))
    if row is None:
        row = ConversationState(identity_id=identity_id)
        uow.add(row)
    row.flow, row.step, row.data = flow, step, data
    row.updated_at, row.expires_at = uow.now(), uow.now() + ttl


async def clear(uow: UnitOfWork, *, identity_id: int) -> None:
    async with uow:
        await uow.session.execute(delete(ConversationState).where(ConversationState.identity_id == identity_id))
        await uow.commit()
