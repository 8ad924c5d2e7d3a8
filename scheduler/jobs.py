"""Every scheduled job, in one explicit list.

A job is a stable id, a default cron (overridden by `[scheduler.jobs]`, read in `[app]
timezone`; an empty string keeps it off the schedule) and a thin async function
`(runtime) -> summary` that opens its own unit of work and calls one service. To add one,
write its function here and append a `Job` to `_REGISTERED`:

    async def _low_stock(runtime) -> str:
        result = await inventory_service.announce_low_stock(runtime.uow())
        return f"{result.announced} low, {result.recovered} recovered"

    Job("low_stock", "*/30 * * * *", _low_stock, "low-stock and recovery alerts"),

The outbox dispatcher is not a job: it runs as a loop in every web worker.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services import callback_tokens
from services import claims as claims_service
from services import digest as digest_service
from services import dispatcher as dispatcher_service
from services import rebate_nudge as rebate_nudge_service
from services import stock_alerts as stock_alerts_service

if TYPE_CHECKING:
    from bot.bootstrap import Runtime


class UnknownJob(KeyError):
    """No job has this name; the message lists the valid ones (`name`, `valid` for other wordings)."""

    def __init__(self, message: str, name: str = "", valid: tuple[str, ...] = ()):
        super().__init__(message)
        self.name, self.valid = name, valid

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Job:
    name: str
    default_cron: str
    run: Callable[[Runtime], Awaitable[str]]
    description: str = ""


async def _outbox_purge(runtime: Runtime) -> str:
    """Deletes delivered outbox messages older than `[dispatcher] keep_sent_days`, and chat buttons
    past their lifetime (every platform's, whether or not its adapter runs a loop of its own)."""
    days = runtime.settings.dispatcher.keep_sent_days
    removed = await dispatcher_service.purge_delivered(runtime.uow(), older_than_days=days)
    buttons = await callback_tokens.purge_expired(runtime.uow())
    return f"outbox_purge: removed {removed} delivered messages older than {days} days, {buttons} expired buttons"


async def _low_stock(runtime: Runtime) -> str:
    """Re-checks every stock position; announces the ones whose state changed unnoticed."""
    result = await stock_alerts_service.sweep(runtime.uow())
    return f"low_stock: {result.positions} positions checked, {result.transitions} changed"


async def _claim_expiry(runtime: Runtime) -> str:
    """Reminds partners of claims expiring in 7 and 1 days (once each); expires past-due claims."""
    result = await claims_service.expire_and_remind(runtime.uow())
    return f"claim_expiry: {result.reminded} reminded, {result.expired} expired"


async def _rebate_nudge(runtime: Runtime) -> str:
    """Tells partners near the next rebate tier in a scheme's last days what reaching it pays (once each)."""
    result = await rebate_nudge_service.nudge(runtime.uow())
    return f"rebate_nudge: {result.schemes} schemes closing, {result.nudged} nudged"


async def _daily_digest(runtime: Runtime) -> str:
    """Sends each region's managers yesterday's digest: a short text and a chart image."""
    result = await digest_service.push(runtime.uow())
    quiet = f", {len(result.empty)} without sales" if result.empty else ""
    return f"daily_digest: {result.regions} regions, {result.messages} messages{quiet}"


_REGISTERED: tuple[Job, ...] = (
    Job("outbox_purge", "30 3 * * *", _outbox_purge, "delete delivered outbox messages past retention"),
    Job("low_stock", "*/30 * * * *", _low_stock, "low-stock, out-of-stock and recovery alerts (on changes only)"),
    Job("claim_expiry", "0 9 * * *", _claim_expiry, "claim expiry reminders (7 and 1 days before) and expiry"),
    Job("rebate_nudge", "0 10 * * *", _rebate_nudge, "rebate-tier nudges in a scheme's last days (once per threshold)"),
    Job("daily_digest", "30 8 * * *", _daily_digest, "managers' daily digest per region: yesterday's figures and a chart"),
)

JOBS: dict[str, Job] = {job.name: job for job in _REGISTERED}


def cron_for(settings, job: Job) -> str:
    """The job's cron string: `[scheduler.jobs]` if set there, else its default ("" = not scheduled)."""
    return settings.scheduler.jobs.get(job.name, job.default_cron).strip()


def get_job(name: str) -> Job:
    """The job called `name`; UnknownJob lists the valid names."""
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(f"unknown job {name!r}; valid jobs: {', '.join(sorted(JOBS)) or '(none)'}",
                         name, tuple(sorted(JOBS))) from None


async def run_job(runtime: Runtime, name: str) -> str:
    """Runs a job now, outside the schedule (no tick is claimed); returns its summary."""
    return await get_job(name).run(runtime)
