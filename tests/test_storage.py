"""Storage: migrations round-trip, the schema matches the models, unit of work rolls back."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from alembic.script import ScriptDirectory

from storage import migrate
from storage.db import make_engine
from storage.models import Base, Partner


HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


async def test_migrations_round_trip(db_url):
    engine = make_engine(db_url)
    try:
        assert await migrate.current(engine) == HEAD
        await migrate.downgrade(engine, "base")
        assert await migrate.current(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.current(engine) == HEAD
    finally:
        await engine.dispose()


async def test_schema_matches_models(db_url):
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": False}),
                                           Base.metadata))
        assert diff == []
    finally:
        await engine.dispose()


async def test_unit_of_work_rolls_back_unless_committed(uow):
    async with uow:
        uow.add(Partner(code="P9", name="未提交", region="江苏"))
    async with uow:
        uow.add(Partner(code="P8", name="已提交", region="江苏"))
        await uow.commit()
    async with uow:
        codes = (await uow.session.scalars(select(Partner.code))).all()
    assert codes == ["P8"]


async def test_unit_of_work_rolls_back_on_error(uow):
    with pytest.raises(RuntimeError):
        async with uow:
            uow.add(Partner(code="P7", name="出错", region="江苏"))
            await uow.flush()
            raise RuntimeError("boom")
    async with uow:
        assert await uow.session.scalar(select(func.count(Partner.id))) == 0


async def test_times_come_back_aware_utc(uow, clock):
    async with uow:
        uow.add(Partner(code="P1", name="甲", region="江苏", created_at=clock.now()))
        await uow.commit()
    async with uow:
        created = await uow.session.scalar(select(Partner.created_at))
    assert created == clock.now() and created.utcoffset().total_seconds() == 0
