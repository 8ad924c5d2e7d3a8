"""Export kind `claims` (DESIGN §8.6): one row per claim of the partners in scope, by claim time.

Columns `partner,customer,phone,uscc,status,claimed_at,expires_at,conflict_with,reason`: times are
local (`2026-11-18 09:30`, the form `import claims` reads back), `conflict_with` names the claim a
pending or decided claim matched (`P002 南京好邻居商贸有限公司`) and `reason` why (`uscc|phone|name`).
`--from`/`--to` select by the local day of `claimed_at`.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from storage.models import CustomerClaim, Partner
from storage.uow import UnitOfWork

from .actors import scope_partners
from .exports import BATCH, ExportQuery, register

COLUMNS = ("partner", "customer", "phone", "uscc", "status", "claimed_at", "expires_at", "conflict_with", "reason")


def _select(uow: UnitOfWork, query: ExportQuery, *columns):
    """Claims joined to their partner, within the days asked, scoped to the actor."""
    stmt = select(*columns).select_from(CustomerClaim).join(Partner, Partner.id == CustomerClaim.partner_id)
    tz = uow.settings.tz
    if query.date_from is not None:
        stmt = stmt.where(CustomerClaim.claimed_at >= datetime.combine(query.date_from, time(0), tzinfo=tz))
    if query.date_to is not None:
        end = datetime.combine(query.date_to + timedelta(days=1), time(0), tzinfo=tz)
        stmt = stmt.where(CustomerClaim.claimed_at < end)
    return scope_partners(stmt, query.actor)


async def _count(uow: UnitOfWork, query: ExportQuery) -> int:
    return await uow.session.scalar(_select(uow, query, func.count(CustomerClaim.id))) or 0


def _local(at: datetime | None, tz) -> str | None:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else None


@register("claims", columns=COLUMNS, count=_count)
async def claim_rows(uow: UnitOfWork, query: ExportQuery) -> AsyncIterator[tuple]:
    """Every claim in scope, oldest first, with the claim it conflicted with."""
    other, other_partner = aliased(CustomerClaim), aliased(Partner)
    stmt = (_select(uow, query, Partner.code, CustomerClaim.customer, CustomerClaim.phone, CustomerClaim.uscc,
                    CustomerClaim.status, CustomerClaim.claimed_at, CustomerClaim.expires_at, other_partner.code,
                    other.customer, CustomerClaim.conflict_reason)
            .outerjoin(other, other.id == CustomerClaim.conflict_with_id)
            .outerjoin(other_partner, other_partner.id == other.partner_id)
            .order_by(CustomerClaim.claimed_at, CustomerClaim.id).execution_options(yield_per=BATCH))
    tz = uow.settings.tz
    result = await uow.session.stream(stmt)
    async for rows in result.partitions():
        for partner, customer, phone, uscc, status, claimed, expires, o_partner, o_customer, reason in rows:
            conflict = f"{o_partner} {o_customer}" if o_customer is not None else None
            yield (partner, customer, phone, uscc, status, _local(claimed, tz), _local(expires, tz), conflict,
                   reason or None)
