"""Import of 100,000 shipment rows from a generated CSV on SQLite (temporary file, WAL); goal < 20 s.

The import is the real path of `partnerbot import shipments FILE`: read and parse the file, check
every row (one query each for partners, SKUs and the stored refs), bulk insert with
ON CONFLICT DO NOTHING, one audit row per shipment, stock alerts for the touched positions.
Baseline in the same run: a plain `executemany` INSERT of the same rows (ids and base units
already resolved) through the same engine in one transaction. A second import of the same file
shows the cost of a file whose every row is a duplicate."""
from __future__ import annotations

import asyncio
import csv
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROWS = 100_000
PARTNERS = 200
GOAL_S = 20.0


def _write_files(tmp: Path, skus: list[tuple[str, int]]) -> tuple[Path, Path, list[tuple]]:
    """A partners file and a shipments file; returns the shipments as (partner, sku, base qty, day, ref)."""
    rng = random.Random(7)
    partners = [f"B{i:04d}" for i in range(PARTNERS)]
    with (tmp / "partners.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["code", "name", "tier", "region"])
        out.writerows([code, f"经销商{code}", "B", f"江苏-{i % 13}"] for i, code in enumerate(partners))
    rows, start = [], date(2026, 9, 1)
    with (tmp / "ship.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["partner", "sku", "qty", "unit", "shipped_on", "ref"])
        for i in range(ROWS):
            partner, (sku, pack) = rng.choice(partners), rng.choice(skus)
            qty, in_packs = rng.randint(1, 60), i % 3 != 0
            day, ref = start + timedelta(days=rng.randint(0, 70)), f"DN{i:07d}" if i % 5 else ""
            out.writerow([partner, sku, qty, "箱" if in_packs else "", day.isoformat(), ref])
            rows.append((partner, sku, qty * pack if in_packs else qty, day, ref or None))
    return tmp / "partners.csv", tmp / "ship.csv", rows


async def run() -> None:
    from sqlalchemy import delete, insert, select

    from bot.bootstrap import build_runtime
    from services import demo, imports
    from services.actors import SYSTEM
    from services.config import Settings
    from storage.models import AuditLog, Partner, Shipment, Sku
    from storage.uow import FixedClock

    with tempfile.TemporaryDirectory() as tmp:
        rt = await build_runtime(Settings(database={"url": f"sqlite:///{tmp}/bench.db"}),
                                 clock=FixedClock(__import__("datetime").datetime.fromisoformat(
                                     "2026-11-18T09:00:00+08:00")))
        await demo.load_demo(rt.uow(), users=False)
        async with rt.uow() as uow:
            skus = [(c, n) for c, n in (await uow.session.execute(select(Sku.code, Sku.pack_size))).all()]
        partners_csv, ship_csv, rows = await asyncio.to_thread(_write_files, Path(tmp), skus)
        await imports.import_file(rt.uow(), kind="partners", path=partners_csv, actor=SYSTEM)

        t0 = time.perf_counter()
        summary = await imports.import_file(rt.uow(), kind="shipments", path=ship_csv, actor=SYSTEM)
        took = time.perf_counter() - t0
        assert summary.created == ROWS, summary
        t0 = time.perf_counter()
        again = await imports.import_file(rt.uow(), kind="shipments", path=ship_csv, actor=SYSTEM)
        took_again = time.perf_counter() - t0
        assert again.created == sum(r[4] is None for r in rows), again

        async with rt.uow() as uow:
            pid = dict((await uow.session.execute(select(Partner.code, Partner.id))).all())
            sid = dict((await uow.session.execute(select(Sku.code, Sku.id))).all())
            await uow.session.execute(delete(Shipment))
            await uow.session.execute(delete(AuditLog).where(AuditLog.action == "shipment.create"))
            await uow.commit()
        now = rt.clock.now()
        plain = [{"partner_id": pid[p], "sku_id": sid[s], "qty": q, "shipped_on": d, "ref": ref, "source": "import",
                  "created_by_id": None, "created_at": now} for p, s, q, d, ref in rows]
        t0 = time.perf_counter()
        async with rt.engine.begin() as conn:
            await conn.execute(insert(Shipment), plain)
        baseline = time.perf_counter() - t0
        await rt.dispose()

    print(f"rows: {ROWS:,} shipments to {PARTNERS} partners × {len(skus)} SKUs, 80% with a ref (SQLite file, WAL)")
    print(f"{'path':<44}{'seconds':>9}{'rows/s':>10}")
    for name, secs in (("import shipments (file → rows, audit, alerts)", took),
                       ("same file again (80% duplicates)", took_again),
                       ("baseline: executemany INSERT, same engine", baseline)):
        print(f"{name:<44}{secs:>9.2f}{ROWS / secs:>10,.0f}")
    verdict = "meets" if took < GOAL_S else "MISSES"
    print(f"goal: < {GOAL_S:.0f} s for {ROWS:,} rows — {verdict} it ({took:.1f} s)")
    print(f"ratio: import / plain executemany = {took / baseline:.1f}×")


def main() -> None:
    asyncio.run(run())
