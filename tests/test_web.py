"""Web app: health, metrics, body cap, the lifespan's background work; `partnerbot jobs` commands."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import APIRouter, Request
from sqlalchemy import select

from bot.bootstrap import Runtime
from bot.web import create_app
from scheduler import ticks
from services import outbox
from services.config import Settings
from storage.db import make_engine
from storage.models import Outbox

PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_healthz_reports_a_working_database(runtime):
    async with client(create_app(runtime=runtime, start_background=False)) as c:
        r = await c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "db": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    url = f"sqlite:///{tmp_path}/missing-dir/x.db"
    rt = Runtime(settings=Settings(database={"url": url}), engine=make_engine(url))
    try:
        async with client(create_app(runtime=rt, start_background=False)) as c:
            r = await c.get("/healthz")
    finally:
        await rt.dispose()
    assert r.status_code == 503 and r.json() == {"status": "error", "db": "error"}


async def test_metrics_are_prometheus_text_and_fresh_per_app(runtime):
    app = create_app(runtime=runtime, start_background=False)
    app.state.metrics.job_outcome("low_stock", "failed")
    app.state.metrics.inbound_message("wechat")
    async with client(app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'partnerbot_jobs_failed_total{job="low_stock"} 1.0' in r.text
    assert 'partnerbot_inbound_messages_total{channel="wechat"} 1.0' in r.text
    assert 'partnerbot_outbox_status_rows{status="pending"} 0.0' in r.text
    async with client(create_app(runtime=runtime, start_background=False)) as c:
        assert "partnerbot_jobs_failed_total{" not in (await c.get("/metrics")).text


async def test_oversized_bodies_are_refused_with_413(db_url, clock):
    settings = Settings(database={"url": db_url}, api={"max_body_bytes": 1000})
    rt = Runtime(settings=settings, engine=make_engine(db_url), clock=clock)
    try:
        async with client(create_app(runtime=rt, start_background=False)) as c:
            big = await c.post("/healthz", content=b"x" * 1001)
            small = await c.post("/healthz", content=b"x" * 1000)
    finally:
        await rt.dispose()
    assert big.status_code == 413 and big.json() == {"detail": "request body over 1000 bytes"}
    assert small.status_code == 405  # within the cap it reaches the app (/healthz is GET-only)


async def test_streamed_body_over_the_cap_is_cut_off_for_a_reading_route(db_url, clock):
    echo = APIRouter()

    @echo.post("/echo")
    async def _echo(request: Request) -> dict:
        return {"n": len(await request.body())}

    @echo.post("/parsed")
    async def _parsed(payload: dict) -> dict:
        return {"keys": len(payload)}

    settings = Settings(database={"url": db_url}, api={"max_body_bytes": 1000})
    rt = Runtime(settings=settings, engine=make_engine(db_url), clock=clock)
    try:
        async with client(create_app(runtime=rt, start_background=False, extra_routers=[echo])) as c:
            async def chunks():
                for _ in range(5):
                    yield b"y" * 400
            assert (await c.post("/echo", content=chunks())).status_code == 413
            assert (await c.post("/parsed", content=chunks())).status_code == 413  # FastAPI's own parsing
            assert (await c.post("/echo", content=b"z" * 999)).json() == {"n": 999}
    finally:
        await rt.dispose()


async def test_lifespan_runs_the_dispatcher_and_scheduler_and_stops_them(db_url, capsys):
    settings = Settings(database={"url": db_url}, dispatcher={"interval_seconds": 0.02})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        async with rt.uow() as uow:
            outbox.enqueue(uow, channel="wecom_robot", target="hook", text="低库存 A100", urgent=True)
            await uow.commit()
        for _ in range(250):
            async with rt.uow() as uow:
                status = await uow.session.scalar(select(Outbox.status))
            if status == "sent":
                break
            await asyncio.sleep(0.02)
        assert status == "sent"
        async with client(app) as c:
            assert (await c.get("/healthz")).status_code == 200
            assert 'partnerbot_outbox_rows_total{outcome="sent"} 1.0' in (await c.get("/metrics")).text
    assert app.state.runtime is None
    assert "[push → wecom_robot:hook] 低库存 A100" in capsys.readouterr().out


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    return subprocess.run([PARTNERBOT, *args], capture_output=True, text=True, env=env, timeout=60)


async def test_jobs_list_shows_cron_pause_and_last_run(db_url, runtime):
    done = await asyncio.to_thread(_cli, db_url, "jobs", "list")
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("outbox_purge"))
    assert line.split() == ["outbox_purge", "30", "3", "*", "*", "*", "no", "never"]

    from datetime import datetime
    assert await ticks.claim_tick(runtime.uow(), job="outbox_purge",
                                  scheduled_at=datetime.fromisoformat("2026-11-18T03:30:00+08:00"), worker="w1")
    await ticks.finish_tick(runtime.uow(), job="outbox_purge",
                            scheduled_at=datetime.fromisoformat("2026-11-18T03:30:00+08:00"))
    done = await asyncio.to_thread(_cli, db_url, "jobs", "list")
    assert "outbox_purge" in done.stdout and "2026-11-18 03:30 ok" in done.stdout


async def test_jobs_run_runs_and_delivers_and_unknown_names_exit_2(db_url, runtime):
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="-100", text="早上好")
        await uow.commit()
    done = await asyncio.to_thread(_cli, db_url, "jobs", "run", "outbox_purge")
    assert done.returncode == 0, done.stderr
    assert "removed 0 delivered messages" in done.stdout
    assert "[push → telegram:-100] 早上好" in done.stdout and "1 message(s) sent" in done.stdout

    bad = await asyncio.to_thread(_cli, db_url, "jobs", "run", "nope")
    assert bad.returncode == 2 and "unknown job 'nope'" in bad.stderr and "outbox_purge" in bad.stderr
