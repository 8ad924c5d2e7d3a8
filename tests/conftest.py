"""Fixtures: every database test runs on SQLite, and on PostgreSQL when
PARTNERBOT_TEST_PG_URL is set (CI sets it; there a missing PostgreSQL is a failure)."""
from __future__ import annotations

import asyncio
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.bootstrap import Runtime
from services.config import Settings
from storage import migrate
from storage.db import make_engine
from storage.models import Base
from storage.uow import FixedClock

PG_URL = os.environ.get("PARTNERBOT_TEST_PG_URL", "")
START = datetime.fromisoformat("2026-11-18T09:00:00+08:00")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError("CI is set but PARTNERBOT_TEST_PG_URL is not: PostgreSQL tests would be skipped")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build():
        engine = make_engine(f"sqlite:///{path}")
        await migrate.upgrade(engine)
        await engine.dispose()
    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def pg_ready() -> str:
    if not PG_URL:
        return ""

    async def build():
        engine = make_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
        await migrate.upgrade(engine)
        await engine.dispose()
    asyncio.run(build())
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, sqlite_template, pg_ready) -> str:
    """A database at schema head with no rows: a fresh SQLite copy, or a truncated PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if not pg_ready:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL test skipped under CI")
        pytest.skip("PARTNERBOT_TEST_PG_URL not set")

    async def wipe():
        engine = make_engine(pg_ready)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()
    asyncio.run(wipe())
    return pg_ready


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return Settings(database={"url": db_url}, app={"quiet_hours": "22:00-08:00"})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def runtime(settings, clock):
    rt = Runtime(settings=settings, engine=make_engine(settings.database.url), clock=clock)
    yield rt
    await rt.dispose()


@pytest.fixture
def uow(runtime):
    return runtime.uow()
