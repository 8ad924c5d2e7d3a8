"""The grouped queries behind channel inventory: last counts, and shipments and sales after each
position's count, for a whole batch of positions at once (never one query per SKU).

A movement counts after a stocktake when its business date (local) is later than the count's
local date, or it is the same day and was recorded (created_at) after the count. The local date
of a count is worked out here in Python, so the rule is exact in any timezone; the per-position
cut-offs then travel as one JSON parameter (`json_each` on SQLite, `jsonb_to_recordset` on
PostgreSQL), materialized once and joined to the movements:

- shipments: one index range per position on (partner_id, sku_id, shipped_on);
- sales of one partner: one range per position on sale_line (sku_id, sale_id), starting at the
  partner's first sale of the window, so old history is never read;
- sales of many partners (the sweep, SKU by SKU): each line of the batch's SKUs since the
  earliest cut-off read once, then matched to its position.

Without an index on sale_line.sale_id the planner must not drive these joins from `sale`; the
LEFT JOINs and `partner_id + 0` below keep it on the paths above.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import (Date, Integer, String, and_, case, column, func, literal, or_, select, text, type_coerce,
                        union_all)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Sale, SaleLine, Shipment, Stocktake, StocktakeLine, UTCDateTime

RATE_DAYS = 28                 # trailing window of the sales rate
Pair = tuple[int, int]         # (partner_id, sku_id)
NO_SALE = 2**31 - 1            # a sale id beyond any (ids are 32-bit integers on PostgreSQL)
EPOCH = date(1, 1, 1)          # the cut-off of a position never counted


@dataclass(frozen=True)
class Figures:
    """The raw numbers of one position, before catalog data is attached."""

    on_hand: int | None
    sold_28d: int


CUT_COLUMNS = ("p", "s", "day", "at", "lo", "x")


def _cut_table(session: AsyncSession, rows: list[tuple]):
    """Per-position cut-offs (p, s, day, at, lo, x) from one JSON parameter, materialized once."""
    if session.bind.dialect.name == "postgresql":
        sql = ("SELECT * FROM jsonb_to_recordset(CAST(:cuts AS jsonb)) "
               "AS c(p integer, s integer, day date, at timestamptz, lo date, x integer)")
        payload = json.dumps([dict(zip(CUT_COLUMNS, row)) for row in rows], separators=(",", ":"))
    else:
        sql = "SELECT " + ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(CUT_COLUMNS))
        sql += " FROM json_each(:cuts)"
        payload = json.dumps(rows, separators=(",", ":"))
    return (text(sql).bindparams(cuts=payload)
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
    """`col + 0`: no index on it, so the planner does not drive the join from `sale` by partner."""
    return col + 0


def _sales_per_position(cut, since: date):
    """One partner's sales per position: a (sku_id, sale_id ≥ x) range each, `cut` kept outer by LEFT JOINs."""
    return (select(literal(1), cut.c.p, cut.c.s,
                   func.sum(case((_after(cut, Sale.sold_on, Sale.created_at), SaleLine.qty), else_=0)),
                   func.sum(case((Sale.sold_on >= since, SaleLine.qty), else_=0)))
            .select_from(cut)
            .outerjoin(SaleLine, and_(SaleLine.sku_id == cut.c.s, SaleLine.sale_id >= cut.c.x))
            .outerjoin(Sale, and_(Sale.id == SaleLine.sale_id, Sale.partner_id == cut.c.p, Sale.status == "confirmed",
                                  Sale.sold_on >= cut.c.lo))
            .group_by(cut.c.p, cut.c.s))


def _sales_per_sku(cut, since: date, pairs: list[Pair], lo: date | None, first_id: int):
    """Many partners' sales: each line of the batch's SKUs since the earliest `lo` read once, then matched."""
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
        return {(p, s): (qty, at) for p, s, qty, at in (await session.execute(stmt)).all()}
    # SQLite takes the other columns from the row holding the max(); SKU first walks its index in order.
    # The stored text is parsed once per instant (a stocktake's lines share it), not once per row.
    stmt = (stmt.add_columns(type_coerce(func.max(Stocktake.counted_at), String))
            .group_by(StocktakeLine.sku_id, Stocktake.partner_id))
    parsed: dict[str, datetime] = {}
    out = {}
    for p, s, qty, raw in (await session.execute(stmt)).all():
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
                  counts: dict[Pair, tuple[int, datetime]], rate: bool = True) -> dict[Pair, Figures]:
    """On hand and 28-day sales of `pairs` in one grouped query; `rate=False` skips the 28 days (sold_28d 0)."""
    if not pairs:
        return {}
    since = today - timedelta(days=RATE_DAYS - 1)
    window = since if rate else date.max
    # per count instant (a stocktake's lines share one): (local day, stored text, first day of sales to read)
    cuts: dict = {None: (EPOCH.isoformat(), _at_text(session, datetime(1, 1, 1, tzinfo=timezone.utc)), None)}
    for _, at in counts.values():
        if at not in cuts:
            day = at.astimezone(tz).date()
            cuts[at] = (day.isoformat(), _at_text(session, at), min(day, window))
    per_pair = [cuts[counts[pair][1]] if pair in counts else cuts[None] for pair in pairs]
    los = {c[2] for c in per_pair}
    lo = None if None in los else min(los)
    partner_ids = sorted({p for p, _ in pairs})
    first = await _first_sale_ids(session, partner_ids, lo)
    epoch = EPOCH.isoformat()
    rows = [(p, s, day, at, pos_lo.isoformat() if pos_lo else epoch, first[p])
            for (p, s), (day, at, pos_lo) in zip(pairs, per_pair)]
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
    for part, p, s, a, b in (await session.execute(union_all(shipped, sold))).all():
        found[part][(p, s)] = (int(a or 0), int(b or 0))
    out = {}
    for pair in pairs:
        count = counts.get(pair)
        since_count, sold_28d = found[1].get(pair, (0, 0))
        sold_28d = sold_28d if rate else 0
        if count is None and pair not in found[0]:
            out[pair] = Figures(None, sold_28d)
        else:
            out[pair] = Figures((count[0] if count else 0) + found[0].get(pair, (0, 0))[0] - since_count, sold_28d)
    return out
