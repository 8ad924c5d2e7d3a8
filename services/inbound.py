"""Inbound dedupe: a platform message id is handled once; a redelivery gets the same replies.

The message's row is claimed first, in the transaction that handles the message
(`INSERT … ON CONFLICT DO NOTHING`): on PostgreSQL a concurrent redelivery waits on the unique
key until the first commits and then reads its replies; on SQLite writers are serialised."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import ProcessedMessage
from storage.uow import UnitOfWork


async def claim(uow: UnitOfWork, *, channel: str, message_id: str) -> bool:
    """True if this transaction is the first to handle the message (call inside an open uow)."""
    dialect = uow.session.bind.dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ProcessedMessage)
    stmt = ins.values(channel=channel, message_id=message_id, replies=[], created_at=uow.now()
                      ).on_conflict_do_nothing().returning(ProcessedMessage.id)
    return (await uow.session.execute(stmt)).scalar_one_or_none() is not None


async def replies_for(uow: UnitOfWork, *, channel: str, message_id: str) -> list[dict] | None:
    """The replies already given to this message, or None if it is new."""
    async with uow.reading() as ro:
        return await ro.session.scalar(select(ProcessedMessage.replies).where(
            ProcessedMessage.channel == channel, ProcessedMessage.message_id == message_id))


async def set_replies(uow: UnitOfWork, *, channel: str, message_id: str, replies: list[dict]) -> None:
    """Stores the replies on the claimed row (inside the same open uow)."""
    await uow.session.execute(update(ProcessedMessage).where(
        ProcessedMessage.channel == channel, ProcessedMessage.message_id == message_id).values(replies=replies))
