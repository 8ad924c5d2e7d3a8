"""The scheduler: one APScheduler cron trigger per registered job, in every worker.

Each firing works out its scheduled minute from the trigger, skips a paused job, claims the
(job, minute) tick so exactly one worker runs it, runs the job, and records the outcome. One
wrapper (`fire`) contains and logs every failure; the web lifespan starts and stops the scheduler.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from services.config import ConfigError

from . import ticks
from .jobs import JOBS, Job, cron_for

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

log = logging.getLogger(__name__)

GRACE_SECONDS = 300  # a firing later than this is skipped (APScheduler misfire), and ticks agree on it
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

OnOutcome = Callable[[str, str], None]  # (job, "ok" | "failed" | "skipped" | "paused")


def cron_trigger(expr: str, tz) -> CronTrigger:
    """A trigger for a crontab string; day-of-week numbers mean what they mean to cron (0 = Sunday)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(dow),
                       timezone=tz)


def _crontab_days(field: str) -> str:
    """Crontab weekday numbers as names: APScheduler 3 counts from Monday, cron from Sunday."""
    if field == "*" or any(c.isalpha() for c in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            lo, hi = (int(x) for x in span.split("-", 1))
        else:
            lo = hi = int(span)
            hi = 7 if step else hi
        if not (0 <= lo <= hi <= 7):
            raise ValueError(f"bad day-of-week {part!r}")
        days.update(d % 7 for d in range(lo, hi + 1, int(step or 1)))
    return ",".join(_DAYS[d] for d in sorted(days))


def scheduled_time(trigger: CronTrigger, now: datetime, *, grace: float = GRACE_SECONDS) -> datetime:
    """The trigger's latest fire time at or before `now` (within `grace`), floored to the minute."""
    best = None
    at = trigger.get_next_fire_time(None, now - timedelta(seconds=grace))
    while at is not None and at <= now:
        best = at
        at = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
    return ticks.minute(best or now)


async def fire(runtime: Runtime, job: Job, *, scheduled_at: datetime, worker: str,
               on_outcome: OnOutcome | None = None) -> str:
    """Runs one tick of `job` unless paused or taken by another worker; contains and logs any failure."""
    outcome, claimed, error = "failed", False, ""
    started = time.monotonic()
    try:
        if await ticks.is_paused(runtime.uow(), job=job.name):
            outcome = "paused"
        elif not await ticks.claim_tick(runtime.uow(), job=job.name, scheduled_at=scheduled_at, worker=worker):
            outcome = "skipped"
        else:
            claimed = True
            summary = await job.run(runtime)
            outcome = "ok"
            log.info("job %s (%s) done in %.1fs: %s", job.name, scheduled_at.isoformat(),
                     time.monotonic() - started, summary)
    except Exception as exc:  # noqa: BLE001 - the one place a job's failure is contained
        error = f"{type(exc).__name__}: {exc}"
        log.exception("job %s (%s) failed", job.name, scheduled_at.isoformat())
    if claimed:
        try:
            await ticks.finish_tick(runtime.uow(), job=job.name, scheduled_at=scheduled_at, error=error)
        except Exception:  # noqa: BLE001
            log.exception("job %s: could not record the end of its tick", job.name)
    if on_outcome is not None:
        on_outcome(job.name, outcome)
    return outcome


async def _on_trigger(runtime: Runtime, job: Job, trigger: CronTrigger, worker: str,
                      on_outcome: OnOutcome | None) -> None:
    """What APScheduler calls: the tick's minute from the trigger, then `fire`."""
    at = scheduled_time(trigger, runtime.clock.now())
    await fire(runtime, job, scheduled_at=at, worker=worker, on_outcome=on_outcome)


def build_scheduler(runtime: Runtime, *, worker: str, on_outcome: OnOutcome | None = None,
                    jobs: Mapping[str, Job] | None = None) -> AsyncIOScheduler:
    """An AsyncIOScheduler with one cron trigger per scheduled job (id = job name), not yet started."""
    tz = runtime.settings.tz
    sched = AsyncIOScheduler(timezone=tz, job_defaults={"coalesce": True, "max_instances": 1,
                                                        "misfire_grace_time": GRACE_SECONDS})
    jobs = JOBS if jobs is None else jobs
    for name in runtime.settings.scheduler.jobs:
        if name not in jobs:
            log.info("scheduler.jobs.%s is configured but no such job exists (yet); ignored", name)
    for name, job in jobs.items():
        cron = cron_for(runtime.settings, job)
        if not cron:
            continue
        try:
            trigger = cron_trigger(cron, tz)
        except ValueError as exc:
            raise ConfigError(f"invalid configuration key scheduler.jobs.{name}: {exc}") from exc
        sched.add_job(_on_trigger, trigger, id=name, name=name, replace_existing=True,
                      kwargs={"runtime": runtime, "job": job, "trigger": trigger, "worker": worker,
                              "on_outcome": on_outcome})
    return sched


def start_scheduler(runtime: Runtime, *, worker: str, on_outcome: OnOutcome | None = None) -> AsyncIOScheduler | None:
    """Builds and starts the scheduler on the running loop; None when `[scheduler] enabled` is false."""
    if not runtime.settings.scheduler.enabled:
        return None
    sched = build_scheduler(runtime, worker=worker, on_outcome=on_outcome)
    sched.start()
    return sched


def stop_scheduler(sched: AsyncIOScheduler | None) -> None:
    """Stops firing; a job already running is cancelled (its tick stays `running`)."""
    if sched is not None and sched.running:
        sched.shutdown(wait=False)
