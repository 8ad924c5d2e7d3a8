"""Telegram inbound: the webhook (secret, cap, parse, dedupe), buttons as callback queries, polling.

The real adapter and python-telegram-bot client talk HTTP to a fake Bot API on 127.0.0.1."""
from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import Runtime
from bot.platforms import telegram
from bot.web import create_app
from handlers.catalog_cache import MATCHERS
from services import demo, identities, outbox
from services.actors import SYSTEM
from services.config import Settings
from storage.db import make_engine
from storage.models import Outbox, Sale
from fake_telegram import FakeTelegram

TOKEN = "123456:AAHk-test_token_that_must_never_be_logged"
SECRET = "webhook-secret-1"
ALICE = 5550001
_ids = itertools.count(1)


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


def make_runtime(db_url, clock, fake, **telegram_keys) -> Runtime:
    keys = {"bot_token": TOKEN, "webhook_secret": SECRET, "api_base_url": fake.base_url, **telegram_keys}
    settings = Settings(database={"url": db_url}, app={"quiet_hours": ""}, telegram=keys)
    return Runtime(settings=settings, engine=make_engine(db_url), clock=clock)


@pytest.fixture
async def rt(db_url, clock, fake):
    MATCHERS.invalidate()
    runtime = make_runtime(db_url, clock, fake)
    await demo.load_demo(runtime.uow(), users=False)
    yield runtime
    await runtime.dispose()
    MATCHERS.invalidate()


@pytest.fixture
async def web(rt):
    app = create_app(runtime=rt, start_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def user(uid: int, name: str = "Alice") -> dict:
    return {"id": uid, "is_bot": False, "first_name": name, "language_code": "zh-hans"}


def text_update(text: str | None, *, uid: int = ALICE, chat_id: int | None = None, update_id: int | None = None,
                **extra) -> dict:
    chat = chat_id or uid
    message = {"message_id": next(_ids), "date": 1795000000, "from": user(uid),
               "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"}, **extra}
    if text is not None:
        message["text"] = text
    return {"update_id": update_id or 10_000 + next(_ids), "message": message}


def press_update(token: str, *, uid: int = ALICE, message: dict | None = None, update_id: int | None = None) -> dict:
    query = {"id": f"cq{next(_ids)}", "from": user(uid), "chat_instance": "ci", "data": token}
    if message is not None:
        query["message"] = message
    return {"update_id": update_id or 20_000 + next(_ids), "callback_query": query}


async def post(web, update: dict, *, secret: str | None = SECRET) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await web.post("/telegram/webhook", json=update, headers=headers)


def buttons_of(params: dict) -> list[tuple[str, str]]:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def shown_message(params: dict, message_id: int = 4242) -> dict:
    """The message a keyboard was sent with, as Telegram quotes it in a callback query."""
    return {"message_id": message_id, "date": 1795000000, "chat": {"id": int(params["chat_id"]), "type": "private"},
            "text": params["text"]}


async def sale_count(rt) -> int:
    async with rt.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Sale))


async def bind_alice(rt, web, uid: int = ALICE) -> None:
    issued = await identities.create_invite(rt.uow(), actor=SYSTEM, role="member", partner_code="P001")
    assert (await post(web, text_update(f"绑定 {issued.code}", uid=uid))).status_code == 200


# --- verify, cap, parse --------------------------------------------------------------------------

async def test_missing_or_wrong_secret_is_403_and_nothing_runs(web, fake):
    assert (await post(web, text_update("帮助"), secret=None)).status_code == 403
    assert (await post(web, text_update("帮助"), secret="wrong")).status_code == 403
    assert (await post(web, text_update("帮助"), secret=SECRET + "x")).status_code == 403
    assert fake.calls == []


async def test_no_configured_secret_refuses_every_request(db_url, clock, fake):
    runtime = make_runtime(db_url, clock, fake, webhook_secret="")
    try:
        app = create_app(runtime=runtime, start_background=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as web:
            assert (await post(web, text_update("帮助"), secret="")).status_code == 403
            assert (await post(web, text_update("帮助"), secret=None)).status_code == 403
    finally:
        await runtime.dispose()
    assert fake.calls == []


async def test_oversized_update_is_413(web, fake):
    update = text_update("x" * 300_000)
    assert (await post(web, update)).status_code == 413
    assert fake.calls == []


async def test_a_body_that_is_not_an_update_is_400(web, fake):
    r = await web.post("/telegram/webhook", content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code == 400
    r = await web.post("/telegram/webhook", json={"hello": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code == 400
    assert fake.calls == []


# --- messages ------------------------------------------------------------------------------------

async def test_unbound_user_is_told_how_to_bind_by_sendmessage(web, fake):
    assert (await post(web, text_update("库存"))).status_code == 200
    (params,) = fake.of("sendMessage")
    assert int(params["chat_id"]) == ALICE and "邀请码" in params["text"]
    assert all(t == TOKEN for t in fake.tokens)


async def test_start_link_with_an_invite_code_binds(rt, web, fake):
    issued = await identities.create_invite(rt.uow(), actor=SYSTEM, role="member", partner_code="P001")
    await post(web, text_update(f"/start {issued.code}"))
    assert "绑定成功" in fake.of("sendMessage")[-1]["text"]
    await post(web, text_update("/help@partner_bot"))
    assert "报单" in fake.of("sendMessage")[-1]["text"]


async def test_non_text_message_gets_a_polite_note_and_caption_is_read_as_text(rt, web, fake):
    await bind_alice(rt, web)
    sticker = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
               "is_animated": False, "is_video": False}
    await post(web, text_update(None, sticker=sticker))
    assert "文字" in fake.of("sendMessage")[-1]["text"]
    photo = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    await post(web, text_update(None, photo=photo, caption="库存"))
    assert "库存" in fake.of("sendMessage")[-1]["text"]


async def test_bind_report_and_confirm_by_inline_button_makes_one_sale(rt, web, fake):
    await bind_alice(rt, web)
    assert "绑定成功" in fake.of("sendMessage")[-1]["text"]
    report = text_update("报单 A100 20箱 28元 张三超市")
    assert (await post(web, report)).status_code == 200
    read_back = fake.of("sendMessage")[-1]
    assert "请确认" in read_back["text"]
    buttons = dict(buttons_of(read_back))
    assert list(buttons) == ["确认", "取消"] and all(len(t.encode()) <= 64 for t in buttons.values())
    assert await sale_count(rt) == 0

    press = press_update(buttons["确认"], message=shown_message(read_back))
    assert (await post(web, press)).status_code == 200
    assert await sale_count(rt) == 1
    (answer,) = fake.of("answerCallbackQuery")
    assert answer["callback_query_id"] == press["callback_query"]["id"] and "确认" in answer["text"]
    (edit,) = fake.of("editMessageText")
    assert int(edit["message_id"]) == 4242 and "reply_markup" not in edit and edit["text"].endswith("✓ 确认")
    assert "已记录报单" in fake.of("sendMessage")[-1]["text"]

    calls = len(fake.calls)
    assert (await post(web, report)).status_code == 200      # the report redelivered: silence
    assert len(fake.calls) == calls
    assert (await post(web, press)).status_code == 200       # the press redelivered
    again = press_update(buttons["确认"], message=shown_message(read_back))  # and tapped twice
    assert (await post(web, again)).status_code == 200
    assert await sale_count(rt) == 1
    assert [c for c, _ in fake.calls[calls:]] == ["answerCallbackQuery"] * 2  # only the spinners stopped
    assert all("已处理过" in a["text"] for a in fake.of("answerCallbackQuery")[1:])


async def test_redelivered_message_runs_once_and_is_answered_once(rt, web, fake):
    await bind_alice(rt, web)
    update = text_update("报单 A100 20箱 28元 张三超市")
    for _ in range(3):
        assert (await post(web, update)).status_code == 200
    assert sum("请确认" in t for t in fake.sent_texts()) == 1


async def test_new_read_back_retires_the_old_confirm_button(rt, web, fake):
    await bind_alice(rt, web)
    await post(web, text_update("报单 A100 20箱 28元 张三超市"))
    old = dict(buttons_of(fake.of("sendMessage")[-1]))
    await post(web, text_update("取消"))
    await post(web, text_update("报单 A100 5箱 28元 李四超市"))
    await post(web, press_update(old["确认"]))
    assert await sale_count(rt) == 0
    assert "失效" in fake.of("answerCallbackQuery")[-1]["text"]


async def test_foreign_and_expired_buttons_are_answered_with_a_notice(rt, web, fake, clock):
    await bind_alice(rt, web)
    await post(web, text_update("报单 A100 20箱 28元 张三超市"))
    read_back = fake.of("sendMessage")[-1]
    confirm = dict(buttons_of(read_back))["确认"]

    await post(web, press_update(confirm, uid=7770001, message=shown_message(read_back)))
    assert "别人" in fake.of("answerCallbackQuery")[-1]["text"]
    assert fake.of("editMessageText") == [] and fake.of("editMessageReplyMarkup") == []

    await post(web, press_update("no-such-tok", message=shown_message(read_back)))
    assert "失效" in fake.of("answerCallbackQuery")[-1]["text"]

    clock.advance(days=8)
    await post(web, press_update(confirm, message=shown_message(read_back)))
    assert "过期" in fake.of("answerCallbackQuery")[-1]["text"]
    assert len(fake.of("editMessageReplyMarkup")) == 2  # the stale keyboards are closed
    assert await sale_count(rt) == 0
    assert len(fake.of("answerCallbackQuery")) == 3


async def test_callback_is_answered_even_when_handling_fails(rt, web, fake, monkeypatch):
    await bind_alice(rt, web)
    await post(web, text_update("报单 A100 20箱 28元 张三超市"))
    confirm = dict(buttons_of(fake.of("sendMessage")[-1]))["确认"]

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr("bot.platforms._telegram_updates.handle", broken)
    assert (await post(web, press_update(confirm))).status_code == 200
    assert "没有处理成功" in fake.of("answerCallbackQuery")[-1]["text"]


async def test_reply_hit_by_flood_control_is_queued_for_the_dispatcher(rt, web, fake):
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7)
    await post(web, text_update("库存"))
    async with rt.uow() as uow:
        (row,) = (await uow.session.execute(select(Outbox.channel, Outbox.target, Outbox.urgent, Outbox.text))).all()
    assert tuple(row[:3]) == ("telegram", str(ALICE), True) and "邀请码" in row[3]


# --- polling -------------------------------------------------------------------------------------

async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_polling_deletes_the_webhook_handles_updates_and_advances_the_offset(db_url, clock, fake):
    runtime = make_runtime(db_url, clock, fake, polling=True, webhook_secret="")
    await demo.load_demo(runtime.uow(), users=False)
    try:
        fake.updates = [text_update("帮助", update_id=501), text_update("库存", update_id=502)]
        async with AsyncExitStack() as stack:
            await telegram.start_background(runtime, stack)
            await wait_for(lambda: len(fake.of("sendMessage")) >= 2)
            await wait_for(lambda: any(p.get("offset") == "503" for p in fake.of("getUpdates")))
            fake.updates.append(text_update("帮助", update_id=503))
            await wait_for(lambda: len(fake.of("sendMessage")) >= 3)
            await wait_for(lambda: any(p.get("offset") == "504" for p in fake.of("getUpdates")))
        methods = [m for m, _ in fake.calls]
        assert methods[0] == "deleteWebhook" and methods[1] == "getUpdates"
        assert fake.of("getUpdates")[0].get("offset") is None
        assert len(fake.of("sendMessage")) == 3  # each update answered once
        calls = len(fake.calls)
        await asyncio.sleep(0.1)
        assert len(fake.calls) == calls  # stopped with the stack
    finally:
        await runtime.dispose()


async def test_polling_survives_a_failing_getupdates(db_url, clock, fake):
    runtime = make_runtime(db_url, clock, fake, polling=True)
    try:
        fake.fail("getUpdates", status=502, description="Bad Gateway")
        fake.updates = [text_update("帮助", update_id=900)]
        async with AsyncExitStack() as stack:
            await telegram.start_background(runtime, stack)
            await wait_for(lambda: len(fake.of("sendMessage")) == 1)
        assert [m for m, _ in fake.calls][:3] == ["deleteWebhook", "getUpdates", "getUpdates"]
    finally:
        await runtime.dispose()


async def test_serve_shares_one_client_between_webhook_and_dispatcher_and_closes_it(db_url, fake):
    settings = Settings(database={"url": db_url}, app={"quiet_hours": ""}, dispatcher={"interval_seconds": 0.02},
                        telegram={"bot_token": TOKEN, "webhook_secret": SECRET, "api_base_url": fake.base_url})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        assert id(rt) in telegram._APIS
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as web:
            assert (await post(web, text_update("帮助"))).status_code == 200
        async with rt.uow() as uow:
            outbox.enqueue(uow, channel="telegram", target="-1001234567890", text="低库存 A100", urgent=True)
            await uow.commit()
        await wait_for(lambda: any(p["chat_id"] == "-1001234567890" for p in fake.of("sendMessage")))
    assert telegram._APIS == {}
    assert [p["chat_id"] for p in fake.of("sendMessage")] == [str(ALICE), "-1001234567890"]
