"""WeChat callback throughput and latency of `partnerbot serve` against bare FastAPI endpoints, one run.

Two servers, each uvicorn with one worker and `partnerbot serve`'s settings, on one SQLite file (WAL):
`partnerbot serve` (scheduler off) and the baseline app `bench.webhook_app` — (a) a bare GET, (b) one row
committed in one transaction through the same engine settings. The WeChat paths post signed plaintext
XML (signature = sha1 of sorted token, timestamp, nonce) as WeChat does to `POST /wechat/callback` of
`partnerbot serve`: (c) a `库存` query, (d) `确认` of a prepared `报单` (the sale is recorded). httpx async clients drive each path closed-loop (throughput) and open-loop at increasing rates
(latency from the scheduled send time, so a server falling behind shows). The server's CPU time per
request is read from /proc: with the client on the same machine, it is the capacity of one worker core.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .common import ROOT, percentile

TOKEN = "benchtoken"
IDENTITIES = 1800
STOCK_USERS = 100
CLOSED = {"bare": 3000, "commit": 2000, "stock": 800, "confirm": 400}
RATES = {"bare": (250, 500), "commit": (100, 200, 400), "stock": (50, 100, 200), "confirm": (50, 100, 200)}
SECONDS = 3.0
CONCURRENCY = 16
SALE = "报单 A100 2箱 28元 张三超市"


@dataclass
class Phase:
    latencies: list[float]
    elapsed: float
    cpu: float  # server CPU seconds used
    errors: int = 0  # requests that failed (HTTP error, connection reset): not in the latencies

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / len(self.latencies) * 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_xml(user: str, text: str, msg_id: int) -> tuple[dict, bytes]:
    """Query parameters and body of a plaintext WeChat text callback."""
    timestamp, nonce = str(int(time.time())), f"n{msg_id}"
    sig = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()
    body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")
    return {"signature": sig, "timestamp": timestamp, "nonce": nonce, "openid": user}, body.encode()


async def prepare_db(db_url: str) -> None:
    from bot.bootstrap import build_runtime
    from services import demo
    from services.config import Settings
    from storage.models import ChatIdentity, Partner, User
    from sqlalchemy import select

    rt = await build_runtime(Settings(database={"url": db_url}))
    await demo.load_demo(rt.uow(), users=False)
    async with rt.uow() as uow:
        partner = await uow.session.scalar(select(Partner).where(Partner.code == "P001"))
        for i in range(IDENTITIES):
            user = User(name=f"bench{i}", role="member", partner_id=partner.id, created_at=uow.now())
            uow.add(user)
            await uow.flush()
            uow.add(ChatIdentity(channel="wechat", external_id=f"oBench{i:05d}", chat_id=f"oBench{i:05d}",
                                 user_id=user.id, created_at=uow.now()))
        await uow.commit()
    await rt.dispose()


async def count_sales(db_url: str) -> int:
    from sqlalchemy import func, select

    from bot.bootstrap import build_runtime
    from services.config import Settings
    from storage.models import Sale

    rt = await build_runtime(Settings(database={"url": db_url}))
    async with rt.uow() as uow:
        n = await uow.session.scalar(select(func.count()).select_from(Sale))
    await rt.dispose()
    return n


class Servers:
    """`partnerbot serve` and the baseline app as subprocesses on free ports."""

    def __init__(self, tmp: Path, db_url: str):
        self.tmp, self.db_url = tmp, db_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
        env.update(PARTNERBOT_DATABASE_URL=self.db_url, PARTNERBOT_SCHEDULER__ENABLED="false",
                   PARTNERBOT_WECHAT__TOKEN=TOKEN, PYTHONPATH=str(ROOT))
        exe = Path(sys.executable).with_name("partnerbot")
        for name, argv in (("serve", [str(exe), "serve", "--port", "{port}"]),
                           ("bare", [sys.executable, "-m", "bench.webhook_app", "--port", "{port}",
                                     "--db", self.db_url])):
            port = free_port()
            self.procs[name] = subprocess.Popen([a.format(port=port) for a in argv], env=env, cwd=self.tmp,
                                                stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"{name}.log", "w"))
            self.urls[name] = f"http://127.0.0.1:{port}"

    async def ready(self, client) -> None:
        for name, path in (("serve", "/healthz"), ("bare", "/bare")):
            for _ in range(300):
                if self.procs[name].poll() is not None:
                    sys.exit(f"{name} exited: {(self.tmp / f'{name}.log').read_text()[-2000:]}")
                try:
                    if (await client.get(self.urls[name] + path)).status_code == 200:
                        break
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                await asyncio.sleep(0.1)
            else:
                sys.exit(f"{name} did not start")

    def stop(self) -> None:
        for p in self.procs.values():
            p.send_signal(signal.SIGINT)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


async def closed_loop(pid: int, request, n: int, concurrency: int = CONCURRENCY) -> Phase:
    counter = itertools.count()
    latencies: list[float] = []
    errors = [0]

    async def worker():
        while (i := next(counter)) < n:
            t0 = time.perf_counter()
            try:
                await request(i)
            except (httpx.HTTPError, RuntimeError):
                errors[0] += 1
                continue
            latencies.append(time.perf_counter() - t0)

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(latencies, time.perf_counter() - t0, cpu_seconds(pid) - cpu0, errors[0])


async def open_loop(pid: int, request, rate: float, seconds: float = SECONDS, first: int = 0) -> Phase:
    """Starts request i at i/rate seconds whatever the answers; latency counts from that scheduled time."""
    n = int(rate * seconds)
    latencies: list[float] = []
    errors = [0]

    async def one(i: int, due: float) -> None:
        try:
            await request(first + i)
        except (httpx.HTTPError, RuntimeError):
            errors[0] += 1
            return
        latencies.append(time.perf_counter() - due)

    tasks = []
    cpu0, start = cpu_seconds(pid), time.perf_counter() + 0.05
    for i in range(n):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return Phase(latencies, time.perf_counter() - start, cpu_seconds(pid) - cpu0, errors[0])


async def run() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db_url = f"sqlite:///{tmp}/bench.db"
        await prepare_db(db_url)
        servers = Servers(tmp, db_url)
        servers.start()
        try:
            limits = httpx.Limits(max_connections=CONCURRENCY * 4, max_keepalive_connections=CONCURRENCY * 4)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                await servers.ready(client)
                await measure(client, servers, db_url)
        finally:
            servers.stop()


async def measure(client, servers: Servers, db_url: str) -> None:
    serve, bare = servers.urls["serve"], servers.urls["bare"]
    msg_ids = itertools.count(int(time.time()) * 1000)
    params, _ = signed_xml("oBench00000", "", 0)
    probe = await client.get(serve + "/wechat/callback", params={**params, "echostr": "ping"})
    if probe.status_code != 200 or probe.text != "ping":
        sys.exit(f"partnerbot serve has no WeChat callback answering a signed echo check ({probe.status_code})")
    wechat_url, wechat_pid = serve + "/wechat/callback", servers.procs["serve"].pid

    async def say(user: int, text: str) -> str:
        q, body = signed_xml(f"oBench{user:05d}", text, next(msg_ids))
        r = await client.post(wechat_url, params=q, content=body, headers={"Content-Type": "text/xml"})
        if r.status_code != 200:
            raise RuntimeError(f"{text}: HTTP {r.status_code} {r.text[:200]}")
        return r.text

    async def prepare(n: int) -> None:
        """A 报单 waiting for 确认 from each of the first `n` identities."""
        todo = iter(range(n))

        async def worker():
            for u in todo:
                if "确认" not in await say(u, SALE):
                    raise RuntimeError("the sale message did not ask for confirmation")
        await asyncio.gather(*(worker() for _ in range(4)))

    confirmed = itertools.count()
    deferred = {"stock": 0, "confirm": 0}  # answered empty ("success"): past the reply deadline, sent later

    async def confirm(_: int) -> None:
        text = await say(next(confirmed), "确认")
        if text == "success":
            deferred["confirm"] += 1
        elif "已记录" not in text:
            raise RuntimeError(f"确认 did not record a sale: {text[:300]}")

    async def bare_get(_: int) -> None:
        (await client.get(bare + "/bare")).raise_for_status()

    async def commit(_: int) -> None:
        (await client.post(bare + "/commit")).raise_for_status()

    async def stock(i: int) -> None:  # identities with nothing pending: the last STOCK_USERS
        if await say(IDENTITIES - 1 - i % STOCK_USERS, "库存") == "success":
            deferred["stock"] += 1

    bare_pid = servers.procs["bare"].pid
    paths = {"bare": (bare_get, bare_pid), "commit": (commit, bare_pid), "stock": (stock, wechat_pid),
             "confirm": (confirm, wechat_pid)}
    total_drafts = CLOSED["confirm"] + 20 + int(sum(RATES["confirm"]) * SECONDS)
    assert total_drafts <= IDENTITIES - STOCK_USERS
    t0 = time.perf_counter()
    await prepare(total_drafts)
    print(f"prepared {total_drafts} 报单 drafts in {time.perf_counter() - t0:.1f}s")
    for name, (req, _) in paths.items():  # warm-up
        for i in range(20):
            await req(i)
    closed, opened = {}, {}
    for name, (req, pid) in paths.items():
        closed[name] = await closed_loop(pid, req, CLOSED[name])
        opened[name] = [await open_loop(pid, req, rate) for rate in RATES[name]]
    sales = await count_sales(db_url)
    report(closed, opened, sales=sales, confirms=next(confirmed), deferred=deferred)


NAMES = {"bare": "(a) bare GET", "commit": "(b) one-row commit", "stock": "(c) 库存 query",
         "confirm": "(d) 确认 (records a sale)"}


def report(closed: dict[str, Phase], opened: dict[str, list[Phase]], *, sales: int, confirms: int,
           deferred: dict[str, int]) -> None:
    print("uvicorn, one worker, SQLite file (WAL), scheduler off; httpx async client on the same machine "
          f"({os.cpu_count()} CPUs)")
    print("WeChat path: POST /wechat/callback of partnerbot serve (signed plaintext XML, passive replies)")
    print(f"sales recorded: {sales} for {confirms} 确认; answered empty past the reply deadline (sent later): "
          f"{deferred['stock']} 库存, {deferred['confirm']} 确认")
    print(f"\nclosed loop, {CONCURRENCY} in flight")
    print(f"{'path':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'server CPU ms':>15}{'1-core cap/s':>14}{'errors':>8}")
    for name, ph in closed.items():
        print(f"{NAMES[name]:<28}{ph.rate:>8.0f}{ph.ms(50):>9.2f}{ph.ms(99):>9.2f}{ph.cpu_ms:>15.3f}"
              f"{1000 / ph.cpu_ms if ph.cpu_ms else float('inf'):>14.0f}{ph.errors:>8}")
    print(f"\nopen loop, {SECONDS:.0f} s per rate (latency from the scheduled send)")
    print(f"{'path':<28}{'rate/s':>8}{'done/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, phases in opened.items():
        for rate, ph in zip(RATES[name], phases):
            print(f"{NAMES[name]:<28}{rate:>8}{ph.rate:>8.0f}{ph.ms(50):>9.2f}{ph.ms(99):>9.2f}{ph.errors:>8}")
    c = closed
    at200 = {n: next(ph for r, ph in zip(RATES[n], opened[n]) if r == 200) for n in ("stock", "confirm")}
    cap = {n: 1 / ph.cpu_ms if ph.cpu_ms else 0 for n, ph in c.items()}
    print("\ngoals")
    print(f"query / bare throughput          = {c['stock'].rate / c['bare'].rate:.2f} (goal ≥ 0.30); "
          f"by server CPU: {cap['stock'] / cap['bare']:.2f}")
    print(f"confirm / one-row commit         = {c['confirm'].rate / c['commit'].rate:.2f} (goal ≥ 0.50); "
          f"by server CPU: {cap['confirm'] / cap['commit']:.2f}")
    print(f"p99 at 200 msg/s                 = query {at200['stock'].ms(99):.1f} ms, confirm "
          f"{at200['confirm'].ms(99):.1f} ms (goal < 100 ms)")


def main() -> None:
    os.chdir(Path(__file__).resolve().parent.parent)
    asyncio.run(run())
