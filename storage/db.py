"""Engine construction: URL mapping to async drivers, SQLite WAL, busy timeout, BEGIN IMMEDIATE.

SQLite runs on the event loop's thread (storage/sqlite_inline.py): its statements take microseconds,
and a thread hand-off per cursor call cost more than the work; writers of one process take turns.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

registry.register("sqlite.inline", "storage.sqlite_inline", "SQLiteDialect_inline")


def async_url(url: str) -> str:
    """Maps the documented `sqlite:///` and `postgresql://` forms to their async drivers."""
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+inline" + url[len("sqlite"):]
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 5000,
                pool_size: int = 5) -> AsyncEngine:
    """Builds the engine. On SQLite every transaction starts `BEGIN IMMEDIATE` unless the
    connection carries the execution option `sqlite_begin="DEFERRED"` (read-only work), so
    writers queue on the busy timeout instead of failing on a lock upgrade."""
    url = async_url(url)
    if is_sqlite(url):
        memory = url.endswith(":memory:") or url.endswith("://")
        # Pooled: opening a connection (and its PRAGMAs) per unit of work costs more than the work.
        engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=10,
                                     connect_args={"timeout": busy_timeout_ms / 1000})
        _sqlite_events(engine, busy_timeout_ms, wal=not memory)
        return engine
    # statement_cache_size=0 keeps asyncpg usable behind PgBouncer in transaction mode.
    return create_async_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True,
                               connect_args={"statement_cache_size": 0})


def _sqlite_events(engine: AsyncEngine, busy_timeout_ms: int, wal: bool) -> None:
    from .sqlite_inline import SQLITE_WAIT_MS, begin_immediate

    sync = engine.sync_engine
    inline = sync.dialect.driver == "inline"

    @event.listens_for(sync, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        if wal:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_MS if inline else int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync, "begin")
    def _begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if inline and mode == "IMMEDIATE":
            begin_immediate(conn.connection.dbapi_connection, busy_timeout_ms)
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")
