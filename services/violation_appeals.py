"""Appeals and decisions on violations, and who sees which: a partner appeals its own open violation
(`open → appealed`, the region's managers are pushed it); a manager of the partner's region (or an
admin) clears or upholds an open or appealed one and the partner hears the outcome. A cleared
violation no longer keeps its sale out of rebates (services/violations.py)."""
from __future__ import annotations

from sqlalchemy import case, select

from storage.models import Partner, Sale, Violation
from storage.uow import UnitOfWork

from . import audit, outbox
from . import violation_notices as notices
from .actors import Actor, region_covers, scope_partners
from .errors import DomainError, InvalidInput, NotAllowed, NotFound
from .violations import ViolationInfo, info

DECISIONS = {"clear": "cleared", "uphold": "upheld"}
FIELDS = ("status", "appeal_reason", "resolution")
LIST_LIMIT = 30


class ViolationState(DomainError):
    """The violation is not in a state that allows this (facts: id, status, action)."""
    code = "violation_state"


async def _load(uow: UnitOfWork, violation_id: int, *, lock: bool = True) -> tuple[Violation, Sale, Partner]:
    """The violation with its sale and partner, row-locked on PostgreSQL (a second decider waits)."""
    stmt = (select(Violation, Sale, Partner).join(Sale, Sale.id == Violation.sale_id)
            .join(Partner, Partner.id == Violation.partner_id).where(Violation.id == violation_id)
            .execution_options(populate_existing=True))
    row = (await uow.session.execute(stmt.with_for_update(of=Violation) if lock else stmt)).first()
    if row is None:
        raise NotFound(what="violation", key=f"#{violation_id}")
    return row[0], row[1], row[2]


def _require_decider(actor: Actor, partner: Partner) -> None:
    if actor.is_admin:
        return
    if actor.role != "manager" or not any(region_covers(p, partner.region) for p in actor.regions):
        raise NotAllowed(what="violation_decide")


async def appeal(uow: UnitOfWork, *, actor: Actor, violation_id: int, reason: str) -> ViolationInfo:
    """The partner's people appeal an open violation of their own partner, with a reason."""
    if not actor.is_partner_side or actor.partner_id is None:
        raise NotAllowed(what="violation_appeal")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(reason="请写明申诉理由，例如「申诉 12 客户是批发团购，价格经区域经理同意」")
    async with uow:
        v, sale, partner = await _load(uow, violation_id)
        if v.partner_id != actor.partner_id:
            raise NotAllowed(what="violation_own")
        if v.status != "open":
            raise ViolationState(id=v.id, status=v.status, action="appeal")
        before = audit.snapshot(v, *FIELDS)
        v.status, v.appeal_reason = "appealed", reason[:500]
        v.appealed_by_id, v.appealed_at = actor.user_id, uow.now()
        audit.record(uow, actor=actor, action="violation.appeal", entity="violation", entity_id=v.id, before=before,
                     after=audit.snapshot(v, *FIELDS))
        result = info(v, sale, partner)
        await outbox.notify_region(uow, region=partner.region, kind="violation",
                                   text=notices.appeal_for_managers(result),
                                   buttons=notices.appeal_buttons(v.id))
        await uow.commit()
    return result


async def _tell_partner(uow: UnitOfWork, v: Violation, sale: Sale, text: str) -> None:
    """Whoever appealed hears it, else whoever reported the sale, else the partner's people."""
    for uid in dict.fromkeys(u for u in (v.appealed_by_id, sale.created_by_id) if u is not None):
        if await outbox.notify_user(uow, user_id=uid, text=text, kind="violation") is not None:
            return
    await outbox.notify_partner(uow, partner_id=v.partner_id, text=text, kind="violation")


async def resolve(uow: UnitOfWork, *, actor: Actor, violation_id: int, decision: str, reason: str = "") -> ViolationInfo:
    """A manager of the partner's region (or an admin) clears or upholds an open or appealed violation."""
    if decision not in DECISIONS:
        raise InvalidInput(reason="裁定结果只能是 撤销 / 维持")
    async with uow:
        v, sale, partner = await _load(uow, violation_id)
        _require_decider(actor, partner)
        if v.status not in ("open", "appealed"):
            raise ViolationState(id=v.id, status=v.status, action="resolve")
        was_appealed = v.status == "appealed"
        before = audit.snapshot(v, *FIELDS)
        v.status, v.resolution = DECISIONS[decision], " ".join((reason or "").split())[:500]
        v.resolved_by_id, v.resolved_at = actor.user_id, uow.now()
        audit.record(uow, actor=actor, action=f"violation.{decision}", entity="violation", entity_id=v.id,
                     before=before, after=audit.snapshot(v, *FIELDS))
        result = info(v, sale, partner)
        await _tell_partner(uow, v, sale, notices.resolved_for_partner(result, was_appealed))
        await uow.commit()
    return result


async def list_violations(uow: UnitOfWork, *, actor: Actor, limit: int = LIST_LIMIT) -> list[ViolationInfo]:
    """A partner's own violations (not voided), newest first; for a manager (admin) those of its regions
    still waiting for a decision, appeals first."""
    stmt = select(Violation, Sale, Partner).join(Sale, Sale.id == Violation.sale_id) \
        .join(Partner, Partner.id == Violation.partner_id)
    if actor.is_partner_side:
        stmt = stmt.where(Violation.partner_id == actor.partner_id, Violation.status != "voided") \
            .order_by(Violation.id.desc())
    elif actor.is_admin or actor.role == "manager":
        stmt = scope_partners(stmt, actor).where(Violation.status.in_(("open", "appealed"))).order_by(
            case((Violation.status == "appealed", 0), else_=1), Violation.id)
    else:
        raise NotAllowed(what="role")
    async with uow.reading() as ro:
        return [info(*row) for row in (await ro.session.execute(stmt.limit(limit))).all()]
