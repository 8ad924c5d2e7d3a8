"""Scheduler: one worker per tick, contained failures, pauses, triggers in the configured timezone."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot.bootstrap import Runtime
from bot.metrics import Metrics
from scheduler import jobs as jobs_module
from scheduler import ticks
from scheduler.jobs import JOBS, Job, UnknownJob, run_job
from scheduler.runner import build_scheduler, cron_trigger, fire, scheduled_time
from services.config import Settings
from storage.db import make_engine
from storage.models import CallbackToken, JobSetting, JobTick, Outbox

TICK = datetime.fromisoformat("2026-11-18T09:30:00+08:00")


async def test_only_one_of_many_concurrent_claims_of_a_tick_wins(settings, clock):
    runtimes = [Runtime(settings=settings, engine=make_engine(settings.database.url), clock=clock) for _ in range(4)]
    try:
        won = await asyncio.gather(*(ticks.claim_tick(rt.uow(), job="low_stock", scheduled_at=TICK, worker=f"w{i}")
                                     for i, rt in enumerate(runtimes)))
        assert sorted(won) == [False, False, False, True]
        assert await ticks.claim_tick(runtimes[0].uow(), job="low_stock", scheduled_at=TICK + timedelta(minutes=30),
                                      worker="w0")
        assert await ticks.claim_tick(runtimes[0].uow(), job="daily_digest", scheduled_at=TICK, worker="w0")
        # seconds inside the minute make no second tick
        assert not await ticks.claim_tick(runtimes[1].uow(), job="low_stock", scheduled_at=TICK + timedelta(seconds=7),
                                          worker="w1")
    finally:
        for rt in runtimes:
            await rt.dispose()


async def test_finished_ticks_show_in_job_states(runtime):
    await ticks.claim_tick(runtime.uow(), job="a", scheduled_at=TICK, worker="w1")
    await ticks.finish_tick(runtime.uow(), job="a", scheduled_at=TICK)
    await ticks.claim_tick(runtime.uow(), job="a", scheduled_at=TICK + timedelta(hours=1), worker="w2")
    await ticks.finish_tick(runtime.uow(), job="a", scheduled_at=TICK + timedelta(hours=1), error="Boom: no")
    paused, last = await ticks.job_states(runtime.uow())
    assert paused == {} and last["a"].status == "failed" and last["a"].error == "Boom: no"
    assert last["a"].scheduled_at == TICK + timedelta(hours=1) and last["a"].worker == "w2"


async def _boom(runtime) -> str:
    raise RuntimeError("database of partners is on fire")


async def _fine(runtime) -> str:
    return "all good"


async def test_a_failing_job_is_contained_recorded_and_counted(runtime):
    metrics = Metrics()
    job = Job("boom", "* * * * *", _boom)
    outcome = await fire(runtime, job, scheduled_at=TICK, worker="w1", on_outcome=metrics.job_outcome)
    assert outcome == "failed"
    async with runtime.uow() as uow:
        tick = await uow.session.scalar(select(JobTick).where(JobTick.job == "boom"))
        assert tick.status == "failed" and tick.error == "RuntimeError: database of partners is on fire"
        assert tick.finished_at is not None
    assert metrics.registry.get_sample_value("partnerbot_jobs_failed_total", {"job": "boom"}) == 1
    assert metrics.registry.get_sample_value("partnerbot_jobs_run_total", {"job": "boom"}) == 1
    # another worker firing the same tick does nothing
    assert await fire(runtime, job, scheduled_at=TICK, worker="w2", on_outcome=metrics.job_outcome) == "skipped"
    assert metrics.registry.get_sample_value("partnerbot_jobs_run_total", {"job": "boom"}) == 1


async def test_a_paused_job_is_skipped_without_a_tick(runtime):
    async with runtime.uow() as uow:
        uow.add(JobSetting(job="fine", paused=True))
        await uow.commit()
    assert await fire(runtime, Job("fine", "* * * * *", _fine), scheduled_at=TICK, worker="w1") == "paused"
    paused, last = await ticks.job_states(runtime.uow())
    assert paused == {"fine": True} and last == {}


async def test_unknown_job_names_the_valid_ones(runtime):
    with pytest.raises(KeyError) as err:
        await run_job(runtime, "nope")
    assert isinstance(err.value, UnknownJob) and "outbox_purge" in str(err.value) and "nope" in str(err.value)


async def test_outbox_purge_job_runs_its_service(runtime, clock):
    async with runtime.uow() as uow:
        uow.add(Outbox(channel="console", target="a", text="x", status="sent", next_attempt_at=clock.now(),
                       not_before=clock.now(), sent_at=clock.now() - timedelta(days=40)))
        uow.add(CallbackToken(token="old", text="确认", created_at=clock.now() - timedelta(days=8)))
        uow.add(CallbackToken(token="new", text="确认", created_at=clock.now() - timedelta(days=1)))
        await uow.commit()
    assert await run_job(runtime, "outbox_purge") == (
        "outbox_purge: removed 1 delivered messages older than 30 days, 1 expired buttons")
    async with runtime.uow() as uow:
        assert (await uow.session.scalars(select(CallbackToken.token))).all() == ["new"]


def test_crontab_weekdays_keep_their_cron_meaning():
    tz = Settings().tz
    monday_nine = cron_trigger("0 9 * * 1", tz)
    wednesday = datetime(2026, 11, 18, 10, 0, tzinfo=tz)
    assert monday_nine.get_next_fire_time(None, wednesday) == datetime(2026, 11, 23, 9, 0, tzinfo=tz)
    weekend = cron_trigger("0 9 * * 0,6", tz)
    assert weekend.get_next_fire_time(None, wednesday) == datetime(2026, 11, 21, 9, 0, tzinfo=tz)
    sunday = cron_trigger("0 9 * * 7", tz)
    assert sunday.get_next_fire_time(None, wednesday) == datetime(2026, 11, 22, 9, 0, tzinfo=tz)
    with pytest.raises(ValueError):
        cron_trigger("0 9 * *", tz)


def test_scheduled_time_is_the_triggers_minute_not_the_late_wall_clock():
    tz = Settings().tz
    every_half_hour = cron_trigger("*/30 * * * *", tz)
    late = datetime(2026, 11, 18, 9, 31, 40, tzinfo=tz)
    assert scheduled_time(every_half_hour, late) == datetime(2026, 11, 18, 1, 30, tzinfo=timezone.utc)
    assert scheduled_time(every_half_hour, datetime(2026, 11, 18, 9, 30, 0, 5, tzinfo=tz)) == (
        datetime(2026, 11, 18, 1, 30, tzinfo=timezone.utc))


async def test_scheduler_has_one_coalescing_trigger_per_job_in_the_configured_zone(runtime, monkeypatch):
    settings = Settings(database={"url": runtime.settings.database.url}, app={"timezone": "Europe/Berlin"},
                        scheduler={"jobs": {"fine": "15 6 * * *", "off": ""}})
    rt = Runtime(settings=settings, engine=runtime.engine, clock=runtime.clock)
    registry = {"fine": Job("fine", "0 1 * * *", _fine), "off": Job("off", "0 1 * * *", _fine),
                "dflt": Job("dflt", "0 2 * * *", _fine)}
    sched = build_scheduler(rt, worker="w1", jobs=registry)
    sched.start(paused=True)
    try:
        found = {j.id: j for j in sched.get_jobs()}
        assert set(found) == {"fine", "dflt"}
        fine = found["fine"]
        assert fine.coalesce is True and fine.max_instances == 1
        assert str(fine.trigger.timezone) == "Europe/Berlin" and "hour='6'" in str(fine.trigger)
        assert "hour='2'" in str(found["dflt"].trigger)
    finally:
        sched.shutdown(wait=False)
        await asyncio.sleep(0)
    with pytest.raises(ValidationError, match="fine: '61 \\* \\* \\* \\*' is not a valid cron string"):
        Settings(database={"url": runtime.settings.database.url}, scheduler={"jobs": {"fine": "61 * * * *"}})


async def test_a_firing_scheduler_runs_the_job_once_and_contains_its_failure(runtime, clock, monkeypatch):
    clock.set(TICK + timedelta(seconds=3))
    metrics = Metrics()
    monkeypatch.setitem(JOBS, "boom", Job("boom", "*/30 * * * *", _boom))
    sched = build_scheduler(runtime, worker="w1", on_outcome=metrics.job_outcome, jobs={"boom": JOBS["boom"]})
    sched.start()
    try:
        sched.get_job("boom").modify(next_run_time=datetime.now(timezone.utc))
        sched.wakeup()
        for _ in range(300):
            if metrics.registry.get_sample_value("partnerbot_jobs_failed_total", {"job": "boom"}):
                break
            await asyncio.sleep(0.01)
        assert sched.running  # the failure did not take the scheduler down
    finally:
        sched.shutdown(wait=False)
        await asyncio.sleep(0)
    paused, last = await ticks.job_states(runtime.uow())
    assert last["boom"].status == "failed" and last["boom"].scheduled_at == TICK
    assert metrics.registry.get_sample_value("partnerbot_jobs_failed_total", {"job": "boom"}) == 1


def test_every_registered_job_has_a_valid_default_cron():
    tz = Settings().tz
    for name, job in jobs_module.JOBS.items():
        assert job.name == name and job.run.__doc__, name
        if job.default_cron:
            cron_trigger(job.default_cron, tz)
