"""Latency of the 报单 → 确认 path through the console channel on SQLite (temporary file, WAL).

Each round sends a complete sale message (parse, warnings, read-back, state saved) and then
`确认` (state read, sale + audit written, state cleared, reply remembered). Baseline in the same
run: one row committed in one transaction through the same async engine."""
from __future__ import annotations

import asyncio
import itertools
import tempfile
import time

from .common import percentile

ROUNDS = 300


async def run() -> None:
    from bot.bootstrap import build_runtime
    from handlers.all import Deps, handle
    from handlers.messages import InboundMessage
    from services import demo, identities
    from services.config import Settings
    from storage.models import AuditLog

    with tempfile.TemporaryDirectory() as tmp:
        rt = await build_runtime(Settings(database={"url": f"sqlite:///{tmp}/bench.db"}))
        await demo.load_demo(rt.uow(), users=False)
        await identities.bind_directly(rt.uow(), channel="console", external_id="alice", role="member",
                                       partner_code="P001")
        deps = Deps(uow=rt.uow, settings=rt.settings)
        ids = itertools.count()

        async def say(text: str) -> float:
            msg = InboundMessage(channel="console", user_id="alice", chat_id="alice", text=text,
                                 message_id=f"b{next(ids)}")
            t0 = time.perf_counter()
            replies = await handle(deps, msg)
            assert replies
            return time.perf_counter() - t0

        for _ in range(20):
            await say("报单 A100 2箱 28元 张三超市")
            await say("确认")
        report, confirm = [], []
        for i in range(ROUNDS):
            report.append(await say(f"报单 A100 {i % 9 + 1}箱 28元 张三超市"))
            confirm.append(await say("确认"))
        baseline = []
        for i in range(ROUNDS):
            t0 = time.perf_counter()
            async with rt.uow() as uow:
                uow.add(AuditLog(at=uow.now(), action="bench", entity="bench", entity_id=str(i)))
                await uow.commit()
            baseline.append(time.perf_counter() - t0)
        await rt.dispose()
    ms = lambda xs, p: percentile(xs, p) * 1000
    print(f"rounds: {ROUNDS} (SQLite file, WAL, console channel, no network)")
    print(f"{'path':<28}{'p50 ms':>9}{'p99 ms':>9}{'per s':>9}")
    for name, xs in (("sale message (read-back)", report), ("确认 (records the sale)", confirm),
                     ("baseline: commit one row", baseline)):
        print(f"{name:<28}{ms(xs, 50):>9.2f}{ms(xs, 99):>9.2f}{len(xs) / sum(xs):>9.0f}")
    print(f"ratio: confirm p50 / one-row commit p50 = {percentile(confirm, 50) / percentile(baseline, 50):.1f}×; "
          f"confirm throughput / one-row commit throughput = {sum(baseline) / sum(confirm):.2f}")


def main() -> None:
    asyncio.run(run())
