"""Issue 8, done when: a real WeChat conversation in safe mode — bind with an invite code, report a
sale, confirm, WeChat retrying the confirmation twice — makes exactly one sale, every answer inside
the 5-second window. Two workers (two apps on one database) take the deliveries, as behind a proxy."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from bot.platforms import wechat
from handlers.catalog_cache import MATCHERS
from services import demo, dispatcher, identities
from services.actors import SYSTEM
from storage.models import Outbox, ProcessedMessage, Sale, SaleLine

from wechat_kit import (WechatUser, app_client, event_xml, fake_wechat, fake_wechat_server,  # noqa: F401
                        next_msg_id, sender_for, settle, wechat_runtime)

WINDOW = 5.0


@pytest.fixture
async def workers(db_url, clock, fake_wechat):
    """Two workers' runtimes on one database with the demo catalogue."""
    MATCHERS.invalidate()
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as a, \
            wechat_runtime(db_url, fake_wechat.base_url, clock) as b:
        await demo.load_demo(a.uow(), users=False)
        yield a, b
    MATCHERS.invalidate()


@pytest.fixture
def slow_confirmation(monkeypatch):
    """Makes the confirmation take `delay` seconds before the handler starts (a busy worker)."""
    def install(delay: float) -> list[str]:
        from handlers.all import handle
        seen: list[str] = []

        async def slow(deps, msg):
            if msg.text == "确认":
                seen.append(msg.message_id)
                await asyncio.sleep(delay)
            return await handle(deps, msg)
        monkeypatch.setattr(wechat, "HANDLE", slow)
        return seen
    return install


async def timed(coro):
    started = time.monotonic()
    response = await coro
    return response, time.monotonic() - started


async def bind_and_report(user: WechatUser, rt) -> None:
    invite = await identities.create_invite(rt.uow(), actor=SYSTEM, role="member", partner_code="P001",
                                            user_name="张三")
    welcome = user.read(await user.post(event_xml(user.openid, "subscribe", user.now())))
    assert "绑定 邀请码" in welcome
    assert "绑定成功" in await user.say(f"绑定 {invite.code.lower()}")
    ask = await user.say("报单 A100 20箱 28元 张三超市")
    assert "请确认" in ask and "¥560.00" in ask and "张三超市" in ask
    assert ask.count("「确认」") == 1 and "「取消」" in ask  # says what to reply (once: no extra hint)


async def sales_of(rt) -> list[tuple]:
    async with rt.uow() as uow:
        return [tuple(r) for r in await uow.session.execute(
            select(Sale.customer, Sale.status, SaleLine.qty, SaleLine.amount_fen)
            .join(SaleLine, SaleLine.sale_id == Sale.id))]


async def test_confirmation_retried_twice_across_workers_makes_one_sale(workers, clock, slow_confirmation):
    a, b = workers
    handled = slow_confirmation(0.5)
    async with app_client(a) as ca, app_client(b) as cb:
        user_a, user_b = WechatUser(ca, clock), WechatUser(cb, clock)
        await bind_and_report(user_a, a)
        confirm = user_a.text("确认")
        first = asyncio.create_task(timed(user_a.post(confirm)))
        await asyncio.sleep(0.1)
        retry_elsewhere = await timed(user_b.post(confirm))   # WeChat's retry while the first is in flight
        first = await first
        retry_here = await timed(user_a.post(confirm))         # and once more after it answered
    answers = [user_a.read(r) for r, _ in (first, retry_elsewhere, retry_here)]
    assert all(elapsed < WINDOW for _, elapsed in (first, retry_elsewhere, retry_here))
    assert "已记录报单" in answers[0] and answers == [answers[0]] * 3
    assert await sales_of(a) == [("张三超市", "confirmed", 480, 56000)]
    assert len(handled) == 2  # one per worker: the second found the first's record and ran nothing
    async with a.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ProcessedMessage).where(
            ProcessedMessage.message_id == handled[0])) == 1


async def test_confirmation_past_the_window_is_answered_once_by_customer_service(workers, clock, slow_confirmation,
                                                                                  fake_wechat, monkeypatch):
    a, b = workers
    for worker in workers:
        monkeypatch.setattr(worker.settings.wechat, "reply_deadline_seconds", 0.3)
    slow_confirmation(0.8)
    async with app_client(a) as ca, app_client(b) as cb:
        user_a, user_b = WechatUser(ca, clock), WechatUser(cb, clock)
        await bind_and_report(user_a, a)
        confirm = user_a.text("确认")
        first = await timed(user_a.post(confirm))             # past the window: empty at once
        retry_here = await timed(user_a.post(confirm))        # WeChat's retry while the handler runs
        await settle()
        retry_elsewhere = await timed(user_b.post(confirm))   # a retry on another worker after it finished
    assert [user_a.read(r) for r, _ in (first, retry_here, retry_elsewhere)] == [None, None, None]
    assert all(elapsed < 1.0 for _, elapsed in (first, retry_here, retry_elsewhere))
    assert await sales_of(a) == [("张三超市", "confirmed", 480, 56000)]
    async with a.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Outbox)) == 1
    async with sender_for(a) as sender_a, sender_for(b) as sender_b:
        await dispatcher.drain(a.uow, {"wechat": sender_a}, worker="a")
        await dispatcher.drain(b.uow, {"wechat": sender_b}, worker="b")
    (sent,) = fake_wechat.texts()
    assert "已记录报单" in sent and len(fake_wechat.token_requests) == 1
