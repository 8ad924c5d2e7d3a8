"""Violations (乱价 / 窜货): what a confirmed sale broke, recorded with its evidence, graded and pushed —
never blocking the sale — and whether a sale counts for rebates.

- **Price** (`price`): a line whose amount is below the floor in force (services/pricing.py) by more
  than `[pricing] grace_pct`, one violation per line. The gap is `floor × qty − amount`, its percent
  of `floor × qty`; `[pricing] level_bands_pct` grade it (`[5, 15]`: under 5 % level 1, under 15 %
  level 2, 15 % or more level 3; a gap of exactly 5 % is level 2). When the sale is the partner's
  `repeat_count`-th (or later) sale with a standing price violation whose sale date lies within
  `repeat_window_days` before it (that day included), each of its price violations is raised by one
  level (at most the top level) and head office hears of it too.
- **Channel conflict** (`claim` / `region`): the customer matches, by a strong reason (a name score of
  at least NAME_SCORE_MIN), a live claim (services/claims_match.py) of another partner while the
  seller holds no approved claim of its own on it. `region` when the holder's region is not covered
  by the seller's (窜货 into another territory), `claim` when it is (another partner's customer at home).

A sale counts for rebates iff its status is `confirmed` and no violation of it is `open`, `appealed` or
`upheld` (voided and cleared ones do not block): `counting_sales_clause()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, and_, distinct, exists, func, not_, select

from storage.models import CustomerClaim, Partner, Sale, Sku, Violation
from storage.uow import UnitOfWork

from . import audit, claims_match
from . import violation_notices as notices
from .actors import Actor, region_covers
from .pricing import PriceInForce, prices_in_force

BLOCKING = ("open", "appealed", "upheld")   # a sale with such a violation does not count for rebates
PENDING = ("open", "appealed")              # not decided yet: an undo or a correction voids them
NOT_COUNTED = ("voided", "cleared")         # not held against the partner (repeats, listings)
STATUSES = ("open", "appealed", "cleared", "upheld", "voided")
NAME_SCORE_MIN = 0.95   # the same brand or the same sound; a one-typo name match does not flag a sale
FLAGS = {"price": "below_floor", "claim": "claimed_customer", "region": "cross_region"}
CENT = Decimal("0.01")


def blocks_rebate(sale_id_col=Sale.id) -> ColumnElement[bool]:
    """True where the sale in `sale_id_col` has a violation that keeps it out of rebates."""
    return exists(select(Violation.id).where(Violation.sale_id == sale_id_col,
                                             Violation.status.in_(BLOCKING)).correlate_except(Violation))


def counting_sales_clause(sale=Sale) -> ColumnElement[bool]:
    """The WHERE clause for sales that count for rebates: confirmed, and not blocked by a violation.
    Pass an aliased Sale when the query selects from an alias."""
    return and_(sale.status == "confirmed", not_(blocks_rebate(sale.id)))


@dataclass(frozen=True)
class Deviation:
    """One line below floor beyond grace: the evidence of a price violation."""

    sku: str
    unit: str
    qty: int
    amount_fen: int
    unit_price_fen: int     # amount ÷ qty, to the fen
    floor_fen: int
    gap_fen: int            # per base unit: floor − unit price
    line_gap_fen: int       # floor × qty − amount
    gap_pct: Decimal        # line gap ÷ (floor × qty), in percent, cut to 0.01
    level: int
    policy_id: int | None


@dataclass(frozen=True, eq=False)
class ViolationInfo:
    id: int
    kind: str               # price | claim | region
    status: str
    level: int
    sale_id: int
    partner: str
    partner_name: str
    region: str
    customer: str
    sold_on: date
    evidence: dict = field(default_factory=dict)
    appeal_reason: str = ""
    resolution: str = ""
    created_at: datetime | None = None

    @property
    def sku(self) -> str | None:
        return self.evidence.get("sku")

    @property
    def repeat(self) -> dict | None:
        return self.evidence.get("repeat")


def info(v: Violation, sale: Sale, partner: Partner) -> ViolationInfo:
    return ViolationInfo(v.id, v.kind, v.status, v.level, sale.id, partner.code, partner.name, partner.region,
                         sale.customer, sale.sold_on, dict(v.evidence or {}), v.appeal_reason, v.resolution,
                         v.created_at)


def max_level(bands) -> int:
    return len(bands) + 1


def grade(line_gap_fen: int, base_fen: int, bands) -> int:
    """1 + the number of bands the gap reaches (exact: `gap × 100 ≥ band × base`)."""
    return 1 + sum(1 for b in bands if Decimal(line_gap_fen * 100) >= Decimal(b) * base_fen)


def deviation(*, sku: str, unit: str = "", qty: int, amount_fen: int, price: PriceInForce, grace_pct: Decimal, bands) -> Deviation | None:
    """The deviation of one line, or None when it is at or above floor, within grace, or has no floor."""
    if not price.floor_fen or qty <= 0:
        return None
    base = price.floor_fen * qty
    gap = base - amount_fen
    if gap <= 0 or Decimal(gap * 100) <= Decimal(grace_pct) * base:
        return None
    per = int((Decimal(amount_fen) / qty).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    pct = (Decimal(gap * 100) / base).quantize(CENT, rounding=ROUND_DOWN)  # never shows a band it did not reach
    return Deviation(sku, unit, qty, amount_fen, per, price.floor_fen, price.floor_fen - per, gap, pct,
                     grade(gap, base, bands), price.policy_id)


async def line_deviations(uow: UnitOfWork, *, partner: Partner, sold_on: date, lines, skus: dict[str, Sku]
                          ) -> list[Deviation | None]:
    """For each (sku code, qty, amount fen) line, its deviation at the prices in force on `sold_on`
    (one query for all), or None."""
    cfg = uow.settings.pricing
    prices = await prices_in_force(uow, skus=skus.values(), partner=partner, on=sold_on)
    return [deviation(sku=code, unit=skus[code].unit, qty=qty, amount_fen=amount, price=prices[skus[code].id],
                      grace_pct=cfg.grace_pct, bands=cfg.level_bands_pct) for code, qty, amount in lines]


def _evidence(sale: Sale, d: Deviation, line_id: int | None) -> dict:
    return {"sale_id": sale.id, "sale_line_id": line_id, "sku": d.sku, "unit": d.unit, "qty": d.qty, "amount_fen": d.amount_fen,
            "unit_price_fen": d.unit_price_fen, "floor_fen": d.floor_fen, "gap_fen": d.gap_fen,
            "line_gap_fen": d.line_gap_fen, "gap_pct": str(d.gap_pct), "base_level": d.level,
            "policy_id": d.policy_id, "repeat": None}


async def _repeat(uow: UnitOfWork, sale: Sale) -> dict | None:
    """{count, window_days} when this sale is the partner's repeat_count-th deviating sale in the window."""
    cfg = uow.settings.pricing
    prior = await uow.session.scalar(
        select(func.count(distinct(Violation.sale_id))).join(Sale, Sale.id == Violation.sale_id).where(
            Violation.partner_id == sale.partner_id, Violation.kind == "price",
            Violation.status.not_in(NOT_COUNTED), Sale.status == "confirmed", Sale.id != sale.id,
            Sale.sold_on >= sale.sold_on - timedelta(days=cfg.repeat_window_days), Sale.sold_on <= sale.sold_on))
    count = (prior or 0) + 1
    return {"count": count, "window_days": cfg.repeat_window_days} if count >= cfg.repeat_count else None


async def _price_rows(uow: UnitOfWork, sale: Sale, devs: list[tuple[Deviation, int | None]]) -> list[Violation]:
    """Violation rows for the deviations of one sale, raised one level when the partner repeats."""
    if not devs:
        return []
    repeat = await _repeat(uow, sale)
    top = max_level(uow.settings.pricing.level_bands_pct)
    rows = []
    for d, line_id in devs:
        evidence = {**_evidence(sale, d, line_id), "repeat": repeat}
        rows.append(Violation(kind="price", sale_id=sale.id, sale_line_id=line_id, partner_id=sale.partner_id,
                              level=min(d.level + 1, top) if repeat else d.level, evidence=evidence,
                              status="open", created_at=uow.now()))
    return rows


async def _conflict_row(uow: UnitOfWork, sale: Sale, partner: Partner) -> Violation | None:
    """A `claim`/`region` violation when another partner holds a live claim on the sale's customer."""
    found = [c for c in await claims_match.find_conflicts(uow, customer=sale.customer) if c.score >= NAME_SCORE_MIN]
    if not found:
        return None
    score = {c.claim_id: c for c in found}
    rows = (await uow.session.execute(
        select(CustomerClaim.id, CustomerClaim.status, CustomerClaim.customer, CustomerClaim.partner_id,
               Partner.code, Partner.name, Partner.region)
        .join(Partner, Partner.id == CustomerClaim.partner_id).where(CustomerClaim.id.in_(list(score))))).all()
    if any(r.partner_id == partner.id and r.status == "approved" for r in rows):
        return None  # the seller's own approved claim: a manager let both work the customer
    others = sorted((r for r in rows if r.partner_id != partner.id),
                    key=lambda r: (r.status != "approved", -score[r.id].score, r.id))
    if not others:
        return None
    top = others[0]
    kind = "claim" if region_covers(partner.region, top.region) else "region"
    conflict = score[top.id]
    evidence = {"sale_id": sale.id, "customer": sale.customer, "claim_id": top.id, "claim_customer": top.customer,
                "claim_status": top.status, "holder": top.code, "holder_name": top.name, "holder_region": top.region,
                "seller_region": partner.region, "reason": conflict.reason, "score": conflict.score}
    return Violation(kind=kind, sale_id=sale.id, partner_id=partner.id, level=1, evidence=evidence, status="open",
                     created_at=uow.now())


def _flag(v: Violation) -> dict:
    flag = {"kind": FLAGS[v.kind], "violation_id": v.id}
    if v.kind == "price":
        flag["sku"] = v.evidence["sku"]
    else:
        flag.update(claim_id=v.evidence["claim_id"], holder=v.evidence["holder"])
    return flag


async def _store(uow: UnitOfWork, *, actor: Actor, sale: Sale, partner: Partner, rows: list[Violation]
                 ) -> list[ViolationInfo]:
    """Writes new violations, flags the sale, audits, and pushes to the managers (and head office)."""
    if not rows:
        return []
    for row in rows:
        uow.add(row)
    await uow.flush()
    sale.flags = [*(sale.flags or []), *(_flag(v) for v in rows)]
    for v in rows:
        audit.record(uow, actor=actor, action="violation.create", entity="violation", entity_id=v.id,
                     after={"kind": v.kind, "sale_id": sale.id, "level": v.level, "evidence": v.evidence})
    infos = [info(v, sale, partner) for v in rows]
    await notices.push_new(uow, infos)
    return infos


async def record_for_sale(uow: UnitOfWork, *, actor: Actor, sale: Sale, partner: Partner,
                          skus_by_id: dict[int, Sku]) -> list[ViolationInfo]:
    """Checks a just-confirmed sale (flushed, with line ids) for price and channel violations."""
    by_code = {s.code: s for s in skus_by_id.values()}
    found = await line_deviations(uow, partner=partner, sold_on=sale.sold_on, skus=by_code,
                                  lines=[(skus_by_id[ln.sku_id].code, ln.qty, ln.amount_fen) for ln in sale.lines])
    rows = await _price_rows(uow, sale, [(d, ln.id) for d, ln in zip(found, sale.lines) if d is not None])
    conflict = await _conflict_row(uow, sale, partner)
    return await _store(uow, actor=actor, sale=sale, partner=partner, rows=rows + ([conflict] if conflict else []))


async def of_sale(uow: UnitOfWork, sale: Sale, *, live_only: bool = True) -> list[ViolationInfo]:
    """The sale's violations (without voided ones unless asked), oldest first."""
    stmt = select(Violation).where(Violation.sale_id == sale.id).order_by(Violation.id)
    if live_only:
        stmt = stmt.where(Violation.status != "voided")
    rows = (await uow.session.scalars(stmt)).all()
    if not rows:
        return []
    partner = await uow.session.get(Partner, sale.partner_id)
    return [info(v, sale, partner) for v in rows]


def _void(uow: UnitOfWork, actor: Actor, v: Violation, why: str) -> None:
    before = audit.snapshot(v, "status", "resolution")
    v.status, v.resolution, v.resolved_at, v.resolved_by_id = "voided", why, uow.now(), actor.user_id
    audit.record(uow, actor=actor, action="violation.void", entity="violation", entity_id=v.id, before=before,
                 after=audit.snapshot(v, "status", "resolution"))


async def void_for_sale(uow: UnitOfWork, *, actor: Actor, sale: Sale) -> list[ViolationInfo]:
    """An undone sale: its undecided (open, appealed) violations are voided and the managers told."""
    rows = (await uow.session.scalars(select(Violation).where(
        Violation.sale_id == sale.id, Violation.status.in_(PENDING)).order_by(Violation.id))).all()
    if not rows:
        return []
    partner = await uow.session.get(Partner, sale.partner_id)
    for v in rows:
        _void(uow, actor, v, "报单已撤销")
    infos = [info(v, sale, partner) for v in rows]
    await notices.push_voided(uow, infos, why="undo")
    return infos


def _same(v: Violation, d: Deviation) -> bool:
    """Whether a corrected line deviates just as before (same unit price, floor, policy and grade):
    then a quantity fix keeps the violation, its appeal and its decision."""
    e = v.evidence or {}
    return (e.get("unit_price_fen"), e.get("floor_fen"), e.get("policy_id"), e.get("base_level")) == \
        (d.unit_price_fen, d.floor_fen, d.policy_id, d.level)


async def reevaluate_prices(uow: UnitOfWork, *, actor: Actor, sale: Sale, skus_by_id: dict[int, Sku]
                            ) -> tuple[list[ViolationInfo], list[ViolationInfo]]:
    """A corrected sale: price violations whose line changed are voided, lines now below floor get new
    ones (graded and escalated afresh). Returns (voided, created); unchanged ones stay as they are."""
    partner = await uow.session.get(Partner, sale.partner_id)
    by_code = {s.code: s for s in skus_by_id.values()}
    existing = {v.sale_line_id: v for v in (await uow.session.scalars(select(Violation).where(
        Violation.sale_id == sale.id, Violation.kind == "price", Violation.status != "voided")
        .order_by(Violation.id))).all()}
    found = await line_deviations(uow, partner=partner, sold_on=sale.sold_on, skus=by_code,
                                  lines=[(skus_by_id[ln.sku_id].code, ln.qty, ln.amount_fen) for ln in sale.lines])
    voided, fresh = [], []
    for ln, d in zip(sale.lines, found):
        old = existing.get(ln.id)
        if old is not None and d is not None and _same(old, d):
            if (old.evidence.get("qty"), old.evidence.get("amount_fen")) != (d.qty, d.amount_fen):
                old.evidence = {**old.evidence, "qty": d.qty, "amount_fen": d.amount_fen,
                                "line_gap_fen": d.line_gap_fen, "gap_pct": str(d.gap_pct)}
            continue
        if old is not None:
            _void(uow, actor, old, "报单已更正")
            voided.append(old)
        if d is not None:
            fresh.append((d, ln.id))
    if voided:
        gone = {v.id for v in voided}
        sale.flags = [f for f in sale.flags or [] if not (isinstance(f, dict) and f.get("violation_id") in gone)]
        await notices.push_voided(uow, [info(v, sale, partner) for v in voided], why="correct")
    created = await _store(uow, actor=actor, sale=sale, partner=partner, rows=await _price_rows(uow, sale, fresh))
    return [info(v, sale, partner) for v in voided], created
