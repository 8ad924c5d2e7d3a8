"""Queue messages for later delivery, in the caller's transaction.

Routing: a user is reached on its most recently active chat identity; a region's alerts go
to the group configured for the longest matching region prefix (`[groups]`), else to each
manager whose regions cover it. Non-urgent messages inside quiet hours wait until they end: the
target's own quiet hours from `[app] quiet_hours_by_target` if it has any, else `[app] quiet_hours`.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from storage.models import ChatIdentity, Outbox, User, UserRegion
from storage.uow import UnitOfWork

from .actors import region_covers


@dataclass(frozen=True)
class OutboundMessage:
    """What a sender gets: one message for one target on one channel."""

    id: int
    channel: str
    target: str
    text: str
    kind: str = "notice"
    buttons: tuple[str, ...] = ()
    image_png: bytes | None = None
    user_id: int | None = None


def parse_quiet_hours(spec: str) -> tuple[time, time] | None:
    if not spec:
        return None
    start, end = spec.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def quiet_until(now: datetime, spec: str, tz) -> datetime:
    """The end of the quiet period `now` falls in, or `now` itself when not quiet."""
    window = parse_quiet_hours(spec)
    if window is None:
        return now
    start, end = window
    local = now.astimezone(tz)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return now
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo)


def quiet_hours_for(settings, *, channel: str, target: str, region: str | None = None,
                    user_name: str | None = None) -> str:
    """The quiet hours of one target: a group alert's region by the longest region key of
    `[app] quiet_hours_by_target` covering it, else `user:NAME`, else `channel:address`, else `[app] quiet_hours`."""
    by_target = settings.app.quiet_hours_by_target
    if region is not None:
        keys = [key for key in by_target if ":" not in key and region_covers(key, region)]
        if keys:
            return by_target[max(keys, key=len)]
    for key in (f"user:{user_name}" if user_name else None, f"{channel}:{target}"):
        if key in by_target:
            return by_target[key]
    return settings.app.quiet_hours


async def _name_for_quiet_hours(uow: UnitOfWork, user_id: int | None) -> str | None:
    """The user's name when some `user:NAME` has its own quiet hours; no query otherwise."""
    if user_id is None or not any(key.startswith("user:") for key in uow.settings.app.quiet_hours_by_target):
        return None
    return await uow.session.scalar(select(User.name).where(User.id == user_id))


def enqueue(uow: UnitOfWork, *, channel: str, target: str, text: str, kind: str = "notice",
            urgent: bool = False, buttons: tuple[str, ...] = (), image_b64: str | None = None,
            dedupe_key: str | None = None, user_id: int | None = None, region: str | None = None,
            user_name: str | None = None) -> Outbox:
    """Adds one outbox row; non-urgent rows wait out the target's quiet hours (`quiet_hours_for`:
    `region` for a group alert, `user_name` for a person) and the merge window."""
    settings = uow.settings
    now = uow.now()
    not_before = now if urgent else quiet_until(
        now, quiet_hours_for(settings, channel=channel, target=target, region=region, user_name=user_name),
        settings.tz)
    merge = timedelta(0) if urgent else timedelta(seconds=settings.app.merge_window_seconds)
    payload: dict = {}
    if buttons:
        payload["buttons"] = list(buttons)
    if image_b64:
        payload["image_b64"] = image_b64
    row = Outbox(channel=channel, target=target, kind=kind, text=text, payload=payload, urgent=urgent,
                 status="pending", attempts=0, next_attempt_at=max(not_before, now + merge),
                 not_before=not_before, dedupe_key=dedupe_key, user_id=user_id, created_at=now)
    uow.add(row)
    return row


async def identity_for(uow: UnitOfWork, user_id: int) -> ChatIdentity | None:
    """The user's most recently active chat identity."""
    rows = await uow.session.scalars(
        select(ChatIdentity).where(ChatIdentity.user_id == user_id)
        .order_by(ChatIdentity.last_inbound_at.desc().nulls_last(), ChatIdentity.id.desc()))
    return rows.first()


async def fall_back(uow: UnitOfWork, row: Outbox, *, reason: str, channels: Collection[str]) -> str:
    """After `row` proved undeliverable on its channel (`reason`), queues the same message to the user's
    most recently active identity on a channel not tried yet (one of `channels`, those with a sender);
    returns the text to record as the row's `last_error`. The new row's payload carries the channels
    tried and their reasons, so a dead end records every reason."""
    payload = row.payload or {}
    tried = [*payload.get("tried", []), row.channel]
    reasons = [*payload.get("reasons", []), mask_secrets(reason)]
    if row.user_id is None:
        return "; ".join(reasons)
    identities = await uow.session.scalars(
        select(ChatIdentity).where(ChatIdentity.user_id == row.user_id, ChatIdentity.channel.not_in(tried),
                                   ChatIdentity.channel.in_(list(channels)))
        .order_by(ChatIdentity.last_inbound_at.desc().nulls_last(), ChatIdentity.id.desc()).limit(1))
    identity = identities.first()
    if identity is None:
        return "; ".join([*reasons, "no other identity to try"])
    new = enqueue(uow, channel=identity.channel, target=identity.chat_id or identity.external_id, text=row.text,
                  kind=row.kind, urgent=row.urgent, buttons=tuple(payload.get("buttons") or ()),
                  image_b64=payload.get("image_b64"), user_id=row.user_id,
                  user_name=await _name_for_quiet_hours(uow, row.user_id))
    new.payload = {**new.payload, "tried": tried, "reasons": reasons}
    new.next_attempt_at = new.not_before  # it already waited out its merge window once
    return f"{reasons[-1]}; passed on to {identity.channel}"


_SECRETS = (
    (re.compile(r"(?i)\b((?:key|access_token|secret|corpsecret|token)=)[^&\s'\"]+"), r"\1***"),
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), "/bot***"),  # Telegram bot token in an API URL
    (re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{30,}\b"), "***"),  # a bare Telegram bot token
)


def mask_secrets(text: str) -> str:
    """`text` with webhook keys, access tokens and bot tokens replaced by ***."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


async def notify_user(uow: UnitOfWork, *, user_id: int, text: str, kind: str = "notice",
                      urgent: bool = False, buttons: tuple[str, ...] = (),
                      dedupe_key: str | None = None, image_b64: str | None = None) -> Outbox | None:
    identity = await identity_for(uow, user_id)
    if identity is None:
        return None
    return enqueue(uow, channel=identity.channel, target=identity.chat_id or identity.external_id,
                   text=text, kind=kind, urgent=urgent, buttons=buttons, dedupe_key=dedupe_key,
                   user_id=user_id, image_b64=image_b64,
                   user_name=None if urgent else await _name_for_quiet_hours(uow, user_id))


async def notify_partner(uow: UnitOfWork, *, partner_id: int, text: str, kind: str = "notice",
                         urgent: bool = False, roles: tuple[str, ...] = ("owner", "member")) -> list[Outbox]:
    """Tells every active user of a partner with one of `roles`."""
    users = await uow.session.scalars(select(User.id).where(
        User.partner_id == partner_id, User.role.in_(roles), User.active.is_(True)).order_by(User.id))
    out = []
    for uid in users:
        row = await notify_user(uow, user_id=uid, text=text, kind=kind, urgent=urgent)
        if row is not None:
            out.append(row)
    return out


def group_for_region(groups: dict[str, str], region: str) -> tuple[str, str] | None:
    """(prefix, `channel:address`) of the configured group for the longest prefix covering `region`."""
    best = None
    for prefix, target in groups.items():
        if region_covers(prefix, region) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, target)
    return best


async def managers_of(uow: UnitOfWork, region: str) -> list[int]:
    rows = await uow.session.execute(
        select(User.id, UserRegion.region).join(UserRegion, UserRegion.user_id == User.id)
        .where(User.role == "manager", User.active.is_(True)).order_by(User.id))
    seen: list[int] = []
    for uid, prefix in rows:
        if region_covers(prefix, region) and uid not in seen:
            seen.append(uid)
    return seen


async def notify_region(uow: UnitOfWork, *, region: str, text: str, kind: str = "alert",
                        urgent: bool = False, buttons: tuple[str, ...] = (),
                        image_b64: str | None = None) -> list[Outbox]:
    """An alert for the managers of `region`: their group if configured, else each manager."""
    group = group_for_region(uow.settings.groups, region)
    if group:
        prefix, spec = group
        channel, _, address = spec.partition(":")
        row = enqueue(uow, channel=channel, target=address, text=text, kind=kind, urgent=urgent,
                      buttons=buttons, image_b64=image_b64, region=region)
        row.payload = {**row.payload, "group": prefix}  # shown instead of the address (it holds a key)
        return [row]
    out = []
    for uid in await managers_of(uow, region):
        row = await notify_user(uow, user_id=uid, text=text, kind=kind, urgent=urgent, buttons=buttons,
                                image_b64=image_b64)
        if row is not None:
            out.append(row)
    return out


@dataclass(frozen=True)
class QueuedMessage:
    """An outbox row as an operator sees it: where it goes, its state and why it is not delivered."""

    id: int
    channel: str
    target: str  # a group's region rather than its webhook address; secrets masked
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    text: str
    last_error: str
    user_id: int | None


async def undelivered(uow: UnitOfWork, *, statuses: tuple[str, ...] = ("dead", "pending"),
                      limit: int = 50) -> list[QueuedMessage]:
    """The most recent undelivered rows (dead and/or pending), newest first."""
    async with uow.reading() as reading:
        rows = await reading.session.scalars(
            select(Outbox).where(Outbox.status.in_(statuses)).order_by(Outbox.id.desc()).limit(limit))
        return [QueuedMessage(id=r.id, channel=r.channel,
                              target=str((r.payload or {}).get("group") or mask_secrets(r.target)),
                              kind=r.kind, status=r.status, attempts=r.attempts, created_at=r.created_at,
                              next_attempt_at=r.next_attempt_at, text=r.text, last_error=mask_secrets(r.last_error),
                              user_id=r.user_id) for r in rows]
