"""Undeliverable on one channel: the message falls back to the user's other identities; dead rows say why."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services import dispatcher, outbox
from services.dispatcher import SendError
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
