"""The ERP API under /api/v1: bearer keys, body cap, malformed bodies, shipments all-or-none with
duplicates, inventory and sales out, and the OpenAPI document."""
from __future__ import annotations

import logging
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import Runtime
from bot.web import create_app
from services import stocktakes
from services.actors import Actor
from services.config import Settings
from services.stocktakes import CountLine
from storage.db import make_engine
from storage.models import Partner, Sale, SaleLine, Shipment, Sku

KEY = "k-7f3a9c0e1d2b4a68"
OTHER_KEY = "k-second-key-for-rotation"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = Actor(user_id=None, name="root", role="admin", channel="test")
ROW = {"partner": "P001", "sku": "A100", "qty": 20, "unit": "箱", "shipped_on": "2026-11-15", "ref": "DN-1"}


@pytest.fixture
async def rt(db_url, clock):
    runtime = Runtime(settings=Settings(database={"url": db_url}, api={"keys": [KEY, OTHER_KEY]}),
                      engine=make_engine(db_url), clock=clock)
    async with runtime.uow() as uow:
        uow.add(Partner(code="P001", name="南京冰泉商贸有限公司", tier="A", region="江苏-南京"))
        uow.add(Partner(code="P003", name="杭州清流供应链有限公司", tier="B", region="浙江-杭州"))
        uow.add(Sku(code="A100", name="冰泉矿泉水550ml", unit="瓶", pack_unit="箱", pack_size=24, guide_price_fen=125,
                    floor_price_fen=110, safety_stock=480))
        await uow.commit()
    yield runtime
    await runtime.dispose()


@pytest.fixture
async def client(rt):
    app = create_app(runtime=rt, start_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def shipments_stored(rt) -> int:
    async with rt.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Shipment))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": f"Bearer {KEY}x"}, {"Authorization": "Bearer "}])
async def test_a_missing_or_wrong_key_is_401_json(client, rt, headers, caplog):
    caplog.set_level(logging.DEBUG)
    for method, path in (("POST", "/api/v1/shipments"), ("GET", "/api/v1/inventory"), ("GET", "/api/v1/sales")):
        r = await client.request(method, path, headers=headers, json={"shipments": [ROW]})
        assert r.status_code == 401, (path, r.text)
        assert r.headers["content-type"] == "application/json" and "API key" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
    assert await shipments_stored(rt) == 0
    assert KEY not in caplog.text


async def test_every_configured_key_works_and_no_keys_means_no_access(client, rt):
    r = await client.get("/api/v1/inventory", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert r.status_code == 200
    rt.settings.api.keys = []
    assert (await client.get("/api/v1/inventory", headers=AUTH)).status_code == 401


async def test_an_oversized_body_is_413(db_url, clock):
    settings = Settings(database={"url": db_url}, api={"keys": [KEY], "max_body_bytes": 2000})
    runtime = Runtime(settings=settings, engine=make_engine(db_url), clock=clock)
    try:
        app = create_app(runtime=runtime, start_background=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            r = await c.post("/api/v1/shipments", headers=AUTH, json={"shipments": [ROW] * 40})
    finally:
        await runtime.dispose()
    assert r.status_code == 413 and r.json() == {"detail": "request body over 2000 bytes"}


@pytest.mark.parametrize("body,field", [
    ({"shipments": [{k: v for k, v in ROW.items() if k != "qty"}]}, "qty"),
    ({"shipments": [{**ROW, "qty": "twenty"}]}, "qty"),
    ({"shipments": [{**ROW, "shipped_on": "15/11/2026"}]}, "shipped_on"),
    ({"shipments": [{**ROW, "colour": "red"}]}, "colour"),
    ({"shipments": []}, "shipments"),
    ({"rows": [ROW]}, "shipments"),
])
async def test_a_malformed_body_is_422_naming_the_field(client, rt, body, field):
    r = await client.post("/api/v1/shipments", headers=AUTH, json=body)
    assert r.status_code == 422
    assert any(field in map(str, err["loc"]) for err in r.json()["detail"]), r.text
    assert await shipments_stored(rt) == 0


async def test_a_body_that_is_not_json_is_422(client):
    r = await client.post("/api/v1/shipments", headers={**AUTH, "content-type": "application/json"}, content=b"{oops")
    assert r.status_code == 422


async def test_shipments_are_created_then_duplicates(client, rt):
    body = {"shipments": [ROW, {**ROW, "qty": "2.5", "ref": "DN-2"}, {**ROW, "unit": None, "qty": 7, "ref": None}]}
    r = await client.post("/api/v1/shipments", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["created"], first["duplicates"]) == (3, 0)
    assert [(x["index"], x["status"], x["error"]) for x in first["results"]] == \
        [(0, "created", None), (1, "created", None), (2, "created", None)]
    r = await client.post("/api/v1/shipments", headers=AUTH, json={"shipments": body["shipments"][:2]})
    again = r.json()
    assert r.status_code == 200 and (again["created"], again["duplicates"]) == (0, 2)
    assert [x["id"] for x in again["results"]] == [x["id"] for x in first["results"][:2]]
    async with rt.uow() as uow:
        stored = (await uow.session.execute(select(Shipment.qty, Shipment.source).order_by(Shipment.id))).all()
    assert [tuple(s) for s in stored] == [(480, "api"), (60, "api"), (7, "api")]


async def test_any_bad_row_is_422_with_every_row_error_and_nothing_written(client, rt):
    body = {"shipments": [{**ROW, "ref": "OK-1"}, {**ROW, "partner": "P404"}, {**ROW, "qty": "0.5", "unit": "瓶"},
                          {**ROW, "shipped_on": "2026-11-19"}]}
    r = await client.post("/api/v1/shipments", headers=AUTH, json=body)
    assert r.status_code == 422
    answer = r.json()
    assert answer["detail"] == "3 of 4 rows rejected; nothing was recorded"
    assert [(e["index"], e["status"]) for e in answer["errors"]] == [(1, "error"), (2, "error"), (3, "error")]
    assert "P404" in answer["errors"][0]["error"] and "晚于今天" in answer["errors"][2]["error"]
    assert await shipments_stored(rt) == 0


async def test_inventory_by_partner(client, rt, clock):
    await stocktakes.record_stocktake(rt.uow(), actor=ROOT, partner_code="P001", lines=[CountLine("A100", 100)])
    clock.advance(minutes=1)
    assert (await client.post("/api/v1/shipments", headers=AUTH,
                              json={"shipments": [{**ROW, "shipped_on": "2026-11-18"}]})).status_code == 200
    r = await client.get("/api/v1/inventory", headers=AUTH, params={"partner": "P001"})
    assert r.status_code == 200
    assert r.json() == {"positions": [{"partner": "P001", "sku": "A100", "on_hand": 580, "unit": "瓶",
                                       "safety_stock": 480, "days_of_cover": None, "reorder_qty": 0,
                                       "status": "ok"}]}
    r = await client.get("/api/v1/inventory", headers=AUTH, params={"partner": "P404"})
    assert r.status_code == 404 and r.json() == {"detail": "unknown partner P404"}


async def test_sales_lines_with_yuan_strings_filters_and_pages(client, rt):
    async with rt.uow() as uow:
        for i, (partner_id, sold_on) in enumerate([(1, date(2026, 11, 10)), (1, date(2026, 11, 16)),
                                                   (2, date(2026, 11, 16)), (1, date(2026, 11, 17))]):
            uow.add(Sale(partner_id=partner_id, customer=f"客户{i}", sold_on=sold_on, flags=["below_floor"] if i else [],
                         created_at=uow.now(), lines=[SaleLine(sku_id=1, qty=480, amount_fen=56000 + i)]))
        await uow.commit()
    r = await client.get("/api/v1/sales", headers=AUTH, params={"from": "2026-11-15", "to": "2026-11-17",
                                                               "partner": "P001"})
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert [ln["customer"] for ln in lines] == ["客户1", "客户3"] and r.json()["next_after"] is None
    assert lines[0] == {"id": 2, "sale_id": 2, "partner": "P001", "sku": "A100", "qty": 480, "unit": "瓶",
                        "amount": "560.01", "customer": "客户1", "sold_on": "2026-11-16", "status": "confirmed",
                        "flags": ["below_floor"]}
    page = (await client.get("/api/v1/sales", headers=AUTH, params={"limit": 3})).json()
    assert [ln["amount"] for ln in page["lines"]] == ["560.00", "560.01", "560.02"] and page["next_after"] == 3
    rest = (await client.get("/api/v1/sales", headers=AUTH, params={"after": 3})).json()
    assert [ln["id"] for ln in rest["lines"]] == [4] and rest["next_after"] is None
    bad = await client.get("/api/v1/sales", headers=AUTH, params={"from": "2026-11-17", "to": "2026-11-01"})
    assert bad.status_code == 422 and "晚于" in bad.json()["detail"]
    assert (await client.get("/api/v1/sales", headers=AUTH, params={"from": "yesterday"})).status_code == 422


async def test_openapi_documents_the_paths_models_and_bearer_auth(client):
    doc = (await client.get("/openapi.json")).json()
    assert {"/api/v1/shipments", "/api/v1/inventory", "/api/v1/sales"} <= set(doc["paths"])
    post = doc["paths"]["/api/v1/shipments"]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ShipmentsAnswer")
    assert {"401", "422"} <= set(post["responses"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"ShipmentItem", "InventoryAnswer", "SalesAnswer", "RowResult"} <= set(doc["components"]["schemas"])
    assert (await client.get("/docs")).status_code == 200
