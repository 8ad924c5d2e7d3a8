"""Channel conflict (窜货 / 撞单) on confirmation: a sale to a customer another partner holds a live
claim on is flagged — `region` when the holder's region lies outside the seller's, `claim` when inside
— with evidence, sale flags and pushes; weak name matches, released claims and the seller's own
approved claim flag nothing; an undo voids it; the export leaves price columns empty."""
from __future__ import annotations

import csv
import itertools
from datetime import date

import pytest
from sqlalchemy import delete, select

from services import claims, demo, exports, identities
from services import sales as sales_service
from storage.models import Outbox, Partner, Sale, Violation

_keys = itertools.count()
TODAY = date(2026, 11, 18)


@pytest.fixture
async def people(runtime):
    await demo.load_demo(runtime.uow(), users=False)
    async with runtime.uow() as uow:   # a province-level distributor whose region covers 江苏-南京
        uow.add(Partner(code="P004", name="江苏总经销有限公司", tier="A", region="江苏", created_at=uow.now()))
        await uow.commit()
    out = {}
    for who, role, partner, regions in (("alice", "member", "P001", ()), ("bob", "member", "P002", ()),
                                        ("carol", "member", "P003", ()), ("dave", "member", "P004", ()),
                                        ("mgr", "manager", None, ("江苏",)), ("zmgr", "manager", None, ("浙江",))):
        out[who] = await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                                  partner_code=partner, regions=regions)
    return out


async def claim(runtime, actor, customer):
    return await claims.submit_claim(runtime.uow(), actor=actor, customer=customer, idempotency_key=f"c{next(_keys)}")


async def sell(runtime, actor, customer, amount=9000):
    draft = sales_service.SaleDraft(customer, TODAY, (sales_service.LineDraft("B100", 30, amount),))
    return await sales_service.record_sale(runtime.uow(), actor=actor, draft=draft, idempotency_key=f"s{next(_keys)}")


async def pushes(runtime):
    async with runtime.uow() as uow:
        rows = [(r.target, r.text) for r in (await uow.session.scalars(select(Outbox).order_by(Outbox.id))).all()]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return rows


async def test_sale_into_another_territorys_claimed_customer_is_flagged(runtime, people):
    held = await claim(runtime, people["alice"], "南京好邻居商贸有限公司")
    await pushes(runtime)
    result = await sell(runtime, people["bob"], "好邻居商贸（南京）有限公司")
    (v,) = result.violations
    assert (v.kind, v.status, v.level) == ("region", "open", 1)
    e = v.evidence
    assert (e["claim_id"], e["holder"], e["holder_region"], e["seller_region"], e["reason"], e["score"]) == \
        (held.claim.id, "P001", "江苏-南京", "江苏-苏州", "name", 1.0)
    async with runtime.uow() as uow:
        sale = await uow.session.get(Sale, result.id)
        assert sale.flags == [{"kind": "cross_region", "violation_id": v.id, "claim_id": held.claim.id,
                               "holder": "P001"}]
        assert sale.status == "confirmed"   # recorded, never blocked
    (push,) = await pushes(runtime)          # 江苏-苏州 and 江苏-南京 have the same manager: one push
    assert push[0] == "mgr" and f"窜货 #{v.id}" in push[1] and "P001 南京冰泉商贸有限公司（江苏-南京）" in push[1]


async def test_cross_province_sale_reaches_both_regions_managers(runtime, people):
    await claim(runtime, people["alice"], "南京好邻居商贸有限公司")
    await pushes(runtime)
    await sell(runtime, people["carol"], "南京好邻居商贸有限公司")
    assert sorted(t for t, _ in await pushes(runtime)) == ["mgr", "zmgr"]


async def test_claimed_customer_inside_the_sellers_region_is_a_claim_conflict(runtime, people):
    await claim(runtime, people["alice"], "南京好邻居商贸有限公司")
    result = await sell(runtime, people["dave"], "好临居商贸")   # the same sound: 0.95
    (v,) = result.violations
    assert v.kind == "claim" and v.evidence["score"] == 0.95 and v.evidence["seller_region"] == "江苏"


async def test_weak_matches_released_claims_and_own_claims_flag_nothing(runtime, people):
    alice, bob, mgr = people["alice"], people["bob"], people["mgr"]
    await claim(runtime, alice, "南京好又多家乐超市")
    assert (await sell(runtime, bob, "好又多家福超市")).violations == ()      # one typo: score 0.8, too weak
    assert (await sell(runtime, bob, "好邻居便利店")).violations == ()
    assert (await sell(runtime, alice, "南京好又多家乐超市")).violations == ()  # its own claim
    held = await claim(runtime, alice, "南京好邻居商贸有限公司")
    mine = await claim(runtime, bob, "南京好邻居商贸有限公司")
    assert mine.outcome == "pending"
    assert (await sell(runtime, bob, "南京好邻居商贸有限公司")).violations[0].kind == "region"  # pending is not yet his
    await claims.decide(runtime.uow(), actor=mgr, claim_id=mine.claim.id, decision="approve", reason="不同门店")
    assert (await sell(runtime, bob, "南京好邻居商贸有限公司")).violations == ()  # approved alongside
    await claims.release(runtime.uow(), actor=alice, claim_id=held.claim.id)
    assert (await sell(runtime, people["carol"], "南京好邻居商贸有限公司")).violations[0].evidence["holder"] == "P002"


async def test_price_and_conflict_together_and_undo_voids_both(runtime, people):
    await claim(runtime, people["alice"], "南京好邻居商贸有限公司")
    result = await sell(runtime, people["bob"], "南京好邻居商贸有限公司", amount=7200)   # ¥2.40 < ¥2.70
    assert [v.kind for v in result.violations] == ["price", "region"]
    undone = await sales_service.undo_last(runtime.uow(), actor=people["bob"])
    assert [v.kind for v in undone.voided] == ["price", "region"]
    async with runtime.uow() as uow:
        assert (await uow.session.scalars(select(Violation.status))).all() == ["voided", "voided"]


async def test_export_leaves_price_columns_empty_for_conflicts(runtime, people, tmp_path):
    await claim(runtime, people["alice"], "南京好邻居商贸有限公司")
    await sell(runtime, people["bob"], "南京好邻居商贸有限公司", amount=7200)
    path = tmp_path / "v.csv"
    await exports.export_file(runtime.uow(), kind="violations", path=path, actor=people["mgr"])
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[1:] == [["1", "P002", "B100", "2026-11-18", "2.40", "2.70", "11.11", "2", "open"],
                        ["1", "P002", "", "2026-11-18", "", "", "", "1", "open"]]
    xlsx = tmp_path / "v.xlsx"
    assert (await exports.export_file(runtime.uow(), kind="violations", path=xlsx, actor=people["mgr"])).rows == 2
