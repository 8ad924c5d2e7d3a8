"""Inbound dedupe: a platform message id is handled once; a redelivery gets the same replies."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import ProcessedMessage
from storage.uow import UnitOfWork


async def replies_for(uow: UnitOfWork, *, channel: str, message_id: str) -> list[dict] | None:
    """The replies already given to this message, or None if it is new."""
    async with uow.reading() as ro:
        return await ro.session.scalar(select(ProcessedMessage.replies).where(
            ProcessedMessage.channel == channel, ProcessedMessage.message_id == message_id))


async def remember(uow: UnitOfWork, *, channel: str, message_id: str, replies: list[dict]) -> bool:
    """Records the replies; False when another worker recorded this message first."""
    async with uow:
        dialect = uow.session.bind.dialect.name
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ProcessedMessage)
        stmt = ins.values(channel=channel, message_id=message_id, replies=replies,
                          created_at=uow.now()).on_conflict_do_nothing()
        result = await uow.session.execute(stmt)
        await uow.commit()
    return bool(result.rowcount)
