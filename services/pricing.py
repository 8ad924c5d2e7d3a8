"""Which guide and floor price apply: the price policy in force on a date for a partner's
tier and region, else the SKU's own prices. Prices are fen per base unit.

Precedence, most specific scope first: tier and region > region (the longer prefix first) >
tier > neither. Within one scope the version with the latest `effective_from` on or before the
day applies, and of two versions of one day the later written one (rows are never changed, so a
correction is a new row). So a regional or tier price keeps applying when the national price
changes, until a newer version of its own scope replaces it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from sqlalchemy import select

from storage.models import Partner, PricePolicy, Sku
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class PriceInForce:
    guide_fen: int
    floor_fen: int
    policy_id: int | None      # None: the SKU's default prices
    effective_from: date | None


def region_prefixes(region: str) -> list[str]:
    """`江苏-南京-鼓楼` → ['', '江苏', '江苏-南京', '江苏-南京-鼓楼']: every policy region that covers it."""
    parts = [p for p in (region or "").split("-") if p]
    return [""] + ["-".join(parts[:i]) for i in range(1, len(parts) + 1)]


def precedence(policy: PricePolicy) -> tuple:
    """Sort key: higher wins (scope specificity, then the newest version)."""
    return (bool(policy.tier) + bool(policy.region), len(policy.region), policy.effective_from, policy.id)


def _fitting(sku_ids: list[int], partner: Partner, on: date):
    return select(PricePolicy).where(
        PricePolicy.sku_id.in_(sku_ids), PricePolicy.effective_from <= on,
        PricePolicy.tier.in_(sorted({"", partner.tier or ""})),
        PricePolicy.region.in_(region_prefixes(partner.region)))


async def prices_in_force(uow: UnitOfWork, *, skus: Iterable[Sku], partner: Partner, on: date) -> dict[int, PriceInForce]:
    """The price in force on `on` for `partner`, per SKU id, in one query."""
    skus = list(skus)
    best: dict[int, PricePolicy] = {}
    if skus:
        rows = await uow.session.scalars(_fitting([s.id for s in skus], partner, on))
        for p in rows:
            if p.sku_id not in best or precedence(p) > precedence(best[p.sku_id]):
                best[p.sku_id] = p
    out = {}
    for sku in skus:
        p = best.get(sku.id)
        out[sku.id] = (PriceInForce(p.guide_price_fen, p.floor_price_fen, p.id, p.effective_from) if p is not None
                       else PriceInForce(sku.guide_price_fen, sku.floor_price_fen, None, None))
    return out


async def price_in_force(uow: UnitOfWork, *, sku: Sku, partner: Partner, on: date) -> PriceInForce:
    """The policy for `sku` in force on `on` for `partner` (tier and region match or are blank)."""
    return (await prices_in_force(uow, skus=[sku], partner=partner, on=on))[sku.id]
