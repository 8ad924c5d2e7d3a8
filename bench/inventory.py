"""Channel inventory on SQLite (temporary file, WAL).

(a) `库存` for one partner holding 500 SKUs with a year of daily movements (sales every day,
    shipments every week, a stocktake each month), in two profiles: every SKU sold every day
    (14,000 sale lines in the 28-day window) and a typical chat-reporting partner (30 reports of
    3 lines a day): `inventory.positions` p50/p99 against the 50 ms goal, and against a bare
    `SELECT 1` round trip through the same engine.
(b) the `low_stock` sweep (`stock_alerts.sweep`) over 10,000 and 100,000 positions (20 and 200
    partners × 500 SKUs, a count, two shipments and four weeks of sales each): seconds against
    the 5 s goal and µs per position at both sizes, to show the cost is linear. The first run
    records the alert states (many transitions); the second is the steady state every 30 minutes.
Rows are generated with bulk inserts, so setup takes seconds. CPU time of the process is printed
beside wall time: on a shared machine the two differ, and CPU is what the code costs.
"""
from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import insert, text

from .common import percentile

TODAY = date(2026, 11, 18)
NOW = datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)  # 09:00 in Asia/Shanghai
SKUS = 500
ROUNDS = 200
CHUNK = 20_000


async def _bulk(uow, model, rows) -> None:
    """Inserts rows in executemany chunks."""
    for start in range(0, len(rows), CHUNK):
        await uow.session.execute(insert(model), rows[start:start + CHUNK])


async def _catalog(uow, partners: int) -> None:
    from storage.models import Partner, Sku

    await _bulk(uow, Sku, [{"id": i, "code": f"S{i:04d}", "name": f"商品{i}", "unit": "瓶", "pack_unit": "箱",
                            "pack_size": 12 + i % 13, "safety_stock": 100 + i % 200, "created_at": NOW}
                           for i in range(1, SKUS + 1)])
    await _bulk(uow, Partner, [{"id": p, "code": f"P{p:04d}", "name": f"经销商{p}", "tier": "AB"[p % 2],
                                "region": f"江苏-{p % 13}", "created_at": NOW} for p in range(1, partners + 1)])


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


PROFILES = {  # name: (sale reports a day, lines per report, SKUs shipped a week)
    "stress: every SKU sold every day": (10, 50, 500),
    "typical: 30 reports a day of 3 lines": (30, 3, 100),
}


async def seed_year(uow, reports: int, per_report: int, shipped: int) -> str:
    """One partner, 500 SKUs, a year of daily sales, weekly shipments and a full count each month."""
    from storage.models import Sale, SaleLine, Shipment, Stocktake, StocktakeLine

    await _catalog(uow, 1)
    start = TODAY - timedelta(days=364)
    sales, lines, ships, takes, counted = [], [], [], [], []
    line_ids, sale_ids, skus, shipping = itertools.count(1), itertools.count(1), itertools.cycle(range(1, SKUS + 1)), \
        itertools.cycle(range(1, SKUS + 1))
    for d in range(365):
        day = start + timedelta(days=d)
        if day.day == 1:
            take = len(takes) + 1
            takes.append({"id": take, "partner_id": 1, "counted_at": _at(day, 1), "created_at": _at(day, 1)})
            counted += [{"stocktake_id": take, "sku_id": s, "qty": s % 450} for s in range(1, SKUS + 1)]
        for k in range(reports):
            sid = next(sale_ids)
            sales.append({"id": sid, "partner_id": 1, "customer": f"客户{k}", "sold_on": day, "status": "confirmed",
                          "flags": [], "created_at": _at(day, 2 + k % 12)})
            lines += [{"id": next(line_ids), "sale_id": sid, "sku_id": s, "qty": 1 + s % 3, "amount_fen": 300}
                      for s in sorted({next(skus) for _ in range(per_report)})]
        if d % 7 == 3:
            ships += [{"partner_id": 1, "sku_id": next(shipping), "qty": 24 * 5, "shipped_on": day,
                       "created_at": _at(day, 3)} for _ in range(shipped)]
    for model, rows in ((Stocktake, takes), (StocktakeLine, counted), (Sale, sales), (SaleLine, lines),
                        (Shipment, ships)):
        await _bulk(uow, model, rows)
    return (f"{len(sales)} sales / {len(lines)} lines, {len(ships)} shipments, "
            f"{len(takes)} stocktakes / {len(counted)} lines")


async def seed_network(uow, partners: int) -> None:
    """`partners` × 500 positions: a count 20 days ago, two shipments, a sale line a week for four weeks."""
    from storage.models import Sale, SaleLine, Shipment, Stocktake, StocktakeLine

    await _catalog(uow, partners)
    counted_on = TODAY - timedelta(days=20)
    takes, counted, ships, sales, lines = [], [], [], [], []
    line_ids, sale_ids = itertools.count(1), itertools.count(1)
    for p in range(1, partners + 1):
        takes.append({"id": p, "partner_id": p, "counted_at": _at(counted_on, 2), "created_at": _at(counted_on, 2)})
        counted += [{"stocktake_id": p, "sku_id": s, "qty": 300 + (s * p) % 200} for s in range(1, SKUS + 1)]
        for w, day in enumerate((counted_on - timedelta(days=3), counted_on + timedelta(days=5))):
            ships += [{"partner_id": p, "sku_id": s, "qty": 24 * (1 + w), "shipped_on": day,
                       "created_at": _at(day, 3)} for s in range(1, SKUS + 1)]
        for w in range(4):
            day = TODAY - timedelta(days=7 * w + 1)
            sid = next(sale_ids)
            sales.append({"id": sid, "partner_id": p, "customer": "客户", "sold_on": day, "status": "confirmed",
                          "flags": [], "created_at": _at(day, 4)})
            lines += [{"id": next(line_ids), "sale_id": sid, "sku_id": s, "qty": (s + p + w) % 40,
                       "amount_fen": 100} for s in range(1, SKUS + 1)]
    for model, rows in ((Stocktake, takes), (StocktakeLine, counted), (Sale, sales), (SaleLine, lines),
                        (Shipment, ships)):
        await _bulk(uow, model, rows)


async def _runtime(path: str):
    from bot.bootstrap import build_runtime
    from services.config import Settings
    from storage.uow import FixedClock

    return await build_runtime(Settings(database={"url": f"sqlite:///{path}"}), clock=FixedClock(NOW))


async def bench_positions(tmp: str, name: str, profile: tuple[int, int, int]) -> None:
    from services import inventory
    from services.actors import SYSTEM

    rt = await _runtime(f"{tmp}/year{profile[0]}.db")
    async with rt.uow() as uow:
        data = await seed_year(uow, *profile)
        await uow.commit()
    async with rt.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    for _ in range(10):
        found = await inventory.positions(rt.uow(), actor=SYSTEM, partner_code="P0001")
    assert len(found) == SKUS, len(found)
    took, cpu, base = [], [], []
    for _ in range(ROUNDS):
        t0, c0 = time.perf_counter(), time.process_time()
        await inventory.positions(rt.uow(), actor=SYSTEM, partner_code="P0001")
        took.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        async with rt.uow().reading() as ro:
            await ro.session.execute(text("SELECT 1"))
        base.append(time.perf_counter() - t0)
    await rt.dispose()
    statuses = ", ".join(f"{sum(1 for p in found if p.status == s)} {s}" for s in ("out", "low", "ok"))
    ms = lambda xs, p: percentile(xs, p) * 1000  # noqa: E731
    print(f"{name}: 1 partner × {SKUS} SKUs ({statuses}); a year: {data}")
    print(f"  {'inventory.positions (goal p99 < 50 ms)':<42}{ms(took, 50):>9.2f}{ms(took, 99):>9.2f}")
    print(f"  {'  CPU of the process (all threads)':<42}{ms(cpu, 50):>9.2f}{ms(cpu, 99):>9.2f}")
    print(f"  {'baseline: SELECT 1 round trip':<42}{ms(base, 50):>9.2f}{ms(base, 99):>9.2f}")
    print(f"  ratio positions / SELECT 1 (p50): {percentile(took, 50) / percentile(base, 50):.0f}×; "
          f"goal {'met' if ms(took, 99) < 50 else 'MISSED'}")


async def bench_sweep(tmp: str, partners: int) -> tuple[int, float, float, float, int]:
    from services import stock_alerts

    rt = await _runtime(f"{tmp}/net{partners}.db")
    async with rt.uow() as uow:
        await seed_network(uow, partners)
        await uow.commit()
    async with rt.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    t0 = time.perf_counter()
    first = await stock_alerts.sweep(rt.uow())
    cold = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    again = await stock_alerts.sweep(rt.uow())
    steady, cpu = time.perf_counter() - t0, time.process_time() - c0
    await rt.dispose()
    assert again.transitions == 0 and first.positions == partners * SKUS
    return first.positions, cold, steady, cpu, first.transitions


async def run() -> None:
    from bot.bootstrap import GC_THRESHOLDS, tune_gc

    tune_gc()  # as `partnerbot serve` runs
    print(f"garbage collection tuned as in `partnerbot serve` (thresholds {GC_THRESHOLDS}, start-up frozen)")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"库存 for one partner, {ROUNDS} rounds each{'':<6}{'p50 ms':>9}{'p99 ms':>9}")
        for name, profile in PROFILES.items():
            await bench_positions(tmp, name, profile)
        print()
        print("low_stock sweep (first run records the states and queues the alerts; second is the steady state):")
        print(f"{'positions':>10}{'changes':>9}{'first s':>9}{'steady s':>10}{'CPU s':>7}{'µs/pos':>8}")
        results = []
        for partners in (20, 200):
            n, cold, steady, cpu, moved = await bench_sweep(tmp, partners)
            results.append((n, steady))
            print(f"{n:>10}{moved:>9}{cold:>9.2f}{steady:>10.2f}{cpu:>7.2f}{steady / n * 1e6:>8.1f}")
        (n1, s1), (n2, s2) = results
        print(f"linearity: µs/position at {n2} / at {n1} = {(s2 / n2) / (s1 / n1):.2f} (1.00 = linear); "
              f"goal {'met' if s2 < 5 else 'MISSED'} ({s2:.2f} s for {n2} positions, goal < 5 s)")


def main() -> None:
    asyncio.run(run())
