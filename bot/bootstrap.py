"""The composition root: builds the engine, session factory, clock and settings that every
entry point (web app, console, replay, CLI, tests) shares, and tears them down again."""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from services import claims_match
from services.config import Settings, load_settings
from storage import migrate
from storage.db import is_sqlite, make_engine
from storage.uow import SystemClock, UnitOfWork, session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    clock: object = field(default_factory=SystemClock)

    def __post_init__(self):
        self._sessions = session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, settings=self.settings, clock=self.clock)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def build_runtime(settings: Settings | None = None, *, clock=None, upgrade: bool | None = None) -> Runtime:
    """Opens the database; on SQLite (or when asked) migrates it to head first."""
    settings = settings or load_settings()
    db = settings.database
    engine = make_engine(db.url, echo=db.echo, busy_timeout_ms=db.busy_timeout_ms, pool_size=db.pool_size)
    if upgrade if upgrade is not None else is_sqlite(db.url):
        await migrate.upgrade(engine, claim_index=claims_match.stored_index)
    return Runtime(settings=settings, engine=engine, clock=clock or SystemClock())


GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Garbage collection for a long-lived server (`partnerbot serve`): what start-up built (modules,
    catalog matchers, division tables) is frozen out of the collector's way, and the young generation
    is collected every 50,000 allocations instead of 700. A reply allocates thousands of short-lived
    ORM rows; with the defaults, collections of every survivor landed inside replies and made a
    `库存` p99 three to four times its p50 (bench inventory: p99 81 ms → 31 ms, p50 unchanged)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
