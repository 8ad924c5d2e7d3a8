"""WeChat outbound: the shared access token (stable_token, cached in the database for every worker,
refreshed early and on 42001 without a stampede), customer-service messages inside the 48-hour
window, template messages outside it, and undeliverable messages falling back to other channels."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.platforms import _shared_token
from services import dispatcher, outbox
from services.outbox import OutboundMessage
from storage.models import CacheEntry, ChatIdentity, Outbox, User

from wechat_kit import APP_ID, SECRET, fake_wechat, fake_wechat_server, sender_for, wechat_runtime  # noqa: F401

OPENID = "oUSER-zhang-0001"
CS = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"


async def user_with(runtime, clock, identities: list[tuple[str, str, float | None]]) -> int:
    """A user with identities (channel, external id, hours since its last message, or None)."""
    async with runtime.uow() as uow:
        user = User(name="张三", role="member", created_at=clock.now())
        uow.add(user)
        await uow.session.flush()
        for channel, ext, ago in identities:
            uow.add(ChatIdentity(channel=channel, external_id=ext, chat_id=ext, user_id=user.id,
                                 last_inbound_at=None if ago is None else clock.now() - timedelta(hours=ago),
                                 created_at=clock.now()))
        await uow.commit()
        return user.id


def message(text: str = "库存偏低：A100 还剩 3箱", *, kind: str = "alert", png: bytes | None = None, id: int = 1):
    return OutboundMessage(id=id, channel="wechat", target=OPENID, text=text, kind=kind, image_png=png)


@pytest.fixture
async def rt(db_url, clock, fake_wechat):
    async with wechat_runtime(db_url, fake_wechat.base_url, clock,
                              templates={"alert": "TPL-ALERT", "digest": "TPL-DIGEST?thing1=title&time2=time"}) as r:
        yield r


# --- the access token ----------------------------------------------------------------------------

async def test_one_token_is_fetched_and_shared_by_two_workers(rt, db_url, clock, fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 1)])
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as other:
        async with sender_for(rt) as a, sender_for(other) as b:
            await a.send(message(id=1))
            await b.send(message(id=2))
            await a.send(message(id=3))
    assert fake_wechat.token_requests == [{"grant_type": "client_credential", "appid": APP_ID, "force_refresh": False}]
    assert len(fake_wechat.of(CS)) == 3
    async with rt.uow() as uow:
        row = await uow.session.get(CacheEntry, f"wechat:token:{APP_ID}")
        assert fake_wechat.current not in row.value and row.expires_at == clock.now() + timedelta(seconds=7200)


async def test_expired_token_42001_is_refreshed_once_and_the_other_worker_uses_the_new_one(rt, db_url, clock,
                                                                                             fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 1)])
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as other:
        async with sender_for(rt) as a, sender_for(other) as b:
            await a.send(message(id=1))
            await b.send(message(id=2))     # both now hold the token in memory
            old = fake_wechat.current
            fake_wechat.expire()
            await a.send(message(id=3))     # 42001 → forced refresh → sent
            await b.send(message(id=4))     # 42001 with its old token → finds a's new token, no second refresh
    assert [r["force_refresh"] for r in fake_wechat.token_requests] == [False, True]
    assert fake_wechat.current != old and len(fake_wechat.texts()) == 4
    assert fake_wechat.refused == [(CS, 42001), (CS, 42001)]


async def test_workers_needing_a_token_at_once_fetch_it_once(rt, db_url, clock, fake_wechat):
    fake_wechat.token_delay = 0.3
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as other:
        async with sender_for(rt) as a, sender_for(other) as b:
            tokens = await asyncio.gather(a.api.tokens.get(), b.api.tokens.get(), a.api.tokens.get(),
                                          b.api.tokens.get())
    assert len(set(tokens)) == 1 and len(fake_wechat.token_requests) == 1


async def test_token_is_refreshed_before_it_expires(rt, clock, fake_wechat):
    async with sender_for(rt) as sender:
        first = await sender.api.tokens.get()
        clock.advance(seconds=7200 - 300)       # 5 minutes left: still used
        assert await sender.api.tokens.get() == first
        fake_wechat.expire()                     # WeChat hands out the next one in the last minutes
        clock.advance(seconds=120)               # 3 minutes left: refreshed early
        second = await sender.api.tokens.get()
    assert second != first and [r["force_refresh"] for r in fake_wechat.token_requests] == [False, False]


async def test_a_stale_refresh_lease_is_taken_over(rt, clock, fake_wechat):
    async with rt.uow() as uow:
        uow.add(CacheEntry(key=f"wechat:token:{APP_ID}:lock", value="dead-worker", expires_at=clock.now()))
        await uow.commit()
    clock.advance(seconds=1)
    async with sender_for(rt) as sender:
        assert await sender.api.tokens.get() == fake_wechat.current
    async with rt.uow() as uow:
        assert await uow.session.get(CacheEntry, f"wechat:token:{APP_ID}:lock") is None


async def test_neither_secret_nor_token_is_logged(rt, clock, fake_wechat, caplog):
    caplog.set_level(logging.DEBUG)
    await user_with(rt, clock, [("wechat", OPENID, 1)])
    async with sender_for(rt) as sender:
        await sender.send(message())
        fake_wechat.expire()
        await sender.send(message(id=2))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "access_token=***" in logged  # httpx's request lines, masked
    assert SECRET not in logged and "TOKEN-" not in logged


# --- the 48-hour window --------------------------------------------------------------------------

async def test_inside_48_hours_text_and_image_go_by_customer_service(rt, clock, fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 47)])
    async with sender_for(rt) as sender:
        await sender.send(message("今日简报", kind="digest", png=b"\x89PNG fake chart"))
    assert fake_wechat.of("/cgi-bin/media/upload") == [{"type": "image", "bytes": 15}]
    text, image = fake_wechat.of(CS)
    assert text == {"touser": OPENID, "msgtype": "text", "text": {"content": "今日简报"}}
    assert image["msgtype"] == "image" and image["image"]["media_id"].startswith("MEDIA")
    assert fake_wechat.of(TEMPLATE) == []


async def test_long_push_goes_in_pieces_of_2048_bytes(rt, clock, fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 1)])
    text = "\n".join(f"P{i:03d} 张三超市 库存偏低 A100 还剩 3箱" for i in range(120))
    async with sender_for(rt) as sender:
        await sender.send(message(text))
    assert len(fake_wechat.texts()) > 1 and all(len(t.encode()) <= 2048 for t in fake_wechat.texts())
    assert "\n".join(fake_wechat.texts()) == text


async def test_outside_48_hours_a_configured_template_is_sent(rt, clock, fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 49)])
    async with sender_for(rt) as sender:
        await sender.send(message("库存偏低\nA100 还剩 3箱，低于安全库存 10箱"))
        await sender.send(message("渠道日报（江苏）\n今日报单 12笔", kind="digest", id=2))
    assert fake_wechat.of(CS) == []
    alert, digest = fake_wechat.of(TEMPLATE)
    assert alert == {"touser": OPENID, "template_id": "TPL-ALERT", "data": {
        "first": {"value": "库存偏低"}, "keyword1": {"value": "A100 还剩 3箱，低于安全库存 10箱"},
        "keyword2": {"value": "2026-11-18 09:00"}, "remark": {"value": "回复任意消息查看详情"}}}
    assert digest["template_id"] == "TPL-DIGEST" and digest["data"] == {
        "thing1": {"value": "渠道日报（江苏）"}, "time2": {"value": "2026-11-18 09:00"}}


async def test_window_closed_by_wechat_45015_switches_to_the_template(rt, clock, fake_wechat):
    await user_with(rt, clock, [("wechat", OPENID, 2)])
    fake_wechat.closed.add(OPENID)
    async with sender_for(rt) as sender:
        await sender.send(message())
    assert len(fake_wechat.of(CS)) == 1 and [t["template_id"] for t in fake_wechat.of(TEMPLATE)] == ["TPL-ALERT"]


async def test_outside_48_hours_without_a_template_falls_back_to_the_users_other_identity(rt, clock, fake_wechat):
    class Sink:
        local = True

        def __init__(self):
            self.got = []

        async def send(self, msg):
            self.got.append((msg.channel, msg.target, msg.text))

    uid = await user_with(rt, clock, [("wechat", OPENID, 50), ("telegram", "777", 100)])
    async with rt.uow() as uow:
        await outbox.notify_user(uow, user_id=uid, text="您的报备即将到期", kind="claim_expiry", urgent=True)
        await uow.commit()
    sink = Sink()
    async with sender_for(rt) as sender:
        for _ in range(3):
            await dispatcher.drain(rt.uow, {"wechat": sender, "telegram": sink}, worker="t", flush=True)
    assert fake_wechat.of(CS) == [] and fake_wechat.of(TEMPLATE) == []
    assert sink.got == [("telegram", "777", "您的报备即将到期")]
    async with rt.uow() as uow:
        dead = await uow.session.scalar(select(Outbox).where(Outbox.channel == "wechat"))
        uow.session.expunge_all()
    assert dead.status == "dead" and "48小时" in dead.last_error and "claim_expiry" in dead.last_error


async def test_no_sender_without_app_id_and_secret(db_url, clock, fake_wechat):
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as rt:
        rt.settings.wechat.app_secret = ""
        async with sender_for(rt) as sender:
            assert sender is None


def test_refresh_margin_stays_inside_stable_tokens_overlap():
    assert _shared_token.REFRESH_MARGIN < timedelta(minutes=5)
