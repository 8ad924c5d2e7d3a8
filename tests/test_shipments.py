"""Shipments (sell-in): the service's units, refs and scope, all-or-none, audit and stock alerts;
`/ship` from chat; one ref idempotent across `/ship`, the file import and the HTTP API."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.web import create_app
from handlers.all import Deps, handle
from handlers.messages import InboundMessage
from services import identities, imports, inventory, shipments, stocktakes
from services.actors import Actor
from services.errors import NotAllowed
from services.shipments import ShipmentIn, ShipmentsRejected
from services.stocktakes import CountLine
from storage.models import AlertState, AuditLog, Outbox, Partner, Shipment, Sku, User

ROOT = Actor(user_id=None, name="root", role="admin", channel="test")
JS_MGR = Actor(user_id=None, name="mgr", role="manager", regions=("江苏",), channel="test")
ZJ_MGR = Actor(user_id=None, name="zmgr", role="manager", regions=("浙江",), channel="test")
TODAY = date(2026, 11, 18)  # conftest's clock: 2026-11-18 09:00 +08:00
KEY = "test-key-0123456789"
_n = 0


async def seed(runtime) -> None:
    """Three partners in 江苏 and 浙江 plus an inactive one; a bottled SKU (24 a case) and a machine."""
    async with runtime.uow() as uow:
        for code, region, active in (("P001", "江苏-南京", True), ("P002", "江苏-苏州", True),
                                     ("P003", "浙江-杭州", True), ("P009", "江苏-无锡", False)):
            uow.add(Partner(code=code, name=f"{code}商贸有限公司", tier="A", region=region, active=active))
        uow.add(Sku(code="A100", name="冰泉矿泉水550ml", unit="瓶", pack_unit="箱", pack_size=24, guide_price_fen=125,
                    floor_price_fen=110, safety_stock=480))
        uow.add(Sku(code="D10", name="家用净水器X1", unit="台", pack_unit="台", pack_size=1, guide_price_fen=199900,
                    floor_price_fen=169900, safety_stock=5))
        await uow.commit()


@pytest.fixture
async def net(runtime):
    await seed(runtime)
    return runtime


async def count_shipments(runtime) -> int:
    async with runtime.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Shipment))


def row(qty=20, unit="箱", partner="P001", sku="A100", shipped_on=TODAY, ref=None) -> ShipmentIn:
    return ShipmentIn(partner=partner, sku=sku, qty=qty, unit=unit, shipped_on=shipped_on, ref=ref)


# the service ---------------------------------------------------------------------------------

async def test_quantities_are_stored_in_base_units(net):
    rows = [row(20, "箱"), row(480, None), row(7, "瓶"), row(Decimal("2.5"), "箱"), row(3, "CASE"), row(5, "支"),
            row(3, "台", sku="D10"), row(2, "箱", sku="D10"), row("1,200", "")]
    results = await shipments.record_shipments(net.uow(), actor=ROOT, rows=rows, source="admin")
    assert [r.status for r in results] == ["created"] * 9
    assert [r.qty for r in results] == [480, 480, 7, 60, 72, 5, 3, 2, 1200]
    async with net.uow() as uow:
        stored = (await uow.session.execute(select(Shipment.qty, Shipment.source, Shipment.shipped_on)
                                            .order_by(Shipment.id))).all()
    assert [q for q, _, _ in stored] == [480, 480, 7, 60, 72, 5, 3, 2, 1200]
    assert {(s, d) for _, s, d in stored} == {("admin", TODAY)}


async def test_a_date_left_out_is_today_in_the_configured_timezone(net, clock):
    clock.set(datetime.fromisoformat("2026-11-18T17:30:00+00:00"))  # 01:30 on the 19th in Shanghai
    [res] = await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(shipped_on=None)], source="admin")
    assert res.shipped_on == date(2026, 11, 19)


async def test_every_bad_row_is_named_and_nothing_is_written(net):
    rows = [row(), row(partner="P404"), row(sku="Z9"), row(0), row(-2), row(Decimal("0.5"), "瓶"), row(1, "桶"),
            row(shipped_on=TODAY + timedelta(days=1)), row(partner="P009"), row(ref="R" * 65), row(1, "箱", "p002")]
    with pytest.raises(ShipmentsRejected) as exc:
        await shipments.record_shipments(net.uow(), actor=ROOT, rows=rows, source="import")
    errors = {e.index: e.error for e in exc.value.errors}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert "未知经销商「P404」" in errors[1] and "未知商品「Z9」" in errors[2]
    assert "大于 0" in errors[3] and "大于 0" in errors[4]
    assert "不是整数个瓶" in errors[5] and "单位「桶」" in errors[6] and "瓶、箱" in errors[6]
    assert "晚于今天" in errors[7] and "已停用" in errors[8] and "单号太长" in errors[9]
    assert exc.value.total == 11 and "9 条发货有问题" in exc.value.facts["reason"]
    assert await count_shipments(net) == 0


async def test_a_ref_is_idempotent_and_its_content_is_checked(net):
    first = await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref="DN-1")], source="api")
    again = await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref=" DN-1 "), row(ref="DN-2")],
                                             source="import")
    assert first[0].status == "created" and again[0].status == "duplicate" and again[0].id == first[0].id
    assert again[1].status == "created"
    with pytest.raises(ShipmentsRejected) as exc:
        await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(21, ref="DN-1"), row(ref="DN-3")],
                                         source="api")
    assert [e.index for e in exc.value.errors] == [0] and "内容不同" in exc.value.errors[0].error
    assert await count_shipments(net) == 2  # DN-3 was not written either


async def test_one_ref_twice_in_one_call(net):
    results = await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref="X"), row(ref="X")],
                                               source="import")
    assert [r.status for r in results] == ["created", "duplicate"] and results[0].id == results[1].id
    with pytest.raises(ShipmentsRejected) as exc:
        await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref="Y"), row(2, ref="Y")],
                                         source="import")
    assert [e.index for e in exc.value.errors] == [1] and "与第1条相同但内容不同" in exc.value.errors[0].error


async def test_concurrent_requests_with_one_ref_store_one_row(net):
    async def send(qty, ref="RACE"):
        return await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(qty, "箱", ref=ref)],
                                                source="api")
    outcomes = await asyncio.gather(send(20), send(20), send(20), return_exceptions=True)
    statuses = sorted(o[0].status for o in outcomes)
    assert statuses == ["created", "duplicate", "duplicate"]
    assert len({o[0].id for o in outcomes}) == 1 and await count_shipments(net) == 1
    outcomes = await asyncio.gather(send(1), send(2), return_exceptions=True)
    assert all(isinstance(o, ShipmentsRejected) for o in outcomes) and await count_shipments(net) == 1
    outcomes = await asyncio.gather(send(1, "NEW"), send(2, "NEW"), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["ShipmentsRejected", "list"]
    assert await count_shipments(net) == 2


async def test_scope_managers_ship_to_their_regions_and_partners_not_at_all(net):
    with pytest.raises(ShipmentsRejected) as exc:
        await shipments.record_shipments(net.uow(), actor=ZJ_MGR, rows=[row(partner="P003"), row()], source="admin")
    assert [e.index for e in exc.value.errors] == [1] and "不在您管辖的区域" in exc.value.errors[0].error
    done = await shipments.record_shipments(net.uow(), actor=JS_MGR, rows=[row(), row(partner="P002")],
                                            source="admin")
    assert [r.status for r in done] == ["created", "created"]
    for role in ("member", "owner"):
        clerk = Actor(user_id=None, name="alice", role=role, partner_id=1, partner_code="P001")
        with pytest.raises(NotAllowed):
            await shipments.record_shipments(net.uow(), actor=clerk, rows=[row()], source="admin")
    assert await count_shipments(net) == 2


async def test_each_created_shipment_is_audited(net):
    results = await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref="A-1"), row(3, "瓶")],
                                               source="import")
    await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(ref="A-1")], source="api")  # duplicate
    table = AuditLog.__table__
    async with net.uow() as uow:
        audits = (await uow.session.execute(select(table).where(table.c.action == "shipment.create")
                                            .order_by(table.c.id))).all()
    assert [a.entity_id for a in audits] == [str(r.id) for r in results]
    assert audits[0].after == {"partner": "P001", "sku": "A100", "qty": 480, "shipped_on": "2026-11-18",
                               "ref": "A-1", "source": "import"}
    assert audits[1].channel == "test" and audits[1].before is None


async def test_a_shipment_moves_on_hand_and_announces_the_recovery(net, clock):
    await identities.bind_directly(net.uow(), channel="console", external_id="alice", role="member",
                                   partner_code="P001")
    await stocktakes.record_stocktake(net.uow(), actor=ROOT, partner_code="P001", lines=[CountLine("A100", 100)])
    async with net.uow() as uow:
        low = await uow.session.scalar(select(AlertState.state).where(AlertState.kind == "stock"))
    assert low == "low"
    clock.advance(minutes=5)
    await shipments.record_shipments(net.uow(), actor=ROOT, rows=[row(20, "箱")], source="admin")
    [pos] = await inventory.positions(net.uow(), actor=ROOT, partner_code="P001", sku_code="A100")
    assert pos.on_hand == 580 and pos.status == "ok"
    async with net.uow() as uow:
        state = await uow.session.scalar(select(AlertState.state).where(AlertState.kind == "stock"))
        texts = list(await uow.session.scalars(select(Outbox.text).order_by(Outbox.id)))
    assert state == "ok" and any("库存已恢复" in t for t in texts)


# /ship from chat ----------------------------------------------------------------------------

@pytest.fixture
async def deps(net):
    for who, role, kw in (("root", "admin", {}), ("mgr", "manager", {"regions": ("江苏",)}),
                          ("zmgr", "manager", {"regions": ("浙江",)}), ("alice", "member", {"partner_code": "P001"})):
        await identities.bind_directly(net.uow(), channel="console", external_id=who, role=role, **kw)
    return Deps(uow=net.uow, settings=net.settings)


async def say(deps, who: str, text: str) -> str:
    global _n
    _n += 1
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"ship{_n}")
    return "\n".join(r.text for r in await handle(deps, msg))


async def test_ship_records_in_packs_and_a_repeated_ref_is_a_duplicate(deps, net):
    answer = await say(deps, "root", "/ship P001 A100 20箱 2026-11-15 DN1115-01")
    assert answer.startswith("已记录发货：#1 P001 P001商贸有限公司 · A100 冰泉矿泉水550ml 20箱 · 2026-11-15 · 单号 DN1115-01")
    again = await say(deps, "root", "/ship P001 A100 20箱 2026-11-15 DN1115-01")
    assert again.startswith("已存在（单号重复）") and "#1 " in again
    assert "内容不同" in await say(deps, "root", "/ship P001 A100 21箱 2026-11-15 DN1115-01")
    assert await count_shipments(net) == 1


async def test_ship_reads_mixed_quantities_and_relative_dates(deps, net):
    assert "A100 冰泉矿泉水550ml 8箱5瓶 · 2026-11-17" in await say(deps, "root", "/ship p001 a100 8箱5瓶 昨天")
    assert "20箱 · 2026-11-18" in await say(deps, "root", "/ship P001 A100 480")
    assert "二十" not in await say(deps, "root", "/ship P001 A100 二十箱 今天 R-9")
    assert "5台 · 2026-11-18 · 单号 R-10" in await say(deps, "root", "/ship P002 D10 5台 R-10")
    async with net.uow() as uow:
        assert list(await uow.session.scalars(select(Shipment.qty).order_by(Shipment.id))) == [197, 480, 480, 5]


async def test_ship_refuses_politely(deps, net):
    assert "数量「很多」看不懂" in await say(deps, "root", "/ship P001 A100 很多")
    assert "单位「桶」" in await say(deps, "root", "/ship P001 A100 20桶")
    assert "还没到" in await say(deps, "root", "/ship P001 A100 20箱 明天") or \
        "晚于今天" in await say(deps, "root", "/ship P001 A100 20箱 明天 X")
    assert "没有找到商品「Z9」" in await say(deps, "root", "/ship P001 Z9 20箱")
    assert "不在您管辖的区域" in await say(deps, "zmgr", "/ship P001 A100 20箱")
    assert "已记录发货" in await say(deps, "mgr", "/ship P001 A100 20箱")
    assert "没有权限" in await say(deps, "alice", "/ship P001 A100 20箱")
    assert "/ship 经销商编码" in await say(deps, "root", "/ship P001 A100")
    assert await count_shipments(net) == 1


async def test_ship_help_in_chinese_and_english(deps, net):
    assert "/ship 经销商编码 商品编码 数量 [日期] [单号]" in await say(deps, "root", "/ship help")
    async with net.uow() as uow:
        await uow.session.execute(update(User).values(locale="en"))
        await uow.commit()
    assert "/ship PARTNER SKU QTY [DATE] [REF]" in await say(deps, "root", "/ship help")
    assert (await say(deps, "root", "/ship P001 A100 2箱 R-en")).startswith("Shipment recorded: #1 P001")
    assert (await say(deps, "root", "/ship P001 A100 2箱 R-en")).startswith("Already recorded (duplicate ref)")


# one ref across chat, file and API -------------------------------------------------------------

async def test_one_ref_is_one_shipment_whichever_way_it_comes_in(deps, net, tmp_path):
    assert "已记录发货" in await say(deps, "root", "/ship P001 A100 20箱 2026-11-15 DN-7")
    path = tmp_path / "ship.csv"
    path.write_text("partner,sku,qty,unit,shipped_on,ref\nP001,A100,480,瓶,2026-11-15,DN-7\n"
                    "P002,A100,1,箱,2026-11-15,DN-8\n", encoding="utf-8")
    summary = await imports.import_file(net.uow(), kind="shipments", path=path, actor=ROOT)
    assert (summary.created, summary.unchanged) == (1, 1)
    net.settings.api.keys = [KEY]
    app = create_app(runtime=net, start_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        body = {"shipments": [{"partner": "P001", "sku": "A100", "qty": 20, "unit": "箱", "shipped_on": "2026-11-15",
                               "ref": "DN-7"},
                              {"partner": "P002", "sku": "A100", "qty": 24, "unit": "瓶", "shipped_on": "2026-11-15",
                               "ref": "DN-8"}]}
        r = await client.post("/api/v1/shipments", json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["duplicate", "duplicate"]
        body["shipments"][0]["qty"] = 21
        r = await client.post("/api/v1/shipments", json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 422 and r.json()["errors"][0]["index"] == 0
    assert "内容不同" in await say(deps, "root", "/ship P002 A100 2箱 2026-11-15 DN-8")
    assert await count_shipments(net) == 2
