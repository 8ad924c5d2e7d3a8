"""Imports of shipments and stocktakes (DESIGN §8.6): English and Chinese headers, CSV and XLSX,
units, refs, dates, every bad row named with nothing written; the CLI and replay directives."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from services import imports, inventory
from services.actors import Actor
from storage.models import AlertState, AuditLog, Partner, Shipment, Sku, Stocktake, StocktakeLine

ADMIN = Actor(user_id=None, name="root", role="admin", channel="console")
EXE = Path(sys.executable).with_name("partnerbot")
SHIPMENTS = """partner,sku,qty,unit,shipped_on,ref
P001,A100,20,箱,2026-11-15,DN-1
P001,A100,30,瓶,2026-11-16,
P002,D10,3,,2026/11/17,DN-2
"""
COUNTS = """partner,sku,qty,unit,counted_at
P001,A100,10,箱,2026-11-10
P001,D10,4,台,2026-11-10
P002,A100,50,,2026-11-17 18:30
"""


@pytest.fixture
async def net(runtime):
    async with runtime.uow() as uow:
        uow.add(Partner(code="P001", name="南京冰泉商贸有限公司", tier="A", region="江苏-南京"))
        uow.add(Partner(code="P002", name="苏州源泉贸易有限公司", tier="B", region="江苏-苏州"))
        uow.add(Sku(code="A100", name="冰泉矿泉水550ml", unit="瓶", pack_unit="箱", pack_size=24, guide_price_fen=125,
                    floor_price_fen=110, safety_stock=480))
        uow.add(Sku(code="D10", name="家用净水器X1", unit="台", pack_unit="台", pack_size=1, guide_price_fen=199900,
                    floor_price_fen=169900, safety_stock=5))
        await uow.commit()
    return runtime


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def xlsx(tmp_path: Path, name: str, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    for r in rows:
        book.active.append(r)
    path = tmp_path / name
    book.save(path)
    return path


async def run(net, kind: str, path: Path, actor: Actor = ADMIN) -> imports.ImportSummary:
    return await imports.import_file(net.uow(), kind=kind, path=path, actor=actor)


async def stored_shipments(net) -> list[tuple]:
    async with net.uow() as uow:
        rows = await uow.session.execute(select(Partner.code, Sku.code, Shipment.qty, Shipment.shipped_on, Shipment.ref,
                                                Shipment.source).join(Partner, Partner.id == Shipment.partner_id)
                                         .join(Sku, Sku.id == Shipment.sku_id).order_by(Shipment.id))
        return [tuple(r) for r in rows]


async def stored_counts(net) -> list[tuple]:
    async with net.uow() as uow:
        rows = await uow.session.execute(
            select(Stocktake.id, Partner.code, Stocktake.counted_at, Sku.code, StocktakeLine.qty)
            .join(Partner, Partner.id == Stocktake.partner_id).join(StocktakeLine).join(Sku)
            .order_by(Stocktake.id, StocktakeLine.id))
        return [tuple(r) for r in rows]


# shipments -----------------------------------------------------------------------------------

async def test_shipments_import_in_base_units_and_again_is_unchanged_by_ref(net, tmp_path):
    summary = await run(net, "shipments", write(tmp_path, "s.csv", SHIPMENTS))
    assert (summary.created, summary.unchanged) == (3, 0)
    assert await stored_shipments(net) == [("P001", "A100", 480, date(2026, 11, 15), "DN-1", "import"),
                                           ("P001", "A100", 30, date(2026, 11, 16), None, "import"),
                                           ("P002", "D10", 3, date(2026, 11, 17), "DN-2", "import")]
    only_refs = "\n".join(line for line in SHIPMENTS.splitlines() if not line.endswith(","))
    summary = await run(net, "shipments", write(tmp_path, "again.csv", only_refs))
    assert (summary.created, summary.unchanged) == (0, 2)
    async with net.uow() as uow:
        audits = await uow.session.scalar(select(func.count()).select_from(AuditLog)
                                          .where(AuditLog.action == "shipment.create"))
    assert audits == 3 and len(await stored_shipments(net)) == 3


async def test_shipments_with_chinese_headers_from_a_gb18030_csv(net, tmp_path):
    text = "经销商编码,商品编码,数量,单位,发货日期,发货单号\nP001,A100,2,件,2026年11月15日,出库-001\n"
    summary = await run(net, "shipments", write(tmp_path, "发货.csv", text, "gb18030"))
    assert summary.created == 1
    assert await stored_shipments(net) == [("P001", "A100", 48, date(2026, 11, 15), "出库-001", "import")]
    other = "经销商,SKU,数量,日期,单号\nP002,a100,24,2026-11-16,出库-002\n"
    assert (await run(net, "shipments", write(tmp_path, "b.csv", other))).created == 1


async def test_shipments_from_xlsx_with_date_cells_and_numbers(net, tmp_path):
    path = xlsx(tmp_path, "ship.xlsx", [["经销商", "商品", "数量", "单位", "发货日期", "单号"],
                                        ["P001", "A100", 20, "箱", datetime(2026, 11, 15), "X-1"],
                                        ["P002", "D10", 2.0, "台", date(2026, 11, 16), None]])
    summary = await run(net, "shipments", path)
    assert summary.created == 2
    assert await stored_shipments(net) == [("P001", "A100", 480, date(2026, 11, 15), "X-1", "import"),
                                           ("P002", "D10", 2, date(2026, 11, 16), None, "import")]


async def test_every_bad_shipment_row_is_named_by_line_and_nothing_is_written(net, tmp_path):
    first = "partner,sku,qty,shipped_on,ref\nP001,A100,1,2026-11-01,OLD\n"
    await run(net, "shipments", write(tmp_path, "first.csv", first))
    bad = """partner,sku,qty,unit,shipped_on,ref
P001,A100,20,箱,2026-11-15,DN-1
P404,A100,1,箱,2026-11-15,
P001,A100,0,箱,2026-11-15,
P001,A100,abc,箱,2026-11-15,
P001,A100,1,桶,2026-11-15,
P001,A100,1,箱,2026-02-30,
P001,A100,1,箱,2026-11-19,

P001,A100,21,箱,2026-11-15,DN-1
P001,A100,2,箱,2026-11-01,OLD
P001,A100,20,箱,2026-11-15,DN-1
"""
    with pytest.raises(imports.ImportFailed) as exc:
        await run(net, "shipments", write(tmp_path, "bad.csv", bad))
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 10, 11]
    assert "未知经销商「P404」" in errors[3] and "大于 0" in errors[4] and "数量(qty)「abc」不是数字" in errors[5]
    assert "单位「桶」" in errors[6] and "发货日期(shipped_on)「2026-02-30」不是日期" in errors[7]
    assert "晚于今天" in errors[8] and "与第2行相同但内容不同" in errors[10] and "已记录过另一笔内容不同" in errors[11]
    assert len(await stored_shipments(net)) == 1


async def test_a_manager_cannot_import(net, tmp_path):
    from services.errors import NotAllowed
    with pytest.raises(NotAllowed):
        await run(net, "shipments", write(tmp_path, "s.csv", SHIPMENTS),
                  actor=Actor(user_id=None, name="m", role="manager", regions=("江苏",)))


# stocktakes ----------------------------------------------------------------------------------

async def test_stocktakes_group_by_partner_and_time_and_a_date_is_the_end_of_that_day(net, tmp_path):
    summary = await run(net, "stocktakes", write(tmp_path, "c.csv", COUNTS))
    assert (summary.created, summary.unchanged) == (3, 0)
    counts = await stored_counts(net)
    end_of_10th = datetime(2026, 11, 10, 15, 59, 59, tzinfo=timezone.utc)
    assert [c[1:] for c in counts] == [("P001", end_of_10th, "A100", 240), ("P001", end_of_10th, "D10", 4),
                                       ("P002", datetime(2026, 11, 17, 10, 30, tzinfo=timezone.utc), "A100", 50)]
    assert counts[0][0] == counts[1][0] != counts[2][0]
    async with net.uow() as uow:
        audits = list(await uow.session.scalars(select(AuditLog.after).where(AuditLog.action == "stocktake.create")
                                                .order_by(AuditLog.id)))
        states = dict((await uow.session.execute(select(AlertState.subject, AlertState.state))).all())
    assert audits == [{"partner": "P001", "lines": {"A100": 240, "D10": 4}}, {"partner": "P002", "lines": {"A100": 50}}]
    assert states == {"1:1": "low", "1:2": "low", "2:1": "low"}  # every count is under its safety stock
    again = await run(net, "stocktakes", write(tmp_path, "c.csv", COUNTS))
    assert (again.created, again.unchanged) == (0, 3) and len(await stored_counts(net)) == 3


async def test_a_count_dated_today_is_taken_as_of_now_and_feeds_inventory(net, tmp_path, clock):
    today = "partner,sku,qty,unit,counted_at\nP001,A100,3,箱,2026-11-18\n"
    await run(net, "stocktakes", write(tmp_path, "c.csv", today))
    [(_, _, at, _, qty)] = await stored_counts(net)
    assert at == clock.now() and qty == 72
    assert (await inventory.on_hand(net.uow(), partner_id=1, sku_ids=[1]))[1] == 72
    clock.advance(hours=2)
    again = await run(net, "stocktakes", write(tmp_path, "c.csv", today))
    assert again.unchanged == 1


async def test_stocktakes_with_chinese_headers_from_xlsx(net, tmp_path):
    path = xlsx(tmp_path, "盘点.xlsx", [["经销商编码", "商品编码", "盘点数量", "单位", "盘点时间"],
                                        ["P001", "A100", 5, "箱", datetime(2026, 11, 17, 20, 0)],
                                        ["P001", "D10", 0, None, datetime(2026, 11, 17, 20, 0)]])
    assert (await run(net, "stocktakes", path)).created == 2
    counts = await stored_counts(net)
    assert [c[2:] for c in counts] == [(datetime(2026, 11, 17, 12, tzinfo=timezone.utc), "A100", 120),
                                       (datetime(2026, 11, 17, 12, tzinfo=timezone.utc), "D10", 0)]


async def test_every_bad_count_row_is_named_and_nothing_is_written(net, tmp_path):
    bad = """盘点日期,经销商,商品,数量,单位
2026-11-10,P001,A100,1,箱
2026-11-10,P404,A100,1,箱
2026-11-10,P001,Z9,1,箱
2026-11-10,P001,A100,-1,箱
2026-11-10,P001,A100,2,箱
2026-11-19,P001,D10,1,台
2026-11-18 10:00,P001,D10,1,台
next week,P001,D10,1,台
2026-11-10,P001,A100,0.5,瓶
"""
    with pytest.raises(imports.ImportFailed) as exc:
        await run(net, "stocktakes", write(tmp_path, "bad.csv", bad))
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "未知经销商「P404」" in errors[3] and "未知商品「Z9」" in errors[4] and "不小于 0" in errors[5]
    assert "与第2行是同一经销商、同一时间、同一商品" in errors[6] and "晚于现在" in errors[7] and "晚于现在" in errors[8]
    assert "「next week」不是日期或时间" in errors[9] and "不是整数个瓶" in errors[10]
    assert await stored_counts(net) == []


# command line and replay ---------------------------------------------------------------------

def cli(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    return subprocess.run([str(EXE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def test_cli_imports_shipments_and_names_bad_rows(db_url, net, tmp_path):
    done = cli(db_url, "import", "shipments", str(write(tmp_path, "s.csv", SHIPMENTS)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "imported shipments from" in done.stdout and "3 rows, 3 created" in done.stdout
    bad = cli(db_url, "import", "stocktakes", str(write(tmp_path, "c.csv", COUNTS.replace("P002", "P404"))),
              cwd=tmp_path)
    assert bad.returncode == 1 and "第4行: " in bad.stderr and "P404" in bad.stderr
    assert await stored_counts(net) == []


def test_replay_imports_shipments_and_stocktakes_and_ship_knows_the_ref(tmp_path):
    write(tmp_path, "ship.csv", SHIPMENTS)
    write(tmp_path, "counts.csv", COUNTS)
    script = write(tmp_path, "t.txt", "!now 2026-11-18T09:00+08:00\n!bind root - admin\n!import stocktakes counts.csv\n"
                                      "!import shipments ship.csv\nroot> /ship P001 A100 20箱 2026-11-15 DN-1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    done = subprocess.run([str(EXE), "replay", str(script), "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    steps = {o["line"]: o for o in map(json.loads, done.stdout.splitlines())}
    assert steps[3]["replies"][0]["text"] == "imported stocktakes: 3 created, 0 updated, 0 unchanged"
    assert steps[4]["replies"][0]["text"] == "imported shipments: 3 created, 0 updated, 0 unchanged"
    assert steps[5]["replies"][0]["text"].startswith("已存在（单号重复）")
