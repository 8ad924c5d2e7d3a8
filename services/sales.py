"""Sell-out (报单): record a confirmed sale once, warn (never block) on price and stock,
undo or correct the last one within the window; every change audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from storage.models import Partner, Sale, SaleLine, Sku
from storage.uow import UnitOfWork

from . import audit, stock_alerts
from . import violations as violations_service
from .actors import Actor
from .errors import DomainError, InvalidInput, NotAllowed
from .inventory import on_hand
from .violations import ViolationInfo


class NothingToUndo(DomainError):
    code = "nothing_to_undo"  # facts: hours


class FutureDate(DomainError):
    code = "future_date"


@dataclass(frozen=True)
class LineDraft:
    sku: str
    qty: int
    amount_fen: int


@dataclass(frozen=True)
class SaleDraft:
    customer: str
    sold_on: date
    lines: tuple[LineDraft, ...]


@dataclass(frozen=True)
class Warning:
    kind: str           # below_floor | over_stock
    sku: str
    unit_price_fen: int = 0
    floor_fen: int = 0
    on_hand: int = 0
    qty: int = 0
    gap_pct: Decimal | None = None
    level: int = 0


@dataclass(frozen=True)
class LineResult:
    sku: str
    name: str
    unit: str
    pack_unit: str
    pack_size: int
    qty: int
    amount_fen: int


@dataclass(frozen=True)
class SaleResult:
    id: int
    partner: str
    customer: str
    sold_on: date
    status: str
    lines: tuple[LineResult, ...]
    created: bool = True
    violations: tuple[ViolationInfo, ...] = ()   # recorded with this sale (or still standing after a correction)
    voided: tuple[ViolationInfo, ...] = ()       # voided by this undo or correction

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)


def _require_partner(actor: Actor) -> None:
    if not actor.is_partner_side or actor.partner_id is None:
        raise NotAllowed(what="sale")


async def _skus(uow: UnitOfWork, codes) -> dict[str, Sku]:
    rows = await uow.session.scalars(select(Sku).where(Sku.code.in_(list(codes))))
    return {s.code: s for s in rows}


def unit_price_fen(amount_fen: int, qty: int) -> int:
    return int((Decimal(amount_fen) / qty).quantize(Decimal(1), rounding=ROUND_HALF_UP)) if qty else 0


async def check_draft(uow: UnitOfWork, *, actor: Actor, draft: SaleDraft) -> list[Warning]:
    """Warnings to show before confirming: below the floor price in force (beyond grace), more than on hand."""
    _require_partner(actor)
    async with uow.reading() as ro:
        partner = await ro.session.get(Partner, actor.partner_id)
        skus = await _skus(ro, {line.sku for line in draft.lines})
        stock = await on_hand(ro, partner_id=partner.id, sku_ids=[s.id for s in skus.values()])
        devs = await violations_service.line_deviations(
            ro, partner=partner, sold_on=draft.sold_on, skus=skus,
            lines=[(line.sku, line.qty, line.amount_fen) for line in draft.lines])
        out = []
        for line, dev in zip(draft.lines, devs):
            sku = skus[line.sku]
            if dev is not None:
                out.append(Warning("below_floor", sku.code, dev.unit_price_fen, dev.floor_fen, gap_pct=dev.gap_pct,
                                   level=dev.level))
            have = stock.get(sku.id)
            if have is not None and line.qty > have:
                out.append(Warning("over_stock", sku.code, on_hand=have, qty=line.qty))
    return out


def _result(sale: Sale, skus_by_id: dict[int, Sku], partner_code: str, created: bool = True,
            violations=(), voided=()) -> SaleResult:
    lines = tuple(LineResult(skus_by_id[ln.sku_id].code, skus_by_id[ln.sku_id].name, skus_by_id[ln.sku_id].unit,
                             skus_by_id[ln.sku_id].pack_unit, skus_by_id[ln.sku_id].pack_size, ln.qty, ln.amount_fen)
                  for ln in sale.lines)
    return SaleResult(sale.id, partner_code, sale.customer, sale.sold_on, sale.status, lines, created,
                      tuple(violations), tuple(voided))


async def _load_result(uow: UnitOfWork, sale: Sale, created: bool, violations=(), voided=()) -> SaleResult:
    skus = {s.id: s for s in await uow.session.scalars(select(Sku).where(Sku.id.in_([ln.sku_id for ln in sale.lines])))}
    partner = await uow.session.get(Partner, sale.partner_id)
    return _result(sale, skus, partner.code, created, violations, voided)


def _snapshot(sale: Sale) -> dict:
    return {"status": sale.status, "customer": sale.customer, "sold_on": sale.sold_on,
            "lines": [{"sku_id": ln.sku_id, "qty": ln.qty, "amount_fen": ln.amount_fen} for ln in sale.lines]}


async def record_sale(uow: UnitOfWork, *, actor: Actor, draft: SaleDraft, idempotency_key: str) -> SaleResult:
    """Writes a confirmed sale; the same idempotency key returns the first sale, never a second."""
    _require_partner(actor)
    today = uow.now().astimezone(uow.settings.tz).date()
    if draft.sold_on > today:
        raise FutureDate(date=draft.sold_on)
    for line in draft.lines:
        if line.qty <= 0 or line.amount_fen <= 0:
            raise InvalidInput(reason="数量和金额必须大于 0")
    async with uow:
        existing = await uow.session.scalar(select(Sale).where(Sale.idempotency_key == idempotency_key))
        if existing is not None:
            return await _load_result(uow, existing, created=False,
                                      violations=await violations_service.of_sale(uow, existing))
        skus = await _skus(uow, {line.sku for line in draft.lines})
        missing = {line.sku for line in draft.lines} - set(skus)
        if missing:
            raise InvalidInput(reason=f"未知商品 {', '.join(sorted(missing))}")
        sale = Sale(partner_id=actor.partner_id, customer=draft.customer.strip()[:200], sold_on=draft.sold_on,
                    status="confirmed", flags=[], channel=actor.channel, idempotency_key=idempotency_key,
                    created_by_id=actor.user_id, created_at=uow.now(),
                    lines=[SaleLine(sku_id=skus[ln.sku].id, qty=ln.qty, amount_fen=ln.amount_fen) for ln in draft.lines])
        uow.add(sale)
        await uow.flush()
        audit.record(uow, actor=actor, action="sale.create", entity="sale", entity_id=sale.id, after=_snapshot(sale))
        skus_by_id = {s.id: s for s in skus.values()}
        partner = await uow.session.get(Partner, actor.partner_id)
        found = await violations_service.record_for_sale(uow, actor=actor, sale=sale, partner=partner,
                                                         skus_by_id=skus_by_id)
        await stock_alerts.reevaluate(uow, partner_id=sale.partner_id, sku_ids=[ln.sku_id for ln in sale.lines])
        result = _result(sale, skus_by_id, actor.partner_code or "", violations=found)
        await uow.commit()
    return result


async def _last_sale(uow: UnitOfWork, actor: Actor) -> Sale:
    hours = uow.settings.app.undo_window_hours
    since = uow.now() - timedelta(hours=hours)
    stmt = select(Sale).where(Sale.partner_id == actor.partner_id, Sale.status == "confirmed",
                              Sale.created_at >= since).order_by(Sale.created_at.desc(), Sale.id.desc()).limit(1)
    if actor.role != "owner":
        stmt = stmt.where(Sale.created_by_id == actor.user_id)
    sale = await uow.session.scalar(stmt)
    if sale is None:
        raise NothingToUndo(hours=hours)
    return sale


async def undo_last(uow: UnitOfWork, *, actor: Actor) -> SaleResult:
    """Undoes the actor's last sale (an owner's: the partner's) inside the undo window."""
    _require_partner(actor)
    async with uow:
        sale = await _last_sale(uow, actor)
        before = _snapshot(sale)
        sale.status, sale.undone_at = "undone", uow.now()
        audit.record(uow, actor=actor, action="sale.undo", entity="sale", entity_id=sale.id, before=before,
                     after=_snapshot(sale))
        await uow.flush()
        voided = await violations_service.void_for_sale(uow, actor=actor, sale=sale)
        await stock_alerts.reevaluate(uow, partner_id=sale.partner_id, sku_ids=[ln.sku_id for ln in sale.lines])
        result = await _load_result(uow, sale, created=False, voided=voided)
        await uow.commit()
    return result


def _pick_line(sale: Sale, skus: dict[int, Sku], sku_code: str | None) -> SaleLine:
    if sku_code:
        for ln in sale.lines:
            if skus[ln.sku_id].code == sku_code:
                return ln
        raise InvalidInput(reason=f"上一笔报单里没有 {sku_code}")
    if len(sale.lines) > 1:
        raise InvalidInput(reason="上一笔报单有多个商品，请写明商品，例如「A100改成25箱」")
    return sale.lines[0]


PACK_WORDS = {"箱", "件", "case", "cases", "ctn", "carton", "cartons"}


def _in_base(qty: Decimal, unit: str | None, sku: Sku, line: SaleLine) -> int:
    """`25箱` → 25 × pack size; a bare number is read in the unit the line was reported in."""
    if unit:
        pack = unit.lower() in PACK_WORDS or unit == sku.pack_unit
    else:
        pack = sku.pack_size > 1 and line.qty % sku.pack_size == 0
    base = qty * (sku.pack_size if pack and sku.pack_size > 1 else 1)
    if base <= 0 or base != base.to_integral_value():
        raise InvalidInput(reason="数量必须是大于 0 的整数（按最小单位）")
    return int(base)


async def correct_last(uow: UnitOfWork, *, actor: Actor, sku: str | None = None, qty: Decimal | None = None,
                       qty_unit: str | None = None, price: Decimal | None = None,
                       price_unit: str | None = None) -> SaleResult:
    """Changes the quantity (keeping the unit price) or the unit price of the last sale's line."""
    _require_partner(actor)
    if price is not None and price <= 0:
        raise InvalidInput(reason="价格必须大于 0")
    async with uow:
        sale = await _last_sale(uow, actor)
        skus = {s.id: s for s in await uow.session.scalars(select(Sku).where(Sku.id.in_([ln.sku_id for ln in sale.lines])))}
        line = _pick_line(sale, skus, sku)
        s = skus[line.sku_id]
        before = _snapshot(sale)
        if qty is not None:
            qty = _in_base(Decimal(qty), qty_unit, s, line)
            line.amount_fen = int((Decimal(line.amount_fen) * qty / line.qty).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            line.qty = qty
        if price is not None:
            per_pack = (price_unit == "pack") if price_unit else _nearer_pack(price, s)
            divisor = s.pack_size if per_pack else 1
            line.amount_fen = int((price * 100 * line.qty / divisor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        audit.record(uow, actor=actor, action="sale.correct", entity="sale", entity_id=sale.id, before=before,
                     after=_snapshot(sale))
        await uow.flush()
        voided, _ = await violations_service.reevaluate_prices(uow, actor=actor, sale=sale, skus_by_id=skus)
        await stock_alerts.reevaluate(uow, partner_id=sale.partner_id, sku_ids=[line.sku_id])
        result = _result(sale, skus, actor.partner_code or "", created=False,
                         violations=await violations_service.of_sale(uow, sale), voided=voided)
        await uow.commit()
    return result


def _nearer_pack(price: Decimal, sku: Sku) -> bool:
    """Whether a bare price reads better per pack than per base unit (nearer the guide price)."""
    if sku.pack_size <= 1 or not sku.guide_price_fen:
        return False
    guide = Decimal(sku.guide_price_fen) / 100

    def off(unit_price: Decimal) -> Decimal:
        return max(unit_price / guide, guide / unit_price)
    return off(price / sku.pack_size) < off(price)
