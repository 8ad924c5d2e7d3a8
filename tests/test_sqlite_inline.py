"""SQLite on the event loop's thread: writers of one process take turns without SQLite's busy wait,
writers of another engine (or process) are waited for without blocking the loop, nothing deadlocks."""
from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.bootstrap import Runtime
from services.config import Settings
from storage.db import make_engine
from storage.models import AuditLog


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "inline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def runtime_on(url: str, **database) -> Runtime:
    return Runtime(settings=Settings(database={"url": url, **database}),
                   engine=make_engine(url, busy_timeout_ms=database.get("busy_timeout_ms", 5000)))


async def write_row(rt: Runtime, tag: str, *, hold: float = 0.0) -> None:
    async with rt.uow() as uow:
        uow.add(AuditLog(at=uow.now(), action="test", entity="inline", entity_id=tag))
        await uow.flush()
        if hold:
            await asyncio.sleep(hold)  # another writer of this process must wait, the loop must not
        await uow.commit()


async def count(rt: Runtime) -> int:
    async with rt.uow().reading() as ro:
        return await ro.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.entity == "inline"))


async def test_the_engine_runs_sqlite_inline(sqlite_url):
    rt = runtime_on(sqlite_url)
    try:
        assert rt.engine.dialect.driver == "inline"
        async with rt.engine.connect() as conn:  # plain connections (health check, migrations) work too
            assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await rt.dispose()


async def test_many_writers_of_one_process_take_turns_and_the_loop_stays_free(sqlite_url):
    rt = runtime_on(sqlite_url)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    tick = asyncio.create_task(ticker())
    try:
        start = time.monotonic()
        await asyncio.gather(*(write_row(rt, str(i), hold=0.02) for i in range(20)))
        elapsed = time.monotonic() - start
        assert await count(rt) == 20
        assert elapsed >= 20 * 0.02  # one writer at a time
        assert ticks >= 10  # while they waited, the loop went on
    finally:
        tick.cancel()
        await rt.dispose()


async def test_a_writer_of_another_engine_is_waited_for_then_times_out_with_database_locked(sqlite_url):
    holder, waiter = runtime_on(sqlite_url), runtime_on(sqlite_url, busy_timeout_ms=300)
    other = runtime_on(sqlite_url, busy_timeout_ms=5000)
    try:
        held = asyncio.create_task(write_row(holder, "long", hold=0.6))
        await asyncio.sleep(0.05)
        with pytest.raises(OperationalError, match="locked"):
            await write_row(waiter, "impatient")  # 300 ms of waiting, then SQLite's usual error
        await write_row(other, "patient")  # waits for the holder without blocking it
        await held
        assert await count(holder) == 2
    finally:
        for rt in (holder, waiter, other):
            await rt.dispose()


async def test_a_writer_nested_in_another_of_the_same_task_fails_after_the_busy_timeout_not_forever(sqlite_url):
    rt = runtime_on(sqlite_url, busy_timeout_ms=300)
    try:
        async with rt.uow() as outer:
            outer.add(AuditLog(at=outer.now(), action="test", entity="inline", entity_id="outer"))
            await outer.flush()
            with pytest.raises(OperationalError, match="locked"):
                await asyncio.wait_for(write_row(rt, "inner"), timeout=5)
            await outer.commit()
        await write_row(rt, "after")  # the gate was given back
        assert await count(rt) == 2
    finally:
        await rt.dispose()
