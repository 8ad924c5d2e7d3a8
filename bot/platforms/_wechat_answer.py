"""Answering inside WeChat's 5-second window, once per message, whatever WeChat retries.

WeChat waits 5 s for a callback's answer and otherwise retries it (3 times). So a message's
handler runs as a task and the request waits for it only until the deadline (4 s by default):
- done in time: the first text piece is the passive reply; further pieces (over 2048 bytes) and
  images are queued to the outbox for the customer-service API;
- not done: the answer is empty ("success") at once, a marker notes that this message is answered
  later, and when the handler finishes every piece is queued to the outbox.

A retry never runs the handler twice: `handle` claims the message id in its transaction, and a
redelivery gets the first answer. A retry reaching this worker while the first is in flight waits
for the first's decision and gives the same answer (the same passive text, or empty when the
answer goes out later). A retry reaching another worker gets the stored replies from `handle`
and the marker tells it whether the answer was deferred. Queued pieces carry dedupe keys
(`wechat:reply:<message id>:<n>`), so however many times they are queued, each goes out once.
"""
from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from handlers.messages import InboundMessage, Reply
from services import outbox
from storage.models import CacheEntry, ChatIdentity, Outbox

from ._wechat_protocol import render

log = logging.getLogger("partnerbot.wechat")

MARKER = "wechat:deferred:"
MARKER_TTL = timedelta(hours=1)
KEEP_DECISION_SECONDS = 60.0  # WeChat's retries come within about 15 s
PENDING: set[asyncio.Task] = set()  # handler and delivery tasks still running, waited for at shutdown

Handle = Callable[[object, InboundMessage], Awaitable[list[Reply]]]


@dataclass
class _Call:
    decided: asyncio.Event = field(default_factory=asyncio.Event)
    passive: str | None = None  # the passive reply text; None: empty answer


@dataclass(frozen=True)
class _Outcome:
    texts: list[str]
    images: list[bytes]
    deferred_elsewhere: bool


def spawn(coro) -> asyncio.Task:
    task = asyncio.create_task(coro)
    PENDING.add(task)
    task.add_done_callback(PENDING.discard)
    return task


class Answerer:
    """One per app: the messages in flight in this worker and how each was answered."""

    def __init__(self, runtime, deps, handle: Callable[[], Handle]):
        self.runtime = runtime
        self.deps = deps
        self._handle = handle  # looked up per message, so a test can slow the handler down
        self.calls: dict[str, _Call] = {}

    async def answer(self, msg: InboundMessage, *, timeout: float) -> str | None:
        """The passive reply's text for `msg`, or None for an empty answer (sent later, or nothing to say)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        call = self.calls.get(msg.message_id)
        if call is not None:  # a retry while the first is in flight (or just answered) here
            try:
                await asyncio.wait_for(call.decided.wait(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                return None
            return call.passive
        call = self.calls[msg.message_id] = _Call()
        loop.call_later(KEEP_DECISION_SECONDS + timeout, self._forget, msg.message_id, call)
        task = spawn(self._run(msg))
        try:
            try:
                done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            except asyncio.CancelledError:  # the request went away: the answer still goes, later
                self._defer(msg, task)
                raise
            if task in done:
                if task.exception() is not None:  # handle answers its own failures; this is a last guard
                    log.error("wechat message %s failed", msg.message_id, exc_info=task.exception())
                    return None
                outcome = task.result()
                if not outcome.deferred_elsewhere:
                    call.passive = outcome.texts[0] if outcome.texts else None
                    await self._queue(msg, outcome.texts[1:], outcome.images, first=1)
                return call.passive
            self._defer(msg, task)
            return None
        finally:
            call.decided.set()

    def _defer(self, msg: InboundMessage, task: asyncio.Task) -> None:
        spawn(self._mark_deferred(msg.message_id))
        spawn(self._deliver_later(msg, task))

    def _forget(self, message_id: str, call: _Call) -> None:
        if self.calls.get(message_id) is call:
            del self.calls[message_id]

    async def _run(self, msg: InboundMessage) -> _Outcome:
        replies = await self._handle()(self.deps, msg)
        texts, images = render(replies)
        try:
            deferred = await self._is_deferred(msg.message_id)
        except Exception as exc:  # noqa: BLE001 - without the marker, answer as the first would
            log.warning("wechat deferred marker for %s unreadable: %s", msg.message_id, type(exc).__name__)
            deferred = False
        return _Outcome(texts, images, deferred)

    async def _deliver_later(self, msg: InboundMessage, task: asyncio.Task) -> None:
        """Queues the whole answer once the handler is done."""
        try:
            outcome = await task
        except Exception:  # noqa: BLE001 - handle answers even its own failures; this is a last guard
            log.exception("wechat message %s: handler failed after the deadline", msg.message_id)
            return
        await self._queue(msg, outcome.texts, outcome.images, first=0)

    async def _queue(self, msg: InboundMessage, texts: list[str], images: list[bytes], *, first: int) -> None:
        """Queues text pieces numbered from `first`, then images, for the customer-service API."""
        pieces: list[tuple[str, str, bytes | None]] = [
            (f"wechat:reply:{msg.message_id}:{first + i}", text, None) for i, text in enumerate(texts)]
        pieces += [(f"wechat:reply:{msg.message_id}:img{i}", "", png) for i, png in enumerate(images)]
        if not pieces:
            return
        failure: BaseException | None = None
        for attempt in range(3):
            try:
                await self._queue_once(msg, pieces)
                return
            except (IntegrityError, OperationalError) as exc:  # another worker queued them just now; look again
                failure = exc
                await asyncio.sleep(0.05 * (attempt + 1))
            except Exception as exc:  # noqa: BLE001 - the passive reply still goes; the loss is logged
                failure = exc
                break
        log.error("wechat message %s: could not queue %d piece(s) of its answer", msg.message_id, len(pieces),
                  exc_info=failure)

    async def _queue_once(self, msg: InboundMessage, pieces: list[tuple[str, str, bytes | None]]) -> None:
        uow = self.runtime.uow()
        async with uow:
            keys = [key for key, _, _ in pieces]
            queued = set(await uow.session.scalars(select(Outbox.dedupe_key).where(Outbox.dedupe_key.in_(keys))))
            user_id = await uow.session.scalar(select(ChatIdentity.user_id).where(
                ChatIdentity.channel == msg.channel, ChatIdentity.external_id == msg.user_id))
            for key, text, png in pieces:
                if key in queued:
                    continue
                outbox.enqueue(uow, channel=msg.channel, target=msg.chat_id or msg.user_id, text=text, kind="reply",
                               urgent=True, image_b64=base64.b64encode(png).decode() if png else None,
                               dedupe_key=key, user_id=user_id)
            await uow.commit()

    async def _is_deferred(self, message_id: str) -> bool:
        async with self.runtime.uow().reading() as ro:
            return await ro.session.scalar(
                select(CacheEntry.key).where(CacheEntry.key == MARKER + message_id)) is not None

    async def _mark_deferred(self, message_id: str) -> None:
        """Notes, for retries reaching other workers, that this message's answer goes out later."""
        for attempt in range(3):
            uow = self.runtime.uow()
            try:
                async with uow:
                    now = uow.now()
                    await uow.session.execute(delete(CacheEntry).where(
                        CacheEntry.key.like(MARKER + "%"), CacheEntry.expires_at <= now))
                    insert = (postgresql.insert if uow.session.bind.dialect.name == "postgresql" else sqlite.insert)
                    await uow.session.execute(insert(CacheEntry).values(
                        key=MARKER + message_id, value="1", expires_at=now + MARKER_TTL).on_conflict_do_nothing())
                    await uow.commit()
                return
            except OperationalError as exc:  # SQLite busy while the handler holds the write lock
                log.info("wechat deferred marker for %s: %s; trying again", message_id, type(exc).__name__)
                await asyncio.sleep(0.5 * (attempt + 1))
        log.warning("wechat deferred marker for %s not written; a retry on another worker may answer twice",
                    message_id)


async def wait_pending(timeout: float) -> None:
    """Lets handler and delivery tasks finish at shutdown (their answers go to the outbox)."""
    tasks = [t for t in PENDING if not t.done() and t.get_loop() is asyncio.get_running_loop()]
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            log.warning("%d wechat message(s) still running at shutdown", len(pending))
