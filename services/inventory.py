"""Channel inventory: on hand per partner and SKU = last stocktake + sell-in since − sell-out since.

A movement counts after a stocktake when its business date is later than the count's local
date, or it is the same day and was recorded after the count. Undone sales do not count. A
position with neither a count nor a shipment is unknown. The figures come from a few grouped
queries over a batch of positions (`stock_figures`), never one query per SKU.

Safety stock: a partner's override wins over its tier's, which wins over the SKU default.
Days of cover = on hand ÷ (confirmed sales of the 28 days ending today ÷ 28). The suggested
reorder quantity brings on hand up to safety stock + four weeks of demand at that rate (the
28-day sales themselves), rounded up to whole packs: a month's cover on top of the buffer, the
usual ordering cycle of a distributor, and a figure the partner can check by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Partner, SafetyStockOverride, Sale, SaleLine, Shipment, Sku, Stocktake, StocktakeLine
from storage.uow import UnitOfWork

from . import catalog
from .actors import Actor, scope_partners
from .stock_figures import RATE_DAYS, Figures, Pair, figures, last_counts, shipped_pairs

__all__ = ["Figures", "Movement", "Pair", "Position", "RATE_DAYS", "days_of_cover", "evaluate", "known_positions",
           "movements", "on_hand", "positions", "reorder_qty", "sort_key", "status_of", "statuses"]

STATUS_ORDER = {"out": 0, "low": 1, "ok": 2, "unknown": 3}
PARTNERS_PER_BATCH = 50        # a manager's or an export's partners are evaluated this many at a time


@dataclass(frozen=True)
class Position:
    partner_code: str
    partner_name: str
    region: str
    sku_code: str
    sku_name: str
    unit: str
    pack_unit: str
    pack_size: int
    on_hand: int | None
    safety_stock: int
    sold_28d: int
    days_of_cover: Decimal | None
    reorder_qty: int
    status: str                # ok | low | out | unknown


@dataclass(frozen=True)
class Movement:
    kind: str                  # stocktake | shipment | sale
    date: date
    qty: int                   # stocktake: the count; shipment +; sale −
    note: str = ""             # shipment ref, sale customer


def status_of(on_hand: int | None, safety_stock: int) -> str:
    """unknown, out (nothing left), low (under safety stock) or ok."""
    if on_hand is None:
        return "unknown"
    if on_hand <= 0:
        return "out"
    return "low" if on_hand < safety_stock else "ok"


def days_of_cover(on_hand: int | None, sold_28d: int) -> Decimal | None:
    """Days the stock lasts at the trailing 28-day rate, one decimal; None without sales or stock figure."""
    if on_hand is None or sold_28d <= 0:
        return None
    tenths = (max(on_hand, 0) * RATE_DAYS * 20 + sold_28d) // (2 * sold_28d)  # on hand × 28 ÷ sold, half up
    return Decimal(tenths).scaleb(-1)


def reorder_qty(on_hand: int | None, safety_stock: int, sold_28d: int, pack_size: int) -> int:
    """Base units that bring on hand up to safety stock + 28 days of demand, in whole packs."""
    if on_hand is None:
        return 0
    need = safety_stock + sold_28d - max(on_hand, 0)
    if need <= 0:
        return 0
    pack = max(pack_size, 1)
    return -(-need // pack) * pack

def local_today(uow: UnitOfWork) -> date:
    return uow.now().astimezone(uow.settings.tz).date()


@dataclass(frozen=True)
class _Meta:
    partners: dict[int, Row]
    skus: dict[int, Row]
    safety: dict[Pair, int]


async def _meta(session: AsyncSession, pairs: list[Pair]) -> _Meta:
    """Partners, SKUs and the safety stock in force for each position (partner > tier > SKU)."""
    partner_ids = sorted({p for p, _ in pairs})
    sku_ids = sorted({s for _, s in pairs})
    partners = {p.id: p for p in (await session.execute(
        select(Partner.id, Partner.code, Partner.name, Partner.tier, Partner.region, Partner.active)
        .where(Partner.id.in_(partner_ids)))).all()}
    skus = {s.id: s for s in (await session.execute(
        select(Sku.id, Sku.code, Sku.name, Sku.unit, Sku.pack_unit, Sku.pack_size, Sku.safety_stock, Sku.active)
        .where(Sku.id.in_(sku_ids)))).all()}
    tiers = sorted({p.tier for p in partners.values() if p.tier})
    conds = [SafetyStockOverride.partner_id.in_(partner_ids)]
    if tiers:
        conds.append(and_(SafetyStockOverride.partner_id.is_(None), SafetyStockOverride.tier.in_(tiers)))
    overrides = (await session.execute(
        select(SafetyStockOverride.sku_id, SafetyStockOverride.tier, SafetyStockOverride.partner_id,
               SafetyStockOverride.qty).where(SafetyStockOverride.sku_id.in_(sku_ids), or_(*conds)))).all()
    by_partner = {(pid, sid): qty for sid, _, pid, qty in overrides if pid is not None}
    by_tier = {(tier, sid): qty for sid, tier, pid, qty in overrides if pid is None}
    safety = {}
    for p, s in pairs:
        default = by_tier.get((partners[p].tier, s), skus[s].safety_stock) if partners[p].tier else skus[s].safety_stock
        safety[(p, s)] = by_partner.get((p, s), default)
    return _Meta(partners, skus, safety)


def _position(meta: _Meta, pair: Pair, fig: Figures) -> Position:
    partner, sku, safety = meta.partners[pair[0]], meta.skus[pair[1]], meta.safety[pair]
    on_hand, sold = fig.on_hand, fig.sold_28d
    return Position(partner.code, partner.name, partner.region, sku.code, sku.name, sku.unit, sku.pack_unit,
                    sku.pack_size, on_hand, safety, sold, days_of_cover(on_hand, sold),
                    reorder_qty(on_hand, safety, sold, sku.pack_size), status_of(on_hand, safety))


async def _figures_of(uow: UnitOfWork, pairs: list[Pair], counts, active_only: bool, rate: bool = True):
    """Catalog data and figures of the pairs (of active partners and SKUs only, if asked)."""
    session = uow.session
    meta = await _meta(session, pairs)
    if active_only:
        pairs = [(p, s) for p, s in pairs if meta.partners[p].active and meta.skus[s].active]
    if counts is None:
        counts = await last_counts(session, partner_ids={p for p, _ in pairs}, sku_ids={s for _, s in pairs})
    return meta, await figures(session, tz=uow.settings.tz, today=local_today(uow), pairs=pairs, counts=counts,
                               rate=rate)


async def evaluate(uow: UnitOfWork, *, pairs: list[Pair], counts: dict[Pair, tuple[int, datetime]] | None = None,
                   active_only: bool = False) -> dict[Pair, Position]:
    """Full positions of (partner_id, sku_id) pairs in the open unit of work."""
    if not pairs:
        return {}
    meta, figs = await _figures_of(uow, pairs, counts, active_only)
    return {pair: _position(meta, pair, fig) for pair, fig in figs.items()}


async def statuses(uow: UnitOfWork, *, pairs: list[Pair], active_only: bool = False) -> dict[Pair, str]:
    """Just the status (ok, low, out, unknown) of each pair: what a sweep compares, without the rest."""
    if not pairs:
        return {}
    meta, figs = await _figures_of(uow, pairs, None, active_only, rate=False)
    return {pair: status_of(fig.on_hand, meta.safety[pair]) for pair, fig in figs.items()}


def sort_key(pos: Position) -> tuple:
    """Out first, then low, ok, unknown; then SKU code and partner code."""
    return STATUS_ORDER[pos.status], pos.sku_code, pos.partner_code


# --- the public reads -----------------------------------------------------------------------

async def on_hand(uow: UnitOfWork, *, partner_id: int, sku_ids: list[int]) -> dict[int, int | None]:
    """On-hand quantity in base units per SKU; None where nothing is known (no count, no shipment)."""
    async with uow.reading() as ro:
        pairs = [(partner_id, s) for s in dict.fromkeys(sku_ids)]
        counts = await last_counts(ro.session, partner_ids=[partner_id], sku_ids=[s for _, s in pairs])
        figs = await figures(ro.session, tz=ro.settings.tz, today=local_today(ro), pairs=pairs, counts=counts)
    return {s: figs[(partner_id, s)].on_hand for _, s in pairs}


async def _partners_for(ro: UnitOfWork, actor: Actor, partner_code: str | None) -> list[int]:
    """The partner ids a query covers: the one named (if the actor may see it) or all in scope."""
    if partner_code:
        return [(await catalog.get_partner(ro, actor=actor, code=partner_code)).id]
    stmt = scope_partners(select(Partner.id).where(Partner.active.is_(True)), actor).order_by(Partner.id)
    return list(await ro.session.scalars(stmt))


async def known_positions(uow: UnitOfWork, *, partner_ids: list[int], sku_ids: list[int] | None = None,
                          named: bool = False) -> list[Position]:
    """Positions of these partners with a count or a shipment (with `named`, every listed SKU), unsorted."""
    out: list[Position] = []
    for start in range(0, len(partner_ids), PARTNERS_PER_BATCH):
        chunk = partner_ids[start:start + PARTNERS_PER_BATCH]
        counts = await last_counts(uow.session, partner_ids=chunk, sku_ids=sku_ids)
        found = set(counts) | await shipped_pairs(uow.session, partner_ids=chunk, sku_ids=sku_ids)
        if named and sku_ids is not None:
            found |= {(p, s) for p in chunk for s in sku_ids}
        out += (await evaluate(uow, pairs=sorted(found), counts=counts)).values()
    return out


async def positions(uow: UnitOfWork, *, actor: Actor, partner_code: str | None = None,
                    sku_code: str | None = None) -> list[Position]:
    """Positions in scope with a count or shipment, out/low/ok/unknown then SKU; a named SKU at every partner."""
    async with uow.reading() as ro:
        partner_ids = await _partners_for(ro, actor, partner_code)
        sku_ids = [(await catalog.get_sku_by_code(ro, code=sku_code)).id] if sku_code else None
        found = await known_positions(ro, partner_ids=partner_ids, sku_ids=sku_ids, named=True)
    return sorted(found, key=sort_key)


async def movements(uow: UnitOfWork, *, actor: Actor, partner_code: str, sku_code: str,
                    limit: int = 10) -> list[Movement]:
    """The latest counts, shipments and (confirmed) sales of one position, newest first."""
    async with uow.reading() as ro:
        partner = await catalog.get_partner(ro, actor=actor, code=partner_code)
        sku = await catalog.get_sku_by_code(ro, code=sku_code)
        s, tz = ro.session, ro.settings.tz
        found: list[tuple[date, datetime, Movement]] = []
        counts = await s.execute(
            select(Stocktake.counted_at, StocktakeLine.qty).join(StocktakeLine)
            .where(Stocktake.partner_id == partner.id, StocktakeLine.sku_id == sku.id)
            .order_by(Stocktake.counted_at.desc(), Stocktake.id.desc()).limit(limit))
        for at, qty in counts:
            found.append((at.astimezone(tz).date(), at, Movement("stocktake", at.astimezone(tz).date(), qty)))
        ships = await s.execute(
            select(Shipment.shipped_on, Shipment.created_at, Shipment.qty, Shipment.ref)
            .where(Shipment.partner_id == partner.id, Shipment.sku_id == sku.id)
            .order_by(Shipment.shipped_on.desc(), Shipment.created_at.desc(), Shipment.id.desc()).limit(limit))
        for on, at, qty, ref in ships:
            found.append((on, at, Movement("shipment", on, qty, ref or "")))
        sales = await s.execute(
            select(Sale.sold_on, Sale.created_at, func.sum(SaleLine.qty), Sale.customer)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(Sale.partner_id == partner.id, SaleLine.sku_id == sku.id, Sale.status == "confirmed")
            .group_by(Sale.id, Sale.sold_on, Sale.created_at, Sale.customer)
            .order_by(Sale.sold_on.desc(), Sale.created_at.desc(), Sale.id.desc()).limit(limit))
        for on, at, qty, customer in sales:
            found.append((on, at, Movement("sale", on, -int(qty), customer)))
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    return [m for _, _, m in found[:limit]]
