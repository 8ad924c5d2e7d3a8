"""Values every worker shares through the database, each with an expiry (e.g. a platform's access token).

A platform token is fetched by whichever worker first finds none valid and stored here for the others;
a worker whose call is refused for a stale token drops it only if it is still the stored one
(`drop(..., value=stale)`), so a token another worker has just refreshed survives. Values are never
logged by this module.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import CacheEntry
from storage.uow import UnitOfWork


async def get(uow: UnitOfWork, *, key: str) -> str | None:
    """The value stored under `key`, or None when there is none or it has expired."""
    async with uow.reading() as ro:
        row = (await ro.session.execute(select(CacheEntry.value, CacheEntry.expires_at)
                                        .where(CacheEntry.key == key))).first()
        if row is None or row.expires_at <= ro.now():
            return None
        return row.value


async def put(uow: UnitOfWork, *, key: str, value: str, ttl_seconds: float) -> None:
    """Stores `value` under `key` for `ttl_seconds` (replacing what was there)."""
    async with uow:
        dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
        expires_at = uow.now() + timedelta(seconds=ttl_seconds)
        stmt = dialect.insert(CacheEntry).values(key=key, value=value, expires_at=expires_at)
        await uow.session.execute(stmt.on_conflict_do_update(
            index_elements=[CacheEntry.key], set_={"value": value, "expires_at": expires_at}))
        await uow.commit()


async def drop(uow: UnitOfWork, *, key: str, value: str | None = None) -> bool:
    """Deletes `key` (only while it still holds `value`, when given); True if something was deleted."""
    async with uow:
        q = delete(CacheEntry).where(CacheEntry.key == key)
        if value is not None:
            q = q.where(CacheEntry.value == value)
        result = await uow.session.execute(q)
        await uow.commit()
    return bool(result.rowcount)
