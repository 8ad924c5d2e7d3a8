"""Rebate schemes (返利方案) and where a partner stands in them, as of a business date.

A scheme counts a partner's sales whose business date `sold_on` lies in its period (up to the
date asked about), on the lines whose SKU is in the scheme's group (an empty group: every SKU):
the sum of `amount_fen` on an amount basis, of `qty` (base units) on a quantity basis, where the
money paid on is still the counted amount (services/rebate_math.py). Only counting sales count:
confirmed (not undone) and without a price or territory violation that is open, appealed or
upheld — a cleared violation lets its sale count again (`violations.counting_sales_clause`). A
scheme applies to partners whose tier is in its `partner_tiers` (empty: every tier).

The projection runs the total so far on at its daily average: elapsed days are the business
days from the period's start up to and including the date asked about (`[app] timezone`), so
`total ÷ elapsed × period days`; the projected payout is what that projected total earns.

Totals come from one grouped query for any number of partners and schemes (a conditional sum
per scheme), never one query per sale or per partner.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, and_, case, func, select

from storage.models import RebateScheme, Sale, SaleLine, Sku
from storage.uow import UnitOfWork

from . import catalog, violations
from . import rebate_math as m
from .actors import Actor, require_role
from .catalog import format_qty
from .errors import InvalidInput, NotFound

RECENT_ENDED_DAYS = 30           # an ended scheme is still shown this many days after its end


@dataclass(frozen=True)
class Units:
    """How a scheme's quantities read: the group's common unit and pack, else bare numbers."""

    unit: str = ""
    pack_unit: str = ""
    pack_size: int = 1
    mixed: str = ""      # `瓶/罐` when the group's SKUs count in different base units

    @property
    def label(self) -> str:
        """The unit the totals are in, for a scheme's summary."""
        return self.unit or self.mixed

    def plain(self, n: int) -> str:
        """`3,500瓶` (for formulas)."""
        return f"{n:,}{self.unit}"

    def packs(self, n: int) -> str:
        """`145箱20瓶` when the group shares one pack, else `3,500瓶`."""
        return format_qty(n, self) if self.unit and self.pack_size > 1 else self.plain(n)


@dataclass(frozen=True)
class SchemeInfo:
    id: int
    code: str
    name: str
    period_start: date
    period_end: date
    basis: str
    mode: str
    sku_group: str
    tiers: tuple[m.Tier, ...]
    partner_tiers: tuple[str, ...]
    cap_fen: int | None
    units: Units = Units()

    @property
    def rule(self) -> m.Rule:
        return m.Rule(self.basis, self.mode, self.tiers, self.cap_fen)

    @property
    def period_days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    def applies_to(self, tier: str) -> bool:
        return not self.partner_tiers or tier in self.partner_tiers

    def amount_text(self, value: int) -> str:
        """A threshold, total or gap in the scheme's basis: `¥50,000.00` or `20箱`."""
        return m.yuan(value) if self.basis == m.AMOUNT else self.units.packs(value)


@dataclass(frozen=True)
class SchemeStanding:
    """One partner in one scheme as of a date: the figures, the projection, the arithmetic."""

    scheme: SchemeInfo
    as_of: date                     # the last business date counted
    ended: bool                     # the period is over by the date asked about
    now: m.Standing
    pace: m.Pace
    projected: m.Standing           # what the projected total earns (= now when the period is complete)
    projected_amount_fen: int


@dataclass(frozen=True)
class PartnerRebates:
    partner_code: str
    partner_name: str
    today: date
    schemes: tuple[SchemeStanding, ...]


def local_today(uow: UnitOfWork) -> date:
    return uow.now().astimezone(uow.settings.tz).date()


def _info(row: RebateScheme, units: Units = Units()) -> SchemeInfo:
    return SchemeInfo(id=row.id, code=row.code, name=row.name, period_start=row.period_start,
                      period_end=row.period_end, basis=row.basis, mode=row.mode, sku_group=row.sku_group or "",
                      tiers=tuple(m.Tier(int(t), int(r)) for t, r in row.tiers),
                      partner_tiers=tuple(t for t in (row.partner_tiers or "").split(";") if t),
                      cap_fen=row.cap_fen, units=units)


async def _units(uow: UnitOfWork, groups: set[str]) -> dict[str, Units]:
    """The common unit and pack of each SKU group (of qty schemes); mixed groups read as bare numbers."""
    if not groups:
        return {}
    wanted = {g for g in groups if g}
    stmt = select(Sku.group_name, Sku.unit, Sku.pack_unit, Sku.pack_size).distinct()
    if "" not in groups:
        stmt = stmt.where(Sku.group_name.in_(sorted(wanted)))
    found: dict[str, set[tuple]] = {}
    for group, unit, pack_unit, pack_size in await uow.session.execute(stmt):
        found.setdefault(group, set()).add((unit, pack_unit, pack_size))
        found.setdefault("", set()).add((unit, pack_unit, pack_size))
    out = {}
    for group in groups:
        kinds = found.get(group, set())
        if len(kinds) == 1:
            out[group] = Units(*next(iter(kinds)))
        elif len({k[0] for k in kinds}) == 1:
            out[group] = Units(next(iter(kinds))[0])
        else:
            out[group] = Units(mixed="/".join(sorted({k[0] for k in kinds})))
    return out


async def load_schemes(uow: UnitOfWork, *, overlapping: tuple[date, date] | None = None) -> list[SchemeInfo]:
    """Every scheme (or those whose period overlaps the inclusive range), by start, then code."""
    stmt = select(RebateScheme).order_by(RebateScheme.period_start, RebateScheme.code)
    if overlapping is not None:
        first, last = overlapping
        stmt = stmt.where(RebateScheme.period_start <= last, RebateScheme.period_end >= first)
    async with uow.reading() as ro:
        rows = (await ro.session.scalars(stmt)).all()
        units = await _units(ro, {r.sku_group or "" for r in rows if r.basis == m.QTY})
    return [_info(r, units.get(r.sku_group or "", Units())) for r in rows]


async def list_schemes(uow: UnitOfWork, *, actor: Actor) -> list[SchemeInfo]:
    """Every scheme, for admins and managers (`/rebate list`)."""
    require_role(actor, "manager")
    return await load_schemes(uow)


async def get_scheme(uow: UnitOfWork, *, actor: Actor, code: str) -> SchemeInfo:
    """One scheme by code (any case); NotFound otherwise."""
    require_role(actor, "manager")
    wanted = code.strip().casefold()
    for scheme in await load_schemes(uow):
        if scheme.code.casefold() == wanted:
            return scheme
    raise NotFound(what="rebate_scheme", key=code)


async def counted_totals(uow: UnitOfWork, *, partners: Select | list[int], schemes: list[SchemeInfo],
                         as_of: date) -> dict[tuple[int, int], tuple[int, int]]:
    """(amount_fen, qty) per (partner id, scheme id) of counting sales up to `as_of`, in one grouped query.

    `partners` is a list of ids or a select of partner ids (already scoped by the caller)."""
    windows = [(s, s.period_start, min(s.period_end, as_of)) for s in schemes]
    windows = [w for w in windows if w[1] <= w[2]]
    if not windows:
        return {}
    columns = []
    for scheme, first, last in windows:
        cond = and_(Sale.sold_on >= first, Sale.sold_on <= last)
        if scheme.sku_group:
            cond = and_(cond, Sku.group_name == scheme.sku_group)
        columns += [func.sum(case((cond, SaleLine.amount_fen), else_=0)), func.sum(case((cond, SaleLine.qty), else_=0))]
    stmt = (select(Sale.partner_id, *columns).select_from(SaleLine)
            .join(Sale, Sale.id == SaleLine.sale_id).join(Sku, Sku.id == SaleLine.sku_id)
            .where(Sale.partner_id.in_(partners), Sale.sold_on >= min(w[1] for w in windows),
                   Sale.sold_on <= max(w[2] for w in windows), violations.counting_sales_clause())
            .group_by(Sale.partner_id))
    out: dict[tuple[int, int], tuple[int, int]] = {}
    async with uow.reading() as ro:
        for row in await ro.session.execute(stmt):
            partner_id, sums = row[0], row[1:]
            for i, (scheme, _, _) in enumerate(windows):
                out[(partner_id, scheme.id)] = (int(sums[2 * i] or 0), int(sums[2 * i + 1] or 0))
    return out


def stand(scheme: SchemeInfo, *, amount_fen: int, qty: int, as_of: date) -> SchemeStanding:
    """Where counted sales of (amount, qty) up to `as_of` stand in `scheme`, projected to the period's end."""
    rule, qty_text = scheme.rule, scheme.units.plain
    total = amount_fen if scheme.basis == m.AMOUNT else qty
    last = min(as_of, scheme.period_end)
    elapsed = (last - scheme.period_start).days + 1
    now = m.standing(rule, total, amount_fen, qty_text=qty_text)
    pace = m.pace(total, elapsed_days=elapsed, period_days=scheme.period_days)
    if pace.complete:
        projected, projected_amount = now, amount_fen
    else:
        projected_amount = m.pace(amount_fen, elapsed_days=elapsed, period_days=scheme.period_days).projected
        projected = m.standing(rule, pace.projected, projected_amount, qty_text=qty_text)
    return SchemeStanding(scheme=scheme, as_of=last, ended=as_of > scheme.period_end, now=now, pace=pace,
                          projected=projected, projected_amount_fen=projected_amount)


def shown_in_chat(schemes: list[SchemeInfo], *, tier: str, today: date) -> list[SchemeInfo]:
    """The partner's schemes active today, then those that ended most recently, within 30 days."""
    mine = [s for s in schemes if s.applies_to(tier) and s.period_start <= today]
    active = [s for s in mine if s.period_end >= today]
    ended = [s for s in mine if today - timedelta(days=RECENT_ENDED_DAYS) <= s.period_end < today]
    latest = max((s.period_end for s in ended), default=None)
    return active + [s for s in ended if s.period_end == latest]


async def partner_rebates(uow: UnitOfWork, *, actor: Actor, partner_code: str | None = None) -> PartnerRebates:
    """`返利`: a partner's standing in each of its schemes today (a manager names a partner of its regions)."""
    if partner_code is None:
        if not actor.is_partner_side or not actor.partner_code:
            raise InvalidInput(reason="请指定经销商编码，如：返利 P001", need="partner")
        partner_code = actor.partner_code
    async with uow.reading() as ro:
        partner = await catalog.get_partner(ro, actor=actor, code=partner_code)
        today = local_today(ro)
        schemes = shown_in_chat(await load_schemes(ro, overlapping=(today - timedelta(days=RECENT_ENDED_DAYS), today)),
                                tier=partner.tier, today=today)
        totals = await counted_totals(ro, partners=[partner.id], schemes=schemes, as_of=today)
    standings = tuple(stand(s, amount_fen=totals.get((partner.id, s.id), (0, 0))[0],
                            qty=totals.get((partner.id, s.id), (0, 0))[1], as_of=today) for s in schemes)
    return PartnerRebates(partner.code, partner.name, today, standings)


def daily_average(st: SchemeStanding) -> str:
    """`¥3,714.29` or `12.5瓶`: the period-to-date daily average the projection runs on."""
    if st.scheme.basis == m.AMOUNT:
        return m.yuan(st.pace.per_day)
    return f"{m.per_day_qty_text(st.pace.per_day)}{st.scheme.units.unit}"


def projection_text(st: SchemeStanding) -> str:
    """`按本期已过 49 天的日均 ¥3,714.29 推算 92 天`."""
    return f"按本期已过 {st.pace.elapsed_days} 天的日均 {daily_average(st)} 推算 {st.pace.period_days} 天"
