"""Test kit for the WeChat Official Account: the fake API server, settings, and a WeChat "user" that
posts callbacks signed (and in safe mode encrypted) with wechatpy's own crypto and reads the replies."""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto

from bot.bootstrap import Runtime
from bot.platforms import _wechat_answer, wechat
from bot.web import create_app
from services.config import Settings
from storage.db import make_engine

from fake_wechat import FakeWechat

TOKEN = "pb-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
APP_ID = "wx0123456789abcdef"
SECRET = "s3cret-app"
ACCOUNT = "gh_partnerbot"
_ids = itertools.count(880000000000000001)


def next_msg_id() -> int:
    return next(_ids)


@pytest.fixture(scope="session")
def fake_wechat_server():
    server = FakeWechat().start()
    yield server
    server.stop()


@pytest.fixture
def fake_wechat(fake_wechat_server):
    fake_wechat_server.reset()
    yield fake_wechat_server
    fake_wechat_server.reset()


def wechat_settings(db_url: str, base_url: str, *, safe: bool = True, templates: dict | None = None,
                    quiet_hours: str = "") -> Settings:
    return Settings(database={"url": db_url}, app={"quiet_hours": quiet_hours},
                    wechat={"app_id": APP_ID, "app_secret": SECRET, "token": TOKEN, "aes_key": AES_KEY if safe else "",
                            "api_base_url": base_url, "templates": templates or {}})


@asynccontextmanager
async def wechat_runtime(db_url: str, base_url: str, clock, **kw):
    settings = wechat_settings(db_url, base_url, **kw)
    rt = Runtime(settings=settings, engine=make_engine(db_url), clock=clock)
    try:
        yield rt
    finally:
        await rt.dispose()


@asynccontextmanager
async def sender_for(runtime):
    """The real "wechat" sender of `runtime`, its HTTP client closed afterwards."""
    async with AsyncExitStack() as stack:
        yield await wechat.open_sender(runtime, stack)


def app_client(runtime) -> httpx.AsyncClient:
    app = create_app(runtime=runtime, start_background=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30)


async def settle() -> None:
    """Waits for answers still being worked out (deferred past the window) to reach the outbox."""
    for _ in range(200):
        pending = [t for t in _wechat_answer.PENDING if not t.done()]
        if not pending:
            return
        await asyncio.wait(pending, timeout=5)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(openid: str, text: str, msg_id: int, create_time: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(openid: str, event: str, create_time: int, key: str = "") -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")


def voice_xml(openid: str, recognition: str, msg_id: int, create_time: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
            f"<MediaId><![CDATA[media1]]></MediaId><Format><![CDATA[amr]]></Format>"
            f"<Recognition><![CDATA[{recognition}]]></Recognition><MsgId>{msg_id}</MsgId></xml>")


class WechatUser:
    """One WeChat user talking to the app as WeChat's servers would deliver it."""

    def __init__(self, client: httpx.AsyncClient, clock, openid: str = "oUSER-alice-0001", *, safe: bool = True):
        self.client = client
        self.clock = clock
        self.openid = openid
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if safe else None

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def text(self, text: str, msg_id: int | None = None) -> str:
        return text_xml(self.openid, text, msg_id or next_msg_id(), self.now())

    async def post(self, xml: str, *, token: str = TOKEN, timestamp: str | None = None) -> httpx.Response:
        """Posts `xml` signed (and encrypted in safe mode); `token` other than ours forges the signature."""
        ts = timestamp or str(self.now())
        nonce = secrets.token_hex(5)
        params = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": self.openid}
        body = xml
        if self.crypto is not None:
            envelope = fields(self.crypto.encrypt_message(xml, nonce, ts))
            params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
            body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
        return await self.client.post("/wechat/callback", params=params, content=body.encode())

    def read(self, response: httpx.Response) -> str | None:
        """The passive reply's text, or None for an empty ("success") answer."""
        assert response.status_code == 200, response.text
        if response.text in ("success", ""):
            return None
        xml = response.text
        if self.crypto is not None:
            envelope = fields(xml)
            assert set(envelope) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}, "reply is not encrypted"
            xml = self.crypto.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        reply = fields(xml)
        assert reply["MsgType"] == "text" and reply["ToUserName"] == self.openid and reply["FromUserName"] == ACCOUNT
        return reply["Content"]

    async def say(self, text: str, msg_id: int | None = None) -> str | None:
        return self.read(await self.post(self.text(text, msg_id)))


def fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in fromstring(xml)}
