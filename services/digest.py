"""The managers' daily digest (日报): yesterday in each region, as a short text and a chart.

A digest goes to every region a manager holds or `[groups]` names, taking the top-level prefixes
only (`江苏` rather than also `江苏-南京` when both are held, so nobody gets the same partners twice).
For "yesterday" in `[app] timezone` it shows: sell-out by partner (amount, number of sales, the
change against the day before), the top SKUs by amount (quantity in packs), price deviations and
channel conflicts recorded that day (by level; how many still open or appealed), the low and out
stock positions now (the worst few named), and the claims waiting for a manager's decision.

Every figure comes from a handful of grouped queries over all regions at once (grouped by the
partner's region, then added up per prefix here), never a loop of queries per partner. The chart
is drawn in a worker thread (services/digest_chart.py); the text and the image travel as one
outbox row per target, non-urgent (quiet hours apply).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction

from sqlalchemy import and_, case, distinct, func, or_, select

from storage.models import CustomerClaim, Partner, Sale, SaleLine, Sku, User, UserRegion, Violation
from storage.uow import UnitOfWork

from . import digest_text, inventory, outbox
from .actors import region_covers

TOP_SKUS = 5
WORST_STOCK = 3
CONFLICT_KINDS = ("claim", "region")   # 窜货; "price" is 乱价


@dataclass(frozen=True)
class PartnerDay:
    code: str
    name: str
    amount_fen: int           # yesterday
    sales: int
    prev_amount_fen: int      # the day before
    prev_sales: int

    @property
    def delta_fen(self) -> int:
        return self.amount_fen - self.prev_amount_fen


@dataclass(frozen=True)
class SkuDay:
    code: str
    name: str
    unit: str
    pack_unit: str
    pack_size: int
    qty: int                  # base units
    amount_fen: int


@dataclass(frozen=True)
class FlagCount:
    """Violations of one kind (price, or channel conflict) recorded yesterday, voided ones left out."""

    total: int = 0
    by_level: tuple[tuple[int, int], ...] = ()   # (level, count), lowest level first
    open: int = 0
    appealed: int = 0


@dataclass(frozen=True)
class StockLine:
    partner_code: str
    partner_name: str
    sku_code: str
    sku_name: str
    status: str               # low | out
    on_hand: str              # in packs, as shown
    safety_stock: str


@dataclass(frozen=True)
class RegionDigest:
    region: str
    day: date
    partners: tuple[PartnerDay, ...]
    skus: tuple[SkuDay, ...]               # the top ones by amount
    deviations: FlagCount
    conflicts: FlagCount
    low: int
    out: int
    worst_stock: tuple[StockLine, ...]
    pending_claims: int
    extension_requests: int

    @property
    def amount_fen(self) -> int:
        return sum(p.amount_fen for p in self.partners)

    @property
    def prev_amount_fen(self) -> int:
        return sum(p.prev_amount_fen for p in self.partners)

    @property
    def sales(self) -> int:
        return sum(p.sales for p in self.partners)

    @property
    def empty(self) -> bool:
        """No sale reported yesterday."""
        return self.sales == 0


@dataclass(frozen=True)
class DigestResult:
    regions: int
    messages: int
    empty: tuple[str, ...] = field(default=())


def top_level(prefixes) -> list[str]:
    """The prefixes not covered by another one of them, sorted: 江苏, 江苏-南京, 浙江 → 江苏, 浙江."""
    found = {p.strip() for p in prefixes if p and p.strip()}
    return sorted(p for p in found if not any(o != p and region_covers(o, p) for o in found))


def _prefix_of(prefixes: list[str], region: str) -> str | None:
    return next((p for p in prefixes if region_covers(p, region)), None)


def _in_regions(prefixes: list[str]):
    return or_(*[or_(Partner.region == p, Partner.region.startswith(p + "-", autoescape=True)) for p in prefixes])


def _utc_bounds(day: date, tz) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)


async def digest_regions(uow: UnitOfWork) -> list[str]:
    """The regions that get a digest: what active managers hold and what `[groups]` names, top level."""
    held = await uow.session.scalars(select(UserRegion.region).join(User, User.id == UserRegion.user_id)
                                     .where(User.role == "manager", User.active.is_(True)).distinct())
    return top_level([*held, *uow.settings.groups])


async def _partner_days(uow: UnitOfWork, prefixes: list[str], day: date) -> dict[str, list[PartnerDay]]:
    before = day - timedelta(days=1)
    on_day, on_before = Sale.sold_on == day, Sale.sold_on == before
    stmt = (select(Partner.region, Partner.code, Partner.name,
                   func.sum(case((on_day, SaleLine.amount_fen), else_=0)),
                   func.count(distinct(case((on_day, Sale.id)))),
                   func.sum(case((on_before, SaleLine.amount_fen), else_=0)),
                   func.count(distinct(case((on_before, Sale.id)))))
            .select_from(Sale).join(SaleLine, SaleLine.sale_id == Sale.id).join(Partner, Partner.id == Sale.partner_id)
            .where(Sale.sold_on.in_([before, day]), Sale.status == "confirmed", _in_regions(prefixes))
            .group_by(Partner.region, Partner.code, Partner.name))
    out: dict[str, list[PartnerDay]] = {}
    for region, code, name, amount, sales, prev, prev_sales in await uow.session.execute(stmt):
        prefix = _prefix_of(prefixes, region)
        if prefix is not None:
            out.setdefault(prefix, []).append(PartnerDay(code, name, int(amount or 0), int(sales or 0),
                                                         int(prev or 0), int(prev_sales or 0)))
    for days in out.values():
        days.sort(key=lambda p: (-p.amount_fen, -p.prev_amount_fen, p.code))
    return out


async def _sku_days(uow: UnitOfWork, prefixes: list[str], day: date) -> dict[str, list[SkuDay]]:
    stmt = (select(Partner.region, Sku.code, Sku.name, Sku.unit, Sku.pack_unit, Sku.pack_size,
                   func.sum(SaleLine.qty), func.sum(SaleLine.amount_fen))
            .select_from(Sale).join(SaleLine, SaleLine.sale_id == Sale.id).join(Sku, Sku.id == SaleLine.sku_id)
            .join(Partner, Partner.id == Sale.partner_id)
            .where(Sale.sold_on == day, Sale.status == "confirmed", _in_regions(prefixes))
            .group_by(Partner.region, Sku.code, Sku.name, Sku.unit, Sku.pack_unit, Sku.pack_size))
    summed: dict[str, dict[str, SkuDay]] = {}
    for region, code, name, unit, pack_unit, pack_size, qty, amount in await uow.session.execute(stmt):
        prefix = _prefix_of(prefixes, region)
        if prefix is None:
            continue
        seen = summed.setdefault(prefix, {}).get(code)
        qty, amount = int(qty or 0) + (seen.qty if seen else 0), int(amount or 0) + (seen.amount_fen if seen else 0)
        summed[prefix][code] = SkuDay(code, name, unit, pack_unit, pack_size, qty, amount)
    return {prefix: sorted(skus.values(), key=lambda s: (-s.amount_fen, s.code))[:TOP_SKUS]
            for prefix, skus in summed.items()}


async def _flags(uow: UnitOfWork, prefixes: list[str], day: date) -> dict[tuple[str, str], FlagCount]:
    """(prefix, "price" | "conflict") → the violations recorded on `day` (local), voided ones left out."""
    start, end = _utc_bounds(day, uow.settings.tz)
    stmt = (select(Partner.region, Violation.kind, Violation.level, Violation.status, func.count())
            .select_from(Violation).join(Partner, Partner.id == Violation.partner_id)
            .where(Violation.created_at >= start, Violation.created_at < end, Violation.status != "voided",
                   _in_regions(prefixes))
            .group_by(Partner.region, Violation.kind, Violation.level, Violation.status))
    raw: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
    for region, kind, level, status, n in await uow.session.execute(stmt):
        prefix = _prefix_of(prefixes, region)
        if prefix is not None:
            raw.setdefault((prefix, "conflict" if kind in CONFLICT_KINDS else "price"), []).append((level, status, n))
    out = {}
    for key, rows in raw.items():
        levels: dict[int, int] = {}
        for level, _, n in rows:
            levels[level] = levels.get(level, 0) + n
        out[key] = FlagCount(total=sum(n for *_, n in rows), by_level=tuple(sorted(levels.items())),
                             open=sum(n for _, s, n in rows if s == "open"),
                             appealed=sum(n for _, s, n in rows if s == "appealed"))
    return out


async def _waiting_claims(uow: UnitOfWork, prefixes: list[str]) -> dict[str, tuple[int, int]]:
    """prefix → (claims pending a decision, extension requests waiting)."""
    pending = CustomerClaim.status == "pending"
    extension = and_(CustomerClaim.status == "approved", CustomerClaim.extension_requested_at.is_not(None))
    stmt = (select(Partner.region, func.sum(case((pending, 1), else_=0)), func.sum(case((extension, 1), else_=0)))
            .select_from(CustomerClaim).join(Partner, Partner.id == CustomerClaim.partner_id)
            .where(or_(pending, extension), _in_regions(prefixes)).group_by(Partner.region))
    out: dict[str, tuple[int, int]] = {}
    for region, waiting, extensions in await uow.session.execute(stmt):
        prefix = _prefix_of(prefixes, region)
        if prefix is not None:
            before = out.get(prefix, (0, 0))
            out[prefix] = (before[0] + int(waiting or 0), before[1] + int(extensions or 0))
    return out


def _worst_first(pos: inventory.Position) -> tuple:
    """Out before low; then the smallest share of safety stock left; then SKU and partner."""
    share = Fraction(max(pos.on_hand or 0, 0), pos.safety_stock) if pos.safety_stock > 0 else Fraction(0)
    return inventory.STATUS_ORDER[pos.status], share, pos.sku_code, pos.partner_code


async def _stock(uow: UnitOfWork, prefixes: list[str]) -> dict[str, list[inventory.Position]]:
    """prefix → its active partners' low and out positions now, worst first."""
    partners = list(await uow.session.scalars(select(Partner.id).where(Partner.active.is_(True), _in_regions(prefixes))
                                              .order_by(Partner.id)))
    out: dict[str, list[inventory.Position]] = {}
    for pos in await inventory.known_positions(uow, partner_ids=partners):
        prefix = _prefix_of(prefixes, pos.region)
        if prefix is not None and pos.status in ("low", "out"):
            out.setdefault(prefix, []).append(pos)
    for found in out.values():
        found.sort(key=_worst_first)
    return out


async def build(uow: UnitOfWork, *, day: date | None = None,
                regions: list[str] | None = None) -> list[RegionDigest]:
    """The digest of `day` (default: yesterday, local) for each region (default: digest_regions)."""
    async with uow.reading() as ro:
        day = day or (inventory.local_today(ro) - timedelta(days=1))
        prefixes = top_level(regions) if regions is not None else await digest_regions(ro)
        if not prefixes:
            return []
        partners = await _partner_days(ro, prefixes, day)
        skus = await _sku_days(ro, prefixes, day)
        flags = await _flags(ro, prefixes, day)
        claims = await _waiting_claims(ro, prefixes)
        stock = await _stock(ro, prefixes)
    out = []
    for prefix in prefixes:
        positions = stock.get(prefix, [])
        worst = tuple(StockLine(p.partner_code, p.partner_name, p.sku_code, p.sku_name, p.status,
                                digest_text.packs(p.on_hand or 0, p), digest_text.packs(p.safety_stock, p))
                      for p in positions[:WORST_STOCK])
        waiting, extensions = claims.get(prefix, (0, 0))
        out.append(RegionDigest(
            region=prefix, day=day, partners=tuple(partners.get(prefix, ())), skus=tuple(skus.get(prefix, ())),
            deviations=flags.get((prefix, "price"), FlagCount()), conflicts=flags.get((prefix, "conflict"), FlagCount()),
            low=sum(p.status == "low" for p in positions), out=sum(p.status == "out" for p in positions),
            worst_stock=worst, pending_claims=waiting, extension_requests=extensions))
    return out


async def push(uow: UnitOfWork, *, day: date | None = None) -> DigestResult:
    """Builds every region's digest, draws its chart (in a thread) and queues text and image to its managers."""
    from . import digest_chart  # matplotlib is loaded only by the job that draws

    digests = await build(uow, day=day)
    images: dict[str, str | None] = {}
    for d in digests:
        png = None if d.empty and not d.prev_amount_fen else await digest_chart.render(d)
        images[d.region] = base64.b64encode(png).decode() if png else None
    messages = 0
    async with uow:
        for d in digests:
            rows = await outbox.notify_region(uow, region=d.region, text=digest_text.render(d), kind="digest",
                                              image_b64=images[d.region])
            messages += len(rows)
        await uow.commit()
    return DigestResult(regions=len(digests), messages=messages,
                        empty=tuple(d.region for d in digests if d.empty))
