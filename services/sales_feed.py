"""Sale lines for integrations (the ERP pulls sell-out): filtered by day and partner, scoped to
the actor, in pages ordered by line id so a client can resume where it stopped."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from storage.models import Partner, Sale, SaleLine, Sku
from storage.uow import UnitOfWork

from . import catalog
from .actors import Actor, scope_partners
from .errors import InvalidInput


@dataclass(frozen=True)
class SaleLineInfo:
    id: int
    sale_id: int
    partner: str
    sku: str
    qty: int                 # base units
    unit: str
    amount_fen: int          # the line total
    customer: str
    sold_on: date
    status: str              # confirmed | undone
    flags: tuple[str, ...]


@dataclass(frozen=True)
class SalesPage:
    lines: tuple[SaleLineInfo, ...]
    next_after: int | None   # the last line id when more lines follow


def flag_text(flag: Any) -> str:
    """A sale flag as a word (`below_floor`); structured flags by their kind."""
    if isinstance(flag, dict):
        return str(flag.get("kind") or flag.get("code") or flag)
    return str(flag)


async def sale_lines(uow: UnitOfWork, *, actor: Actor, date_from: date | None = None, date_to: date | None = None,
                     partner_code: str | None = None, after: int | None = None, limit: int = 1000) -> SalesPage:
    """Sale lines with `sold_on` in [date_from, date_to] and line id above `after`, at most `limit`."""
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(reason=f"开始日期 {date_from} 晚于结束日期 {date_to} (from after to)")
    async with uow.reading() as ro:
        stmt = (select(SaleLine.id, Sale.id, Partner.code, Sku.code, SaleLine.qty, Sku.unit, SaleLine.amount_fen,
                       Sale.customer, Sale.sold_on, Sale.status, Sale.flags)
                .select_from(SaleLine).join(Sale, SaleLine.sale_id == Sale.id)
                .join(Partner, Sale.partner_id == Partner.id).join(Sku, SaleLine.sku_id == Sku.id))
        if partner_code:
            partner = await catalog.get_partner(ro, actor=actor, code=partner_code)
            stmt = stmt.where(Sale.partner_id == partner.id)
        if date_from is not None:
            stmt = stmt.where(Sale.sold_on >= date_from)
        if date_to is not None:
            stmt = stmt.where(Sale.sold_on <= date_to)
        if after is not None:
            stmt = stmt.where(SaleLine.id > after)
        stmt = scope_partners(stmt, actor).order_by(SaleLine.id).limit(limit + 1)
        rows = (await ro.session.execute(stmt)).all()
    lines = tuple(SaleLineInfo(*row[:10], tuple(flag_text(f) for f in row[10] or ())) for row in rows[:limit])
    return SalesPage(lines=lines, next_after=lines[-1].id if len(rows) > limit else None)
