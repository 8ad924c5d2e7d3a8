"""The dispatcher against a platform over real HTTP on loopback: an outage delays pushes and loses none;
a dispatcher process killed mid-send leaves its rows to another after the lease.

`HttpSender` is a minimal platform-like sender (one JSON POST per message; transport errors and 5xx
retry, 429 honours Retry-After, other 4xx reject); `FakePlatform` is a small HTTP server of ours that
can refuse connections, fail, throttle or hang, and records what it received and what it acknowledged.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime
from services import dispatcher, outbox
from services.config import Settings
from services.dispatcher import SendError
from storage.db import make_engine
from storage.models import Outbox
from storage.uow import SystemClock

CHANNELS = ("console", "wechat", "wecom", "wecom_robot", "telegram")


class HttpSender:
    """Sends each message as one JSON POST to `{base_url}/send`."""

    def __init__(self, base_url: str, client: httpx.AsyncClient):
        self.base_url = base_url
        self.client = client

    async def send(self, msg) -> None:
        body = {"rows": list(msg.row_ids), "target": msg.target, "text": msg.text}
        try:
            r = await self.client.post(f"{self.base_url}/send", json=body)
        except httpx.TransportError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code == 429:
            raise SendError("HTTP 429 too many requests", retry_after=float(r.headers.get("retry-after", "0")))
        if r.status_code >= 500:
            raise SendError(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise SendError(f"HTTP {r.status_code}", retryable=False)


class FakePlatform:
    """POST /send on loopback. `mode`: ok (200), error (500), throttle (429, Retry-After: 30), hang (never
    answers); `stop()` makes the port refuse connections until `start()` again."""

    def __init__(self, clock=None):
        self.clock = clock
        self.mode = "ok"
        self.received: list[dict] = []  # every request body, with `at`
        self.acked: list[dict] = []  # bodies answered 200
        self.hanging = asyncio.Event()
        self._release = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._release = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = json.loads(await reader.readexactly(length))
            body["at"] = self.clock.now() if self.clock else time.monotonic()
            self.received.append(body)
            if self.mode == "hang":
                self.hanging.set()
                await self._release.wait()
                return
            status, extra = {"ok": (200, ""), "error": (500, ""), "throttle": (429, "Retry-After: 30\r\n")}[self.mode]
            if status == 200:
                self.acked.append(body)
            payload = b'{"ok": true}'
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                         f"Connection: close\r\n{extra}\r\n".encode() + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def rows(self, bodies: list[dict]) -> Counter:
        return Counter(r for b in bodies for r in b["rows"])


@pytest.fixture
async def fake(clock):
    platform = FakePlatform(clock)
    await platform.start()
    yield platform
    await platform.stop()


async def all_rows(runtime) -> dict[int, Outbox]:
    async with runtime.uow() as uow:
        found = {r.id: r for r in await uow.session.scalars(select(Outbox).order_by(Outbox.id))}
        uow.session.expunge_all()
        return found


async def test_an_outage_delays_every_push_which_then_arrives_exactly_once_after_its_backoff(runtime, clock, fake):
    start = clock.now()
    ids: list[int] = []

    async def queue(n: int, tag: str) -> None:
        async with runtime.uow() as uow:
            rows = [outbox.enqueue(uow, channel="telegram", target=f"chat-{i % 2}", text=f"{tag}-{i}",
                                   urgent=i % 3 != 0,  # every third waits for the merge window, may go merged
                                   buttons=("ok",) if i % 2 else ()) for i in range(n)]
            await uow.commit()
        ids.extend(r.id for r in rows)

    await queue(12, "before")
    await fake.stop()  # t 0-12 s: connection refused; 12-30: HTTP 500; 30-40: 429 Retry-After 30; then up
    async with httpx.AsyncClient(timeout=5) as client:
        senders = {c: HttpSender(fake.url, client) for c in CHANNELS}
        for _ in range(400):
            t = (clock.now() - start).total_seconds()
            if t == 12:
                await fake.start()
                fake.mode = "error"
            elif t == 30:
                fake.mode = "throttle"
            elif t == 40:
                fake.mode = "ok"
            if t == 20:
                await queue(8, "during")
            await dispatcher.drain(runtime.uow, senders, worker="w1")
            if len(fake.rows(fake.acked)) == len(ids):
                break
            clock.advance(seconds=1)

    acked = fake.rows(fake.acked)
    assert sorted(acked) == sorted(ids) and set(acked.values()) == {1}  # none lost, none twice
    assert any(len(b["rows"]) > 1 for b in fake.acked)  # a burst went as one message
    stored = await all_rows(runtime)
    assert {stored[i].status for i in ids} <= {"sent", "merged"}
    # the platform never heard from a message before its back-off was over (nor much after: one-second steps)
    cfg = runtime.settings.dispatcher
    tries: dict[int, list[dict]] = {}
    for body in fake.received:
        for r in body["rows"]:
            tries.setdefault(r, []).append(body)
    refused = 0
    for row_id in ids:
        seen = tries[row_id]  # the last one was answered 200
        first_seen = stored[row_id].attempts - (len(seen) - 1) + 1  # failures before it were refused connections
        refused += first_seen > 1
        for n, (before, after) in enumerate(zip(seen, seen[1:]), start=first_seen):
            wait = min(cfg.backoff_base_seconds * 2 ** (n - 1), cfg.backoff_max_seconds)
            if timedelta(seconds=30) <= before["at"] - start < timedelta(seconds=40):
                wait += 30  # the platform's Retry-After
            gap = (after["at"] - before["at"]).total_seconds()
            assert wait <= gap <= wait + 1, (row_id, n, gap, wait)
    assert refused and any(len(t) > 2 for t in tries.values())  # refused, then failed more than once, then served


CHILD = """
import asyncio, sys
sys.path.insert(0, sys.argv[3])
import httpx
from test_delivery_outage import CHANNELS, HttpSender
from bot.bootstrap import build_runtime
from services import dispatcher
from services.config import Settings

async def main(db_url, base_url, lease):
    rt = await build_runtime(Settings(database={"url": db_url}, dispatcher={"lease_seconds": lease}), upgrade=False)
    async with httpx.AsyncClient(timeout=120) as client:
        sender = HttpSender(base_url, client)
        await dispatcher.dispatcher_loop(rt.uow, {c: sender for c in CHANNELS}, worker="doomed", interval=0.05,
                                         stop_event=asyncio.Event())

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[4])))
"""

LEASE = 6


async def test_a_dispatcher_killed_mid_send_leaves_its_rows_to_another_after_the_lease(db_url):
    rt = Runtime(settings=Settings(database={"url": db_url}, dispatcher={"lease_seconds": LEASE}),
                 engine=make_engine(db_url), clock=SystemClock())
    fake = FakePlatform()
    await fake.start()
    child = None
    try:
        async with rt.uow() as uow:
            rows = [outbox.enqueue(uow, channel="wecom_robot", target=f"hook-{i % 3}", text=f"告警 {i}",
                                   urgent=True, buttons=("同意",)) for i in range(9)]
            await uow.commit()
        ids = [r.id for r in rows]
        fake.mode = "hang"  # takes the request and never answers
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, db_url, fake.url, str(Path(__file__).parent), str(LEASE),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        await asyncio.wait_for(fake.hanging.wait(), timeout=60)
        await asyncio.sleep(0.2)  # let the other in-flight sends (PostgreSQL sends to 8 targets at once) arrive
        hung_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        held = await all_rows(rt)
        assert all(r.status == "pending" and r.locked_by == "doomed" for r in held.values())
        hung = fake.rows(fake.received)
        assert hung and not fake.acked  # the killed worker got no answer at all

        fake.mode = "ok"
        async with httpx.AsyncClient(timeout=10) as client:
            senders = {c: HttpSender(fake.url, client) for c in CHANNELS}
            early = await dispatcher.drain(rt.uow, senders, worker="survivor")
            if time.monotonic() - hung_at < LEASE - 2:
                assert early.rows == 0  # the lease still holds them
            deadline = time.monotonic() + LEASE + 30
            while len(fake.rows(fake.acked)) < len(ids) and time.monotonic() < deadline:
                await dispatcher.drain(rt.uow, senders, worker="survivor")
                await asyncio.sleep(0.1)
        acked = fake.rows(fake.acked)
        assert sorted(acked) == sorted(ids) and set(acked.values()) == {1}  # exactly once: nothing was acknowledged
        received = fake.rows(fake.received)
        assert all(received[i] == 1 + hung[i] for i in ids)  # at least once: the hung sends were made again
        done = await all_rows(rt)
        assert all(r.status == "sent" and r.locked_by == "survivor" for r in done.values())
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        await fake.stop()
        await rt.dispose()
