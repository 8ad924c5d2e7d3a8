"""Telegram outbound: the dispatcher's sender against a fake Bot API on 127.0.0.1 — flood control,
blocked bots, unknown chats, photos, long texts, buttons, migrated groups, and a token never logged."""
from __future__ import annotations

import base64
import logging
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.platforms import telegram
from bot.senders import RecordingSink
from bot.platforms._telegram_api import split_text, utf16_len
from services import callback_tokens, dispatcher, identities, outbox
from storage.models import ChatIdentity, Outbox, User
from fake_telegram import FakeTelegram
from test_telegram import TOKEN, make_runtime

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
                       "AAAABJRU5ErkJggg==")


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def rt(db_url, clock, fake):
    runtime = make_runtime(db_url, clock, fake)
    yield runtime
    await runtime.dispose()


@pytest.fixture
async def senders(rt):
    async with AsyncExitStack() as stack:
        sender = await telegram.open_sender(rt, stack)
        assert isinstance(sender, telegram.TelegramSender)
        yield {"telegram": sender}


async def queue(rt, target: str, text: str, **kw) -> int:
    async with rt.uow() as uow:
        row = outbox.enqueue(uow, channel="telegram", target=target, text=text, urgent=True, **kw)
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def row_state(rt, row_id: int) -> tuple:
    async with rt.uow() as uow:
        columns = (Outbox.status, Outbox.attempts, Outbox.next_attempt_at, Outbox.last_error)
        return tuple((await uow.session.execute(select(*columns).where(Outbox.id == row_id))).one())


async def drain(rt, senders) -> dispatcher.DrainResult:
    return await dispatcher.drain(rt.uow, senders, worker="tg-test")


async def test_flood_control_backs_off_by_retry_after_then_delivers_once(rt, senders, fake, clock):
    row = await queue(rt, "5550001", "库存提醒")
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7)
    first = await drain(rt, senders)
    assert (first.sent, first.failed) == (0, 1)
    status, attempts, next_at, error = await row_state(rt, row)
    cfg = rt.settings.dispatcher
    assert (status, attempts) == ("pending", 1) and "retry after 7s" in error
    assert next_at == clock.now() + timedelta(seconds=cfg.backoff_base_seconds + 7)
    assert (await drain(rt, senders)).sent == 0  # not due yet: Telegram said wait
    clock.advance(seconds=cfg.backoff_base_seconds + 7)
    assert (await drain(rt, senders)).sent == 1
    assert (await drain(rt, senders)).rows == 0
    assert (await row_state(rt, row))[0] == "sent"
    assert [p["text"] for p in fake.of("sendMessage")] == ["库存提醒", "库存提醒"]  # one refused, one delivered


async def test_blocked_bot_is_dead_with_the_reason(rt, senders, fake):
    row = await queue(rt, "5550001", "hello")
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    result = await drain(rt, senders)
    assert result.dead == 1
    status, attempts, _, error = await row_state(rt, row)
    assert status == "dead" and "bot was blocked by the user" in error


async def test_unknown_chat_is_dead_and_not_retried(rt, senders, fake):
    row = await queue(rt, "-1009999", "alert")
    fake.fail("sendMessage", status=400, description="Bad Request: chat not found")
    assert (await drain(rt, senders)).dead == 1
    status, _, _, error = await row_state(rt, row)
    assert status == "dead" and "chat not found" in error.lower()
    assert len(fake.of("sendMessage")) == 1


async def test_outage_is_retried_not_lost(rt, senders, fake, clock):
    row = await queue(rt, "5550001", "x")
    fake.fail("sendMessage", status=502, description="Bad Gateway", times=2)
    assert (await drain(rt, senders)).failed == 1
    clock.advance(seconds=3600)
    assert (await drain(rt, senders)).failed == 1
    clock.advance(seconds=3600)
    assert (await drain(rt, senders)).sent == 1
    assert (await row_state(rt, row))[0] == "sent"


async def test_photo_with_caption_and_buttons(rt, senders, fake):
    await queue(rt, "-1001234567890", "今日简报", image_b64=base64.b64encode(PNG).decode(), buttons=("详情",))
    assert (await drain(rt, senders)).sent == 1
    (photo,) = fake.of("sendPhoto")
    assert photo["chat_id"] == "-1001234567890" and photo["caption"] == "今日简报"
    assert photo["reply_markup"]["inline_keyboard"][0][0]["text"] == "详情"
    assert fake.files == [("sendPhoto", "photo", len(PNG))]
    assert fake.of("sendMessage") == []


async def test_photo_with_a_long_text_sends_the_text_after_it(rt, senders, fake):
    await queue(rt, "5550001", "数" * 1500, image_b64=base64.b64encode(PNG).decode())
    assert (await drain(rt, senders)).sent == 1
    (photo,) = fake.of("sendPhoto")
    assert "caption" not in photo
    assert [len(p["text"]) for p in fake.of("sendMessage")] == [1500]


async def test_long_text_is_split_and_buttons_go_on_the_last_part(rt, senders, fake):
    lines = [f"第{i}行 " + "库存" * 40 for i in range(120)]
    await queue(rt, "5550001", "\n".join(lines), buttons=("确认", "取消"))
    assert (await drain(rt, senders)).sent == 1
    parts = fake.of("sendMessage")
    assert len(parts) == 3 and all(utf16_len(p["text"]) <= 4096 for p in parts)
    assert "\n".join(p["text"] for p in parts) == "\n".join(lines)
    assert ["reply_markup" in p for p in parts] == [False, False, True]


def test_split_never_cuts_an_emoji_in_half():
    parts = split_text("😀" * 3000)
    assert [utf16_len(p) for p in parts] == [4096, 1904] and "".join(parts) == "😀" * 3000


async def test_buttons_to_a_user_are_theirs_and_buttons_to_a_group_anyones(rt, senders, fake):
    await identities.bind_directly(rt.uow(), channel="telegram", external_id="5550001", role="manager",
                                   regions=("江苏",))
    await queue(rt, "5550001", "审批", buttons=("批准 7",))
    await queue(rt, "-100777", "审批", buttons=("批准 8",))
    assert (await drain(rt, senders)).sent == 2
    data = {p["chat_id"]: p["reply_markup"]["inline_keyboard"][0][0]["callback_data"] for p in fake.of("sendMessage")}
    private, group = data["5550001"], data["-100777"]
    mine = await callback_tokens.press(rt.uow(), channel="telegram", token=private, external_id="5550001")
    theirs = await callback_tokens.press(rt.uow(), channel="telegram", token=private, external_id="42")
    anyone = await callback_tokens.press(rt.uow(), channel="telegram", token=group, external_id="42")
    assert (mine.status, mine.text, theirs.status) == ("ok", "批准 7", "foreign")
    assert (anyone.status, anyone.text) == ("ok", "批准 8")


async def test_a_group_that_became_a_supergroup_gets_the_message_at_its_new_id(rt, senders, fake):
    await queue(rt, "-4001", "提醒")
    fake.fail("sendMessage", status=400, description="Bad Request: group chat was upgraded to a supergroup chat",
              migrate_to_chat_id=-1004001)
    assert (await drain(rt, senders)).sent == 1
    assert [p["chat_id"] for p in fake.of("sendMessage")] == ["-4001", "-1004001"]


async def test_the_bot_token_is_never_logged(rt, senders, fake, caplog):
    caplog.set_level(logging.DEBUG)
    await queue(rt, "5550001", "a")
    row = await queue(rt, "5550002", "b")
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    await drain(rt, senders)
    logging.getLogger("anything").warning("url was %s/bot%s/sendMessage", fake.base_url, TOKEN)
    assert "sendMessage" in caplog.text and "/bot***/" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert TOKEN not in (await row_state(rt, row))[3]


async def test_no_token_means_no_sender_and_no_background(db_url, clock, fake):
    runtime = make_runtime(db_url, clock, fake, bot_token="", polling=True)
    try:
        async with AsyncExitStack() as stack:
            assert await telegram.open_sender(runtime, stack) is None
            await telegram.start_background(runtime, stack)
        assert fake.calls == []
    finally:
        await runtime.dispose()


async def test_expired_tokens_are_purged(rt, clock):
    await identities.bind_directly(rt.uow(), channel="telegram", external_id="1", role="admin")
    await callback_tokens.issue(rt.uow(), channel="telegram", texts=("确认", "取消"), external_id="1")
    clock.advance(days=6)
    await callback_tokens.issue(rt.uow(), channel="telegram", texts=("批准 3",), external_id=None)
    clock.advance(days=2)
    assert await callback_tokens.purge_expired(rt.uow()) == 2
    assert await callback_tokens.purge_expired(rt.uow()) == 0


async def test_a_user_who_blocked_the_bot_is_reached_on_another_channel(rt, senders, fake, clock):
    async with rt.uow() as uow:
        person = User(name="张三", role="member", created_at=clock.now())
        uow.add(person)
        await uow.session.flush()
        uow.add(ChatIdentity(channel="telegram", external_id="5550001", chat_id="5550001", user_id=person.id,
                             last_inbound_at=clock.now(), created_at=clock.now()))
        uow.add(ChatIdentity(channel="console", external_id="zhang", chat_id="zhang", user_id=person.id,
                             last_inbound_at=clock.now() - timedelta(days=3), created_at=clock.now()))
        await outbox.notify_user(uow, user_id=person.id, text="库存偏低", urgent=True)
        await uow.commit()
    sink = RecordingSink()
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    await dispatcher.drain(rt.uow, {**senders, "console": sink}, worker="tg-test", flush=True)
    await dispatcher.drain(rt.uow, {**senders, "console": sink}, worker="tg-test", flush=True)
    assert sink.records == [{"channel": "console", "target": "zhang", "text": "库存偏低"}]
