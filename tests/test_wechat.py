"""WeChat Official Account callback: echo check, signatures, safe mode, safe XML, message kinds,
dedupe of retries (also while the first is in flight), the 5-second window and long answers."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from bot.platforms import _wechat_answer, wechat
from handlers.messages import Reply
from services import dispatcher
from storage.models import Outbox, ProcessedMessage

from wechat_kit import (ACCOUNT, AES_KEY, APP_ID, TOKEN, WechatUser, app_client, event_xml, fake_wechat,  # noqa: F401
                        fake_wechat_server, fields, next_msg_id, sender_for, settle, sign, text_xml, voice_xml,
                        wechat_runtime)
from wechatpy.crypto import WeChatCrypto


@pytest.fixture
async def rt(db_url, clock, fake_wechat):
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as runtime:
        yield runtime


@pytest.fixture
async def plain_rt(db_url, clock, fake_wechat):
    async with wechat_runtime(db_url, fake_wechat.base_url, clock, safe=False) as runtime:
        yield runtime


class Counting:
    """The real handler, counted, optionally slowed down or answering fixed replies instead of its own."""

    def __init__(self, delay: float = 0.0, replies: list[Reply] | None = None):
        self.calls: list[str] = []
        self.delay = delay
        self.replies = replies

    async def __call__(self, deps, msg):
        from handlers.all import handle
        self.calls.append(msg.message_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        replies = await handle(deps, msg)  # always: it records the message and the sender's activity
        return list(self.replies) if self.replies is not None else replies


@pytest.fixture
def handler(monkeypatch):
    def install(**kw) -> Counting:
        counting = Counting(**kw)
        monkeypatch.setattr(wechat, "HANDLE", counting)
        return counting
    return install


async def outbox_rows(runtime) -> list[Outbox]:
    async with runtime.uow() as uow:
        rows = list(await uow.session.scalars(select(Outbox).order_by(Outbox.id)))
        uow.session.expunge_all()
        return rows


# --- echo check and refusals ---------------------------------------------------------------------

async def test_echo_check_answers_echostr_only_with_our_signature(plain_rt, clock):
    ts, nonce = str(int(clock.now().timestamp())), "n0nce"
    async with app_client(plain_rt) as c:
        ok = await c.get("/wechat/callback", params={"signature": sign(TOKEN, ts, nonce), "timestamp": ts,
                                                     "nonce": nonce, "echostr": "8812345"})
        bad = await c.get("/wechat/callback", params={"signature": sign("other", ts, nonce), "timestamp": ts,
                                                      "nonce": nonce, "echostr": "8812345"})
        missing = await c.get("/wechat/callback", params={"echostr": "8812345"})
    assert ok.status_code == 200 and ok.text == "8812345"
    assert bad.status_code == 403 and "8812345" not in bad.text
    assert missing.status_code == 403


async def test_encrypted_echo_check_is_decrypted_after_its_msg_signature(rt, clock):
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    ts, nonce = str(int(clock.now().timestamp())), "n0nce"
    echostr = fields(crypto.encrypt_message("echo-4711", nonce, ts))["Encrypt"]
    async with app_client(rt) as c:
        ok = await c.get("/wechat/callback", params={"msg_signature": sign(TOKEN, ts, nonce, echostr),
                                                     "timestamp": ts, "nonce": nonce, "echostr": echostr})
        bad = await c.get("/wechat/callback", params={"msg_signature": sign(TOKEN, ts, nonce, "x"),
                                                      "timestamp": ts, "nonce": nonce, "echostr": echostr})
    assert ok.status_code == 200 and ok.text == "echo-4711"
    assert bad.status_code == 403


async def test_bad_or_stale_signature_is_403_and_nothing_is_handled(plain_rt, clock, handler):
    counting = handler()
    async with app_client(plain_rt) as c:
        user = WechatUser(c, clock, safe=False)
        forged = await user.post(user.text("库存"), token="guessed")
        stale = await user.post(user.text("库存"), timestamp=str(user.now() - 3600))
    assert forged.status_code == 403 and stale.status_code == 403
    assert counting.calls == []


async def test_safe_mode_refuses_a_bad_msg_signature_and_plaintext(rt, clock, handler):
    counting = handler()
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        ts, nonce = str(user.now()), "abc"
        envelope = fields(user.crypto.encrypt_message(user.text("库存"), nonce, ts))
        body = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        tampered = await c.post("/wechat/callback", content=body, params={
            "signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
            "msg_signature": sign(TOKEN, ts, nonce, "something else")})
        plain = await WechatUser(c, clock, safe=False).post(user.text("库存"))
    assert tampered.status_code == 403 and plain.status_code == 403
    assert counting.calls == []


async def test_oversized_body_is_413(plain_rt, clock, handler):
    counting = handler()
    async with app_client(plain_rt) as c:
        user = WechatUser(c, clock, safe=False)
        big = await user.post(user.text("库存" * 40_000))
        streamed = await c.post("/wechat/callback", params={"signature": sign(TOKEN, str(user.now()), "n"),
                                                            "timestamp": str(user.now()), "nonce": "n"},
                                content=_stream([b"<xml>", b" " * 70_000, b"</xml>"]))
    assert big.status_code == 413 and streamed.status_code == 413
    assert counting.calls == []


async def _stream(parts):
    for part in parts:
        yield part


XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>'
       '<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
          '<xml><MsgType>text</MsgType><Content>&b;</Content></xml>')


@pytest.mark.parametrize("doc", [XXE, LAUGHS, '<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>'])
async def test_dtd_and_entities_are_refused_in_plaintext_and_inside_the_envelope(plain_rt, rt, clock, handler, doc):
    counting = handler()
    async with app_client(plain_rt) as c:
        plain = await WechatUser(c, clock, safe=False).post(doc)
    async with app_client(rt) as c:
        inner = await WechatUser(c, clock).post(doc)
    assert plain.status_code == 400 and inner.status_code == 400
    assert "root:" not in plain.text and counting.calls == []


# --- messages and events -------------------------------------------------------------------------

async def test_plaintext_mode_text_gets_a_plaintext_passive_reply(plain_rt, clock):
    async with app_client(plain_rt) as c:
        answer = await WechatUser(c, clock, safe=False).say("帮助")
    assert "绑定" in answer


async def test_safe_mode_reply_is_encrypted_for_the_sender(rt, clock):
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        response = await user.post(user.text("库存"))
        assert "<Encrypt>" in response.text and "<Content>" not in response.text
        assert "绑定" in user.read(response)  # unbound: told how to bind


async def test_voice_recognition_is_handled_as_text_and_silence_gets_a_polite_ask(rt, clock, handler):
    counting = handler()
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        heard = user.read(await user.post(voice_xml(user.openid, "帮助。", next_msg_id(), user.now())))
        unclear = user.read(await user.post(voice_xml(user.openid, "", next_msg_id(), user.now())))
    assert "绑定" in heard and len(counting.calls) == 1
    assert "没听清" in unclear


async def test_subscribe_is_welcomed_with_how_to_bind_and_unsubscribe_gets_nothing(rt, clock, handler):
    counting = handler()
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        welcome = user.read(await user.post(event_xml(user.openid, "subscribe", user.now())))
        again = user.read(await user.post(event_xml(user.openid, "subscribe", user.now())))
        bye = user.read(await user.post(event_xml(user.openid, "unsubscribe", user.now())))
        image = user.read(await user.post(
            f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{user.openid}</FromUserName><CreateTime>{user.now()}"
            f"</CreateTime><MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MsgId>{next_msg_id()}</MsgId></xml>"))
    assert "欢迎" in welcome and "绑定 邀请码" in welcome and again == welcome
    assert bye is None
    assert "只支持文字和语音" in image
    assert counting.calls == []


async def test_menu_click_is_handled_as_its_key_and_deduped_by_sender_and_time(rt, clock, handler):
    counting = handler()
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        click = event_xml(user.openid, "CLICK", user.now(), key="帮助")
        first, retry = user.read(await user.post(click)), user.read(await user.post(click))
    assert "绑定" in first and retry == first
    assert counting.calls == [f"{user.openid}:{user.now()}"]  # the retry got the answer this worker just gave


# --- dedupe and the 5-second window ----------------------------------------------------------------

async def test_redelivered_message_gets_the_same_answer_and_is_recorded_once(rt, clock):
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        xml = user.text("帮助", msg_id=next_msg_id())
        first, second = user.read(await user.post(xml)), user.read(await user.post(xml))
    assert first == second and "绑定" in first
    async with rt.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ProcessedMessage)) == 1


async def test_retry_while_the_first_is_in_flight_runs_the_handler_once(rt, clock, handler):
    counting = handler(delay=0.4)
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        xml = user.text("帮助")

        async def retry_soon():
            await asyncio.sleep(0.1)
            return await user.post(xml)
        first, retry = await asyncio.gather(user.post(xml), retry_soon())
    assert len(counting.calls) == 1
    assert user.read(first) == user.read(retry) and "绑定" in user.read(first)


async def test_slow_answer_is_empty_at_once_then_sent_by_customer_service(rt, clock, handler, fake_wechat,
                                                                          monkeypatch):
    monkeypatch.setattr(rt.settings.wechat, "reply_deadline_seconds", 0.2)
    counting = handler(delay=0.6)
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        xml = user.text("帮助")
        started = time.monotonic()
        first = await user.post(xml)
        elapsed = time.monotonic() - started
        retry_in_flight = await user.post(xml)  # WeChat's retry while the handler still runs
        await settle()
        retry_after = await user.post(xml)       # and one after the answer was queued
    assert user.read(first) is None and elapsed < 0.5
    assert user.read(retry_in_flight) is None and user.read(retry_after) is None
    assert len(counting.calls) == 1  # the late retry reached handle, which answered from its record
    rows = await outbox_rows(rt)
    assert [(r.channel, r.target, r.kind, r.urgent) for r in rows] == [("wechat", user.openid, "reply", True)]
    async with sender_for(rt) as sender:
        await dispatcher.drain(rt.uow, {"wechat": sender}, worker="t")
    (sent,) = fake_wechat.of("/cgi-bin/message/custom/send")
    assert sent["touser"] == user.openid and "绑定" in sent["text"]["content"]


async def test_an_answer_over_2048_bytes_is_split_at_lines_and_the_rest_sent_in_order(rt, clock, handler,
                                                                                      fake_wechat):
    lines = [f"第{i:03d}行：A100 矿泉水 20箱 ¥560.00" for i in range(150)]
    handler(replies=[Reply("\n".join(lines))])
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        xml = user.text("库存")
        first = user.read(await user.post(xml))
        assert user.read(await user.post(xml)) == first  # a retry: the same first piece, nothing queued again
    assert len(first.encode()) <= 2048 and first.startswith(lines[0]) and first.endswith("¥560.00")
    rows = await outbox_rows(rt)
    assert len(rows) >= 2 and all(len(r.text.encode()) <= 2048 for r in rows)
    async with sender_for(rt) as sender:
        await dispatcher.drain(rt.uow, {"wechat": sender}, worker="t")
    assert "\n".join([first, *fake_wechat.texts()]).split("\n") == lines


async def test_buttons_become_a_reply_hint_unless_the_text_says_so(rt, clock, handler):
    handler(replies=[Reply("请确认这笔报单：A100 20箱", buttons=("确认", "取消"))])
    async with app_client(rt) as c:
        user = WechatUser(c, clock)
        hinted = await user.say("报单")
        handler(replies=[Reply("回复「确认」保存，「取消」放弃。", buttons=("确认", "取消"))])
        plain = await user.say("盘点")
    assert hinted == "请确认这笔报单：A100 20箱\n回复「确认」或「取消」"
    assert plain == "回复「确认」保存，「取消」放弃。"


async def test_pending_answers_are_finished_into_the_outbox_at_shutdown(rt, clock, handler, monkeypatch):
    monkeypatch.setattr(rt.settings.wechat, "reply_deadline_seconds", 0.05)
    handler(delay=0.3)
    async with app_client(rt) as c:
        assert await WechatUser(c, clock).say("帮助") is None
    await _wechat_answer.wait_pending(5)
    assert [r.kind for r in await outbox_rows(rt)] == ["reply"]


# --- rendering -----------------------------------------------------------------------------------

def test_a_line_longer_than_a_message_is_cut_between_characters():
    from bot.platforms._wechat_protocol import split_text
    line = "张" * 1000  # 3,000 bytes
    pieces = split_text(f"标题\n{line}\n结尾")
    assert all(len(p.encode()) <= 2048 for p in pieces) and "".join(pieces).replace("\n", "") == f"标题{line}结尾"
    assert split_text("") == [] and split_text("短消息") == ["短消息"]


async def test_reply_text_cannot_break_out_of_its_cdata(rt, plain_rt, clock, handler):
    tricky = "客户：A]]></Content><MsgType>news</MsgType><Content><![CDATA[x"
    handler(replies=[Reply(tricky)])
    for runtime, safe in ((rt, True), (plain_rt, False)):
        async with app_client(runtime) as c:
            assert await WechatUser(c, clock, safe=safe).say("报单") == tricky


async def test_an_unusable_aes_key_refuses_every_callback_instead_of_falling_back_to_plaintext(db_url, clock,
                                                                                             fake_wechat, handler):
    counting = handler()
    async with wechat_runtime(db_url, fake_wechat.base_url, clock) as runtime:
        runtime.settings.wechat.aes_key = "!" * 43
        async with app_client(runtime) as c:
            plain = await WechatUser(c, clock, safe=False).post(text_xml("oX", "库存", next_msg_id(), 1794963600))
    assert plain.status_code == 403 and counting.calls == []
