"""Outbox dispatcher: retries with back-off, leases, concurrency, merging, rate limits, quiet hours."""
from __future__ import annotations

import asyncio
import base64
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime
from bot.senders import ConsoleSink, RecordingSink, recording_senders
from services import dispatcher, outbox
from services.config import Settings
from services.dispatcher import SendError
from storage.db import make_engine
from storage.models import Outbox

LOCAL = "+08:00"


class FlakySender:
    """Fails each message `failures` times (retryably), then delivers it."""

    def __init__(self, failures: int = 0, *, retryable: bool = True):
        self.failures = failures
        self.retryable = retryable
        self.tries: dict[int, int] = {}
        self.delivered: list = []

    async def send(self, msg) -> None:
        self.tries[msg.id] = self.tries.get(msg.id, 0) + 1
        if self.tries[msg.id] <= self.failures:
            raise SendError(f"platform said no ({self.tries[msg.id]})", retryable=self.retryable)
        self.delivered.append(msg)


class HangingSender:
    """Never finishes a send: stands for a worker killed mid-send."""

    def __init__(self):
        self.started = asyncio.Event()

    async def send(self, msg) -> None:
        self.started.set()
        await asyncio.Event().wait()


def senders(sender) -> dict:
    return {channel: sender for channel in ("console", "wechat", "wecom", "wecom_robot", "telegram")}


async def put(runtime, *, channel="telegram", target="100", text="hello", **kw) -> int:
    async with runtime.uow() as uow:
        row = outbox.enqueue(uow, channel=channel, target=target, text=text, **kw)
        await uow.commit()
    return row.id


async def rows(runtime) -> dict[int, Outbox]:
    async with runtime.uow() as uow:
        found = {r.id: r for r in await uow.session.scalars(select(Outbox).order_by(Outbox.id))}
        uow.session.expunge_all()  # keep the loaded values when the unit of work rolls back
        return found


@pytest.fixture
async def make_runtime(db_url, clock):
    """Makes runtimes on the test database, each with its own engine and extra settings."""
    made: list[Runtime] = []

    def make(**sections) -> Runtime:
        rt = Runtime(settings=Settings(database={"url": db_url}, **sections), engine=make_engine(db_url),
                     clock=clock)
        made.append(rt)
        return rt
    yield make
    for rt in made:
        await rt.dispose()


async def test_flaky_platform_delivers_every_message_exactly_once_with_backoff(runtime, clock):
    ids = [await put(runtime, target=str(t), text=f"m{t}", urgent=True) for t in range(3)]
    sender = FlakySender(failures=2)
    start = clock.now()

    first = await dispatcher.drain(runtime.uow, senders(sender), worker="w1")
    assert (first.sent, first.failed) == (0, 3)
    after_one = await rows(runtime)
    for i in ids:
        assert after_one[i].attempts == 1 and after_one[i].status == "pending"
        assert after_one[i].next_attempt_at == start + timedelta(seconds=5)  # base * 2**0
        assert after_one[i].last_error == "platform said no (1)" and after_one[i].locked_until is None

    assert (await dispatcher.drain(runtime.uow, senders(sender), worker="w1")).rows == 0  # not due yet
    clock.advance(seconds=5)
    await dispatcher.drain(runtime.uow, senders(sender), worker="w1")
    after_two = await rows(runtime)
    assert all(after_two[i].next_attempt_at == start + timedelta(seconds=5 + 10) for i in ids)  # base * 2**1

    clock.advance(seconds=10)
    third = await dispatcher.drain(runtime.uow, senders(sender), worker="w1")
    assert (third.sent, third.messages) == (3, 3)
    for _ in range(3):
        clock.advance(minutes=10)
        assert (await dispatcher.drain(runtime.uow, senders(sender), worker="w1", flush=True)).rows == 0
    done = await rows(runtime)
    assert sorted(m.id for m in sender.delivered) == ids
    assert all(done[i].status == "sent" and done[i].sent_at == start + timedelta(seconds=15) for i in ids)
    assert all(done[i].last_error == "" for i in ids)


async def test_retry_after_from_the_platform_is_added_to_the_backoff(runtime, clock):
    class Throttled:
        async def send(self, msg):
            raise SendError("429 too many requests", retry_after=30)

    row_id = await put(runtime, urgent=True)
    await dispatcher.drain(runtime.uow, senders(Throttled()), worker="w1")
    assert (await rows(runtime))[row_id].next_attempt_at == clock.now() + timedelta(seconds=5 + 30)


async def test_rejected_message_is_dead_with_the_reason(runtime):
    row_id = await put(runtime, urgent=True)
    result = await dispatcher.drain(runtime.uow, senders(FlakySender(1, retryable=False)), worker="w1")
    row = (await rows(runtime))[row_id]
    assert result.dead == 1 and row.status == "dead"
    assert row.last_error == "rejected by telegram: platform said no (1)"


async def test_message_is_dead_after_max_attempts(runtime, clock):
    row_id = await put(runtime, urgent=True)
    sender = FlakySender(failures=100)
    for _ in range(runtime.settings.dispatcher.max_attempts):
        await dispatcher.drain(runtime.uow, senders(sender), worker="w1", flush=True)
    row = (await rows(runtime))[row_id]
    assert row.status == "dead" and row.attempts == runtime.settings.dispatcher.max_attempts
    assert row.last_error.startswith(f"gave up after {row.attempts} attempts: platform said no")


async def test_unexpected_sender_crash_is_retried_not_lost(runtime):
    class Buggy:
        async def send(self, msg):
            raise ValueError("oops")

    row_id = await put(runtime, urgent=True)
    result = await dispatcher.drain(runtime.uow, senders(Buggy()), worker="w1")
    row = (await rows(runtime))[row_id]
    assert result.failed == 1 and row.status == "pending" and row.last_error == "ValueError: oops"


async def test_channel_without_sender_is_dead_with_reason(runtime):
    row_id = await put(runtime, channel="wechat", urgent=True)
    result = await dispatcher.drain(runtime.uow, {"telegram": FlakySender()}, worker="w1")
    row = (await rows(runtime))[row_id]
    assert result.dead == 1 and row.status == "dead" and row.last_error == "no sender for channel 'wechat'"


async def test_rows_of_a_killed_worker_are_taken_again_after_the_lease(runtime, clock):
    row_id = await put(runtime, urgent=True, text="important")
    hanging = HangingSender()
    killed = asyncio.create_task(dispatcher.drain(runtime.uow, senders(hanging), worker="doomed"))
    await asyncio.wait_for(hanging.started.wait(), timeout=5)
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    held = (await rows(runtime))[row_id]
    assert held.locked_by == "doomed" and held.status == "pending"

    survivor = FlakySender()
    assert (await dispatcher.drain(runtime.uow, senders(survivor), worker="w2", flush=True)).rows == 0
    clock.advance(seconds=runtime.settings.dispatcher.lease_seconds + 1)
    result = await dispatcher.drain(runtime.uow, senders(survivor), worker="w2")
    row = (await rows(runtime))[row_id]
    assert result.sent == 1 and [m.text for m in survivor.delivered] == ["important"]
    assert row.status == "sent" and row.locked_by == "w2"


async def test_two_workers_draining_at_once_never_send_a_row_twice(make_runtime, runtime):
    ids = [await put(runtime, target=str(t), text=f"m{t}", urgent=True) for t in range(40)]
    delivered: list[int] = []

    class Slow:
        async def send(self, msg):
            await asyncio.sleep(0.005)
            delivered.append(msg.id)

    async def worker(name: str) -> int:
        rt = make_runtime(dispatcher={"batch_size": 4})
        total = 0
        while (r := await dispatcher.drain(rt.uow, senders(Slow()), worker=name)).rows:
            total += r.sent
        return total

    counts = await asyncio.gather(worker("a"), worker("b"))
    assert sorted(delivered) == ids and sum(counts) == 40
    assert all(r.status == "sent" for r in (await rows(runtime)).values())


async def test_a_burst_to_one_group_goes_as_one_message(make_runtime, clock):
    rt = make_runtime(groups={"江苏": "wecom_robot:https://robot.example/send?key=K1"})
    async with rt.uow() as uow:
        for text in ("低库存 A100", "低库存 B200"):
            await outbox.notify_region(uow, region="江苏-南京", text=text)
        await outbox.notify_region(uow, region="江苏", text="审批?", buttons=("同意", "拒绝"))
        await outbox.notify_region(uow, region="江苏", text="紧急", urgent=True)
        await outbox.notify_region(uow, region="江苏-苏州", text="低库存 C300")
        await uow.commit()
    sink = RecordingSink()

    assert (await dispatcher.drain(rt.uow, recording_senders(sink), worker="w1")).messages == 1  # urgent only
    assert sink.records == [{"channel": "wecom_robot", "target": "江苏", "text": "紧急"}]
    result = await dispatcher.drain(rt.uow, recording_senders(sink), worker="w1", flush=True)
    assert (result.sent, result.messages) == (4, 2)
    assert sink.records[1:] == [
        {"channel": "wecom_robot", "target": "江苏", "text": "低库存 A100\n\n低库存 B200\n\n低库存 C300"},
        {"channel": "wecom_robot", "target": "江苏", "text": "审批?", "buttons": ["同意", "拒绝"]},
    ]
    assert sink.messages[1].target == "https://robot.example/send?key=K1"
    statuses = [r.status for r in (await rows(rt)).values()]
    assert statuses == ["sent", "merged", "sent", "sent", "merged"]
    assert all(r.sent_at == clock.now() for r in (await rows(rt)).values())


async def test_rate_limit_holds_messages_until_the_minute_frees(make_runtime, clock):
    rt = make_runtime(dispatcher={"channel_rate_per_minute": {"telegram": 3}})
    ids = [await put(rt, target="chat-1", text=f"m{i}", buttons=("ok",)) for i in range(5)]
    other = await put(rt, target="chat-2", text="elsewhere", buttons=("ok",))
    sender = FlakySender()
    start = clock.now()

    result = await dispatcher.drain(rt.uow, senders(sender), worker="w1", flush=True)
    assert (result.sent, result.deferred) == (4, 2)
    held = await rows(rt)
    assert [held[i].status for i in ids] == ["sent"] * 3 + ["pending"] * 2
    assert all(held[i].next_attempt_at == start + timedelta(seconds=60) for i in ids[3:])
    assert held[other].status == "sent"

    clock.advance(seconds=30)  # another worker counts the same minute from the database
    again = await dispatcher.drain(make_runtime(dispatcher={"channel_rate_per_minute": {"telegram": 3}}).uow,
                                   senders(sender), worker="w2", flush=True)
    assert (again.sent, again.deferred) == (0, 2)
    clock.advance(seconds=30)
    assert (await dispatcher.drain(rt.uow, senders(sender), worker="w1")).sent == 2
    assert [m.text for m in sender.delivered if m.target == "chat-1"] == ["m0", "m1", "m2", "m3", "m4"]


async def test_per_channel_rate_overrides_the_default(make_runtime):
    rt = make_runtime(dispatcher={"rate_per_minute": 2, "channel_rate_per_minute": {"wecom_robot": 20}})
    assert dispatcher.rate_for(rt.settings, "telegram") == 2
    assert dispatcher.rate_for(rt.settings, "wecom_robot") == 20


async def test_quiet_hours_hold_pushes_until_morning_even_when_flushed(runtime, clock):
    clock.set(datetime.fromisoformat(f"2026-11-18T23:00:00{LOCAL}"))
    calm = await put(runtime, text="库存偏低")
    loud = await put(runtime, target="200", text="紧急", urgent=True)
    sender = FlakySender()

    result = await dispatcher.drain(runtime.uow, senders(sender), worker="w1", flush=True)
    assert result.sent == 1 and [m.id for m in sender.delivered] == [loud]
    clock.set(datetime.fromisoformat(f"2026-11-19T07:59:00{LOCAL}"))
    assert (await dispatcher.drain(runtime.uow, senders(sender), worker="w1", flush=True)).sent == 0
    clock.set(datetime.fromisoformat(f"2026-11-19T08:00:00{LOCAL}"))
    assert (await dispatcher.drain(runtime.uow, senders(sender), worker="w1", flush=True)).sent == 1
    assert [m.id for m in sender.delivered] == [loud, calm]


async def test_targets_restrict_a_pass(runtime):
    mine = await put(runtime, channel="console", target="alice", urgent=True)
    await put(runtime, channel="console", target="bob", urgent=True)
    sink = RecordingSink()
    result = await dispatcher.drain(runtime.uow, recording_senders(sink), worker="c", targets={("console", "alice")})
    assert result.sent == 1 and [m.id for m in sink.messages] == [mine]
    assert (await dispatcher.drain(runtime.uow, recording_senders(sink), worker="c", targets=set())).rows == 0


async def test_sinks_show_buttons_and_images(runtime):
    png = b"\x89PNG fake image"
    await put(runtime, channel="console", target="alice", text="看图", urgent=True,
              image_b64=base64.b64encode(png).decode())
    await put(runtime, channel="console", target="alice", text="确认吗", urgent=True, buttons=("确认", "取消"))
    sink, buf = RecordingSink(), io.StringIO()
    console = ConsoleSink(buf)

    class Both:
        async def send(self, msg):
            await sink.send(msg)
            await console.send(msg)

    await dispatcher.drain(runtime.uow, senders(Both()), worker="w1")
    assert sink.records == [
        {"channel": "console", "target": "alice", "text": "看图", "image": f"image/png, {len(png)} bytes"},
        {"channel": "console", "target": "alice", "text": "确认吗", "buttons": ["确认", "取消"]},
    ]
    assert sink.messages[0].image_png == png
    assert buf.getvalue().splitlines() == [
        "[push → console:alice] 看图", f"  (image/png, {len(png)} bytes)",
        "[push → console:alice] 确认吗", "  [确认]  [取消]",
    ]


async def test_dispatcher_loop_delivers_until_stopped(runtime):
    sink = RecordingSink()
    stop = asyncio.Event()
    seen = []
    task = asyncio.create_task(dispatcher.dispatcher_loop(runtime.uow, recording_senders(sink), worker="loop",
                                                          interval=0.01, stop_event=stop, on_result=seen.append))
    await put(runtime, text="hi", urgent=True)
    for _ in range(500):
        if sink.records:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [r["text"] for r in sink.records] == ["hi"] and any(r.sent for r in seen)


async def test_purge_removes_only_old_delivered_rows(runtime, clock):
    old = await put(runtime, urgent=True, text="old")
    await dispatcher.drain(runtime.uow, senders(FlakySender()), worker="w1")
    clock.advance(days=31)
    recent = await put(runtime, urgent=True, text="recent")
    await dispatcher.drain(runtime.uow, senders(FlakySender()), worker="w1")
    waiting = await put(runtime, text="waiting")
    assert await dispatcher.purge_delivered(runtime.uow(), older_than_days=30) == 1
    left = await rows(runtime)
    assert old not in left and {recent, waiting} <= set(left)


async def test_local_sinks_get_every_message_in_queue_order_without_rate_limits(runtime):
    for target in ("carol", "alice", "bob"):
        await put(runtime, channel="console", target=target, text=f"to {target}", urgent=True)
    for i in range(runtime.settings.dispatcher.rate_per_minute + 5):
        await put(runtime, channel="wecom_robot", target="hook", text=f"#{i}", buttons=("ok",))
    sink = RecordingSink()
    result = await dispatcher.drain(runtime.uow, recording_senders(sink), worker="replay", flush=True, limit=100)
    assert result.deferred == 0 and result.sent == 28
    assert [r["target"] for r in sink.records[:3]] == ["carol", "alice", "bob"]
    assert [r["text"] for r in sink.records[3:]] == [f"#{i}" for i in range(25)]
