"""Stock alerts follow state: ok → low → out → low → ok is announced once per change to the
partner's people and once to the region's managers, staying put says nothing, quiet hours hold
the push, the sweep catches what no change announced, and two transactions announce one change
once — on SQLite and PostgreSQL. Assertions are on outbox and alert_state rows."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import delete, select

from scheduler import jobs
from services import identities, sales, stock_alerts, stocktakes
from services.sales import LineDraft, SaleDraft
from services.stocktakes import CountLine
from storage.models import AlertState, Outbox, Sale, SaleLine, Shipment
from test_inventory import build_net, local

TODAY = date(2026, 11, 18)
LOW_TEXT = "⚠️ A100 冰泉矿泉水550ml 库存低：还剩 19箱14瓶，安全库存 20箱，约可卖 438.7 天，建议补货 2箱。"


@pytest.fixture
async def net(runtime):
    return await build_net(runtime)


async def actor(net, name):
    return (await identities.resolve(net.uow(), channel="console", external_id=name))[1]


async def pushes(net) -> list[tuple[str, str]]:
    """(target, text) of every queued stock message, oldest first; the outbox is emptied."""
    async with net.uow() as uow:
        rows = (await uow.session.execute(select(Outbox.target, Outbox.text).where(Outbox.kind == "stock")
                                          .order_by(Outbox.id))).all()
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return [tuple(r) for r in rows]


def targets(found) -> list[str]:
    return sorted(t for t, _ in found)


async def count(net, alice, **qty: int) -> None:
    """A 盘点 through the service, a minute after whatever came before (the same-day rule orders by time)."""
    net.runtime.clock.advance(minutes=1)
    await stocktakes.record_stocktake(net.uow(), actor=alice, lines=[CountLine(s, q) for s, q in qty.items()])


async def sell(net, alice, qty: int, key: str) -> None:
    net.runtime.clock.advance(minutes=1)
    draft = SaleDraft(customer="张三超市", sold_on=TODAY, lines=(LineDraft("A100", qty, qty * 110),))
    await sales.record_sale(net.uow(), actor=alice, draft=draft, idempotency_key=key)


async def state(net) -> str | None:
    async with net.uow() as uow:
        return await uow.session.scalar(select(AlertState.state).where(
            AlertState.kind == "stock", AlertState.subject == f"{net.partner['P001']}:{net.sku['A100']}"))


async def test_each_transition_is_announced_once_to_the_partner_and_once_to_managers(net):
    alice = await actor(net, "alice")
    await count(net, alice, A100=500)
    assert await pushes(net) == [] and await state(net) is None            # 500 ≥ 480: ok, nothing said

    await sell(net, alice, 30, "s1")                                        # 470: ok → low
    low = await pushes(net)
    assert targets(low) == ["alice", "boss", "mgr"]
    assert dict(low)["alice"] == dict(low)["boss"] == LOW_TEXT
    assert dict(low)["mgr"] == LOW_TEXT.replace("⚠️ ", "⚠️ P001 南京冰泉商贸有限公司 · ")
    assert await state(net) == "low"

    await sell(net, alice, 10, "s2")                                        # 460: still low
    assert await pushes(net) == []

    await sell(net, alice, 460, "s3")                                       # 0: low → out
    out = await pushes(net)
    assert targets(out) == ["alice", "boss", "mgr"] and all("已断货" in t and t.startswith("❌") for _, t in out)

    net.runtime.clock.advance(minutes=1)
    await sales.undo_last(net.uow(), actor=alice)                           # 460 again: out → low
    back = await pushes(net)
    assert targets(back) == ["alice", "boss", "mgr"] and all("库存低：还剩 19箱4瓶" in t for _, t in back)

    await count(net, alice, A100=1000)                                      # low → ok
    ok = await pushes(net)
    assert targets(ok) == ["alice", "boss", "mgr"]
    assert dict(ok)["alice"] == "✅ A100 冰泉矿泉水550ml 库存已恢复：现有 41箱16瓶，安全库存 20箱。"
    assert await state(net) == "ok"
    assert await pushes(net) == []


async def test_a_correction_below_safety_stock_is_announced(net):
    alice = await actor(net, "alice")
    await count(net, alice, A100=600)
    await sell(net, alice, 24, "s1")
    assert await pushes(net) == []
    net.runtime.clock.advance(minutes=1)
    await sales.correct_last(net.uow(), actor=alice, qty=10, qty_unit="箱")   # 600 − 240 = 360 < 480
    assert targets(await pushes(net)) == ["alice", "boss", "mgr"]


async def test_quiet_hours_hold_the_alert_until_morning(net, clock):
    alice = await actor(net, "alice")
    await count(net, alice, A100=500)
    clock.set(local("2026-11-18T23:00"))
    await sell(net, alice, 30, "late")
    async with net.uow() as uow:
        rows = (await uow.session.execute(select(Outbox.urgent, Outbox.not_before).where(Outbox.kind == "stock"))).all()
    assert len(rows) == 3
    assert {tuple(r) for r in rows} == {(False, local("2026-11-19T08:00"))}


async def test_unknown_stock_is_never_announced(net):
    alice = await actor(net, "alice")
    draft = SaleDraft(customer="张三超市", sold_on=TODAY, lines=(LineDraft("C300", 15, 5250),))
    await sales.record_sale(net.uow(), actor=alice, draft=draft, idempotency_key="u1")
    assert await pushes(net) == []
    async with net.uow() as uow:
        assert (await uow.session.scalars(select(AlertState))).all() == []


async def test_sweep_announces_changes_nobody_announced_and_then_nothing(net, runtime):
    alice = await actor(net, "alice")
    await count(net, alice, A100=470, B100=600)
    assert targets(await pushes(net)) == ["alice", "boss", "mgr"]           # A100 low
    # written behind the services' back: A100 restocked, B100 sold out, P003 D10 shipped (ok, silent)
    await net.ship("P001", "A100", 480, "2026-11-18", "2026-11-18T10:00")
    async with net.uow() as uow:
        uow.add(Sale(partner_id=net.partner["P001"], customer="x", sold_on=TODAY, flags=[], created_at=local(
            "2026-11-18T10:00"), lines=[SaleLine(sku_id=net.sku["B100"], qty=600, amount_fen=1)]))
        uow.add(Shipment(partner_id=net.partner["P003"], sku_id=net.sku["D10"], qty=9, shipped_on=TODAY,
                         created_at=local("2026-11-18T10:00")))
        await uow.commit()
    result = await stock_alerts.sweep(net.uow(), batch=2)
    assert (result.positions, result.transitions) == (3, 2)
    found = await pushes(net)
    assert sorted((t, x[:1]) for t, x in found) == [("alice", "✅"), ("alice", "❌"), ("boss", "✅"), ("boss", "❌"),
                                                    ("mgr", "✅"), ("mgr", "❌")]
    assert await stock_alerts.sweep(net.uow()) == stock_alerts.SweepResult(positions=3, transitions=0)
    summary = await jobs.run_job(runtime, "low_stock")
    assert summary == "low_stock: 3 positions checked, 0 changed" and await pushes(net) == []
    assert jobs.get_job("low_stock").default_cron == "*/30 * * * *"


async def test_two_transactions_seeing_one_change_announce_it_once(net):
    alice = await actor(net, "alice")
    await count(net, alice, A100=500)
    await net.sell("P001", "A100", 100, "2026-11-18", "2026-11-18T10:00")   # unannounced: 400 is low
    p, s = net.partner["P001"], net.sku["A100"]

    async def check(delay: float, hold: float) -> int:
        await asyncio.sleep(delay)
        uow = net.uow()
        async with uow:
            found = await stock_alerts.reevaluate(uow, partner_id=p, sku_ids=[s])
            await asyncio.sleep(hold)
            await uow.commit()
        return len(found)

    assert sorted(await asyncio.gather(check(0, 0.3), check(0.1, 0))) == [0, 1]
    assert targets(await pushes(net)) == ["alice", "boss", "mgr"]


async def test_texts_for_out_with_a_negative_book_figure_and_no_sales(net):
    alice = await actor(net, "alice")
    await count(net, alice, D10=1)
    assert targets(await pushes(net)) == ["alice", "boss", "mgr"]
    await net.sell("P001", "D10", 3, "2026-11-18", "2026-11-18T10:00")
    await stock_alerts.reevaluate(net.uow(), partner_id=net.partner["P001"], sku_ids=[net.sku["D10"]])
    found = dict(await pushes(net))
    assert found["alice"] == "❌ D10 家用净水器X1 已断货（账面 -2台，请盘点核实），安全库存 5台，建议补货 8台。"


def test_low_text_without_sales_says_so():
    pos = stock_alerts.Position(partner_code="P001", partner_name="南京", region="江苏-南京", sku_code="B100",
                                sku_name="青柠苏打水", unit="瓶", pack_unit="箱", pack_size=15, on_hand=150,
                                safety_stock=300, sold_28d=0, days_of_cover=None, reorder_qty=150, status="low")
    assert stock_alerts.alert_text(pos, "low") == ("⚠️ B100 青柠苏打水 库存低：还剩 10箱，安全库存 20箱，近28天没有销售，"
                                                   "建议补货 10箱。")
    assert stock_alerts.manager_text(pos, "low").startswith("⚠️ P001 南京 · B100 青柠苏打水 库存低")
