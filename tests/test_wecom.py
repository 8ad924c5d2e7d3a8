"""WeCom app end to end: callbacks signed and encrypted with wechatpy's enterprise crypto, posted through
the real app; replies and cards sent by the real client to a fake WeCom API on loopback."""
from __future__ import annotations

import asyncio
import base64
import itertools
import os
import time
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.bootstrap import Runtime
from bot.platforms import wecom
from bot.web import create_app
from fake_wecom import FakeWecom
from handlers.catalog_cache import MATCHERS
from services import demo, dispatcher, identities, outbox
from services.actors import SYSTEM
from services.config import Settings
from storage.db import make_engine
from storage.models import CacheEntry, Outbox, Sale

CORP_ID = "wwcorp"
AGENT_ID = 1000002
TOKEN = "callback-token"
AES_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")  # 43 characters
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def fake():
    with FakeWecom(corp_id=CORP_ID) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_fake(fake):
    fake.reset()
    yield


def settings_for(db_url: str, fake: FakeWecom) -> Settings:
    return Settings(database={"url": db_url}, app={"quiet_hours": ""},
                    wecom={"corp_id": CORP_ID, "agent_id": AGENT_ID, "secret": "app-secret", "token": TOKEN,
                           "aes_key": AES_KEY, "api_base_url": fake.base_url})


@pytest.fixture
async def rt(db_url, clock, fake):
    MATCHERS.invalidate()
    runtime = Runtime(settings=settings_for(db_url, fake), engine=make_engine(db_url), clock=clock)
    await demo.load_demo(runtime.uow(), users=False)
    async with AsyncExitStack() as stack:
        assert await wecom.open_sender(runtime, stack) is not None
        yield runtime
    await runtime.dispose()
    MATCHERS.invalidate()


@pytest.fixture
async def web(rt):
    app = create_app(runtime=rt, start_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


def sealed(inner_xml: str, *, timestamp: str | None = None, nonce: str = "n0nce") -> tuple[dict, str]:
    """(query, body) of a callback as WeCom posts it: the message encrypted and signed."""
    timestamp = timestamp or str(int(time.time()))
    envelope = wecom.parse_xml(crypto.encrypt_message(inner_xml, nonce, timestamp))
    body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
    return {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}, body


def text_xml(user: str, content: str, msg_id: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(_ids) + 10**15}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>")


def click_xml(user: str, key: str, response_code: str, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
            f"<TaskId><![CDATA[task]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>")


async def post(web, inner_xml: str) -> httpx.Response:
    query, body = sealed(inner_xml)
    return await web.post("/wecom/callback", params=query, content=body.encode())


async def sales(rt) -> int:
    async with rt.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Sale))


# --- the URL check and what is refused -----------------------------------------------------------

async def test_echo_check_answers_the_decrypted_echostr(web):
    query, body = sealed("echo-4711")
    echostr = wecom.parse_xml(body)["Encrypt"]
    r = await web.get("/wecom/callback", params={**query, "echostr": echostr})
    assert r.status_code == 200 and r.text == "echo-4711"


async def test_echo_check_with_a_bad_signature_is_403(web):
    query, body = sealed("echo-4711")
    echostr = wecom.parse_xml(body)["Encrypt"]
    r = await web.get("/wecom/callback", params={**query, "msg_signature": "0" * 40, "echostr": echostr})
    assert r.status_code == 403 and "echo" not in r.text


async def test_message_with_a_bad_signature_is_403_and_not_handled(web, fake):
    query, body = sealed(text_xml("alice", "帮助"))
    r = await web.post("/wecom/callback", params={**query, "nonce": "other"}, content=body.encode())
    assert r.status_code == 403
    other = WeChatCrypto(TOKEN, base64.b64encode(b"x" * 32).decode().rstrip("="), CORP_ID)
    envelope = wecom.parse_xml(other.encrypt_message(text_xml("alice", "帮助"), "n", "1"))
    r = await web.post("/wecom/callback", params={"msg_signature": envelope["MsgSignature"], "timestamp": "1",
                                                  "nonce": "n"},
                       content=f"<xml><Encrypt>{envelope['Encrypt']}</Encrypt></xml>".encode())
    assert r.status_code == 403  # signed with our token but encrypted with another key
    assert fake.sent == []


async def test_oversized_callback_is_413(web):
    query, _ = sealed(text_xml("alice", "帮助"))
    r = await web.post("/wecom/callback", params=query, content=b"<xml>" + b"x" * 70_000 + b"</xml>")
    assert r.status_code == 413

    async def streamed():  # no Content-Length
        for _ in range(10):
            yield b"x" * 10_000
    r = await web.post("/wecom/callback", params=query, content=streamed())
    assert r.status_code == 413


async def test_dtd_and_entities_are_refused(web, fake):
    query, body = sealed(text_xml("alice", "帮助"))
    bomb = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    r = await web.post("/wecom/callback", params=query, content=bomb)
    assert r.status_code == 400
    inner = '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><FromUserName>&e;</FromUserName></xml>'
    r = await post(web, inner)  # properly signed and encrypted, still refused
    assert r.status_code == 400 and fake.sent == []


async def test_unconfigured_app_has_no_callback(db_url, clock):
    runtime = Runtime(settings=Settings(database={"url": db_url}), engine=make_engine(db_url), clock=clock)
    try:
        app = create_app(runtime=runtime, start_background=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/wecom/callback", params={"echostr": "x"})).status_code == 404
        async with AsyncExitStack() as stack:
            assert await wecom.open_sender(runtime, stack) is None
    finally:
        await runtime.dispose()


# --- a conversation ---------------------------------------------------------------------------

async def test_bind_report_and_confirm_by_card_button_makes_one_sale(web, rt, fake):
    invite = await identities.create_invite(rt.uow(), actor=SYSTEM, role="member", partner_code="P001")
    r = await post(web, text_xml("zhangsan", f"绑定 {invite.code}"))
    assert r.status_code == 200 and r.text == ""
    assert any("绑定成功" in t for t in fake.texts_to("zhangsan"))

    await post(web, text_xml("zhangsan", "报单 A100 20箱 28元 张三超市"))
    (card,) = fake.cards_to("zhangsan")
    assert card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == "请确认这笔报单：" and "张三超市" in card["sub_title_text"]
    assert "¥560.00" in card["sub_title_text"] and len(fake.texts_to("zhangsan")) == 1  # the card says it all
    buttons = {b["text"]: b["key"] for b in card["button_list"]}
    assert set(buttons) == {"确认", "取消"} and all(len(k) <= 16 for k in buttons.values())
    assert await sales(rt) == 0

    code = fake.new_response_code()
    created = int(time.time())
    click = click_xml("zhangsan", buttons["确认"], code, created)
    r = await post(web, click)
    assert r.status_code == 200 and r.text == ""
    assert await sales(rt) == 1
    assert any("已记录报单" in t for t in fake.texts_to("zhangsan"))
    assert fake.card_updates == [{"userids": ["zhangsan"], "agentid": AGENT_ID, "response_code": code,
                                  "button": {"replace_name": "已选：确认"}}]

    sent_before = len(fake.sent)
    for _ in range(2):  # WeCom retries the click callback: nothing runs twice
        assert (await post(web, click)).status_code == 200
    assert await sales(rt) == 1 and len(fake.sent) == sent_before and len(fake.card_updates) == 1


async def test_retried_text_callback_is_answered_once(web, fake):
    xml = text_xml("lisi", "帮助", msg_id=4242)
    for _ in range(3):
        assert (await post(web, xml)).status_code == 200
    assert len(fake.texts_to("lisi")) == 1 and "绑定" in fake.texts_to("lisi")[0]


async def test_button_of_another_member_or_unknown_is_refused_politely(web, rt, fake):
    await identities.bind_directly(rt.uow(), channel="wecom", external_id="wangwu", role="member",
                                   partner_code="P001")
    await post(web, text_xml("wangwu", "报单 A100 20箱 28元 张三超市"))
    (card,) = fake.cards_to("wangwu")
    key = card["button_list"][0]["key"]
    await post(web, click_xml("intruder", key, fake.new_response_code(), 1))
    assert fake.texts_to("intruder") == ["这个按钮不是发给您的。"] and await sales(rt) == 0
    code = fake.new_response_code()
    await post(web, click_xml("wangwu", "no-such-token", code, 2))
    assert "按钮已失效" in fake.texts_to("wangwu")[-1]
    assert fake.card_updates[-1]["button"] == {"replace_name": "已失效"} and await sales(rt) == 0


async def test_non_text_message_gets_a_polite_answer(web, fake):
    xml = (f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>zhaoliu</FromUserName><CreateTime>1</CreateTime>"
           f"<MsgType>image</MsgType><PicUrl>http://x</PicUrl><MediaId>m</MediaId><MsgId>77</MsgId>"
           f"<AgentID>{AGENT_ID}</AgentID></xml>")
    assert (await post(web, xml)).status_code == 200
    assert fake.texts_to("zhaoliu") == ["抱歉，目前只能处理文字消息，请直接输入文字（发送「帮助」查看用法）。"]


async def test_slow_handling_answers_in_time_and_replies_later(web, fake, monkeypatch):
    real_handle, release = wecom.handle, asyncio.Event()

    async def slow_handle(deps, msg):
        await release.wait()
        return await real_handle(deps, msg)

    monkeypatch.setattr(wecom, "ANSWER_WITHIN", 0.2)
    monkeypatch.setattr(wecom, "handle", slow_handle)
    r = await asyncio.wait_for(post(web, text_xml("slow", "帮助")), timeout=4)
    assert r.status_code == 200 and r.text == ""  # answered while the message was still in hand
    assert fake.texts_to("slow") == []
    release.set()
    for _ in range(200):
        if fake.texts_to("slow"):
            break
        await asyncio.sleep(0.05)
    assert len(fake.texts_to("slow")) == 1


# --- outbound: token, cards, images -----------------------------------------------------------

async def push(runtime, *, target="alice", text="您好", **kw) -> int:
    async with runtime.uow() as uow:
        row = outbox.enqueue(uow, channel="wecom", target=target, text=text, urgent=True, **kw)
        await uow.commit()
    return row.id


async def drain(runtime, sender) -> dispatcher.DrainResult:
    return await dispatcher.drain(runtime.uow, {"wecom": sender}, worker=f"w{id(sender)}")


@pytest.mark.parametrize("stale_code", [42001, 40014])
async def test_one_token_is_shared_by_two_runtimes_and_refreshed_when_refused(db_url, clock, fake, stale_code):
    runtimes = [Runtime(settings=settings_for(db_url, fake), engine=make_engine(db_url), clock=clock)
                for _ in range(2)]
    async with AsyncExitStack() as stack:
        first, second = [await wecom.open_sender(r, stack) for r in runtimes]
        await push(runtimes[0], text="one")
        assert (await drain(runtimes[0], first)).sent == 1
        await push(runtimes[1], text="two")
        assert (await drain(runtimes[1], second)).sent == 1
        assert fake.token_fetches == 1  # the second worker used the token the first one stored
        async with runtimes[0].uow() as uow:
            (stored,) = await uow.session.scalars(select(CacheEntry.value))
        assert "tok-1" not in stored  # sealed with a key derived from the app secret

        if stale_code == 42001:
            fake.expire_tokens()
        else:
            fake.valid_tokens.clear()
        await push(runtimes[1], text="three")
        assert (await drain(runtimes[1], second)).sent == 1
        assert fake.token_fetches == 2
        await push(runtimes[0], text="four")
        assert (await drain(runtimes[0], first)).sent == 1
        assert fake.token_fetches == 2  # the refreshed token is shared too
    for r in runtimes:
        await r.dispose()
    assert fake.texts_to("alice") == ["one", "two", "three", "four"]


async def test_token_and_secret_are_never_logged(rt, fake, caplog):
    caplog.set_level("INFO")  # (database drivers' DEBUG logs print every SQL parameter; not ours)
    for name in ("bot", "services", "httpx", "httpcore"):
        caplog.set_level("DEBUG", logger=name)
    sender = wecom._SENDERS[id(rt)]
    await push(rt, text="hi")
    await drain(rt, sender)
    fake.expire_tokens()
    await push(rt, text="again")
    await drain(rt, sender)
    assert fake.texts_to("alice") == ["hi", "again"]
    assert "access_token=***" in caplog.text  # httpx logs each request URL: masked
    assert "tok-1" not in caplog.text and "tok-2" not in caplog.text and "app-secret" not in caplog.text


async def test_image_is_uploaded_and_sent_after_the_text(rt, fake):
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    await push(rt, text="日报", image_b64=base64.b64encode(png).decode())
    assert (await drain(rt, wecom._SENDERS[id(rt)])).sent == 1
    assert [m["msgtype"] for m in fake.sent] == ["text", "image"]
    assert fake.uploads[fake.sent[1]["image"]["media_id"]] == png


async def test_long_card_text_goes_first_and_extra_buttons_become_replies(rt, fake):
    text = "请审批以下报备\n" + "\n".join(f"第{i}行：南京好邻居商贸有限公司 13800000000" for i in range(12))
    buttons = tuple(f"选项{i}" for i in range(8))
    await push(rt, text=text, buttons=buttons)
    assert (await drain(rt, wecom._SENDERS[id(rt)])).sent == 1
    assert fake.texts_to("alice") == [text]
    (card,) = fake.cards_to("alice")
    assert card["main_title"]["title"] == "请审批以下报备" and len(card["button_list"]) == 6
    assert card["sub_title_text"] == "也可回复：选项6 / 选项7"


async def test_partial_failure_resends_only_what_did_not_go_out(rt, fake):
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    row = await push(rt, text="先文字", image_b64=base64.b64encode(png).decode())
    fake.fail("media/upload", -1, "system busy")
    sender = wecom._SENDERS[id(rt)]
    assert (await drain(rt, sender)).failed == 1
    rt.clock.advance(seconds=10)
    assert (await drain(rt, sender)).sent == 1
    assert [m["msgtype"] for m in fake.sent] == ["text", "image"]  # the text once
    async with rt.uow() as uow:
        assert (await uow.session.get(Outbox, row)).status == "sent"


async def test_member_outside_the_app_falls_back_to_another_identity(rt, fake):
    await identities.bind_directly(rt.uow(), channel="wecom", external_id="gone", role="member", partner_code="P001")
    fake.fail("message/send", 81013, "user & party & tag all invalid")
    row = await push(rt, target="gone", text="提醒")
    await drain(rt, wecom._SENDERS[id(rt)])
    async with rt.uow() as uow:
        dead = await uow.session.get(Outbox, row)
        assert dead.status == "dead" and "cannot be reached" in dead.last_error


async def test_unreachable_wecom_keeps_the_message_for_later(db_url, clock, fake):
    settings = settings_for(db_url, fake).model_copy(update={"wecom": settings_for(db_url, fake).wecom.model_copy(
        update={"api_base_url": "http://127.0.0.1:9"})})
    runtime = Runtime(settings=settings, engine=make_engine(db_url), clock=clock)
    try:
        async with AsyncExitStack() as stack:
            sender = await wecom.open_sender(runtime, stack)
            row_id = await push(runtime, text="稍后")
            assert (await drain(runtime, sender)).failed == 1
        async with runtime.uow() as uow:
            waiting = await uow.session.get(Outbox, row_id)
            assert waiting.status == "pending" and waiting.last_error == "WeCom unreachable (ConnectError)"
    finally:
        await runtime.dispose()


async def test_other_errors_are_final_with_wecoms_reason(rt, fake):
    fake.fail("message/send", 40008, "invalid message type")
    row = await push(rt, text="x")
    await drain(rt, wecom._SENDERS[id(rt)])
    async with rt.uow() as uow:
        dead = await uow.session.get(Outbox, row)
        assert dead.status == "dead" and dead.last_error == "rejected by wecom: invalid message type (40008)"
