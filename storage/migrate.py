"""Alembic, driven from code: `upgrade`/`downgrade` on an async engine."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).parent


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head", *, claim_index=None) -> None:
    """Migrates the database behind `engine` to `revision`. `claim_index(customer)` → (name parts,
    province, keys): the claim-name rules, for revisions that rewrite stored claims' derived rows
    (the caller passes services.claims_match.stored_index; storage knows no domain rules)."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision), claim_index=claim_index)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def _run(engine: AsyncEngine, action, **attributes) -> None:
    async with engine.begin() as conn:
        def go(sync_conn):
            cfg = alembic_config()
            cfg.attributes.update(attributes)
            cfg.attributes["connection"] = sync_conn
            action(cfg)
        await conn.run_sync(go)
