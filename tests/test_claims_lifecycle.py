"""Customer claims (报备) through the service: approve when free, wait for a manager on conflict,
decisions, extension, release, expiry reminders, scope — with what landed in the outbox."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

from scheduler import jobs
from services import claims, demo, identities
from services.errors import InvalidInput, NotAllowed
from storage.models import AuditLog, CustomerClaim, Outbox

from conftest import START

USCC_A = "91320100MA1N2B3C40"
USCC_B = "91320500MA1P7Q8R95"
DAYS90 = timedelta(days=90)


@pytest.fixture
async def net(runtime):
    await demo.load_demo(runtime.uow(), users=False)

    async def bind(who, role, partner=None, regions=()):
        return await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                              partner_code=partner, regions=regions)
    return SimpleNamespace(alice=await bind("alice", "member", "P001"), boss=await bind("boss", "owner", "P001"),
                           bob=await bind("bob", "member", "P002"), carol=await bind("carol", "member", "P003"),
                           mgr=await bind("mgr", "manager", regions=("江苏",)),
                           zmgr=await bind("zmgr", "manager", regions=("浙江",)), root=await bind("root", "admin"))


_keys = iter(range(10**6))


async def submit(runtime, actor, customer, **kw):
    return await claims.submit_claim(runtime.uow(), actor=actor, customer=customer, idempotency_key=f"k{next(_keys)}",
                                     **kw)


async def pushes(runtime) -> list[tuple[str, str, tuple[str, ...]]]:
    """What the outbox holds (target, text, buttons), emptied for the next look."""
    async with runtime.uow() as uow:
        rows = (await uow.session.scalars(select(Outbox).order_by(Outbox.id))).all()
        out = [(r.target, r.text, tuple(r.payload.get("buttons", ()))) for r in rows]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return out


async def row(runtime, claim_id) -> SimpleNamespace:
    """The claim's columns, read in a unit of work of its own."""
    async with runtime.uow() as uow:
        c = await uow.session.get(CustomerClaim, claim_id)
        return SimpleNamespace(**{col.key: getattr(c, col.key) for col in CustomerClaim.__table__.columns})


async def test_free_customer_is_approved_with_90_days_protection_and_audited(runtime, net):
    result = await submit(runtime, net.alice, "南京好邻居商贸有限公司", phone="139-1234-5678", uscc=USCC_A)
    assert result.outcome == "approved" and result.created and result.conflict is None
    c = await row(runtime, result.claim.id)
    assert (c.status, c.phone, c.uscc, c.expires_at) == ("approved", "13912345678", USCC_A, START + DAYS90)
    assert c.brand_key  # the blocking keys are stored with the claim
    assert await pushes(runtime) == []
    async with runtime.uow() as uow:
        actions = (await uow.session.scalars(select(AuditLog.action).where(AuditLog.entity == "customer_claim"))).all()
    assert actions == ["claim.create"]


@pytest.mark.parametrize("first, second, reason, words", [
    (("南京好邻居商贸有限公司", {}), ("好邻居商贸（南京）有限公司", {}), "name", "公司名称相近"),
    (("南京好邻居商贸有限公司", {"phone": "13912345678"}), ("张记烟酒店", {"phone": "+86 139 1234 5678"}), "phone",
     "联系电话相同"),
    (("南京好邻居商贸有限公司", {"uscc": USCC_A}), ("老王批发部", {"uscc": USCC_A.lower()}), "uscc", "统一社会信用代码相同"),
])
async def test_conflict_waits_for_the_regions_managers_with_reason_and_buttons(runtime, net, first, second, reason,
                                                                             words):
    old = await submit(runtime, net.alice, first[0], **first[1])
    new = await submit(runtime, net.bob, second[0], **second[1])
    assert new.outcome == "pending" and new.conflict.reason == reason and new.conflict.claim.id == old.claim.id
    c = await row(runtime, new.claim.id)
    assert (c.status, c.conflict_with_id, c.conflict_reason, c.expires_at) == ("pending", old.claim.id, reason, None)
    (push,) = await pushes(runtime)
    target, text, buttons = push
    assert target == "mgr"  # 江苏's manager, not 浙江's
    assert words in text and "P001" in text and "P002" in text and first[0] in text and second[0] in text
    assert "2026-11-18 起" in text and "保护至 2027-02-16" in text
    n = new.claim.id
    assert buttons == (f"通过 #{n}", f"驳回 #{n}", f"退回 #{n}")


async def test_reclaiming_its_own_customer_says_it_is_already_theirs(runtime, net):
    first = await submit(runtime, net.alice, "南京好邻居商贸有限公司")
    again = await submit(runtime, net.boss, "好邻居商贸(南京)有限公司")
    assert again.outcome == "already_yours" and again.claim.id == first.claim.id and not again.created
    async with runtime.uow() as uow:
        assert len((await uow.session.scalars(select(CustomerClaim))).all()) == 1
    assert await pushes(runtime) == []


async def test_same_idempotency_key_makes_one_claim(runtime, net):
    one = await claims.submit_claim(runtime.uow(), actor=net.alice, customer="南京好邻居商贸有限公司", idempotency_key="wx-1")
    two = await claims.submit_claim(runtime.uow(), actor=net.alice, customer="南京好邻居商贸有限公司", idempotency_key="wx-1")
    assert one.claim.id == two.claim.id and one.created and not two.created and two.outcome == "approved"


async def test_invalid_uscc_or_phone_is_refused_with_the_reason(runtime, net):
    with pytest.raises(InvalidInput) as bad:
        await submit(runtime, net.alice, "南京好邻居商贸有限公司", uscc=USCC_A[:-1] + "1")
    assert bad.value.facts["reason"]
    with pytest.raises(InvalidInput):
        await submit(runtime, net.alice, "南京好邻居商贸有限公司", phone="12345")
    with pytest.raises(InvalidInput):
        await submit(runtime, net.alice, " 好 ")
    with pytest.raises(NotAllowed):
        await submit(runtime, net.mgr, "南京好邻居商贸有限公司")


async def _conflicted(runtime, net):
    old = await submit(runtime, net.alice, "南京好邻居商贸有限公司", uscc=USCC_A)
    new = await submit(runtime, net.bob, "南京好邻居商贸", uscc=USCC_A)
    await pushes(runtime)
    return old.claim.id, new.claim.id


async def test_approving_a_conflict_protects_from_now_and_keeps_the_existing_claim(runtime, net, clock):
    old, new = await _conflicted(runtime, net)
    clock.advance(days=2)
    info = await claims.decide(runtime.uow(), actor=net.mgr, claim_id=new, decision="approve", reason="分属不同门店")
    assert info.status == "approved" and info.expires_at == START + timedelta(days=2) + DAYS90
    assert (await row(runtime, old)).status == "approved"
    (push,) = await pushes(runtime)
    assert push[0] == "bob" and "已通过" in push[1] and "分属不同门店" in push[1] and f"#{old}" in push[1]
    async with runtime.uow() as uow:
        audit = (await uow.session.execute(select(AuditLog.user_id, AuditLog.before, AuditLog.after)
                                           .where(AuditLog.action == "claim.approve"))).one()
    assert audit.user_id == net.mgr.user_id and audit.before["status"] == "pending"
    assert audit.after["coexists_with"] == {"id": old, "partner": "P001", "status": "approved"}


@pytest.mark.parametrize("decision, status, words", [("reject", "rejected", "未通过"), ("return", "returned", "退回")])
async def test_rejecting_or_returning_tells_the_partner_why(runtime, net, decision, status, words):
    _, new = await _conflicted(runtime, net)
    info = await claims.decide(runtime.uow(), actor=net.root, claim_id=new, decision=decision, reason="请补充门店地址")
    assert info.status == status and info.expires_at is None
    (push,) = await pushes(runtime)
    assert push[0] == "bob" and words in push[1] and "请补充门店地址" in push[1]
    with pytest.raises(claims.ClaimState):
        await claims.decide(runtime.uow(), actor=net.mgr, claim_id=new, decision="approve")


async def test_only_a_manager_of_the_partners_region_decides(runtime, net):
    _, new = await _conflicted(runtime, net)
    for actor in (net.zmgr, net.alice, net.bob):
        with pytest.raises(NotAllowed):
            await claims.decide(runtime.uow(), actor=actor, claim_id=new, decision="approve")
    assert (await row(runtime, new)).status == "pending"
    assert [c.id for c in await claims.my_claims(runtime.uow(), actor=net.mgr)] == [new]
    assert await claims.my_claims(runtime.uow(), actor=net.zmgr) == []


async def test_extension_approved_adds_a_protection_period_and_tells_the_partner(runtime, net, clock):
    claim = (await submit(runtime, net.alice, "南京好邻居商贸有限公司")).claim
    clock.advance(days=80)
    await claims.request_extension(runtime.uow(), actor=net.alice, claim_id=claim.id)
    with pytest.raises(claims.ExtensionPending):
        await claims.request_extension(runtime.uow(), actor=net.boss, claim_id=claim.id)
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and "延期申请" in push[1] and push[2] == (f"同意延期 #{claim.id}", f"拒绝延期 #{claim.id}")
    with pytest.raises(NotAllowed):
        await claims.decide_extension(runtime.uow(), actor=net.zmgr, claim_id=claim.id, decision="approve")
    info = await claims.decide_extension(runtime.uow(), actor=net.mgr, claim_id=claim.id, decision="approve")
    assert info.expires_at == START + DAYS90 + DAYS90 and info.extension_requested_at is None
    (push,) = await pushes(runtime)
    assert push[0] == "alice" and "延期已批准" in push[1] and "2027-05-17" in push[1]
    with pytest.raises(NotAllowed):
        await claims.request_extension(runtime.uow(), actor=net.bob, claim_id=claim.id)


async def test_release_frees_the_customer_for_another_partner(runtime, net):
    old, new = await _conflicted(runtime, net)
    with pytest.raises(NotAllowed):
        await claims.release(runtime.uow(), actor=net.bob, claim_id=old)
    info = await claims.release(runtime.uow(), actor=net.alice, claim_id=old)
    assert info.status == "released"
    (push,) = await pushes(runtime)  # bob's claim still waits; the managers hear it no longer clashes
    assert push[0] == "mgr" and f"#{new}" in push[1]
    carol = await submit(runtime, net.carol, "南京好邻居商贸有限公司", uscc=USCC_A)
    assert carol.outcome == "pending" and carol.conflict.claim.id == new  # bob's pending claim is live
    await claims.release(runtime.uow(), actor=net.bob, claim_id=new)
    await claims.release(runtime.uow(), actor=net.carol, claim_id=carol.claim.id)
    again = await submit(runtime, net.carol, "南京好邻居商贸有限公司", uscc=USCC_A)
    assert again.outcome == "approved"
    with pytest.raises(claims.ClaimState):
        await claims.release(runtime.uow(), actor=net.alice, claim_id=old)


async def test_reminders_7_and_1_days_before_expiry_exactly_once_then_expiry(runtime, net, clock):
    claim = (await submit(runtime, net.alice, "南京好邻居商贸有限公司")).claim
    await submit(runtime, net.bob, "苏州好日子便利店")
    await pushes(runtime)

    async def run_at(days_before):
        clock.set(START + DAYS90 - timedelta(days=days_before))
        return await claims.expire_and_remind(runtime.uow()), await pushes(runtime)

    assert await run_at(8) == (claims.ExpiryResult(0, 0), [])
    result, sent = await run_at(7)
    assert result == claims.ExpiryResult(2, 0) and sorted(t for t, _, _ in sent) == ["alice", "bob"]
    assert "还有 7 天" in sent[0][1] and f"延期 {claim.id}" in sent[0][1]
    assert await run_at(7) == (claims.ExpiryResult(0, 0), [])
    assert await run_at(3) == (claims.ExpiryResult(0, 0), [])
    result, sent = await run_at(1)
    assert result.reminded == 2 and "明天" in sent[0][1]
    assert await run_at(1) == (claims.ExpiryResult(0, 0), [])
    result, sent = await run_at(0)
    assert result == claims.ExpiryResult(0, 2) and "已于 2027-02-16 到期" in sent[0][1]
    assert (await row(runtime, claim.id)).status == "expired"
    assert await run_at(-1) == (claims.ExpiryResult(0, 0), [])
    assert (await submit(runtime, net.bob, "南京好邻居商贸有限公司")).outcome == "approved"


async def test_a_past_due_claim_protects_nothing_before_the_job_runs(runtime, net, clock):
    await submit(runtime, net.alice, "南京好邻居商贸有限公司")
    clock.set(START + DAYS90 + timedelta(hours=1))
    assert (await submit(runtime, net.bob, "南京好邻居商贸有限公司")).outcome == "approved"


async def test_an_extension_resets_the_reminders(runtime, net, clock):
    claim = (await submit(runtime, net.alice, "南京好邻居商贸有限公司")).claim
    clock.set(START + DAYS90 - timedelta(days=7))
    assert (await claims.expire_and_remind(runtime.uow())).reminded == 1
    await claims.request_extension(runtime.uow(), actor=net.alice, claim_id=claim.id)
    await claims.decide_extension(runtime.uow(), actor=net.mgr, claim_id=claim.id, decision="approve")
    clock.set(START + DAYS90 + DAYS90 - timedelta(days=7))
    assert (await claims.expire_and_remind(runtime.uow())).reminded == 1


async def test_my_claims_lists_a_partners_live_claims_soonest_expiry_first(runtime, net, clock):
    a = (await submit(runtime, net.alice, "南京好邻居商贸有限公司")).claim
    clock.advance(days=1)
    b = (await submit(runtime, net.boss, "南京大华超市有限公司")).claim
    await submit(runtime, net.bob, "苏州好日子便利店")
    assert [c.id for c in await claims.my_claims(runtime.uow(), actor=net.alice)] == [a.id, b.id]
    await claims.release(runtime.uow(), actor=net.alice, claim_id=a.id)
    assert [c.id for c in await claims.my_claims(runtime.uow(), actor=net.boss)] == [b.id]


async def test_claim_expiry_job_is_registered_at_nine(runtime, net):
    assert jobs.get_job("claim_expiry").default_cron == "0 9 * * *"
    assert await jobs.run_job(runtime, "claim_expiry") == "claim_expiry: 0 reminded, 0 expired"
