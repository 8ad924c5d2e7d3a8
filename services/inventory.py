"""Channel inventory: on hand per partner and SKU = last stocktake + sell-in since − sell-out since.

A movement counts after a stocktake when its business date is later than the count's local
date, or it is the same day and was recorded after the count. Undone sales do not count.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select

from storage.models import Sale, SaleLine, Shipment, Stocktake, StocktakeLine
from storage.uow import UnitOfWork


async def on_hand(uow: UnitOfWork, *, partner_id: int, sku_ids: list[int]) -> dict[int, int | None]:
    """On-hand quantity in base units per SKU; None where nothing is known (no count, no shipment)."""
    out: dict[int, int | None] = {}
    tz = uow.settings.tz
    s = uow.session
    for sku_id in sku_ids:
        last = (await s.execute(
            select(Stocktake.counted_at, StocktakeLine.qty).join(StocktakeLine)
            .where(Stocktake.partner_id == partner_id, StocktakeLine.sku_id == sku_id)
            .order_by(Stocktake.counted_at.desc(), Stocktake.id.desc()).limit(1))).first()
        counted_at: datetime | None = last[0] if last else None
        base = last[1] if last else 0
        ship_q = select(func.coalesce(func.sum(Shipment.qty), 0), func.count(Shipment.id)).where(
            Shipment.partner_id == partner_id, Shipment.sku_id == sku_id)
        sale_q = select(func.coalesce(func.sum(SaleLine.qty), 0)).join(Sale).where(
            Sale.partner_id == partner_id, SaleLine.sku_id == sku_id, Sale.status == "confirmed")
        if counted_at is not None:
            day = counted_at.astimezone(tz).date()
            ship_q = ship_q.where(or_(Shipment.shipped_on > day,
                                      and_(Shipment.shipped_on == day, Shipment.created_at > counted_at)))
            sale_q = sale_q.where(or_(Sale.sold_on > day, and_(Sale.sold_on == day, Sale.created_at > counted_at)))
        shipped, shipments = (await s.execute(ship_q)).one()
        sold = await s.scalar(sale_q)
        if last is None and not shipments:
            out[sku_id] = None
        else:
            out[sku_id] = int(base) + int(shipped) - int(sold)
    return out
