"""The web app (DESIGN §8.7) and the composition root of a server process.

`create_app` wires what every worker runs: the Runtime (engine, sessions, clock, settings), the
senders map, the outbox dispatcher loop and the scheduler, torn down in reverse order. Routes
come from `routers()`: the platform webhooks and /api/v1 are added there, each router reaching
the runtime through `request.app.state.runtime` (see `runtime_of`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from scheduler.runner import start_scheduler, stop_scheduler
from services import dispatcher
from services.config import Settings, load_settings

from handlers.parsing.segment import tokenizer as parsing_warm

from .bootstrap import build_runtime
from .metrics import Metrics
from .senders import ConsoleSink, open_senders

log = logging.getLogger(__name__)

health = APIRouter(tags=["operations"])


def routers() -> list[APIRouter]:
    """Every router the app serves. Platform webhooks and /api/v1 are appended here."""
    from . import platforms
    from .api import router as api_v1  # imported here: bot.api uses runtime_of from this module
    from .files_web import router as files
    return [health, api_v1, files, *(m.router for m in platforms.modules() if hasattr(m, "router"))]


def worker_id() -> str:
    """A name for this process in leases and job ticks."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def runtime_of(request: Request):
    """The Runtime of the app serving `request`."""
    return request.app.state.runtime


@health.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Reports whether the database answers."""
    runtime = getattr(request.app.state, "runtime", None)
    try:
        if runtime is None:
            raise RuntimeError("not started")
        async with runtime.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "error", "db": "error"}, status_code=503)
    return JSONResponse({"status": "ok", "db": "ok"})


@health.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text: this worker's counters and the outbox by status."""
    m: Metrics = request.app.state.metrics
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        try:
            m.set_outbox_status(await dispatcher.status_counts(runtime.uow()))
        except Exception as exc:  # noqa: BLE001 - counters still render without the database
            log.warning("outbox status for /metrics failed: %s", exc)
    return Response(m.render(), media_type=m.content_type)


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app, *, max_bytes: int, prefix_limits: dict[str, int] | None = None):
        self.app = app
        self.default_max = max_bytes
        self.prefix_limits = prefix_limits or {}

    def limit_for(self, path: str) -> int:
        """The cap for a request path: the longest matching prefix's, else the default."""
        fitting = [p for p in self.prefix_limits if path.startswith(p)]
        return self.prefix_limits[max(fitting, key=len)] if fitting else self.default_max

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            return await _too_large(send, max_bytes)
        seen, started, overflow = 0, False, False

        async def limited_receive():
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    overflow = True
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if overflow:  # whatever the app answers to a body cut off (e.g. a 400), the answer is 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            pass
        if overflow and not started:
            await _too_large(send, max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send, max_bytes: int) -> None:
    body = JSONResponse({"detail": f"request body over {max_bytes} bytes"}).body
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, *, runtime=None, start_background: bool = True,
               extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The FastAPI app; its lifespan builds the runtime (unless given) and, with `start_background`,
    runs the dispatcher loop and the scheduler."""
    settings = runtime.settings if runtime is not None else (settings or load_settings())
    app_metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with AsyncExitStack() as stack:
            rt = runtime
            if rt is None:
                rt = await build_runtime(settings)
                stack.push_async_callback(rt.dispose)
            app.state.runtime = rt
            stack.callback(_forget_runtime, app, rt is not runtime)
            if start_background:
                await asyncio.to_thread(parsing_warm)  # jieba's dictionary (~1 s) before the first message
                await _start_background(app, rt, stack)
            yield

    app = FastAPI(title="partnerbot", lifespan=lifespan)
    app.state.metrics = app_metrics
    app.state.runtime = runtime
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes,
                       prefix_limits={"/upload/": settings.api.max_upload_bytes})
    for router in [*routers(), *extra_routers]:
        app.include_router(router)
    return app


def _forget_runtime(app: FastAPI, built_here: bool) -> None:
    if built_here:
        app.state.runtime = None


async def _start_background(app: FastAPI, rt, stack: AsyncExitStack) -> None:
    """Starts the dispatcher loop, then the scheduler; `stack` stops them in reverse order."""
    m: Metrics = app.state.metrics
    worker = worker_id()
    senders = await open_senders(rt, stack, fallback=ConsoleSink())
    stop = asyncio.Event()
    loop_task = asyncio.create_task(dispatcher.dispatcher_loop(
        rt.uow, senders, worker=worker, interval=rt.settings.dispatcher.interval_seconds, stop_event=stop,
        on_result=m.drained), name="outbox-dispatcher")

    async def stop_loop() -> None:
        stop.set()
        try:
            await asyncio.wait_for(loop_task, timeout=rt.settings.dispatcher.lease_seconds / 2 + 5)
        except TimeoutError:
            log.warning("dispatcher did not stop in time; its leased rows will be retaken after the lease")

    stack.push_async_callback(stop_loop)
    from . import platforms
    for module in platforms.modules():
        if hasattr(module, "start_background"):
            await module.start_background(rt, stack)
    sched = start_scheduler(rt, worker=worker, on_outcome=m.job_outcome)
    stack.callback(stop_scheduler, sched)
    app.state.worker = worker
    app.state.scheduler = sched
    log.info("worker %s: dispatcher every %.1fs, scheduler %s", worker, rt.settings.dispatcher.interval_seconds,
             "on" if sched else "off")
