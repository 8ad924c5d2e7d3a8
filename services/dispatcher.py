"""Sends the outbox: claims due rows under a lease, sends outside any transaction, records the outcome.

A pass (`drain`) has three steps. Claim: in one short transaction take the due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises writers),
apply each target's rate limit, merge bursts, and lease what will be sent now
(`locked_until`, `locked_by`). Send: hand each message to the channel's sender, with no
transaction open. Record: one transaction per message marks its rows sent, rescheduled with
back-off, or dead. A worker killed mid-send holds nothing: its lease runs out and another
worker takes the rows again. Delivery is at least once; a sender must finish well inside the
lease (it is cut off at half of it).
"""
from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, delete, func, or_, select

from storage.models import Outbox
from storage.uow import UnitOfWork

from .outbox import OutboundMessage, fall_back, mask_secrets

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
PARALLEL_TARGETS = 8


class SendError(Exception):
    """A sender could not deliver; `retryable` says whether trying again can help.

    `fallback` means the message cannot reach this user on this channel at all (e.g. WeChat outside
    the 48-hour window with no template): the row is dead here and the message goes to the user's
    other identities, most recently active first, one channel at a time.
    """

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None,
                 fallback: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable and not fallback
        self.retry_after = retry_after
        self.fallback = fallback


class Sender(Protocol):
    """Delivers one message to one platform; raises SendError when it cannot.

    A sender whose messages never leave the process (a recording or console sink) sets a class
    attribute `local = True`: no rate limit applies to it and its sends go one at a time, in order.
    """

    async def send(self, msg: OutboundMessage) -> None: ...


def _is_local(sender: Sender) -> bool:
    return bool(getattr(sender, "local", False))


@dataclass(frozen=True)
class Delivery(OutboundMessage):
    """An outbound message as a sender gets it: the outbox rows it stands for and a printable target."""

    row_ids: tuple[int, ...] = ()
    label: str = ""  # the group's region when the target is a webhook address (which holds a key)

    @property
    def shown_target(self) -> str:
        return self.label or self.target


@dataclass(frozen=True)
class DrainResult:
    """Rows handled by one pass; `messages` counts what reached a sender (a merged burst is one)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    messages: int = 0

    @property
    def rows(self) -> int:
        return self.sent + self.failed + self.dead + self.deferred


@dataclass(frozen=True)
class _Claim:
    batches: tuple[tuple[Delivery, ...], ...]  # one tuple per target, in id order
    dead: int
    deferred: int
    lease_until: datetime | None


async def drain(uow_factory: Callable[[], UnitOfWork], senders: Mapping[str, Sender], *, worker: str,
                flush: bool = False, limit: int | None = None,
                targets: Collection[tuple[str, str]] | None = None) -> DrainResult:
    """Sends what is due (with `flush`, also what waits for its merge window or a retry; quiet hours
    still hold); `targets` restricts the pass to some (channel, target) pairs."""
    claim = await _claim(uow_factory(), senders, worker=worker, flush=flush, limit=limit, targets=targets)
    if not claim.batches:
        return DrainResult(dead=claim.dead, deferred=claim.deferred)
    sqlite = uow_factory().settings.database.url.startswith("sqlite")
    local = all(_is_local(senders[b[0].channel]) for b in claim.batches)
    gate = asyncio.Semaphore(1 if sqlite or local else PARALLEL_TARGETS)
    outcomes: list[dict[str, int]] = []

    async def one_target(batch: tuple[Delivery, ...]) -> None:
        async with gate:
            for i, msg in enumerate(batch):
                if not _lease_left(uow_factory(), claim.lease_until):
                    await _release(uow_factory(), [r for m in batch[i:] for r in m.row_ids], worker=worker)
                    return
                error = await _send(senders[msg.channel], msg, timeout=_send_timeout(uow_factory()))
                outcomes.append(await _record(uow_factory(), msg, worker=worker, error=error, channels=senders))

    errors = [e for e in await asyncio.gather(*(one_target(b) for b in claim.batches), return_exceptions=True)
              if isinstance(e, BaseException)]
    if errors:  # the other targets were finished first; unrecorded rows are retaken after their lease
        raise errors[0]
    total = {k: sum(o.get(k, 0) for o in outcomes) for k in ("sent", "failed", "dead")}
    return DrainResult(sent=total["sent"], failed=total["failed"], dead=claim.dead + total["dead"],
                       deferred=claim.deferred, messages=sum(1 for o in outcomes if o.get("sent")))


async def dispatcher_loop(uow_factory: Callable[[], UnitOfWork], senders: Mapping[str, Sender], *, worker: str,
                          interval: float, stop_event: asyncio.Event,
                          on_result: Callable[[DrainResult], None] | None = None) -> None:
    """Drains every `interval` seconds (at once again after a full batch) until `stop_event` is set."""
    while not stop_event.is_set():
        full = False
        try:
            result = await drain(uow_factory, senders, worker=worker)
            if on_result is not None:
                on_result(result)
            full = result.rows >= uow_factory().settings.dispatcher.batch_size
        except Exception:  # noqa: BLE001 - one bad pass must not stop delivery
            log.exception("outbox pass failed; retrying in %.1fs", interval)
        if full:
            await asyncio.sleep(0)
            continue
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=interval)
        except TimeoutError:
            pass


async def purge_delivered(uow: UnitOfWork, *, older_than_days: int) -> int:
    """Deletes delivered outbox rows sent more than `older_than_days` ago; returns how many."""
    async with uow:
        cutoff = uow.now() - timedelta(days=older_than_days)
        result = await uow.session.execute(
            delete(Outbox).where(Outbox.status.in_(("sent", "merged")), Outbox.sent_at < cutoff))
        await uow.commit()
    return result.rowcount or 0


async def status_counts(uow: UnitOfWork) -> dict[str, int]:
    """Outbox rows by status."""
    async with uow.reading() as reading:
        rows = await reading.session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        return {status: n for status, n in rows}


def rate_for(settings, channel: str) -> int:
    """Messages a minute one target of `channel` may get."""
    d = settings.dispatcher
    return d.channel_rate_per_minute.get(channel, d.rate_per_minute)


# --- claim -------------------------------------------------------------------------------------

async def _claim(uow: UnitOfWork, senders: Mapping[str, Sender], *, worker: str, flush: bool,
                 limit: int | None, targets: Collection[tuple[str, str]] | None) -> _Claim:
    """Takes due rows, applies rate limits, merges bursts and leases what goes out now."""
    cfg = uow.settings.dispatcher
    if targets is not None and not targets:
        return _Claim((), 0, 0, None)
    async with uow:
        now = uow.now()
        postgres = uow.session.bind.dialect.name == "postgresql"
        q = select(Outbox).where(Outbox.status == "pending", Outbox.not_before <= now,
                                 or_(Outbox.locked_until.is_(None), Outbox.locked_until < now))
        if not flush:
            q = q.where(Outbox.next_attempt_at <= now)
        if targets is not None:
            q = q.where(or_(*(and_(Outbox.channel == c, Outbox.target == t) for c, t in targets)))
        q = q.order_by(Outbox.id).limit(limit or cfg.batch_size)
        if postgres:
            q = q.with_for_update(skip_locked=True)
        groups: dict[tuple[str, str], list[Outbox]] = {}
        for row in await uow.session.scalars(q):
            groups.setdefault((row.channel, row.target), []).append(row)
        lease_until = now + timedelta(seconds=cfg.lease_seconds)
        batches, dead, deferred = [], 0, 0
        for key in sorted(groups):
            rows = groups[key]
            sender = senders.get(key[0])
            if sender is None:
                for row in rows:
                    row.status, row.last_error = "dead", f"no sender for channel {key[0]!r}"
                dead += len(rows)
                continue
            messages = compose(rows)
            if not _is_local(sender):
                if postgres:  # a transaction-level lock (safe behind PgBouncer) serialises the budget
                    await uow.session.execute(select(func.pg_advisory_xact_lock(
                        func.hashtext(f"outbox:{key[0]}:{key[1]}"))))
                allowed, free_at = await _budget(uow, key, now=now, rate=rate_for(uow.settings, key[0]))
                for msg in messages[allowed:]:
                    for row in rows:
                        if row.id in msg.row_ids:
                            row.next_attempt_at = max(row.next_attempt_at, free_at)
                            deferred += 1
                messages = messages[:allowed]
            leased = {i for m in messages for i in m.row_ids}
            for row in rows:
                if row.id in leased:
                    row.locked_until, row.locked_by = lease_until, worker[:64]
            if messages:
                batches.append(tuple(messages))
        await uow.commit()
    batches.sort(key=lambda b: b[0].row_ids[0])  # targets in the order their first message was queued
    return _Claim(tuple(batches), dead, deferred, lease_until)


async def _budget(uow: UnitOfWork, key: tuple[str, str], *, now: datetime, rate: int) -> tuple[int, datetime]:
    """(messages that may go to `key` now, when the window next frees) from what was sent in the last
    minute and what other workers hold leased."""
    channel, target = key
    same = and_(Outbox.channel == channel, Outbox.target == target)
    sent, oldest = (await uow.session.execute(
        select(func.count(), func.min(Outbox.sent_at))
        .where(same, Outbox.status == "sent", Outbox.sent_at > now - WINDOW))).one()
    in_flight = await uow.session.scalar(
        select(func.count()).where(same, Outbox.status == "pending", Outbox.locked_until >= now))
    free_at = (oldest + WINDOW) if oldest is not None else now + WINDOW
    return max(0, rate - sent - in_flight), free_at


def compose(rows: list[Outbox]) -> list[Delivery]:
    """The messages for one target's rows, in id order; non-urgent text-only rows become one message."""
    rows = sorted(rows, key=lambda r: r.id)
    mergeable = [r for r in rows if _mergeable(r)]
    out: list[Delivery] = []
    for row in rows:
        if len(mergeable) > 1 and row in mergeable:
            if row is mergeable[0]:
                out.append(_merged(mergeable))
            continue
        out.append(_single(row))
    return out


def _mergeable(row: Outbox) -> bool:
    payload = row.payload or {}
    return not row.urgent and not payload.get("buttons") and not payload.get("image_b64")


def _single(row: Outbox) -> Delivery:
    payload = row.payload or {}
    image = payload.get("image_b64")
    return Delivery(id=row.id, channel=row.channel, target=row.target, text=row.text, kind=row.kind,
                    buttons=tuple(payload.get("buttons") or ()),
                    image_png=base64.b64decode(image) if image else None, user_id=row.user_id,
                    row_ids=(row.id,), label=str(payload.get("group") or ""))


def _merged(rows: list[Outbox]) -> Delivery:
    first = rows[0]
    kinds = {r.kind for r in rows}
    users = {r.user_id for r in rows}
    return Delivery(id=first.id, channel=first.channel, target=first.target,
                    text="\n\n".join(r.text for r in rows), kind=first.kind if len(kinds) == 1 else "notice",
                    user_id=first.user_id if len(users) == 1 else None, row_ids=tuple(r.id for r in rows),
                    label=str((first.payload or {}).get("group") or ""))


# --- send and record ---------------------------------------------------------------------------

def _send_timeout(uow: UnitOfWork) -> float:
    return uow.settings.dispatcher.lease_seconds / 2


def _lease_left(uow: UnitOfWork, lease_until: datetime | None) -> bool:
    """Whether a send started now finishes inside the lease."""
    return lease_until is not None and uow.now() + timedelta(seconds=_send_timeout(uow)) <= lease_until


async def _send(sender: Sender, msg: Delivery, *, timeout: float) -> SendError | None:
    """Runs one send; every failure comes back as a SendError."""
    try:
        await asyncio.wait_for(sender.send(msg), timeout=timeout)
        return None
    except SendError as exc:
        return exc
    except TimeoutError:
        return SendError(f"no answer from {msg.channel} within {timeout:.0f}s")
    except Exception as exc:  # noqa: BLE001 - a sender's bug must not lose the message
        log.exception("sender for %s failed on outbox #%s", msg.channel, msg.id)
        return SendError(f"{type(exc).__name__}: {exc}")


async def _record(uow: UnitOfWork, msg: Delivery, *, worker: str, error: SendError | None,
                  channels: Collection[str] = ()) -> dict[str, int]:
    """Marks the message's rows sent, rescheduled ("failed") or dead (a `fallback` error passes each
    row on to its user's next channel among `channels`); returns rows by outcome."""
    cfg = uow.settings.dispatcher
    async with uow:
        now = uow.now()
        q = (select(Outbox).where(Outbox.id.in_(msg.row_ids), Outbox.status == "pending",
                                  Outbox.locked_by == worker[:64]).order_by(Outbox.id))
        if uow.session.bind.dialect.name == "postgresql":
            q = q.with_for_update()
        rows = list(await uow.session.scalars(q))
        if not rows:
            log.warning("outbox #%s: lease lost before its result was recorded", msg.id)
            return {}
        counts = {"sent": 0, "failed": 0, "dead": 0}
        for i, row in enumerate(rows):
            row.locked_until = None
            if error is None:
                row.status, row.sent_at, row.last_error = ("sent" if i == 0 else "merged"), now, ""
                counts["sent"] += 1
                continue
            row.attempts += 1
            reason = mask_secrets(error.reason)
            if error.fallback:
                row.status = "dead"
                row.last_error = await fall_back(uow, row, reason=f"undeliverable on {msg.channel}: {reason}",
                                                 channels=channels)
            elif not error.retryable:
                row.status, row.last_error = "dead", f"rejected by {msg.channel}: {reason}"
            elif row.attempts >= cfg.max_attempts:
                row.status, row.last_error = "dead", f"gave up after {row.attempts} attempts: {reason}"
            else:
                delay = min(cfg.backoff_base_seconds * 2 ** min(row.attempts - 1, 30), cfg.backoff_max_seconds) \
                    + (error.retry_after or 0)
                row.next_attempt_at, row.last_error = now + timedelta(seconds=delay), reason
            counts["dead" if row.status == "dead" else "failed"] += 1
        await uow.commit()
    return counts


async def _release(uow: UnitOfWork, row_ids: list[int], *, worker: str) -> None:
    """Gives leased rows back unsent (the lease would run out before they were sent)."""
    async with uow:
        rows = await uow.session.scalars(select(Outbox).where(
            Outbox.id.in_(row_ids), Outbox.status == "pending", Outbox.locked_by == worker[:64]))
        for row in rows:
            row.locked_until = None
        await uow.commit()
