"""Admin broadcasts: one notice to everyone bound, or to the people of one region."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import Partner, User
from storage.uow import UnitOfWork

from . import audit, outbox
from .actors import Actor, region_covers, require_role


async def broadcast(uow: UnitOfWork, *, actor: Actor, text: str, region: str | None = None) -> int:
    """Queues `text` for each active user (of `region`'s partners and managers, if given)."""
    require_role(actor, "admin")
    async with uow:
        rows = await uow.session.execute(
            select(User, Partner.region).outerjoin(Partner, Partner.id == User.partner_id)
            .where(User.active.is_(True)).order_by(User.id))
        count = 0
        for user, partner_region in rows.all():
            if region:
                mine = [partner_region] if partner_region else [r.region for r in user.regions]
                if not any(region_covers(region, r) or region_covers(r, region) for r in mine):
                    continue
            if await outbox.notify_user(uow, user_id=user.id, text=text, kind="broadcast") is not None:
                count += 1
        audit.record(uow, actor=actor, action="broadcast", entity="outbox", after={"region": region, "text": text,
                                                                                   "count": count})
        await uow.commit()
    return count
