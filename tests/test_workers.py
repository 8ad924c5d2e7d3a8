"""Several `partnerbot serve` workers on one database: every worker fires every trigger, exactly one
runs each (job, minute), a paused job runs nowhere, a failing job is contained and counted.

Two real server processes per database (PostgreSQL when PARTNERBOT_TEST_PG_URL is set, and a SQLite
file), all started at once with every job on `* * * * *`, watched across APScheduler's real minute
boundaries (one wait of ~62–68 s for the whole module), then each database's job_tick rows are
counted against each worker's /metrics.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from bot.bootstrap import Runtime
from bot.web import create_app
from scheduler import jobs as jobs_module
from scheduler import ticks
from scheduler.jobs import Job
from scheduler.runner import build_scheduler, cron_trigger, fire, scheduled_time
from services.config import Settings
from storage.db import make_engine
from storage.models import Base, JobTick, Outbox

PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")
PG_URL = os.environ.get("PARTNERBOT_TEST_PG_URL", "")
RUNNING = ("outbox_purge", "low_stock", "rebate_nudge", "daily_digest")
PAUSED = "claim_expiry"
SETTLE = 8  # seconds after a minute boundary for every tick of that minute to be finished


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    env["PARTNERBOT_SCHEDULER__JOBS"] = json.dumps({name: "* * * * *" for name in jobs_module.JOBS})
    env["PARTNERBOT_DISPATCHER__INTERVAL_SECONDS"] = "0.5"
    return env


@dataclass
class Worker:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """Samples of /metrics by (name, sorted labels)."""
        body = httpx.get(f"{self.url}/metrics", timeout=10).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(body) for s in fam.samples}

    def count(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)


@dataclass
class Cluster:
    db_url: str
    workers: list[Worker] = field(default_factory=list)
    minutes: list[datetime] = field(default_factory=list)       # boundaries every worker was up for
    maybe: list[datetime] = field(default_factory=list)         # boundaries while they were starting


def _spawn(db_url: str, tmp: Path, name: str) -> Worker:
    port = _free_port()
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([PARTNERBOT, "serve", "--port", str(port)], env=_env(db_url),
                                stdout=out, stderr=subprocess.STDOUT)
    return Worker(proc, port, log)


def _wait_healthy(workers: list[Worker], timeout: float = 40) -> None:
    deadline = time.time() + timeout
    for w in workers:
        while True:
            assert w.proc.poll() is None, f"worker exited: {w.log.read_text(errors='replace')[-3000:]}"
            try:
                if httpx.get(f"{w.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, f"worker not healthy: {w.log.read_text(errors='replace')[-3000:]}"
            time.sleep(0.2)


def _boundaries(after: float, until: float) -> list[datetime]:
    first = math.floor(after / 60) * 60 + 60
    return [datetime.fromtimestamp(t, timezone.utc) for t in range(first, math.floor(until) + 1, 60)]


async def _prepare(db_url: str) -> None:
    """An empty database at head with `claim_expiry` paused."""
    rt = Runtime(settings=Settings(database={"url": db_url}), engine=make_engine(db_url))
    try:
        if rt.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            async with rt.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await ticks.set_paused(rt.uow(), job=PAUSED, paused=True)
    finally:
        await rt.dispose()


@pytest.fixture(scope="module")
def clusters(tmp_path_factory, sqlite_template, pg_ready):
    """Two workers on a SQLite file (where rebate_nudge fails: its table is gone) and, with
    PostgreSQL, two on it; all watched for at least one full minute boundary."""
    tmp = tmp_path_factory.mktemp("workers")
    db = tmp / "workers.db"
    shutil.copy(sqlite_template, db)
    found = {"sqlite": Cluster(f"sqlite:///{db}")}
    if pg_ready:
        found["postgresql"] = Cluster(pg_ready)
    for cluster in found.values():
        asyncio.run(_prepare(cluster.db_url))
    with sqlite3.connect(db) as conn:  # a job that fails on every tick, in a real process
        conn.execute("DROP TABLE rebate_scheme")
    spawned = time.time()
    try:
        for kind, cluster in found.items():
            cluster.workers = [_spawn(cluster.db_url, tmp, f"{kind}-{i}") for i in (1, 2)]
        _wait_healthy([w for c in found.values() for w in c.workers])
        ready = time.time()
        end = ready + 62
        if end - math.floor(end / 60) * 60 < SETTLE:
            end = math.floor(end / 60) * 60 + SETTLE
        time.sleep(end - time.time())
        for cluster in found.values():
            cluster.minutes = _boundaries(ready, end - SETTLE)
            cluster.maybe = _boundaries(spawned, ready)
        yield found
    finally:
        for w in (w for c in found.values() for w in c.workers):
            if w.proc.poll() is None:
                w.proc.terminate()
        for w in (w for c in found.values() for w in c.workers):
            try:
                w.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


async def _ticks(db_url: str) -> list[JobTick]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(JobTick).order_by(JobTick.job, JobTick.scheduled_at))).all())
    finally:
        await engine.dispose()


async def _check_cluster(cluster: Cluster, *, failing: tuple[str, ...] = ()) -> None:
    assert cluster.minutes, "no minute boundary was watched"
    rows = await _ticks(cluster.db_url)
    workers = cluster.workers
    for w in workers:  # both alive and answering after the minutes passed
        assert w.proc.poll() is None, w.log.read_text(errors="replace")[-3000:]
        assert httpx.get(f"{w.url}/healthz", timeout=5).status_code == 200
    per_key = Counter((r.job, r.scheduled_at.astimezone(timezone.utc)) for r in rows)
    assert all(n == 1 for n in per_key.values())
    assert PAUSED not in {r.job for r in rows}            # paused: no worker claimed a tick
    pids = {f"-{w.proc.pid}-" for w in workers}
    for job in RUNNING:
        mine = [r for r in rows if r.job == job]
        minutes = {r.scheduled_at.astimezone(timezone.utc) for r in mine}
        # each watched minute ran exactly once; a minute passed while the workers started may have too
        assert set(cluster.minutes) <= minutes <= set(cluster.minutes) | set(cluster.maybe), (job, minutes)
        assert all(any(p in r.worker for p in pids) for r in mine)
        want = "failed" if job in failing else "ok"
        assert {r.status for r in mine} == {want}, [(r.status, r.error) for r in mine]
        runs = [w.count("partnerbot_jobs_run_total", job=job) for w in workers]
        assert sum(runs) == len(mine)                      # no worker ran a tick it had not claimed
        for w in workers:                                  # every worker fired every watched minute
            fired = sum(w.count("partnerbot_job_firings_total", job=job, outcome=o)
                        for o in ("ok", "failed", "skipped"))
            assert fired >= len(cluster.minutes), (job, w.port, fired)
        skipped = sum(w.count("partnerbot_job_firings_total", job=job, outcome="skipped") for w in workers)
        assert skipped >= len(cluster.minutes)             # … and for each, the other one stood back
        failed = sum(w.count("partnerbot_jobs_failed_total", job=job) for w in workers)
        assert failed == (len(mine) if job in failing else 0)
    for w in workers:
        assert w.count("partnerbot_job_firings_total", job=PAUSED, outcome="paused") >= len(cluster.minutes)
        assert w.count("partnerbot_jobs_run_total", job=PAUSED) == 0


async def test_two_postgresql_workers_run_each_tick_exactly_once(clusters):
    if "postgresql" not in clusters:
        pytest.skip("PARTNERBOT_TEST_PG_URL not set")
    await _check_cluster(clusters["postgresql"])


async def test_two_sqlite_workers_run_each_tick_once_and_contain_a_failing_job(clusters):
    cluster = clusters["sqlite"]
    await _check_cluster(cluster, failing=("rebate_nudge",))
    rows = [r for r in await _ticks(cluster.db_url) if r.job == "rebate_nudge"]
    assert all("rebate_scheme" in r.error for r in rows)
    logs = "".join(w.log.read_text(errors="replace") for w in cluster.workers)
    assert "job rebate_nudge (" in logs and "failed" in logs and "no such table: rebate_scheme" in logs
    # the jobs after it in the same minutes kept running: the scheduler went on
    assert {r.job for r in await _ticks(cluster.db_url) if r.status == "ok"} == {
        "outbox_purge", "low_stock", "daily_digest"}


def test_an_invalid_cron_stops_serve_naming_the_key(tmp_path):
    env = _env(f"sqlite:///{tmp_path}/x.db")
    env["PARTNERBOT_SCHEDULER__JOBS"] = json.dumps({"low_stock": "61 * * * *"})
    done = subprocess.run([PARTNERBOT, "serve", "--port", str(_free_port())], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2                 # refused with the configuration, before the server starts
    assert "invalid configuration key scheduler.jobs" in done.stderr and "low_stock" in done.stderr
    assert "'61 * * * *' is not a valid cron string" in done.stderr.replace("\n", " ")
    assert "Traceback" not in done.stderr

    env["PARTNERBOT_SCHEDULER__JOBS"] = json.dumps({"daily_digest": "30 8 * *"})
    done = subprocess.run([PARTNERBOT, "serve", "--port", str(_free_port())], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "scheduler.jobs" in done.stderr and "daily_digest" in done.stderr


async def _noop(runtime) -> str:
    """Does nothing."""
    return "noop"


async def test_nine_oclock_fires_at_nine_in_shanghai_which_is_one_utc(runtime, clock):
    settings = Settings(database={"url": runtime.settings.database.url},
                        scheduler={"jobs": {"morning": "0 9 * * *"}})
    assert settings.app.timezone == "Asia/Shanghai"
    rt = Runtime(settings=settings, engine=runtime.engine, clock=clock)
    sched = build_scheduler(rt, worker="w1", jobs={"morning": Job("morning", "", _noop)})
    sched.start(paused=True)
    try:
        trigger = sched.get_job("morning").trigger
        after = datetime(2026, 11, 18, 0, 30, tzinfo=timezone.utc)
        assert trigger.get_next_fire_time(None, after) == datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)
        late = datetime(2026, 11, 18, 1, 0, 4, tzinfo=timezone.utc)
        assert trigger.get_next_fire_time(None, late) == datetime(2026, 11, 19, 1, 0, tzinfo=timezone.utc)
    finally:
        sched.shutdown(wait=False)
        await asyncio.sleep(0)
    trigger = cron_trigger("0 9 * * *", settings.tz)
    assert scheduled_time(trigger, datetime(2026, 11, 18, 1, 0, 4, tzinfo=timezone.utc)) == (
        datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc))
    utc = cron_trigger("0 9 * * *", Settings(app={"timezone": "UTC"}).tz)
    assert utc.get_next_fire_time(None, after) == datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


async def _boom(runtime) -> str:
    """Fails."""
    raise RuntimeError("stock table is on fire")


async def test_a_failing_job_is_logged_counted_in_metrics_and_the_scheduler_goes_on(db_url, monkeypatch, caplog):
    """In one app: the failing job's firing shows in /metrics, and the next job's firing still runs."""
    monkeypatch.setattr(jobs_module, "JOBS", {"boom": Job("boom", "* * * * *", _boom),
                                              "after": Job("after", "* * * * *", _noop)})
    import scheduler.runner as runner
    monkeypatch.setattr(runner, "JOBS", jobs_module.JOBS)
    settings = Settings(database={"url": db_url}, scheduler={"jobs": {}})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        sched = app.state.scheduler
        for name in ("boom", "after"):
            sched.get_job(name).modify(next_run_time=datetime.now(timezone.utc))
        sched.wakeup()
        for _ in range(300):
            _, last = await ticks.job_states(rt.uow())
            if {"boom", "after"} <= set(last) and last["after"].status != "running":
                break
            await asyncio.sleep(0.02)
        assert sched.running
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            body = (await c.get("/metrics")).text
    assert last["boom"].status == "failed" and last["boom"].error == "RuntimeError: stock table is on fire"
    assert last["after"].status == "ok"
    assert 'partnerbot_jobs_failed_total{job="boom"} 1.0' in body
    assert 'partnerbot_jobs_run_total{job="after"} 1.0' in body
    assert 'partnerbot_job_firings_total{job="boom",outcome="failed"} 1.0' in body
    assert any(r.levelname == "ERROR" and "job boom" in r.getMessage() and r.exc_info for r in caplog.records)



async def test_jobs_from_chat_list_every_job_pause_on_every_worker_and_run_politely(settings, clock):
    from bot.console import make_deps
    from handlers.messages import InboundMessage
    from handlers.router import handle
    from services import identities

    workers = [Runtime(settings=settings, engine=make_engine(settings.database.url), clock=clock) for _ in (1, 2)]
    rt = workers[0]
    deps = make_deps(rt)
    n = iter(range(1, 100))

    async def say(who: str, text_: str) -> str:
        msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text_, message_id=f"m{next(n)}")
        replies = await handle(deps, msg)
        await deps.jobs.settle()
        return "\n".join(r.text for r in replies)

    try:
        await identities.bind_directly(rt.uow(), channel="console", external_id="root", role="admin")
        await identities.bind_directly(rt.uow(), channel="console", external_id="mgr", role="manager",
                                       regions=("江苏",))
        listed = await say("root", "/jobs list")
        assert [line.split(" · ")[0] for line in listed.splitlines()] == sorted(jobs_module.JOBS)
        assert {"low_stock", "claim_expiry", "rebate_nudge", "daily_digest", "outbox_purge"} <= set(jobs_module.JOBS)
        assert "没有权限" in await say("mgr", "/jobs pause low_stock")
        nope = await say("root", "/jobs run nope")
        assert "没有名为「nope」的任务" in nope and "outbox_purge" in nope and "抱歉" not in nope

        assert await say("root", "/jobs pause outbox_purge") == "已暂停 outbox_purge。"
        assert "outbox_purge · 30 3 * * * · 已暂停" in await say("root", "/jobs list")
        job = jobs_module.JOBS["outbox_purge"]
        tick = datetime(2026, 11, 17, 19, 30, tzinfo=timezone.utc)
        assert [await fire(w, job, scheduled_at=tick, worker=f"w{i}") for i, w in enumerate(workers)] == ["paused", "paused"]
        assert await say("root", "/jobs resume outbox_purge") == "已恢复 outbox_purge。"
        outcomes = [await fire(w, job, scheduled_at=tick, worker=f"w{i}") for i, w in enumerate(workers)]
        assert outcomes == ["ok", "skipped"]

        assert await say("root", "/jobs run outbox_purge") == "已开始运行 outbox_purge，完成后把结果发给您。"
        async with rt.uow() as uow:
            pushed = (await uow.session.scalars(select(Outbox.text).where(Outbox.target == "root"))).all()
        assert pushed == ["outbox_purge: removed 0 delivered messages older than 30 days, 0 expired buttons"]
    finally:
        for w in workers:
            await w.dispose()

