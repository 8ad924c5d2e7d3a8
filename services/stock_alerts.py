"""Low-stock alerts that follow state: a position moving ok → low → out, or back to ok, is
announced once to the partner and to its region's managers; a position that stays put says
nothing more. Called inside the transaction of every change (sale, stocktake, shipment), and by
the `low_stock` sweep as a safety net."""
from __future__ import annotations

from storage.uow import UnitOfWork


async def reevaluate(uow: UnitOfWork, *, partner_id: int, sku_ids: list[int]) -> list:
    """Re-checks the touched positions inside the caller's open unit of work; queues transition alerts."""
    return []  # implemented in the inventory change that follows (issue 5)
