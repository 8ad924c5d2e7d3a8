"""SQLite for the async engine, run on the event loop's thread (`sqlite+inline://`), with writers queued.

aiosqlite sends every cursor call to a thread of its own: four thread hand-offs for one statement,
each costing more than the statement on a local file (a confirmed sale made ~90). Here the same
SQLAlchemy adapter (`dialects.sqlite.aiosqlite`) drives an aiosqlite look-alike whose coroutines
call sqlite3 at once, so a statement costs what SQLite takes: microseconds for this schema.

What a thread gave for free is done here instead: a writer must never wait for SQLite's lock while
holding the loop. Write transactions (`BEGIN IMMEDIATE`) of one process take turns on an asyncio
lock per database file, so in-process writers queue without touching SQLite's lock; against another
process the `BEGIN IMMEDIATE` is retried with asyncio sleeps until the busy timeout, and SQLite's
own busy wait is kept to a few milliseconds. Reads (WAL) never wait. Big reads still run on the
loop: streamed exports fetch in batches and yield between them.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
import types
import weakref
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import await_

SQLITE_WAIT_MS = 5  # SQLite's own busy wait, which blocks the loop: only a few milliseconds


class _Cursor:
    """An aiosqlite cursor's interface over a sqlite3 cursor; every coroutine finishes at once."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None):
        rows = self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()
        await asyncio.sleep(0)  # a streamed read lets other work run between its batches
        return rows

    async def fetchall(self):
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self):
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Connection:
    """An aiosqlite connection's interface over a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self._connection = conn  # SQLAlchemy's adapter checks it before commit and rollback

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        return _Cursor(self._conn.execute(sql, parameters))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    async def create_function(self, *args, **kw) -> None:
        self._conn.create_function(*args, **kw)

    @property
    def isolation_level(self):
        return self._conn.isolation_level


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("path", "gate")  # the writers' gate this connection holds, if any

    @property
    def isolation_level(self):
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value) -> None:
        self._connection._conn.isolation_level = value


_driver = types.SimpleNamespace(
    Connection=_Connection, __version__="inline", sqlite_version=sqlite3.sqlite_version,
    sqlite_version_info=sqlite3.sqlite_version_info,
    **{name: getattr(sqlite3, name) for name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError",
                                                  "OperationalError", "ProgrammingError", "InterfaceError")})


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, database: str, *args, **kw) -> _AdaptedConnection:
        kw.pop("async_creator_fn", None)
        kw["timeout"] = SQLITE_WAIT_MS / 1000
        kw["check_same_thread"] = False  # used from one thread at a time, whichever runs the loop
        conn = _AdaptedConnection(self, _Connection(sqlite3.connect(database, *args, **kw)))
        conn.path, conn.gate = database, None
        return conn


class SQLiteDialect_inline(SQLiteDialect_aiosqlite):
    driver = "inline"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _Dbapi:
        return _Dbapi(_driver, sqlite3)

    def do_commit(self, dbapi_connection) -> None:
        try:
            super().do_commit(dbapi_connection)
        finally:
            leave(dbapi_connection)

    def do_rollback(self, dbapi_connection) -> None:
        try:
            super().do_rollback(dbapi_connection)
        finally:
            leave(dbapi_connection)

    def do_close(self, dbapi_connection) -> None:
        leave(dbapi_connection)
        super().do_close(dbapi_connection)


# --- the writers' gate -----------------------------------------------------------------------

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _gate(path: str) -> asyncio.Lock:
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(path, asyncio.Lock())


def begin_immediate(dbapi_connection, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE after this process's other writers, waiting for other processes without
    blocking the loop; raises OperationalError ("database is locked") after `busy_timeout_ms`."""
    try:
        await_(_begin_immediate(dbapi_connection, busy_timeout_ms))
    except sqlite3.OperationalError as exc:  # as SQLAlchemy raises it for any statement
        raise sa_exc.OperationalError("BEGIN IMMEDIATE", (), exc) from exc


async def _begin_immediate(conn: _AdaptedConnection, busy_timeout_ms: int) -> None:
    deadline = time.monotonic() + busy_timeout_ms / 1000
    if conn.gate is None:
        gate = _gate(conn.path)
        try:  # a writer nested inside another writer of the same task would wait forever: not longer than this
            await asyncio.wait_for(gate.acquire(), timeout=max(0.0, deadline - time.monotonic()))
            conn.gate = gate
        except TimeoutError:
            pass
    pause = 0.001
    raw = conn._connection._conn
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                leave(conn)
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


def leave(conn) -> None:
    """Lets this process's next writer in (after COMMIT or ROLLBACK)."""
    conn = getattr(conn, "dbapi_connection", None) or conn  # the pool's proxy forwards reads, not writes
    gate = getattr(conn, "gate", None)
    if gate is not None:
        conn.gate = None
        gate.release()
