"""Rebates against the database, on SQLite and PostgreSQL: what counts (confirmed, not undone, not
flagged — a cleared violation counts again —, in the SKU group, in the period by business date),
partner tiers, scoping, the projection, one counting query, the import (exact rates, every bad
row named, updates audited) and the `rebates` export."""
from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select, update

from services import demo, exports, identities, imports, rebates
from services.actors import SYSTEM, Actor
from services.errors import InvalidInput, NotAllowed
from storage.models import AuditLog, Partner, RebateScheme, Sale, SaleLine, Sku, Violation

ADMIN = Actor(user_id=None, name="root", role="admin", channel="console")
SCHEMES = """编码,名称,开始日期,结束日期,基准,方式,商品分组,阶梯,适用等级,封顶
Q4W,四季度水返利,2026-10-01,2026-12-31,金额,全额累进,水,0:0%;50000:2%;150000:3.5%,A;B,
Q4M,四季度超额返利,2026-10-01,2026-12-31,amount,marginal,,"0:0%;50,000:2%;150000:3.5%",A,2000
Q4Q,四季度饮料达量,2026-10-01,2026-12-31,qty,retroactive,饮料,0:0%;1000:2.25%,B,
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Net:
    def __init__(self, runtime, partners, skus):
        self.runtime, self.partner, self.sku = runtime, partners, skus

    async def sell(self, partner: str, on: str, *lines: tuple[str, int, int], status: str = "confirmed") -> int:
        """A sale of (sku, qty, amount_fen) lines."""
        async with self.runtime.uow() as uow:
            sale = Sale(partner_id=self.partner[partner], customer="张三超市", sold_on=date.fromisoformat(on),
                        status=status, flags=[], lines=[SaleLine(sku_id=self.sku[s], qty=q, amount_fen=a)
                                                        for s, q, a in lines])
            uow.add(sale)
            await uow.commit()
            return sale.id

    async def flag(self, sale_id: int, partner: str, status: str = "open") -> int:
        async with self.runtime.uow() as uow:
            v = Violation(kind="price", sale_id=sale_id, partner_id=self.partner[partner], status=status, evidence={})
            uow.add(v)
            await uow.commit()
            return v.id

    async def set_violation(self, violation_id: int, status: str) -> None:
        async with self.runtime.uow() as uow:
            await uow.session.execute(update(Violation).where(Violation.id == violation_id).values(status=status))
            await uow.commit()


@pytest.fixture
async def net(runtime, tmp_path):
    await demo.load_demo(runtime.uow(), users=False)
    path = tmp_path / "schemes.csv"
    path.write_text(SCHEMES, encoding="utf-8")
    await imports.import_file(runtime.uow(), kind="rebate_schemes", path=path, actor=ADMIN)
    async with runtime.uow() as uow:
        partners = dict((await uow.session.execute(select(Partner.code, Partner.id))).all())
        skus = dict((await uow.session.execute(select(Sku.code, Sku.id))).all())
    return Net(runtime, partners, skus)


async def member(runtime, code: str) -> Actor:
    return await identities.bind_directly(runtime.uow(), channel="console", external_id=f"m{code}", role="member",
                                          partner_code=code)


def by_code(result) -> dict[str, rebates.SchemeStanding]:
    return {st.scheme.code: st for st in result.schemes}


# import ----------------------------------------------------------------------------------------

async def test_import_stores_exact_rates_in_fen_and_basis_points(net, runtime):
    async with runtime.uow() as uow:
        rows = {s.code: s for s in await uow.session.scalars(select(RebateScheme))}
        uow.session.expunge_all()
    assert rows["Q4W"].tiers == [[0, 0], [5_000_000, 200], [15_000_000, 350]]
    assert (rows["Q4W"].basis, rows["Q4W"].mode, rows["Q4W"].sku_group, rows["Q4W"].partner_tiers) == \
        ("amount", "retroactive", "水", "A;B")
    assert rows["Q4M"].mode == "marginal" and rows["Q4M"].cap_fen == 200_000 and rows["Q4M"].sku_group == ""
    assert rows["Q4Q"].tiers == [[0, 0], [1000, 225]] and rows["Q4Q"].basis == "qty"
    assert rows["Q4W"].period_start == date(2026, 10, 1) and rows["Q4W"].period_end == date(2026, 12, 31)


async def test_import_names_every_bad_row_and_writes_nothing(runtime, tmp_path):
    await demo.load_demo(runtime.uow(), users=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("""code,name,period_start,period_end,basis,mode,sku_group,tiers,partner_tiers,cap
OK1,好方案,2026-10-01,2026-12-31,amount,retroactive,,0:0%;50000:2%,,
X1,倒序,2026-10-01,2026-12-31,amount,retroactive,,0:0%;50000:2%;40000:3%,,
X2,细,2026-10-01,2026-12-31,amount,marginal,,0:2.125%,,
X3,日期,2026-12-31,2026-10-01,qty,marginal,,0:0%;1.5:2%,,
X4,分组,2026-10-01,2026-12-31,amount,flat,没有这组,0:1%,,0
X5,组,2026-10-01,2026-12-31,amount,marginal,没有这组,0:1%,,
X6,百分,2026-10-01,2026-12-31,amount,marginal,,0:120%,,
""", encoding="utf-8")
    with pytest.raises(imports.ImportFailed) as exc:
        await imports.import_file(runtime.uow(), kind="rebate_schemes", path=bad, actor=ADMIN)
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]
    assert "递增" in errors[3] and "两位小数" in errors[4]
    assert "早于开始日期" in errors[5] and "整数" in errors[5]
    assert "方式(mode)「flat」" in errors[6] and "封顶(cap)须大于 0" in errors[6]
    assert "没有这组" in errors[7] and "现有分组" in errors[7]
    assert "0% 到 100%" in errors[8]
    async with runtime.uow() as uow:
        assert (await uow.session.scalars(select(RebateScheme))).all() == []


async def test_reimport_of_a_code_updates_it_and_is_audited(net, runtime, tmp_path):
    path = tmp_path / "again.csv"
    path.write_text("code,name,period_start,period_end,basis,mode,tiers,cap\n"
                    "q4w,四季度水返利,2026-10-01,2026-12-31,amount,retroactive,0:0%;50000:2.5%;150000:4%,8000\n",
                    encoding="utf-8")
    summary = await imports.import_file(runtime.uow(), kind="rebate_schemes", path=path, actor=ADMIN)
    assert (summary.created, summary.updated) == (0, 1)
    again = await imports.import_file(runtime.uow(), kind="rebate_schemes", path=path, actor=ADMIN)
    assert (again.updated, again.unchanged) == (0, 1)
    async with runtime.uow() as uow:
        row = await uow.session.scalar(select(RebateScheme).where(RebateScheme.code == "Q4W"))
        audits = (await uow.session.scalars(select(AuditLog).where(AuditLog.entity == "rebate_scheme")
                                            .order_by(AuditLog.id))).all()
        uow.session.expunge_all()
    assert row.tiers == [[0, 0], [5_000_000, 250], [15_000_000, 400]] and row.cap_fen == 800_000
    assert row.sku_group == "水" and row.partner_tiers == "A;B"   # absent columns keep what is stored
    update_ = audits[-1]
    assert update_.action == "rebate_scheme.update"
    assert update_.before["tiers"] == [[0, 0], [5_000_000, 200], [15_000_000, 350]] and update_.before["cap_fen"] is None
    assert update_.after["cap_fen"] == 800_000
    assert [a.action for a in audits].count("rebate_scheme.create") == 3


# counting --------------------------------------------------------------------------------------

async def test_only_confirmed_unflagged_sales_of_the_group_in_the_period_count(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    await net.sell("P001", "2026-10-01", ("A100", 2400, 10_000_000))      # first day: counts
    await net.sell("P001", "2026-11-10", ("A100", 1200, 5_000_000), status="undone")
    flagged = await net.sell("P001", "2026-11-12", ("A100", 720, 3_000_000))
    violation = await net.flag(flagged, "P001")
    await net.sell("P001", "2026-11-13", ("B100", 150, 2_000_000))        # 饮料: not in Q4W's group
    await net.sell("P001", "2026-09-30", ("A100", 960, 4_000_000))        # before the period
    await net.sell("P002", "2026-11-01", ("A100", 2400, 9_000_000))       # another partner
    actor = await member(runtime, "P001")

    async def q4w():
        return by_code(await rebates.partner_rebates(runtime.uow(), actor=actor))["Q4W"].now

    now = await q4w()
    assert (now.total, now.rate_bp, now.payout.fen) == (10_000_000, 200, 200_000)
    await net.set_violation(violation, "appealed")
    assert (await q4w()).total == 10_000_000
    await net.set_violation(violation, "upheld")
    assert (await q4w()).total == 10_000_000
    await net.set_violation(violation, "cleared")                          # cleared: counts again
    assert (await q4w()).total == 13_000_000
    await net.flag(flagged, "P001", status="voided")
    assert (await q4w()).total == 13_000_000
    by = by_code(await rebates.partner_rebates(runtime.uow(), actor=actor))
    assert by["Q4M"].now.total == 15_000_000                              # no group: every SKU


async def test_partner_tiers_choose_the_schemes(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    p1 = await rebates.partner_rebates(runtime.uow(), actor=await member(runtime, "P001"))   # tier A
    p2 = await rebates.partner_rebates(runtime.uow(), actor=await member(runtime, "P002"))   # tier B
    assert [s.scheme.code for s in p1.schemes] == ["Q4M", "Q4W"]
    assert [s.scheme.code for s in p2.schemes] == ["Q4Q", "Q4W"]


async def test_quantity_scheme_counts_base_units_and_pays_on_the_amount(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    await net.sell("P002", "2026-10-20", ("B100", 600, 1_800_000), ("B200", 480, 960_000), ("A100", 240, 30_000))
    st = by_code(await rebates.partner_rebates(runtime.uow(), actor=await member(runtime, "P002")))["Q4Q"]
    assert (st.now.total, st.now.amount_fen, st.now.rate_bp, st.now.payout.fen) == (1080, 2_760_000, 225, 62_100)
    assert st.scheme.units.mixed == "瓶/罐"            # B100 bottles and B200 cans: no common pack


async def test_the_period_follows_the_business_date_in_shanghai(net, runtime, clock):
    await net.sell("P001", "2026-12-31", ("A100", 2400, 6_000_000))
    actor = await member(runtime, "P001")
    clock.set(at("2026-12-31T15:59:00+00:00"))         # 23:59 on 31 Dec in Shanghai: still running
    st = by_code(await rebates.partner_rebates(runtime.uow(), actor=actor))["Q4W"]
    assert not st.ended and st.now.total == 6_000_000 and st.pace.elapsed_days == 92
    clock.set(at("2026-12-31T16:00:00+00:00"))         # 00:00 on 1 Jan in Shanghai: over, still shown
    result = await rebates.partner_rebates(runtime.uow(), actor=actor)
    assert result.today == date(2027, 1, 1) and by_code(result)["Q4W"].ended
    clock.set(at("2027-01-31T12:00:00+08:00"))         # 31 days after the end: no longer shown
    assert (await rebates.partner_rebates(runtime.uow(), actor=actor)).schemes == ()


async def test_projection_runs_the_total_on_at_the_daily_average(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    await net.sell("P001", "2026-11-01", ("A100", 24_000, 18_200_000))
    st = by_code(await rebates.partner_rebates(runtime.uow(), actor=await member(runtime, "P001")))["Q4W"]
    assert (st.pace.elapsed_days, st.pace.period_days) == (49, 92)
    assert st.projected.total == 34_171_429 and st.projected.payout.fen == 1_196_000
    assert rebates.projection_text(st) == "按本期已过 49 天的日均 ¥3,714.29 推算 92 天"
    assert st.now.payout.text == "¥182,000.00 × 3.5% = ¥6,370.00"
    q4m = by_code(await rebates.partner_rebates(runtime.uow(), actor=await member(runtime, "P001")))["Q4M"]
    assert q4m.now.payout.text == "¥50,000.00×0% + ¥100,000.00×2% + ¥32,000.00×3.5% = ¥3,120.00，封顶 ¥2,000.00"
    assert q4m.now.payout.fen == 200_000


async def test_standings_are_scoped(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    alice = await member(runtime, "P001")
    with pytest.raises(NotAllowed):
        await rebates.partner_rebates(runtime.uow(), actor=alice, partner_code="P002")
    mgr = await identities.bind_directly(runtime.uow(), channel="console", external_id="mgr", role="manager",
                                         regions=("江苏",))
    assert (await rebates.partner_rebates(runtime.uow(), actor=mgr, partner_code="P002")).partner_code == "P002"
    with pytest.raises(NotAllowed):
        await rebates.partner_rebates(runtime.uow(), actor=mgr, partner_code="P003")   # 浙江
    with pytest.raises(InvalidInput):
        await rebates.partner_rebates(runtime.uow(), actor=mgr)                         # which partner?
    with pytest.raises(NotAllowed):
        await rebates.list_schemes(runtime.uow(), actor=alice)


async def test_one_counting_query_however_many_sales_and_schemes(net, runtime, clock):
    clock.set(at("2026-11-18T10:00+08:00"))
    for day in range(1, 31):
        await net.sell("P001", f"2026-11-{day:02d}" if day <= 18 else f"2026-10-{day:02d}",
                       ("A100", 24, 3_000), ("B100", 15, 4_500))
    actor = await member(runtime, "P001")
    seen: list[str] = []

    def spy(conn, cursor, statement, *args):
        if "sale_line" in statement:
            seen.append(statement)
    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        result = await rebates.partner_rebates(runtime.uow(), actor=actor)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert len(result.schemes) == 2 and len(seen) == 1


# export ----------------------------------------------------------------------------------------

HEADER = ["partner", "scheme", "total", "tier_rate", "payout", "next_threshold", "gap", "next_payout",
          "projected_total", "projected_payout"]


def read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(data.decode("utf-8-sig").splitlines()))


async def test_export_has_one_row_per_partner_and_applicable_scheme(net, runtime, clock, tmp_path):
    clock.set(at("2026-12-05T10:00+08:00"))
    await net.sell("P001", "2026-11-01", ("A100", 24_000, 18_200_000))
    await net.sell("P002", "2026-10-20", ("B100", 600, 1_800_000), ("B200", 480, 960_000))
    await net.sell("P002", "2026-11-20", ("A100", 100, 40_000))            # after --to: not counted
    out = tmp_path / "rebates.csv"
    summary = await exports.export_file(runtime.uow(), kind="rebates", path=out, actor=SYSTEM,
                                        date_to=date(2026, 11, 18))
    assert summary.rows == 6
    assert read_csv(out) == [HEADER,
        ["P001", "Q4M", "182000.00", "0.035", "2000.00", "", "", "", "341714.29", "2000.00"],
        ["P001", "Q4W", "182000.00", "0.035", "6370.00", "", "", "", "341714.29", "11960.00"],
        ["P002", "Q4Q", "1080", "0.0225", "621.00", "", "", "", "2028", "1165.96"],
        ["P002", "Q4W", "0.00", "0", "0.00", "50000.00", "50000.00", "1000.00", "0.00", "0.00"],
        ["P003", "Q4Q", "0", "0", "0.00", "1000", "1000", "", "0", "0.00"],
        ["P003", "Q4W", "0.00", "0", "0.00", "50000.00", "50000.00", "1000.00", "0.00", "0.00"]]


async def test_export_is_scoped_and_xlsx_shows_rates_as_percent(net, runtime, clock, tmp_path):
    clock.set(at("2026-11-18T10:00+08:00"))
    await net.sell("P001", "2026-11-01", ("A100", 24_000, 18_200_000))
    mgr = await identities.bind_directly(runtime.uow(), channel="console", external_id="zmgr", role="manager",
                                         regions=("浙江",))
    out = tmp_path / "r.csv"
    await exports.export_file(runtime.uow(), kind="rebates", path=out, actor=mgr)
    assert [r[:2] for r in read_csv(out)[1:]] == [["P003", "Q4Q"], ["P003", "Q4W"]]
    xlsx = tmp_path / "r.xlsx"
    await exports.export_file(runtime.uow(), kind="rebates", path=xlsx, actor=SYSTEM)
    sheet = load_workbook(xlsx).active
    rows = list(sheet.iter_rows(min_row=1, max_row=3))
    assert [c.value for c in rows[0]] == HEADER
    assert rows[2][1].value == "Q4W" and Decimal(str(rows[2][3].value)) == Decimal("0.035")
    assert rows[2][3].number_format == "0.00%" and rows[2][4].value == 6370


async def test_export_with_from_takes_every_scheme_of_the_range_at_its_end(net, runtime, clock, tmp_path):
    clock.set(at("2027-02-10T10:00+08:00"))
    await net.sell("P001", "2026-12-31", ("A100", 24_000, 18_200_000))
    out = tmp_path / "year.csv"
    await exports.export_file(runtime.uow(), kind="rebates", path=out, actor=SYSTEM,
                              date_from=date(2026, 1, 1), date_to=date(2026, 12, 31))
    rows = {(r[0], r[1]): r for r in read_csv(out)[1:]}
    assert rows[("P001", "Q4W")][2:] == ["182000.00", "0.035", "6370.00", "", "", "", "182000.00", "6370.00"]
    out2 = tmp_path / "now.csv"
    await exports.export_file(runtime.uow(), kind="rebates", path=out2, actor=SYSTEM)
    assert read_csv(out2) == [HEADER]            # nothing in force on 10 Feb 2027


# command line ----------------------------------------------------------------------------------

def cli(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    exe = Path(sys.executable).with_name("partnerbot")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def test_cli_imports_schemes_and_exports_rebates(db_url, runtime, tmp_path):
    await demo.load_demo(runtime.uow(), users=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(SCHEMES.replace("0:0%;1000:2.25%", "0:0%;1000:2.255%"), encoding="utf-8")
    result = await asyncio.to_thread(cli, db_url, "import", "rebate_schemes", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "第4行: " in result.stderr and "两位小数" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text(SCHEMES, encoding="utf-8")
    result = await asyncio.to_thread(cli, db_url, "import", "rebate_schemes", str(good), cwd=tmp_path)
    assert result.returncode == 0 and "3 created" in result.stdout, result.stderr
    out = tmp_path / "r.csv"
    result = await asyncio.to_thread(cli, db_url, "export", "rebates", "--to", "2026-11-18", "-o", str(out),
                                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read_csv(out)[0] == HEADER and len(read_csv(out)) == 7
