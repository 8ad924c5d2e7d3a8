"""Undeliverable on one channel: the message falls back to the user's other identities; dead rows say why."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime
from bot.web import create_app
from services import dispatcher, outbox
from services.config import Settings
from services.dispatcher import SendError
from storage.db import make_engine
from storage.models import ChatIdentity, Outbox, User


class Sink:
    """Delivers everything, recording (channel, target, text)."""

    def __init__(self):
        self.got: list[tuple[str, str, str]] = []

    async def send(self, msg) -> None:
        self.got.append((msg.channel, msg.target, msg.text))


class Unreachable:
    """Every message is undeliverable on this channel."""

    def __init__(self, reason: str):
        self.reason = reason
        self.tries = 0

    async def send(self, msg) -> None:
        self.tries += 1
        raise SendError(self.reason, fallback=True)


async def user_with(runtime, clock, identities: list[tuple[str, str, int | None]]) -> int:
    """A user with identities (channel, external id, minutes since last inbound or None)."""
    async with runtime.uow() as uow:
        user = User(name="张三", role="member", created_at=clock.now())
        uow.add(user)
        await uow.session.flush()
        for channel, ext, ago in identities:
            uow.add(ChatIdentity(channel=channel, external_id=ext, chat_id=ext, user_id=user.id,
                                 last_inbound_at=None if ago is None else clock.now() - timedelta(minutes=ago),
                                 created_at=clock.now()))
        await uow.commit()
        return user.id


async def notify(runtime, user_id: int, text: str, **kw) -> int:
    async with runtime.uow() as uow:
        row = await outbox.notify_user(uow, user_id=user_id, text=text, urgent=True, **kw)
        await uow.commit()
        return row.id


async def all_rows(runtime) -> list[Outbox]:
    async with runtime.uow() as uow:
        found = list(await uow.session.scalars(select(Outbox).order_by(Outbox.id)))
        uow.session.expunge_all()
        return found


async def drain_all(runtime, senders) -> None:
    for _ in range(10):
        if not (await dispatcher.drain(runtime.uow, senders, worker="w1", flush=True)).rows:
            return


async def test_undeliverable_on_wechat_goes_to_the_users_most_recent_other_identity(runtime, clock):
    uid = await user_with(runtime, clock, [("wechat", "oWX1", 5), ("wecom", "zhang", 60 * 24),
                                           ("telegram", "777", 60)])
    first = await notify(runtime, uid, "库存偏低 A100", buttons=("查看",))
    sink = Sink()
    wechat = Unreachable("outside the 48-hour window and no template for notice")
    result = await dispatcher.drain(runtime.uow, {"wechat": wechat, "wecom": sink, "telegram": sink},
                                    worker="w1")
    assert result.dead == 1
    await drain_all(runtime, {"wechat": wechat, "wecom": sink, "telegram": sink})

    assert sink.got == [("telegram", "777", "库存偏低 A100")]  # telegram was active more recently than wecom
    dead, moved = await all_rows(runtime)
    assert dead.id == first and dead.status == "dead"
    assert dead.last_error == ("undeliverable on wechat: outside the 48-hour window and no template for notice; "
                               "passed on to telegram")
    assert moved.status == "sent" and moved.user_id == uid and moved.payload["buttons"] == ["查看"]
    assert moved.payload["tried"] == ["wechat"] and moved.urgent


async def test_every_channel_undeliverable_leaves_one_dead_row_per_channel_with_every_reason(runtime, clock):
    uid = await user_with(runtime, clock, [("wechat", "oWX1", 1), ("telegram", "777", 2), ("wecom", "zhang", 3)])
    await notify(runtime, uid, "审批结果")
    senders = {"wechat": Unreachable("48h window closed"), "telegram": Unreachable("bot was blocked by the user"),
               "wecom": Unreachable("user left the corp")}
    await drain_all(runtime, senders)

    rows = await all_rows(runtime)
    assert [(r.channel, r.status) for r in rows] == [("wechat", "dead"), ("telegram", "dead"), ("wecom", "dead")]
    assert all(s.tries == 1 for s in senders.values())  # each channel tried once, none retried
    assert rows[-1].last_error == ("undeliverable on wechat: 48h window closed; "
                                   "undeliverable on telegram: bot was blocked by the user; "
                                   "undeliverable on wecom: user left the corp; no other identity to try")


async def test_fallback_skips_channels_without_a_sender_and_rows_without_a_user(runtime, clock):
    uid = await user_with(runtime, clock, [("wechat", "oWX1", 1), ("console", "zhang", 2)])
    await notify(runtime, uid, "hello")
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="wechat", target="oGROUP", text="no user", urgent=True)
        await uow.commit()
    await drain_all(runtime, {"wechat": Unreachable("no template")})

    rows = await all_rows(runtime)
    assert [(r.channel, r.status) for r in rows] == [("wechat", "dead"), ("wechat", "dead")]
    assert rows[0].last_error == "undeliverable on wechat: no template; no other identity to try"
    assert rows[1].last_error == "undeliverable on wechat: no template"


async def test_fallback_of_a_merged_burst_moves_each_row(runtime, clock):
    uid = await user_with(runtime, clock, [("wechat", "oWX1", 1), ("telegram", "777", 2)])
    async with runtime.uow() as uow:
        for text in ("提醒一", "提醒二"):
            await outbox.notify_user(uow, user_id=uid, text=text)
        await uow.commit()
    sink = Sink()
    await drain_all(runtime, {"wechat": Unreachable("window closed"), "telegram": sink})
    assert sink.got == [("telegram", "777", "提醒一\n\n提醒二")]
    assert [r.status for r in await all_rows(runtime)] == ["dead", "dead", "sent", "merged"]


async def test_dead_rows_keep_a_readable_reason_with_secrets_masked(runtime):
    class Leaky:
        async def send(self, msg):
            raise SendError("POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx&debug=1 "
                            "and https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage "
                            "failed", retryable=False)

    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="1", text="x", urgent=True)
        await uow.commit()
    await dispatcher.drain(runtime.uow, {"telegram": Leaky()}, worker="w1")
    (row,) = await all_rows(runtime)
    assert row.status == "dead"
    assert row.last_error == ("rejected by telegram: POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
                              "&debug=1 and https://api.telegram.org/bot***/sendMessage failed")


def test_mask_secrets_covers_access_tokens_and_bare_bot_tokens():
    assert outbox.mask_secrets("GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3cr3t") == \
        "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=***"
    assert outbox.mask_secrets("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw bad") == "token *** bad"
    assert outbox.mask_secrets("errcode 40001 invalid credential, access_token=ABC is invalid") == \
        "errcode 40001 invalid credential, access_token=*** is invalid"


# seeing them -----------------------------------------------------------------------------------

async def test_undelivered_lists_dead_and_pending_with_why_and_never_a_webhook_key(make_rows_runtime):
    runtime = make_rows_runtime
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="1", text="rejected one", urgent=True)
        await outbox.notify_region(uow, region="江苏", text="group alert", urgent=True)
        await uow.commit()

    class Refuses:
        async def send(self, msg):
            raise SendError(f"HTTP 500 from {msg.target}", retryable=msg.channel == "wecom_robot")

    await dispatcher.drain(runtime.uow, {"telegram": Refuses(), "wecom_robot": Refuses()}, worker="w1")
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="2", text="later")
        await uow.commit()

    listed = await outbox.undelivered(runtime.uow())
    assert [(m.status, m.channel, m.target) for m in listed] == [
        ("pending", "telegram", "2"), ("pending", "wecom_robot", "江苏"), ("dead", "telegram", "1")]
    assert listed[1].last_error == "HTTP 500 from https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
    assert listed[2].last_error == "rejected by telegram: HTTP 500 from 1" and listed[2].attempts == 1
    assert [m.id for m in await outbox.undelivered(runtime.uow(), statuses=("dead",))] == [listed[2].id]
    assert len(await outbox.undelivered(runtime.uow(), limit=1)) == 1


@pytest.fixture
async def make_rows_runtime(db_url, clock):
    rt = Runtime(settings=Settings(database={"url": db_url}, groups={
        "江苏": "wecom_robot:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-secret"}),
        engine=make_engine(db_url), clock=clock)
    yield rt
    await rt.dispose()


def cli(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    env["COLUMNS"] = "200"
    exe = Path(sys.executable).with_name("partnerbot")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def test_outbox_list_command_shows_why_each_message_is_undelivered(db_url, runtime, tmp_path):
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="42", text="您的报备已通过", urgent=True)
        outbox.enqueue(uow, channel="telegram", target="43", text="waiting")
        await uow.commit()
    await dispatcher.drain(runtime.uow, {"telegram": Unreachable("bot was blocked by the user")}, worker="w1")

    result = await asyncio.to_thread(cli, db_url, "outbox", "list", "--status", "dead", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "undeliverable on telegram: bot was blocked by the user" in result.stdout
    assert "您的报备已通过" in result.stdout and "waiting" not in result.stdout
    both = await asyncio.to_thread(cli, db_url, "outbox", "list", "--limit", "5", cwd=tmp_path)
    assert both.returncode == 0 and "waiting (merge window or quiet hours)" in both.stdout
    bad = await asyncio.to_thread(cli, db_url, "outbox", "list", "--status", "sent", cwd=tmp_path)
    assert bad.returncode != 0 and "sent" in bad.stderr


async def test_metrics_count_dead_and_pending_rows(runtime):
    async with runtime.uow() as uow:
        outbox.enqueue(uow, channel="telegram", target="1", text="x", urgent=True)
        outbox.enqueue(uow, channel="telegram", target="2", text="y")
        await uow.commit()
    await dispatcher.drain(runtime.uow, {"telegram": Unreachable("blocked")}, worker="w1")
    app = create_app(runtime=runtime, start_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        text = (await c.get("/metrics")).text
    assert 'partnerbot_outbox_status_rows{status="dead"} 1.0' in text
    assert 'partnerbot_outbox_status_rows{status="pending"} 1.0' in text
