"""Channel inventory: on hand per partner and SKU = last stocktake + sell-in since − sell-out since.

A movement counts after a stocktake when its business date is later than the count's local
date, or it is the same day and was recorded after the count. Undone sales do not count. A
position with neither a count nor a shipment is unknown.

Figures come from a few grouped queries over a batch of positions, never one query per SKU:
the last count per position (a window query), then shipments and sales joined to a small table
of per-position cut-offs passed as one JSON parameter (`json_each` on SQLite,
`jsonb_to_recordset` on PostgreSQL), so each position's own count date bounds its rows.

Safety stock: a partner's override wins over its tier's, which wins over the SKU default.
Days of cover = on hand ÷ (confirmed sales of the 28 days ending today ÷ 28). The suggested
reorder quantity brings on hand up to safety stock + four weeks of demand at that rate (the
28-day sales themselves), rounded up to whole packs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (Date, Integer, Row, String, and_, case, column, func, literal, or_, select, text, type_coerce,
                        union_all)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Partner, SafetyStockOverride, Sale, SaleLine, Shipment, Sku, Stocktake,
                            StocktakeLine, UTCDateTime)
from storage.uow import UnitOfWork

from . import catalog
from .actors import Actor, scope_partners

RATE_DAYS = 28                 # trailing window of the sales rate
STATUS_ORDER = {"out": 0, "low": 1, "ok": 2, "unknown": 3}
Pair = tuple[int, int]         # (partner_id, sku_id)
NO_SALE = 2**31 - 1            # a sale id beyond any (ids are 32-bit integers on PostgreSQL)
EPOCH = date(1, 1, 1)          # the cut-off of a position never counted


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


@dataclass(frozen=True)
class Figures:
    """The raw numbers of one position, before catalog data is attached."""

    on_hand: int | None
    sold_28d: int


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
    days = Decimal(max(on_hand, 0)) * RATE_DAYS / Decimal(sold_28d)
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def reorder_qty(on_hand: int | None, safety_stock: int, sold_28d: int, pack_size: int) -> int:
    """Base units that bring on hand up to safety stock + 28 days of demand, in whole packs."""
    if on_hand is None:
        return 0
    need = safety_stock + sold_28d - max(on_hand, 0)
    if need <= 0:
        return 0
    pack = max(pack_size, 1)
    return -(-need // pack) * pack


# --- the grouped queries ------------------------------------------------------------------

def local_today(uow: UnitOfWork) -> date:
    return uow.now().astimezone(uow.settings.tz).date()


def _cut_table(session: AsyncSession, rows: list[dict]):
    """Per-position cut-offs (p, s, day, at, lo, x) as a table read from one JSON parameter, materialized
    once (SQLite would otherwise re-read the JSON for every row it joins)."""
    if session.bind.dialect.name == "postgresql":
        sql = ("SELECT * FROM jsonb_to_recordset(CAST(:cuts AS jsonb)) "
               "AS c(p integer, s integer, day date, at timestamptz, lo date, x integer)")
    else:
        sql = ("SELECT json_extract(value, '$.p') AS p, json_extract(value, '$.s') AS s, "
               "json_extract(value, '$.day') AS day, json_extract(value, '$.at') AS at, "
               "json_extract(value, '$.lo') AS lo, json_extract(value, '$.x') AS x FROM json_each(:cuts)")
    return (text(sql).bindparams(cuts=json.dumps(rows, separators=(",", ":")))
            .columns(column("p", Integer), column("s", Integer), column("day", Date), column("at", UTCDateTime),
                     column("lo", Date), column("x", Integer)).cte("cut").prefix_with("MATERIALIZED"))


def _at_text(session: AsyncSession, at: datetime) -> str:
    """A UTC instant as the dialect stores it (SQLite compares the text)."""
    at = at.astimezone(timezone.utc)
    if session.bind.dialect.name == "postgresql":
        return at.isoformat()
    return at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _after(cut, on, created_at):
    """A movement of day `on`, recorded at `created_at`, counts after the position's count."""
    return or_(on > cut.c.day, and_(on == cut.c.day, created_at > cut.c.at))


def _no_index(col):
    """`col + 0`: keeps the planner from driving through `sale` by partner, which without an index
    on sale_line.sale_id means probing the batch's SKUs for each sale."""
    return col + 0


def _sales_per_position(cut, since: date):
    """Sales since each position's `lo` day, one index range per position: for one partner.

    Sale lines are indexed by (sku_id, sale_id); the partner's first sale id on or after `lo`
    (`x`) bounds each range to recent lines instead of the SKU's whole history. The LEFT JOINs
    keep `cut` the outer loop (SQLite would otherwise probe every SKU for each of the partner's sales)."""
    return (select(literal(1), cut.c.p, cut.c.s,
                   func.sum(case((_after(cut, Sale.sold_on, Sale.created_at), SaleLine.qty), else_=0)),
                   func.sum(case((Sale.sold_on >= since, SaleLine.qty), else_=0)))
            .select_from(cut)
            .outerjoin(SaleLine, and_(SaleLine.sku_id == cut.c.s, SaleLine.sale_id >= cut.c.x))
            .outerjoin(Sale, and_(Sale.id == SaleLine.sale_id, Sale.partner_id == cut.c.p, Sale.status == "confirmed",
                                  Sale.sold_on >= cut.c.lo))
            .group_by(cut.c.p, cut.c.s))


def _sales_per_sku(cut, since: date, pairs: list[Pair], lo: date | None, first_id: int):
    """Sales of many partners: each line of the batch's SKUs since the earliest `lo` read once,
    then matched to its position (per-position ranges would read other partners' lines again)."""
    lines = (select(Sale.partner_id.label("p"), SaleLine.sku_id.label("s"), Sale.sold_on, Sale.created_at,
                    SaleLine.qty)
             .join(Sale, Sale.id == SaleLine.sale_id)
             .where(SaleLine.sku_id.in_(sorted({s for _, s in pairs})), SaleLine.sale_id >= first_id,
                    _no_index(Sale.partner_id).in_(sorted({p for p, _ in pairs})), Sale.status == "confirmed"))
    if lo is not None:
        lines = lines.where(Sale.sold_on >= lo)
    lines = lines.cte("lines").prefix_with("MATERIALIZED")
    return (select(literal(1), cut.c.p, cut.c.s,
                   func.sum(case((_after(cut, lines.c.sold_on, lines.c.created_at), lines.c.qty), else_=0)),
                   func.sum(case((lines.c.sold_on >= since, lines.c.qty), else_=0)))
            .select_from(cut)
            .join(lines, and_(lines.c.p == cut.c.p, lines.c.s == cut.c.s, lines.c.sold_on >= cut.c.lo))
            .group_by(cut.c.p, cut.c.s))


async def _first_sale_ids(session: AsyncSession, partner_ids: list[int], lo: date | None) -> dict[int, int]:
    """Per partner, the lowest id of its sales on or after `lo` (0 for all history; NO_SALE for none)."""
    if lo is None:
        return dict.fromkeys(partner_ids, 0)
    rows = await session.execute(select(Sale.partner_id, func.min(Sale.id))
                                 .where(Sale.partner_id.in_(partner_ids), Sale.sold_on >= lo)
                                 .group_by(Sale.partner_id))
    found = dict(rows.all())
    return {p: found.get(p, NO_SALE) for p in partner_ids}


async def last_counts(session: AsyncSession, *, partner_ids, sku_ids=None) -> dict[Pair, tuple[int, datetime]]:
    """The latest count (qty, counted_at) of every position of these partners (and SKUs)."""
    cols = (Stocktake.partner_id, StocktakeLine.sku_id, StocktakeLine.qty)
    stmt = (select(*cols).join(StocktakeLine, StocktakeLine.stocktake_id == Stocktake.id)
            .where(Stocktake.partner_id.in_(list(partner_ids))))
    if sku_ids is not None:
        stmt = stmt.where(StocktakeLine.sku_id.in_(list(sku_ids)))
    if session.bind.dialect.name == "postgresql":
        stmt = (stmt.add_columns(Stocktake.counted_at).ext(distinct_on(Stocktake.partner_id, StocktakeLine.sku_id))
                .order_by(Stocktake.partner_id, StocktakeLine.sku_id, Stocktake.counted_at.desc(),
                          Stocktake.id.desc(), StocktakeLine.id.desc()))
        return {(p, s): (qty, at) for p, s, qty, at in await session.execute(stmt)}
    # SQLite takes the other columns from the row holding the max(); SKU first walks its index in order.
    # The stored text is parsed once per instant (a stocktake's lines share it), not once per row.
    stmt = (stmt.add_columns(type_coerce(func.max(Stocktake.counted_at), String))
            .group_by(StocktakeLine.sku_id, Stocktake.partner_id))
    parsed: dict[str, datetime] = {}
    out = {}
    for p, s, qty, raw in await session.execute(stmt):
        at = parsed.get(raw)
        if at is None:
            at = parsed[raw] = datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
        out[(p, s)] = (qty, at)
    return out


async def shipped_pairs(session: AsyncSession, *, partner_ids, sku_ids=None) -> set[Pair]:
    """Positions of these partners that ever received a shipment."""
    stmt = (select(Shipment.partner_id, Shipment.sku_id).where(Shipment.partner_id.in_(list(partner_ids)))
            .group_by(Shipment.partner_id, Shipment.sku_id))
    if sku_ids is not None:
        stmt = stmt.where(Shipment.sku_id.in_(list(sku_ids)))
    return set((await session.execute(stmt)).all())


async def figures(session: AsyncSession, *, tz, today: date, pairs: list[Pair],
                  counts: dict[Pair, tuple[int, datetime]]) -> dict[Pair, Figures]:
    """On hand and 28-day sales of `pairs`, given their last counts: one grouped query (two parts)."""
    if not pairs:
        return {}
    since = today - timedelta(days=RATE_DAYS - 1)
    local: dict = {None: (EPOCH, _at_text(session, datetime(1, 1, 1, tzinfo=timezone.utc)))}
    for qty, at in counts.values():  # counted_at → (local day, stored text); counts share instants
        if at not in local:
            local[at] = (at.astimezone(tz).date(), _at_text(session, at))
    los = [min(local[counts[pair][1]][0], since) if pair in counts else None for pair in pairs]
    lo = None if None in los else min(los)
    partner_ids = sorted({p for p, _ in pairs})
    first = await _first_sale_ids(session, partner_ids, lo)
    rows = []
    for pair, pos_lo in zip(pairs, los):
        count = counts.get(pair)
        day, at = local[count[1]] if count else (EPOCH, local[None][1])  # never counted: everything counts
        rows.append({"p": pair[0], "s": pair[1], "day": day.isoformat(), "at": at, "lo": (pos_lo or EPOCH).isoformat(),
                     "x": first[pair[0]]})
    cut = _cut_table(session, rows)
    shipped = (select(literal(0), cut.c.p, cut.c.s, func.sum(Shipment.qty), literal(0))
               .select_from(cut)
               .join(Shipment, and_(Shipment.partner_id == cut.c.p, Shipment.sku_id == cut.c.s,
                                    Shipment.shipped_on >= cut.c.day))
               .where(or_(Shipment.shipped_on > cut.c.day, Shipment.created_at > cut.c.at))
               .group_by(cut.c.p, cut.c.s))
    if len(partner_ids) == 1:
        sold = _sales_per_position(cut, since)
    else:
        sold = _sales_per_sku(cut, since, pairs, lo, min(first.values()))
    found: dict[int, dict[Pair, tuple[int, int]]] = {0: {}, 1: {}}
    for part, p, s, a, b in await session.execute(union_all(shipped, sold)):
        found[part][(p, s)] = (int(a or 0), int(b or 0))
    out = {}
    for pair in pairs:
        count = counts.get(pair)
        since_count, sold_28d = found[1].get(pair, (0, 0))
        if count is None and pair not in found[0]:
            out[pair] = Figures(None, sold_28d)
        else:
            out[pair] = Figures((count[0] if count else 0) + found[0].get(pair, (0, 0))[0] - since_count, sold_28d)
    return out


@dataclass(frozen=True)
class _Meta:
    partners: dict[int, Row]
    skus: dict[int, Row]
    safety: dict[Pair, int]


async def _meta(session: AsyncSession, pairs: list[Pair]) -> _Meta:
    """Partners, SKUs and the safety stock in force for each position (partner > tier > SKU)."""
    partner_ids = sorted({p for p, _ in pairs})
    sku_ids = sorted({s for _, s in pairs})
    partners = {p.id: p for p in await session.execute(
        select(Partner.id, Partner.code, Partner.name, Partner.tier, Partner.region, Partner.active)
        .where(Partner.id.in_(partner_ids)))}
    skus = {s.id: s for s in await session.execute(
        select(Sku.id, Sku.code, Sku.name, Sku.unit, Sku.pack_unit, Sku.pack_size, Sku.safety_stock, Sku.active)
        .where(Sku.id.in_(sku_ids)))}
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
    return Position(partner_code=partner.code, partner_name=partner.name, region=partner.region,
                    sku_code=sku.code, sku_name=sku.name, unit=sku.unit, pack_unit=sku.pack_unit,
                    pack_size=sku.pack_size, on_hand=fig.on_hand, safety_stock=safety, sold_28d=fig.sold_28d,
                    days_of_cover=days_of_cover(fig.on_hand, fig.sold_28d),
                    reorder_qty=reorder_qty(fig.on_hand, safety, fig.sold_28d, sku.pack_size),
                    status=status_of(fig.on_hand, safety))


async def _figures_of(uow: UnitOfWork, pairs: list[Pair], counts, active_only: bool):
    """Catalog data and figures of the pairs (of active partners and SKUs only, if asked)."""
    session = uow.session
    meta = await _meta(session, pairs)
    if active_only:
        pairs = [(p, s) for p, s in pairs if meta.partners[p].active and meta.skus[s].active]
    if counts is None:
        counts = await last_counts(session, partner_ids={p for p, _ in pairs}, sku_ids={s for _, s in pairs})
    return meta, await figures(session, tz=uow.settings.tz, today=local_today(uow), pairs=pairs, counts=counts)


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
    meta, figs = await _figures_of(uow, pairs, None, active_only)
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
    if not partner_ids:
        return []
    counts = await last_counts(uow.session, partner_ids=partner_ids, sku_ids=sku_ids)
    found = set(counts) | await shipped_pairs(uow.session, partner_ids=partner_ids, sku_ids=sku_ids)
    if named and sku_ids is not None:
        found |= {(p, s) for p in partner_ids for s in sku_ids}
    return list((await evaluate(uow, pairs=sorted(found), counts=counts)).values())


async def positions(uow: UnitOfWork, *, actor: Actor, partner_code: str | None = None,
                    sku_code: str | None = None) -> list[Position]:
    """Stock positions the actor may see, low items first (out, low, ok, unknown), then SKU code.

    Without `sku_code`: the positions with a count or a shipment. With it: that SKU at every partner
    in scope, "unknown" where nothing is known."""
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
