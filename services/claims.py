"""Customer claims (报备): submit, decide, extend, release, list, and expire — every change audited,
scoped, and pushed through the outbox in the same transaction.

A claim no other partner holds is approved at once with `[app] claim_protection_days` of
protection; one that matches another partner's live claim (same USCC, same phone, or a matching
company name: services/claims_match.py) waits as `pending` for a manager of the claiming
partner's region, who approves, rejects or returns it. Two claims of one customer are serialized
by `claims_match.lock_keys`, so of two partners claiming at the same instant exactly one wins.
An approved claim past its `expires_at` protects nothing even before the `claim_expiry` job marks it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import aliased

from storage.models import CLAIM_LIVE, CustomerClaim, Partner
from storage.uow import UnitOfWork

from . import audit, claims_match, outbox, phones, uscc
from . import claims_notices as notices
from .actors import SYSTEM, Actor, region_covers, scope_partners
from .errors import DomainError, InvalidInput, NotAllowed, NotFound

DECISIONS = {"approve": "approved", "reject": "rejected", "return": "returned"}
REASON_RANK = {"uscc": 0, "phone": 1, "name": 2}
REMIND_DAYS = (1, 7)  # the nearest first
FIELDS = ("status", "customer", "phone", "uscc", "expires_at", "conflict_with_id", "conflict_reason",
          "decision_reason", "extension_requested_at")


class ClaimState(DomainError):
    """The claim is not in a state that allows this (facts: id, status, action)."""
    code = "claim_state"


class ExtensionPending(DomainError):
    code = "claim_extension_pending"  # facts: id


@dataclass(frozen=True)
class ClaimInfo:
    id: int
    partner: str
    partner_name: str
    region: str
    customer: str
    phone: str | None
    uscc: str | None
    status: str
    claimed_at: datetime
    expires_at: datetime | None
    conflict_with_id: int | None = None
    conflict_reason: str = ""
    conflict_partner: str | None = None
    conflict_customer: str | None = None
    decision_reason: str = ""
    extension_requested_at: datetime | None = None


@dataclass(frozen=True)
class ConflictInfo:
    claim: ClaimInfo
    reason: str          # uscc | phone | name
    score: float


@dataclass(frozen=True)
class ClaimResult:
    outcome: str         # approved | pending | already_yours
    claim: ClaimInfo
    conflict: ConflictInfo | None = None
    created: bool = True


@dataclass(frozen=True)
class ExpiryResult:
    reminded: int
    expired: int


def _info(claim: CustomerClaim, partner: Partner, other: CustomerClaim | None = None,
          other_partner: Partner | None = None) -> ClaimInfo:
    return ClaimInfo(claim.id, partner.code, partner.name, partner.region, claim.customer, claim.phone, claim.uscc,
                     claim.status, claim.claimed_at, claim.expires_at, claim.conflict_with_id, claim.conflict_reason,
                     other_partner.code if other_partner else None, other.customer if other else None,
                     claim.decision_reason, claim.extension_requested_at)


def _protection(uow: UnitOfWork) -> timedelta:
    return timedelta(days=uow.settings.app.claim_protection_days)


def clean_contact(*, phone: str | None = None, uscc_code: str | None = None) -> tuple[str | None, str | None]:
    """The phone normalised and the USCC checked (InvalidInput says what is wrong)."""
    return phones.normalize(phone) if phone else None, uscc.validate(uscc_code) if uscc_code else None


def clean_input(*, customer: str, phone: str | None = None, uscc_code: str | None = None
                ) -> tuple[str, str | None, str | None]:
    """The customer name trimmed, with `clean_contact`'s phone and USCC."""
    name = " ".join((customer or "").split())
    if len(name) < 2:
        raise InvalidInput(reason="请写客户名称（至少两个字）")
    if len(name) > 200:
        raise InvalidInput(reason="客户名称太长（最多 200 字）")
    return (name, *clean_contact(phone=phone, uscc_code=uscc_code))


def require_claimant(actor: Actor) -> None:
    """Only a partner's people (member, owner) claim customers."""
    if not actor.is_partner_side or actor.partner_id is None:
        raise NotAllowed(what="claim_submit")


def _require_decider(actor: Actor, partner: Partner) -> None:
    """A manager whose regions cover the claim's partner, or an admin."""
    if actor.is_admin:
        return
    if actor.role != "manager" or not any(region_covers(p, partner.region) for p in actor.regions):
        raise NotAllowed(what="claim_decide")


def _require_own(actor: Actor, claim: CustomerClaim) -> None:
    if not actor.is_partner_side or actor.partner_id is None:
        raise NotAllowed(what="claim_partner_only")
    if claim.partner_id != actor.partner_id:
        raise NotAllowed(what="claim_own")


async def _load(uow: UnitOfWork, claim_id: int, *, lock: bool = True) -> tuple[CustomerClaim, Partner]:
    """The claim and its partner, row-locked on PostgreSQL (a second decider waits, then sees the first)."""
    stmt = (select(CustomerClaim, Partner).join(Partner, Partner.id == CustomerClaim.partner_id)
            .where(CustomerClaim.id == claim_id).execution_options(populate_existing=True))
    row = (await uow.session.execute(stmt.with_for_update(of=CustomerClaim) if lock else stmt)).first()
    if row is None:
        raise NotFound(what="claim", key=f"#{claim_id}")
    return row[0], row[1]


async def _tell_submitter(uow: UnitOfWork, claim: CustomerClaim, text: str) -> None:
    """The person who claimed hears it; with no reachable submitter, the partner's people do."""
    if claim.created_by_id is not None and await outbox.notify_user(uow, user_id=claim.created_by_id, text=text,
                                                                   kind="claim") is not None:
        return
    await outbox.notify_partner(uow, partner_id=claim.partner_id, text=text, kind="claim")


async def _live_matches(uow: UnitOfWork, customer: str, phone: str | None, uscc_code: str | None
                        ) -> list[tuple[CustomerClaim, Partner, str, float]]:
    """Live claims the input matches, strongest first: approved before pending, USCC, phone, name."""
    found = await claims_match.find_conflicts(uow, customer=customer, phone=phone, uscc=uscc_code)
    by_id = {c.claim_id: c for c in found}
    if not by_id:
        return []
    rows = (await uow.session.execute(
        select(CustomerClaim, Partner).join(Partner, Partner.id == CustomerClaim.partner_id)
        .where(CustomerClaim.id.in_(list(by_id)), CustomerClaim.status.in_(CLAIM_LIVE)))).all()
    now = uow.now()
    out = [(c, p, by_id[c.id].reason, float(by_id[c.id].score)) for c, p in rows
           if not (c.status == "approved" and c.expires_at is not None and c.expires_at <= now)]
    out.sort(key=lambda m: (m[0].status != "approved", REASON_RANK.get(m[2], 9), -m[3], m[0].id))
    return out


async def _result_of(uow: UnitOfWork, claim: CustomerClaim, partner: Partner) -> ClaimResult:
    """A submitted claim told again (the same idempotency key)."""
    conflict = None
    if claim.conflict_with_id is not None:
        other, other_partner = await _load(uow, claim.conflict_with_id, lock=False)
        conflict = ConflictInfo(_info(other, other_partner), claim.conflict_reason, 0.0)
    outcome = claim.status if claim.status in ("approved", "pending") else "pending"
    return ClaimResult(outcome, _info(claim, partner), conflict, created=False)


async def submit_claim(uow: UnitOfWork, *, actor: Actor, customer: str, phone: str | None = None,
                       uscc: str | None = None, idempotency_key: str) -> ClaimResult:
    """Claims a customer for the actor's partner: approved when free, else pending for the region's managers."""
    require_claimant(actor)
    customer, phone, uscc_code = clean_input(customer=customer, phone=phone, uscc_code=uscc)
    async with uow:
        keys = claims_match.claim_keys(customer, phone, uscc_code)
        await claims_match.lock_keys(uow, keys)
        prior = await uow.session.scalar(select(CustomerClaim).where(CustomerClaim.idempotency_key == idempotency_key))
        partner = await uow.session.get(Partner, actor.partner_id)
        if prior is not None:
            return await _result_of(uow, prior, partner)
        matches = await _live_matches(uow, customer, phone, uscc_code)
        own = [m for m in matches if m[0].partner_id == actor.partner_id]
        if own:
            return ClaimResult("already_yours", _info(own[0][0], own[0][1]), created=False)
        now = uow.now()
        claim = CustomerClaim(partner_id=partner.id, customer=customer, phone=phone, uscc=uscc_code, claimed_at=now,
                              created_at=now, created_by_id=actor.user_id, idempotency_key=idempotency_key,
                              **claims_match.key_columns(keys))
        top = matches[0] if matches else None
        if top is None:
            claim.status, claim.expires_at = "approved", now + _protection(uow)
        else:
            claim.status, claim.conflict_with_id, claim.conflict_reason = "pending", top[0].id, top[2]
        uow.add(claim)
        await uow.flush()
        audit.record(uow, actor=actor, action="claim.create", entity="customer_claim", entity_id=claim.id,
                     after={**audit.snapshot(claim, *FIELDS), "score": top[3] if top else None})
        info = _info(claim, partner, *(top[:2] if top else ()))
        conflict = ConflictInfo(_info(top[0], top[1]), top[2], top[3]) if top else None
        if conflict is not None:
            await outbox.notify_region(uow, region=partner.region, kind="claim",
                                       text=notices.pending(info, conflict, uow.settings.tz),
                                       buttons=notices.decision_buttons(claim.id))
        await uow.commit()
    return ClaimResult(info.status, info, conflict)


async def decidable(uow: UnitOfWork, *, actor: Actor, claim_id: int) -> ClaimInfo:
    """The pending claim the actor may decide (before asking for a reason); raises like `decide`."""
    async with uow.reading() as ro:
        claim, partner = await _load(ro, claim_id, lock=False)
        _require_decider(actor, partner)
        if claim.status != "pending":
            raise ClaimState(id=claim.id, status=claim.status, action="decide")
        return _info(claim, partner)


async def decide(uow: UnitOfWork, *, actor: Actor, claim_id: int, decision: str, reason: str = "") -> ClaimInfo:
    """A manager of the partner's region (or an admin) approves, rejects or returns a pending claim."""
    if decision not in DECISIONS:
        raise InvalidInput(reason="审批结果只能是 通过 / 驳回 / 退回")
    async with uow:
        claim, partner = await _load(uow, claim_id)
        _require_decider(actor, partner)
        if claim.status != "pending":
            raise ClaimState(id=claim.id, status=claim.status, action="decide")
        before = audit.snapshot(claim, *FIELDS)
        now = uow.now()
        claim.status, claim.decided_by_id, claim.decided_at = DECISIONS[decision], actor.user_id, now
        claim.decision_reason = (reason or "").strip()[:500]
        if decision == "approve":
            claim.expires_at, claim.reminded_days = now + _protection(uow), None
        other = other_partner = None
        if claim.conflict_with_id is not None:
            other, other_partner = await _load(uow, claim.conflict_with_id, lock=False)
        after = audit.snapshot(claim, *FIELDS)
        if decision == "approve" and other is not None:
            after["coexists_with"] = {"id": other.id, "partner": other_partner.code, "status": other.status}
        audit.record(uow, actor=actor, action=f"claim.{decision}", entity="customer_claim", entity_id=claim.id,
                     before=before, after=after)
        info = _info(claim, partner, other, other_partner)
        await _tell_submitter(uow, claim, notices.decided(info, uow.settings.tz))
        await uow.commit()
    return info


async def request_extension(uow: UnitOfWork, *, actor: Actor, claim_id: int) -> ClaimInfo:
    """The partner asks to extend an approved claim; the region's managers get buttons to decide."""
    async with uow:
        claim, partner = await _load(uow, claim_id)
        _require_own(actor, claim)
        if claim.status != "approved" or (claim.expires_at and claim.expires_at <= uow.now()):
            raise ClaimState(id=claim.id, status="expired" if claim.status == "approved" else claim.status,
                             action="extend")
        if claim.extension_requested_at is not None:
            raise ExtensionPending(id=claim.id)
        before = audit.snapshot(claim, *FIELDS)
        claim.extension_requested_at = uow.now()
        audit.record(uow, actor=actor, action="claim.extension_request", entity="customer_claim", entity_id=claim.id,
                     before=before, after=audit.snapshot(claim, *FIELDS))
        info = _info(claim, partner)
        await outbox.notify_region(uow, region=partner.region, kind="claim",
                                   text=notices.extension_asked(info, uow.settings.app.claim_protection_days,
                                                                uow.settings.tz),
                                   buttons=notices.extension_buttons(claim.id))
        await uow.commit()
    return info


async def decide_extension(uow: UnitOfWork, *, actor: Actor, claim_id: int, decision: str,
                           reason: str = "") -> ClaimInfo:
    """Approving adds one protection period to the expiry; rejecting leaves it; the partner is told."""
    if decision not in ("approve", "reject"):
        raise InvalidInput(reason="延期审批只能是 同意 / 拒绝")
    async with uow:
        claim, partner = await _load(uow, claim_id)
        _require_decider(actor, partner)
        if claim.status != "approved" or claim.extension_requested_at is None:
            raise ClaimState(id=claim.id, status=claim.status, action="decide_extension")
        before = audit.snapshot(claim, *FIELDS)
        claim.extension_requested_at = None
        claim.decided_by_id, claim.decided_at = actor.user_id, uow.now()
        claim.decision_reason = (reason or "").strip()[:500]
        if decision == "approve":
            claim.expires_at, claim.reminded_days = claim.expires_at + _protection(uow), None
        audit.record(uow, actor=actor, action=f"claim.extension_{decision}", entity="customer_claim",
                     entity_id=claim.id, before=before, after=audit.snapshot(claim, *FIELDS))
        info = _info(claim, partner)
        await _tell_submitter(uow, claim, notices.extension_decided(info, decision == "approve", uow.settings.tz))
        await uow.commit()
    return info


async def release(uow: UnitOfWork, *, actor: Actor, claim_id: int) -> ClaimInfo:
    """The partner gives a live claim up; the customer is free, and managers hear of claims waiting on it."""
    async with uow:
        claim, partner = await _load(uow, claim_id)
        _require_own(actor, claim)
        if claim.status not in CLAIM_LIVE:
            raise ClaimState(id=claim.id, status=claim.status, action="release")
        before = audit.snapshot(claim, *FIELDS)
        claim.status, claim.extension_requested_at = "released", None
        audit.record(uow, actor=actor, action="claim.release", entity="customer_claim", entity_id=claim.id,
                     before=before, after=audit.snapshot(claim, *FIELDS))
        waiting = (await uow.session.execute(
            select(CustomerClaim.id, Partner.region).join(Partner, Partner.id == CustomerClaim.partner_id)
            .where(CustomerClaim.conflict_with_id == claim.id, CustomerClaim.status == "pending")
            .order_by(CustomerClaim.id))).all()
        for region in dict.fromkeys(r for _, r in waiting):
            ids = [i for i, r in waiting if r == region]
            await outbox.notify_region(uow, region=region, kind="claim",
                                       text=notices.released(_info(claim, partner), ids))
        info = _info(claim, partner)
        await uow.commit()
    return info


async def my_claims(uow: UnitOfWork, *, actor: Actor) -> list[ClaimInfo]:
    """A partner's live claims, soonest expiry first; a manager's (admin's) claims awaiting a decision."""
    other, other_partner = aliased(CustomerClaim), aliased(Partner)
    stmt = (select(CustomerClaim, Partner, other, other_partner)
            .join(Partner, Partner.id == CustomerClaim.partner_id)
            .outerjoin(other, other.id == CustomerClaim.conflict_with_id)
            .outerjoin(other_partner, other_partner.id == other.partner_id))
    if actor.is_partner_side:
        stmt = stmt.where(CustomerClaim.partner_id == actor.partner_id, CustomerClaim.status.in_(CLAIM_LIVE))
        stmt = stmt.order_by(CustomerClaim.status.desc(), CustomerClaim.expires_at, CustomerClaim.id)
    elif actor.is_admin or actor.role == "manager":
        stmt = scope_partners(stmt, actor).where(or_(
            CustomerClaim.status == "pending",
            (CustomerClaim.status == "approved") & CustomerClaim.extension_requested_at.is_not(None)))
        stmt = stmt.order_by(CustomerClaim.claimed_at, CustomerClaim.id)
    else:
        raise NotAllowed(what="role")
    async with uow.reading() as ro:
        return [_info(*row) for row in (await ro.session.execute(stmt.limit(200))).all()]


async def _expire(uow: UnitOfWork, claim: CustomerClaim, partner: Partner) -> bool:
    """Marks one past-due claim expired (unless another run just did) and tells the partner."""
    done = await uow.session.execute(
        update(CustomerClaim).where(CustomerClaim.id == claim.id, CustomerClaim.status == "approved",
                                    CustomerClaim.expires_at <= uow.now())
        .values(status="expired", extension_requested_at=None).execution_options(synchronize_session=False))
    if not done.rowcount:
        return False
    audit.record(uow, actor=SYSTEM, action="claim.expire", entity="customer_claim", entity_id=claim.id,
                 before={"status": "approved"}, after={"status": "expired"})
    await _tell_submitter(uow, claim, notices.expired(_info(claim, partner), uow.settings.tz))
    return True


async def _remind(uow: UnitOfWork, claim: CustomerClaim, partner: Partner, days_left: int) -> bool:
    """The 7- or 1-day reminder, once: `reminded_days` moves down only if no run has sent it yet."""
    mark = next((d for d in REMIND_DAYS if days_left <= d), None)
    if mark is None or (claim.reminded_days is not None and claim.reminded_days <= mark):
        return False
    done = await uow.session.execute(
        update(CustomerClaim).where(CustomerClaim.id == claim.id, or_(
            CustomerClaim.reminded_days.is_(None), CustomerClaim.reminded_days > mark))
        .values(reminded_days=mark).execution_options(synchronize_session=False))
    if not done.rowcount:
        return False
    await _tell_submitter(uow, claim, notices.reminder(_info(claim, partner), max(days_left, 0), uow.settings.tz))
    return True


async def expire_and_remind(uow: UnitOfWork) -> ExpiryResult:
    """Reminds partners 7 and 1 days before a claim expires (once each), then expires past-due claims."""
    now, tz = uow.now(), uow.settings.tz
    today = now.astimezone(tz).date()
    horizon = now + timedelta(days=max(REMIND_DAYS) + 1)
    reminded = expired = 0
    async with uow:
        rows = (await uow.session.execute(
            select(CustomerClaim, Partner).join(Partner, Partner.id == CustomerClaim.partner_id)
            .where(CustomerClaim.status == "approved", CustomerClaim.expires_at <= horizon)
            .order_by(CustomerClaim.expires_at, CustomerClaim.id))).all()
        for claim, partner in rows:
            if claim.expires_at <= now:
                expired += await _expire(uow, claim, partner)
            else:
                reminded += await _remind(uow, claim, partner, (claim.expires_at.astimezone(tz).date() - today).days)
        await uow.commit()
    return ExpiryResult(reminded=reminded, expired=expired)
