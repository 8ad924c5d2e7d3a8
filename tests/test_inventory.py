"""Channel inventory: on hand from the last count, shipments and sales since (same-day rule in
local time), safety stock precedence, days of cover, reorder rounding, scoping, movements and
the `inventory` export — on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from services import demo, exports, inventory
from services.actors import SYSTEM, Actor
from services.errors import NotAllowed, NotFound
from storage.models import Partner, SafetyStockOverride, Sale, SaleLine, Shipment, Sku, Stocktake, StocktakeLine


def local(text: str) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime.fromisoformat(text + "+08:00")


class Net:
    """The demo network (A100: 24 a case, safety 480; D10: single units, safety 5) and writers."""

    def __init__(self, runtime, partners: dict[str, int], skus: dict[str, int]):
        self.runtime, self.partner, self.sku = runtime, partners, skus

    def uow(self):
        return self.runtime.uow()

    async def count(self, partner: str, at: str, **qty: int) -> None:
        async with self.uow() as uow:
            uow.add(Stocktake(partner_id=self.partner[partner], counted_at=local(at), created_at=local(at),
                              lines=[StocktakeLine(sku_id=self.sku[s], qty=q) for s, q in qty.items()]))
            await uow.commit()

    async def ship(self, partner: str, sku: str, qty: int, on: str, at: str, ref: str | None = None) -> None:
        async with self.uow() as uow:
            uow.add(Shipment(partner_id=self.partner[partner], sku_id=self.sku[sku], qty=qty,
                             shipped_on=date.fromisoformat(on), created_at=local(at), ref=ref))
            await uow.commit()

    async def sell(self, partner: str, sku: str, qty: int, on: str, at: str, *, status: str = "confirmed",
                   customer: str = "张三超市") -> None:
        async with self.uow() as uow:
            uow.add(Sale(partner_id=self.partner[partner], customer=customer, sold_on=date.fromisoformat(on),
                         status=status, flags=[], created_at=local(at),
                         lines=[SaleLine(sku_id=self.sku[sku], qty=qty, amount_fen=qty * 110)]))
            await uow.commit()


async def build_net(runtime) -> Net:
    await demo.load_demo(runtime.uow())
    async with runtime.uow() as uow:
        partners = dict((await uow.session.execute(select(Partner.code, Partner.id))).all())
        skus = dict((await uow.session.execute(select(Sku.code, Sku.id))).all())
    return Net(runtime, partners, skus)


@pytest.fixture
async def net(runtime) -> Net:
    return await build_net(runtime)


def member(net: Net, code: str) -> Actor:
    return Actor(user_id=None, name="m", role="member", partner_id=net.partner[code], partner_code=code)


MANAGER = Actor(user_id=None, name="mgr", role="manager", regions=("江苏",))


async def one(net: Net, partner: str, sku: str) -> inventory.Position:
    [pos] = await inventory.positions(net.uow(), actor=SYSTEM, partner_code=partner, sku_code=sku)
    return pos


# --- on hand ---------------------------------------------------------------------------------

async def seed_history(net: Net) -> None:
    """P001 A100 around a count at 00:30 on 11-11 local (16:30 UTC on 11-10)."""
    await net.count("P001", "2026-11-01T10:00", A100=5000)            # older count: replaced
    await net.count("P001", "2026-11-11T00:30", A100=1000)
    await net.ship("P001", "A100", 240, "2026-11-11", "2026-11-10T20:00")  # same local day, recorded before
    await net.ship("P001", "A100", 48, "2026-11-11", "2026-11-11T10:00")   # same day, after: counts
    await net.ship("P001", "A100", 24, "2026-11-10", "2026-11-12T09:00")   # earlier day, recorded late
    await net.ship("P001", "A100", 120, "2026-11-12", "2026-11-12T09:00")
    await net.sell("P001", "A100", 100, "2026-11-10", "2026-11-10T18:00")  # before the count
    await net.sell("P001", "A100", 30, "2026-11-11", "2026-11-11T09:00")
    await net.sell("P001", "A100", 200, "2026-11-15", "2026-11-15T09:00")
    await net.sell("P001", "A100", 50, "2026-11-16", "2026-11-16T09:00", status="undone")
    await net.sell("P001", "A100", 70, "2026-11-01", "2026-11-01T12:00")   # in the 28 days, before the count
    await net.sell("P001", "A100", 5, "2026-10-22", "2026-10-22T12:00")    # first day of the 28
    await net.sell("P001", "A100", 500, "2026-10-21", "2026-10-21T12:00")  # outside the 28 days
    await net.count("P001", "2026-11-17T12:00", D10=3)                     # another SKU's count changes nothing


async def test_on_hand_is_last_count_plus_shipments_minus_sales_by_local_day_and_record_time(net):
    await seed_history(net)
    pos = await one(net, "P001", "A100")
    assert pos.on_hand == 1000 + 48 + 120 - 30 - 200
    assert pos.sold_28d == 100 + 30 + 200 + 70 + 5
    assert pos.days_of_cover == Decimal("64.8")        # 938 ÷ (405 ÷ 28)
    assert (pos.safety_stock, pos.status, pos.reorder_qty) == (480, "ok", 0)
    found = await inventory.on_hand(net.uow(), partner_id=net.partner["P001"],
                                    sku_ids=[net.sku["A100"], net.sku["B100"], net.sku["D10"]])
    assert found == {net.sku["A100"]: 938, net.sku["B100"]: None, net.sku["D10"]: 3}


async def test_shipments_alone_make_a_known_position_and_nothing_makes_unknown(net):
    await net.ship("P002", "B100", 150, "2026-11-12", "2026-11-12T09:00")
    await net.sell("P002", "B100", 10, "2026-11-13", "2026-11-13T09:00")
    await net.sell("P002", "C300", 10, "2026-11-13", "2026-11-13T09:00")  # sold, never counted nor shipped
    bob = member(net, "P002")
    listed = await inventory.positions(net.uow(), actor=bob)
    assert [(p.sku_code, p.on_hand, p.status) for p in listed] == [("B100", 140, "low")]
    [c300] = await inventory.positions(net.uow(), actor=bob, sku_code="c300")
    assert (c300.on_hand, c300.status, c300.sold_28d, c300.days_of_cover, c300.reorder_qty) == (None, "unknown", 10,
                                                                                              None, 0)
    with pytest.raises(NotFound):
        await inventory.positions(net.uow(), actor=bob, sku_code="ZZ9")


async def test_safety_stock_partner_override_beats_tier_beats_sku_default(net):
    for p in ("P001", "P002", "P003"):
        await net.count(p, "2026-11-17T12:00", A100=2400)
    async with net.uow() as uow:
        a100 = net.sku["A100"]
        uow.add(SafetyStockOverride(sku_id=a100, tier="B", partner_id=None, qty=300))
        uow.add(SafetyStockOverride(sku_id=a100, tier="", partner_id=net.partner["P003"], qty=100))
        uow.add(SafetyStockOverride(sku_id=net.sku["B100"], tier="A", partner_id=None, qty=999))  # other SKU
        await uow.commit()
    found = await inventory.positions(net.uow(), actor=SYSTEM, sku_code="A100")
    # P001 is tier A (no override: SKU default), P002 tier B, P003 tier B with its own
    assert {p.partner_code: p.safety_stock for p in found} == {"P001": 480, "P002": 300, "P003": 100}


async def test_days_of_cover_and_reorder_round_up_to_whole_packs(net):
    await net.count("P001", "2026-11-01T09:00", A100=380, D10=10, B100=0)
    await net.sell("P001", "A100", 280, "2026-11-10", "2026-11-10T09:00")
    await net.sell("P001", "D10", 12, "2026-11-10", "2026-11-10T09:00")
    a100, b100, d10 = [await one(net, "P001", s) for s in ("A100", "B100", "D10")]
    # 100 left, 280 sold in 28 days: 10 days; up to 480 + 280 = 760 → 660 short → 27.5 cases → 28 cases
    assert (a100.on_hand, a100.status, a100.days_of_cover, a100.reorder_qty) == (100, "low", Decimal("10.0"), 672)
    assert a100.reorder_qty % a100.pack_size == 0
    # nothing sold: no days of cover, reorder up to safety stock (300) in cases of 15
    assert (b100.on_hand, b100.status, b100.days_of_cover, b100.reorder_qty) == (0, "out", None, 300)
    # oversold (−2): out, cover 0, reorder counts from zero: 5 + 12 = 17 single units
    assert (d10.on_hand, d10.status, d10.days_of_cover, d10.reorder_qty) == (-2, "out", Decimal("0.0"), 17)


def test_status_and_reorder_rules():
    assert inventory.status_of(None, 10) == "unknown"
    assert [inventory.status_of(q, 10) for q in (-1, 0, 9, 10)] == ["out", "out", "low", "ok"]
    assert inventory.status_of(1, 0) == "ok"
    assert inventory.reorder_qty(10, 20, 0, 24) == 24
    assert inventory.reorder_qty(500, 480, 28, 24) == 24        # 508 target: 8 short, one case
    assert inventory.reorder_qty(508, 480, 28, 24) == 0
    assert inventory.days_of_cover(7, 3) == Decimal("65.3")
    assert inventory.days_of_cover(None, 3) is None and inventory.days_of_cover(7, 0) is None


# --- scope and order ---------------------------------------------------------------------------

async def test_members_see_their_partner_managers_their_regions_admins_all(net):
    for p in ("P001", "P002", "P003"):
        await net.count(p, "2026-11-17T12:00", A100=2400)
    with pytest.raises(NotAllowed):
        await inventory.positions(net.uow(), actor=member(net, "P002"), partner_code="P001")
    assert {p.partner_code for p in await inventory.positions(net.uow(), actor=member(net, "P002"))} == {"P002"}
    assert {p.partner_code for p in await inventory.positions(net.uow(), actor=MANAGER)} == {"P001", "P002"}
    named = await inventory.positions(net.uow(), actor=MANAGER, partner_code="p002")
    assert {p.partner_code for p in named} == {"P002"}
    with pytest.raises(NotAllowed):
        await inventory.positions(net.uow(), actor=MANAGER, partner_code="P003")
    with pytest.raises(NotAllowed):
        await inventory.movements(net.uow(), actor=member(net, "P002"), partner_code="P001", sku_code="A100")
    assert {p.partner_code for p in await inventory.positions(net.uow(), actor=SYSTEM)} == {"P001", "P002", "P003"}


async def test_positions_list_out_then_low_then_ok_then_unknown_each_by_sku(net):
    await net.count("P001", "2026-11-17T12:00", A100=10, B100=0, C300=900, D10=1, D20=2, E05=0)
    listed = await inventory.positions(net.uow(), actor=member(net, "P001"))
    assert [(p.sku_code, p.status) for p in listed] == [
        ("B100", "out"), ("E05", "out"), ("A100", "low"), ("D10", "low"), ("C300", "ok"), ("D20", "ok")]
    named = await inventory.positions(net.uow(), actor=SYSTEM, sku_code="A100")
    assert [(p.partner_code, p.status) for p in named] == [("P001", "low"), ("P002", "unknown"), ("P003", "unknown")]


async def test_movements_newest_first_signed_with_refs_and_customers(net):
    await seed_history(net)
    moves = await inventory.movements(net.uow(), actor=member(net, "P001"), partner_code="P001", sku_code="A100",
                                      limit=6)
    assert [(m.kind, m.date.isoformat(), m.qty, m.note) for m in moves] == [
        ("sale", "2026-11-15", -200, "张三超市"),
        ("shipment", "2026-11-12", 120, ""),
        ("shipment", "2026-11-11", 48, ""),
        ("sale", "2026-11-11", -30, "张三超市"),
        ("stocktake", "2026-11-11", 1000, ""),
        ("shipment", "2026-11-11", 240, ""),
    ]


# --- export ------------------------------------------------------------------------------------

async def test_inventory_export_csv_has_known_positions_in_base_units(net, tmp_path):
    await net.count("P001", "2026-11-01T09:00", A100=380, B100=0)
    await net.sell("P001", "A100", 280, "2026-11-10", "2026-11-10T09:00", customer="=cmd")
    await net.ship("P002", "D10", 7, "2026-11-12", "2026-11-12T09:00", ref="SH-1")
    await net.count("P003", "2026-11-17T12:00", A100=2400)
    await net.sell("P001", "C300", 3, "2026-11-10", "2026-11-10T09:00")   # unknown position: left out
    out = tmp_path / "inv.csv"
    summary = await exports.export_file(net.uow(), kind="inventory", path=out, actor=SYSTEM)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").replace("\r\n", "\n") == (
        "partner,sku,on_hand,unit,safety_stock,days_of_cover,status\n"
        "P001,A100,100,瓶,480,10.0,low\n"
        "P001,B100,0,瓶,300,,out\n"
        "P002,D10,7,台,5,,ok\n"
        "P003,A100,2400,瓶,480,,ok\n")
    assert summary.rows == 4
    scoped = tmp_path / "mgr.csv"
    await exports.export_file(net.uow(), kind="inventory", path=scoped, actor=MANAGER)
    rows = list(csv.DictReader(scoped.open(encoding="utf-8-sig")))
    assert [(r["partner"], r["sku"]) for r in rows] == [("P001", "A100"), ("P001", "B100"), ("P002", "D10")]
    with pytest.raises(NotAllowed):
        await exports.export_file(net.uow(), kind="inventory", path=tmp_path / "m.csv", actor=member(net, "P001"))
