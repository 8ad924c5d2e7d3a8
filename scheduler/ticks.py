"""Job ticks: every worker fires the same triggers, and the one that inserts the (job, scheduled
time) row runs it. `INSERT … ON CONFLICT DO NOTHING` works alike on SQLite and PostgreSQL, needs
no lock held across the run, and a dead worker holds nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import JobSetting, JobTick
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class TickInfo:
    """The latest tick of one job."""

    job: str
    scheduled_at: datetime
    worker: str
    status: str  # running | ok | failed
    finished_at: datetime | None
    error: str


def minute(at: datetime) -> datetime:
    """`at` in UTC, floored to the minute: the key every worker computes alike."""
    return at.astimezone(timezone.utc).replace(second=0, microsecond=0)


async def claim_tick(uow: UnitOfWork, *, job: str, scheduled_at: datetime, worker: str) -> bool:
    """Records that `worker` runs `job` for `scheduled_at`; False if another worker already does."""
    async with uow:
        dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
        stmt = (dialect.insert(JobTick)
                .values(job=job, scheduled_at=minute(scheduled_at), worker=worker[:64], started_at=uow.now(),
                        status="running", error="")
                .on_conflict_do_nothing(index_elements=["job", "scheduled_at"])
                .returning(JobTick.id))
        inserted = (await uow.session.execute(stmt)).scalar_one_or_none()
        await uow.commit()
    return inserted is not None


async def finish_tick(uow: UnitOfWork, *, job: str, scheduled_at: datetime, error: str = "") -> None:
    """Marks a claimed tick ok, or failed with the error text."""
    async with uow:
        await uow.session.execute(
            update(JobTick).where(JobTick.job == job, JobTick.scheduled_at == minute(scheduled_at))
            .values(finished_at=uow.now(), status="failed" if error else "ok", error=error[:4000]))
        await uow.commit()


async def is_paused(uow: UnitOfWork, *, job: str) -> bool:
    """Whether an admin paused `job`."""
    async with uow.reading() as reading:
        return bool(await reading.session.scalar(select(JobSetting.paused).where(JobSetting.job == job)))


async def job_states(uow: UnitOfWork) -> tuple[dict[str, bool], dict[str, TickInfo]]:
    """(paused by job, latest tick by job)."""
    async with uow.reading() as reading:
        s = reading.session
        paused = {job: p for job, p in await s.execute(select(JobSetting.job, JobSetting.paused))}
        latest = (select(JobTick.job, func.max(JobTick.scheduled_at).label("at"))
                  .group_by(JobTick.job).subquery())
        rows = await s.scalars(select(JobTick).join(
            latest, (JobTick.job == latest.c.job) & (JobTick.scheduled_at == latest.c.at)))
        ticks = {t.job: TickInfo(t.job, t.scheduled_at, t.worker, t.status, t.finished_at, t.error) for t in rows}
    return paused, ticks


async def set_paused(uow: UnitOfWork, *, job: str, paused: bool) -> bool:
    """Pauses or resumes `job` on every worker; returns the previous state."""
    async with uow:
        row = await uow.session.get(JobSetting, job)
        before = bool(row and row.paused)
        if row is None:
            uow.add(JobSetting(job=job, paused=paused))
        else:
            row.paused = paused
        await uow.commit()
    return before
