"""Unit of work: one session, one transaction, rolled back unless committed."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that stands still until set; the replay's `!now` drives it."""

    def __init__(self, at: datetime | None = None):
        self._at = at or datetime.now(timezone.utc)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("clock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)

    def advance(self, **delta) -> None:
        from datetime import timedelta
        self._at += timedelta(**delta)

    def now(self) -> datetime:
        return self._at


class UnitOfWork:
    """`async with uow:` opens a session and a transaction; leaving without `commit()` rolls back.

    A unit of work also carries what services need besides tables: `settings` and `clock`.
    It is reusable: each `async with` gets a fresh session. Entered again while open (a service
    called inside a message's unit of work), it joins: the inner `commit()` only flushes and the
    outermost `async with` decides, so one chat message is one transaction.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, settings: Any,
                 clock: Any = None, readonly: bool = False):
        self._factory = session_factory
        self.settings = settings
        self.clock = clock or SystemClock()
        self.readonly = readonly
        self.session: AsyncSession | None = None
        self._committed = False
        self._depth = 0

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def is_open(self) -> bool:
        return self.session is not None

    def reading(self) -> UnitOfWork:
        """For read-only work: this unit of work if open (join it), else a read-only sibling
        (no write lock on SQLite)."""
        if self.session is not None:
            return self
        return UnitOfWork(self._factory, settings=self.settings, clock=self.clock, readonly=True)

    async def __aenter__(self) -> UnitOfWork:
        if self.session is not None:
            self._depth += 1
            return self
        self.session = self._factory()
        self._committed = False
        if self.readonly and self.session.bind.dialect.name == "sqlite":
            await self.session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if self._depth:
            self._depth -= 1
            return
        session, self.session = self.session, None
        try:
            if not self._committed:
                await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        if self._depth:
            await self.session.flush()
            return
        await self.session.commit()
        self._committed = True

    async def flush(self) -> None:
        await self.session.flush()

    def add(self, obj) -> None:
        self.session.add(obj)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


UowFactory = Callable[[], UnitOfWork]
