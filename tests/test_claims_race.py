"""Two partners claiming one customer at the same instant: exactly one wins, on SQLite and PostgreSQL.
Each claimant has its own engine (as two workers would), so the transactions really overlap."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime
from services import claims, demo, identities
from storage.db import make_engine
from storage.models import CustomerClaim, Partner

NAMES = ("南京好邻居商贸有限公司", "好邻居商贸(南京)有限公司", "南京市好邻居商贸有限责任公司", "好邻居商贸有限公司",
         "南京好邻居商贸", "好邻居(南京)商贸有限公司")


@pytest.fixture
async def workers(settings, clock, runtime):
    """Six runtimes on one database; six partners of 江苏 with one member each."""
    await demo.load_demo(runtime.uow(), users=False)
    async with runtime.uow() as uow:
        for i in range(4, 10):
            uow.add(Partner(code=f"P00{i}", name=f"第{i}经销商", tier="B", region="江苏-南京"))
        await uow.commit()
    actors = [await identities.bind_directly(runtime.uow(), channel="console", external_id=f"u{i}", role="member",
                                             partner_code=f"P00{i}") for i in range(1, 7)]
    rts = [Runtime(settings=settings, engine=make_engine(settings.database.url), clock=clock) for _ in actors]
    yield list(zip(rts, actors))
    for rt in rts:
        await rt.dispose()


async def live(runtime) -> list[tuple[str, str, int | None]]:
    async with runtime.uow() as uow:
        rows = await uow.session.execute(select(CustomerClaim.status, Partner.code, CustomerClaim.conflict_with_id)
                                         .join(Partner, Partner.id == CustomerClaim.partner_id)
                                         .order_by(CustomerClaim.id))
        return [tuple(r) for r in rows]


async def test_second_claim_waits_for_the_first_and_becomes_a_conflict(workers, runtime):
    (rt_a, alice), (rt_b, bob) = workers[:2]
    uow_a = rt_a.uow()
    async with uow_a:  # A's transaction stays open after its claim: B must wait for it
        a = await claims.submit_claim(uow_a, actor=alice, customer=NAMES[0], idempotency_key="a")
        b_task = asyncio.create_task(claims.submit_claim(rt_b.uow(), actor=bob, customer=NAMES[1], idempotency_key="b"))
        await asyncio.sleep(0.5)
        assert not b_task.done(), "the second claim of the same customer did not wait for the first"
        await uow_a.commit()
    b = await asyncio.wait_for(b_task, 10)
    assert a.outcome == "approved" and b.outcome == "pending" and b.conflict.claim.id == a.claim.id
    assert await live(runtime) == [("approved", "P001", None), ("pending", "P002", a.claim.id)]


async def test_many_partners_claiming_at_once_exactly_one_is_approved(workers, runtime):
    results = await asyncio.gather(*(
        claims.submit_claim(rt.uow(), actor=actor, customer=name, idempotency_key=f"k{i}")
        for i, ((rt, actor), name) in enumerate(zip(workers, NAMES))))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["approved"] + ["pending"] * 5
    winner = next(r for r in results if r.outcome == "approved")
    assert all(r.conflict.claim.id == winner.claim.id for r in results if r.outcome == "pending")
    assert [s for s, _, _ in await live(runtime)].count("approved") == 1


async def test_claims_of_different_customers_do_not_wait_for_each_other(workers, runtime, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time by design")
    (rt_a, alice), (rt_b, bob) = workers[:2]
    uow_a = rt_a.uow()
    async with uow_a:
        await claims.submit_claim(uow_a, actor=alice, customer=NAMES[0], idempotency_key="a")
        b = await asyncio.wait_for(claims.submit_claim(rt_b.uow(), actor=bob, customer="苏州大润超市有限公司",
                                                       idempotency_key="b"), 3)
        await uow_a.commit()
    assert b.outcome == "approved"
