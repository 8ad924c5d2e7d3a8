"""Export kind `inventory` (DESIGN §8.6): one row per known stock position, by partner and SKU.

Columns `partner,sku,on_hand,unit,safety_stock,days_of_cover,status`: quantities in base units,
days of cover with one decimal (empty without sales in the last 28 days), status `ok|low|out`.
Positions with nothing known (no count, no shipment) are left out. Figures are as of now: the
date filters of other kinds do not apply.
"""
from __future__ import annotations

from typing import AsyncIterator

from sqlalchemy import select

from storage.models import Partner
from storage.uow import UnitOfWork

from . import inventory
from .actors import scope_partners
from .exports import ExportQuery, register

COLUMNS = ("partner", "sku", "on_hand", "unit", "safety_stock", "days_of_cover", "status")


def _partners(query: ExportQuery):
    return scope_partners(select(Partner.id).where(Partner.active.is_(True)), query.actor)


@register("inventory", columns=COLUMNS, number_formats={"days_of_cover": "0.0"})
async def inventory_rows(uow: UnitOfWork, query: ExportQuery) -> AsyncIterator[tuple]:
    """Known positions of the partners in scope, a batch of partners at a time, by partner and SKU code."""
    partner_ids = list(await uow.session.scalars(_partners(query).order_by(Partner.code)))
    step = inventory.PARTNERS_PER_BATCH
    for start in range(0, len(partner_ids), step):
        found = await inventory.known_positions(uow, partner_ids=partner_ids[start:start + step])
        for pos in sorted(found, key=lambda p: (p.partner_code, p.sku_code)):
            if pos.status != "unknown":
                yield (pos.partner_code, pos.sku_code, pos.on_hand, pos.unit, pos.safety_stock, pos.days_of_cover,
                       pos.status)
