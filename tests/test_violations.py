"""Price deviations on confirmation (services/violations.py), hand-computed: grace, every band
boundary, repeat escalation inside and outside the window, a policy change mid-period, undo voids,
a correction re-evaluates, the rebate predicate, the export."""
from __future__ import annotations

import csv
import itertools
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import delete, select

from services import demo, exports, identities, price_admin, violation_appeals
from services import sales as sales_service
from services.config import Settings
from services.violations import counting_sales_clause
from storage.models import Outbox, Sale, Violation

_keys = itertools.count()
TODAY = date(2026, 11, 18)
# A100: floor ¥1.10 a bottle (demo catalog), 24 bottles a case. 240 bottles: floor total ¥264.00 = 26400 fen.


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(database={"url": db_url}, app={"quiet_hours": "22:00-08:00"},
                    pricing={"grace_pct": "0", "level_bands_pct": [5, 15], "repeat_count": 3,
                             "repeat_window_days": 30})


@pytest.fixture
async def people(runtime):
    await demo.load_demo(runtime.uow(), users=False)
    out = {}
    for who, role, partner, regions in (("alice", "member", "P001", ()), ("bob", "member", "P002", ()),
                                        ("mgr", "manager", None, ("江苏",)), ("zmgr", "manager", None, ("浙江",)),
                                        ("root", "admin", None, ())):
        out[who] = await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                                  partner_code=partner, regions=regions)
    return out


async def sell(runtime, actor, lines, *, on=TODAY, customer="张三超市"):
    draft = sales_service.SaleDraft(customer, on, tuple(sales_service.LineDraft(*ln) for ln in lines))
    return await sales_service.record_sale(runtime.uow(), actor=actor, draft=draft, idempotency_key=f"k{next(_keys)}")


async def violations(runtime):
    async with runtime.uow() as uow:
        rows = (await uow.session.scalars(select(Violation).order_by(Violation.id))).all()
        uow.session.expunge_all()
        return rows


async def pushes(runtime):
    async with runtime.uow() as uow:
        rows = [(r.target, r.text) for r in (await uow.session.scalars(select(Outbox).order_by(Outbox.id))).all()]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return rows


@pytest.mark.parametrize("amount, level, pct", [
    (26400, None, None),        # at floor
    (26399, 1, "0.00"),         # one fen below: a deviation (grace 0)
    (25081, 1, "4.99"),         # gap 1319 = 4.996 %
    (25080, 2, "5.00"),         # gap 1320 = exactly 5 %: level 2
    (22441, 2, "14.99"),        # gap 3959 = 14.996 %
    (22440, 3, "15.00"),        # gap 3960 = exactly 15 %: level 3
    (13200, 3, "50.00"),
])
async def test_levels_at_each_band_boundary(runtime, people, amount, level, pct):
    result = await sell(runtime, people["alice"], [("A100", 240, amount)])
    rows = await violations(runtime)
    if level is None:
        assert rows == [] and result.violations == ()
        return
    (v,) = rows
    assert (v.kind, v.level, v.status, v.evidence["gap_pct"]) == ("price", level, "open", pct)
    e = v.evidence
    assert (e["sale_id"], e["sku"], e["floor_fen"], e["line_gap_fen"], e["policy_id"]) == \
        (result.id, "A100", 110, 26400 - amount, None)
    assert e["unit_price_fen"] == int((Decimal(amount) / 240).quantize(Decimal(1), ROUND_HALF_UP)) and e["gap_fen"] == 110 - e["unit_price_fen"]
    assert [x.id for x in result.violations] == [v.id]


@pytest.mark.parametrize("amount, deviates", [(25872, False), (25871, True)])
async def test_grace_tolerates_a_gap_up_to_its_percent(runtime, people, amount, deviates):
    runtime.settings.pricing.grace_pct = Decimal("2")   # 2 % of 26400 = 528 fen
    await sell(runtime, people["alice"], [("A100", 240, amount)])
    rows = await violations(runtime)
    assert bool(rows) is deviates
    if deviates:
        assert rows[0].evidence["gap_pct"] == "2.00" and rows[0].level == 1


async def test_deviation_is_pushed_to_the_regions_managers_not_others(runtime, people):
    result = await sell(runtime, people["alice"], [("A100", 240, 24000), ("B100", 30, 9000)])
    (push,) = await pushes(runtime)
    assert push[0] == "mgr"
    assert f"报单 #{result.id}" in push[1] and "A100 单价 ¥1.00/瓶，低于最低价 ¥1.10/瓶 9.09%（共 ¥24.00），2级" in push[1]
    assert "B100" not in push[1] and "申诉" in push[1]


async def _deviate(runtime, actor, on):
    return await sell(runtime, actor, [("A100", 24, 2600)], on=on)   # gap 40 of 2640 = 1.52 %: level 1


async def test_third_deviation_within_30_days_escalates_and_tells_head_office(runtime, people):
    alice = people["alice"]
    await _deviate(runtime, alice, TODAY - timedelta(days=30))
    await _deviate(runtime, alice, TODAY - timedelta(days=10))
    await pushes(runtime)
    third = await _deviate(runtime, alice, TODAY)
    (v,) = third.violations
    assert v.level == 2 and v.evidence["base_level"] == 1 and v.repeat == {"count": 3, "window_days": 30}
    targets = [t for t, _ in await pushes(runtime)]
    assert targets == ["mgr", "root"]   # no head-office group configured: every admin directly
    fourth = await _deviate(runtime, alice, TODAY)
    assert fourth.violations[0].level == 2 and fourth.violations[0].repeat["count"] == 4


async def test_no_escalation_when_the_first_lies_31_days_back(runtime, people):
    alice = people["alice"]
    await _deviate(runtime, alice, TODAY - timedelta(days=31))
    await _deviate(runtime, alice, TODAY - timedelta(days=10))
    third = await _deviate(runtime, alice, TODAY)
    assert third.violations[0].level == 1 and third.violations[0].repeat is None
    assert "root" not in [t for t, _ in await pushes(runtime)]


async def test_escalation_is_capped_and_head_office_group_used(runtime, people):
    runtime.settings.pricing.repeat_count = 2
    runtime.settings.pricing.head_office = "wecom_robot:https://example.invalid/hook"
    alice = people["alice"]
    await sell(runtime, alice, [("A100", 240, 13200)])
    second = await sell(runtime, alice, [("A100", 240, 13200)])
    assert second.violations[0].level == 3   # level 3 already: the top
    rows = [t for t, _ in await pushes(runtime)]
    assert rows.count("https://example.invalid/hook") == 1


async def test_cleared_or_undone_deviations_do_not_count_as_repeats(runtime, people):
    alice, mgr = people["alice"], people["mgr"]
    first = await _deviate(runtime, alice, TODAY - timedelta(days=2))
    await violation_appeals.resolve(runtime.uow(), actor=mgr, violation_id=first.violations[0].id, decision="clear")
    await _deviate(runtime, alice, TODAY - timedelta(days=1))
    await _deviate(runtime, alice, TODAY)
    undone = await sales_service.undo_last(runtime.uow(), actor=alice)
    assert [v.status for v in undone.voided] == ["voided"]
    third = await _deviate(runtime, alice, TODAY)
    assert third.violations[0].repeat is None


async def test_policy_change_mid_period_applies_by_sale_date(runtime, people):
    root, alice = people["root"], people["alice"]
    await price_admin.set_policy(runtime.uow(), actor=root, sku="A100", guide="1.40", floor="1.20",
                                 effective_from=date(2026, 11, 10))
    before = await sell(runtime, alice, [("A100", 240, 27600)], on=date(2026, 11, 9))   # ¥1.15 ≥ old floor 1.10
    after = await sell(runtime, alice, [("A100", 240, 27600)], on=date(2026, 11, 10))   # ¥1.15 < new floor 1.20
    assert before.violations == ()
    (v,) = after.violations
    assert v.evidence["floor_fen"] == 120 and v.evidence["gap_pct"] == "4.16" and v.evidence["policy_id"] == 1


async def test_undo_voids_the_sales_open_violations(runtime, people):
    alice = people["alice"]
    result = await sell(runtime, alice, [("A100", 240, 24000)])
    await pushes(runtime)
    undone = await sales_service.undo_last(runtime.uow(), actor=alice)
    assert [v.id for v in undone.voided] == [result.violations[0].id]
    (v,) = await violations(runtime)
    assert v.status == "voided" and v.resolution == "报单已撤销"
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and "已撤销" in push[1] and f"#{v.id}" in push[1]


async def test_correction_re_evaluates_the_price(runtime, people):
    alice = people["alice"]
    result = await sell(runtime, alice, [("A100", 240, 24000)])               # ¥1.00: 9.09 %, level 2
    first = result.violations[0].id
    fixed = await sales_service.correct_last(runtime.uow(), actor=alice, price=Decimal("1.10"), price_unit="base")
    assert [v.id for v in fixed.voided] == [first] and fixed.violations == ()
    worse = await sales_service.correct_last(runtime.uow(), actor=alice, price=Decimal("22"), price_unit="pack")
    (v,) = worse.violations                                                   # ¥22/24 = 0.9167: 16.66 %
    assert v.level == 3 and v.evidence["gap_pct"] == "16.66" and v.id != first
    same = await sales_service.correct_last(runtime.uow(), actor=alice, qty=Decimal("5"), qty_unit="箱")
    assert same.voided == () and [x.id for x in same.violations] == [v.id]    # the same price: kept, evidence updated
    assert (same.violations[0].evidence["qty"], same.violations[0].evidence["line_gap_fen"]) == (120, 2200)
    async with runtime.uow() as uow:
        sale = await uow.session.get(Sale, result.id)
        assert [f["violation_id"] for f in sale.flags] == [v.id]
    assert [x.status for x in await violations(runtime)] == ["voided", "open"]


async def test_counting_sales_clause_follows_violation_status(runtime, people):
    alice, mgr = people["alice"], people["mgr"]
    clean = await sell(runtime, alice, [("A100", 240, 30000)])
    flagged = await sell(runtime, alice, [("A100", 240, 24000)])
    undone = await sell(runtime, alice, [("A100", 240, 30000)])
    await sales_service.undo_last(runtime.uow(), actor=alice)

    async def counting():
        async with runtime.uow() as uow:
            return sorted((await uow.session.scalars(select(Sale.id).where(counting_sales_clause()))).all())
    assert await counting() == [clean.id]
    vid = flagged.violations[0].id
    await violation_appeals.appeal(runtime.uow(), actor=alice, violation_id=vid, reason="团购")
    assert await counting() == [clean.id]
    await violation_appeals.resolve(runtime.uow(), actor=mgr, violation_id=vid, decision="clear")
    assert await counting() == [clean.id, flagged.id]
    assert undone.id not in await counting()


async def test_export_violations_csv(runtime, people, tmp_path):
    alice = people["alice"]
    await sell(runtime, alice, [("A100", 240, 24000), ("B100", 30, 9000)], on=date(2026, 11, 17))
    await sell(runtime, alice, [("A100", 24, 2508)], on=TODAY)
    path = tmp_path / "v.csv"
    summary = await exports.export_file(runtime.uow(), kind="violations", path=path, actor=people["mgr"],
                                        date_from=date(2026, 11, 1), date_to=TODAY)
    assert summary.rows == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows == [["sale_id", "partner", "sku", "sold_on", "unit_price", "floor_price", "gap_pct", "level", "status"],
                    ["1", "P001", "A100", "2026-11-17", "1.00", "1.10", "9.09", "2", "open"],
                    ["2", "P001", "A100", "2026-11-18", "1.05", "1.10", "5.00", "2", "open"]]
    none = await exports.export_file(runtime.uow(), kind="violations", path=tmp_path / "z.xlsx",
                                     actor=people["zmgr"])
    assert none.rows == 0
