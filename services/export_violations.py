"""Export kind `violations` (DESIGN §8.6): one row per violation of the partners in scope, by sale date.

Columns `sale_id,partner,sku,sold_on,unit_price,floor_price,gap_pct,level,status`: prices in yuan per
base unit, `gap_pct` the percent below floor (`9.09`). Channel-conflict rows (窜货/撞单) have no SKU
or prices. Every status is listed (open, appealed, cleared, upheld, voided). `--from`/`--to` select
by the sale's `sold_on`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import AsyncIterator

from sqlalchemy import func, select

from storage.models import Partner, Sale, Violation
from storage.uow import UnitOfWork

from .actors import scope_partners
from .exports import BATCH, ExportQuery, register

COLUMNS = ("sale_id", "partner", "sku", "sold_on", "unit_price", "floor_price", "gap_pct", "level", "status")


def _select(query: ExportQuery, *columns):
    stmt = (select(*columns).select_from(Violation).join(Sale, Sale.id == Violation.sale_id)
            .join(Partner, Partner.id == Violation.partner_id))
    if query.date_from is not None:
        stmt = stmt.where(Sale.sold_on >= query.date_from)
    if query.date_to is not None:
        stmt = stmt.where(Sale.sold_on <= query.date_to)
    return scope_partners(stmt, query.actor)


async def _count(uow: UnitOfWork, query: ExportQuery) -> int:
    return await uow.session.scalar(_select(query, func.count(Violation.id))) or 0


def _yuan(fen) -> Decimal | None:
    return Decimal(int(fen)).scaleb(-2) if fen is not None else None


@register("violations", columns=COLUMNS, count=_count, number_formats={"gap_pct": "0.00"})
async def violation_rows(uow: UnitOfWork, query: ExportQuery) -> AsyncIterator[tuple]:
    """Every violation in scope, by sale date, sale and violation."""
    stmt = (_select(query, Violation.sale_id, Partner.code, Violation.kind, Sale.sold_on, Violation.evidence,
                    Violation.level, Violation.status)
            .order_by(Sale.sold_on, Violation.sale_id, Violation.id).execution_options(yield_per=BATCH))
    result = await uow.session.stream(stmt)
    async for rows in result.partitions():
        for sale_id, partner, kind, sold_on, evidence, level, status in rows:
            e = evidence or {}
            if kind == "price":
                yield (sale_id, partner, e.get("sku"), sold_on, _yuan(e.get("unit_price_fen")),
                       _yuan(e.get("floor_fen")), Decimal(e["gap_pct"]) if e.get("gap_pct") else None, level, status)
            else:
                yield (sale_id, partner, None, sold_on, None, None, None, level, status)
