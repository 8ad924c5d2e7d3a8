"""Which guide and floor price apply: the price policy in force on a date for a partner's
tier and region (most specific wins), else the SKU's own prices. Prices are fen per base unit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from storage.models import Partner, PricePolicy, Sku
from storage.uow import UnitOfWork

from .actors import region_covers


@dataclass(frozen=True)
class PriceInForce:
    guide_fen: int
    floor_fen: int
    policy_id: int | None      # None: the SKU's default prices
    effective_from: date | None


async def price_in_force(uow: UnitOfWork, *, sku: Sku, partner: Partner, on: date) -> PriceInForce:
    """The policy for `sku` in force on `on` for `partner` (tier and region match or are blank)."""
    rows = (await uow.session.scalars(select(PricePolicy).where(
        PricePolicy.sku_id == sku.id, PricePolicy.effective_from <= on))).all()
    fitting = [p for p in rows if (not p.tier or p.tier == partner.tier)
               and (not p.region or region_covers(p.region, partner.region))]
    if not fitting:
        return PriceInForce(sku.guide_price_fen, sku.floor_price_fen, None, None)
    best = max(fitting, key=lambda p: (p.effective_from, bool(p.tier) + bool(p.region), len(p.region), p.id))
    return PriceInForce(best.guide_price_fen, best.floor_price_fen, best.id, best.effective_from)
