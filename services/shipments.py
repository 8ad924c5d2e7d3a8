"""Sell-in (发货): shipments from head office to partners, recorded from chat (`/ship`), file
imports and the HTTP API through one function with one set of rules.

Every call is all rows or none. A row's `ref` (the ERP's delivery-note number) makes it
idempotent across all three ways in: a ref already stored with the same partner, SKU, quantity
and date is a duplicate (nothing new is written, and it is not an error); the same ref with
different content is an error for that row. The unique index on `shipment.ref` and
`INSERT … ON CONFLICT DO NOTHING` keep two concurrent requests from storing one ref twice.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import AuditLog, Partner, Shipment, Sku
from storage.uow import UnitOfWork

from . import stock_alerts
from .actors import Actor, can_see_partner, require_role
from .catalog import HasUnits
from .errors import InvalidInput

MAX_QTY = 2**31 - 1          # integer columns are 32-bit on PostgreSQL
MAX_REF = 64
CHUNK = 5000                 # refs per IN (…) when looking up stored shipments
SOURCES = ("admin", "chat", "import", "api")
PACK_WORDS = frozenset({"箱", "件", "提", "包", "盒", "ctn", "ctns", "carton", "cartons", "case", "cases", "box",
                        "boxes", "pack", "packs"})
BASE_FAMILIES = (frozenset({"瓶", "支", "bottle", "bottles", "btl", "btls"}),
                 frozenset({"罐", "听", "can", "cans", "tin", "tins"}),
                 frozenset({"台", "unit", "units", "machine", "machines"}),
                 frozenset({"套", "set", "sets"}),
                 frozenset({"个", "只", "pc", "pcs", "piece", "pieces", "ea"}),
                 frozenset({"袋", "bag", "bags"}))
RowName = Callable[[int], str]
REF_TAKEN = "单号 {ref} 已记录过另一笔内容不同的发货 (ref already used with different content)"


@dataclass(frozen=True)
class ShipmentIn:
    """One shipment as given: codes, a quantity in `unit` (the base unit when empty), a date
    (today when None), an optional ref."""

    partner: str
    sku: str
    qty: Decimal | int | str
    unit: str | None = None
    shipped_on: date | None = None
    ref: str | None = None


@dataclass(frozen=True)
class ShipmentRowResult:
    """What became of row `index`: `created`, `duplicate` (its ref is stored with the same
    content; `id` is the stored row) or `error`; `qty` is in base units."""

    index: int
    status: str
    id: int | None = None
    error: str | None = None
    partner: str | None = None
    sku: str | None = None
    qty: int | None = None
    shipped_on: date | None = None
    ref: str | None = None


@dataclass(frozen=True)
class _Checked:
    """A row after the checks: resolved ids and base units, or the problems found."""

    index: int
    problems: tuple[str, ...] = ()
    partner_id: int | None = None
    partner: str | None = None
    sku_id: int | None = None
    sku: str | None = None
    qty: int | None = None
    shipped_on: date | None = None
    ref: str | None = None
    stored_id: int | None = None      # a duplicate of this stored shipment
    first: int | None = None          # a duplicate of this earlier row of the same call

    @property
    def content(self) -> tuple:
        return self.partner_id, self.sku_id, self.qty, self.shipped_on


@dataclass(frozen=True)
class ShipmentPlan:
    """Every row checked against the database and each other; written by `write_plan`."""

    rows: tuple[_Checked, ...]

    @property
    def errors(self) -> list[ShipmentRowResult]:
        """One result per bad row."""
        return [_result(r, "error") for r in self.rows if r.problems]


class ShipmentsRejected(InvalidInput):
    """Some of `total` rows are bad and nothing was written; `errors` has one result per bad row."""

    code = "shipments_rejected"

    def __init__(self, errors: Sequence[ShipmentRowResult], *, total: int):
        self.errors = sorted(errors, key=lambda r: r.index)
        self.total = total
        reason = (self.errors[0].error if total == 1 else
                  f"{len(self.errors)} 条发货有问题，未记录任何发货 (nothing recorded)")
        super().__init__(reason=reason, rows=[(r.index, r.error) for r in self.errors])


def _fold(text: str | None) -> str:
    """Width-folded, trimmed text."""
    return unicodedata.normalize("NFKC", text or "").strip()


def _family(word: str) -> frozenset[str]:
    """The base-unit family of a word (`瓶` ~ `支` ~ bottle), or just the word."""
    return next((f for f in BASE_FAMILIES if word in f), frozenset({word}))


def _decimal(value: Decimal | int | str) -> Decimal:
    """A quantity as Decimal; raises InvalidInput when it is not a finite number."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidInput(reason=f"数量须为整数或小数，现在是「{value}」")
    try:
        number = value if isinstance(value, Decimal) else Decimal(_fold(str(value)).replace(",", ""))
    except InvalidOperation:
        raise InvalidInput(reason=f"数量不是数字：「{value}」(not a number)") from None
    if not number.is_finite():
        raise InvalidInput(reason=f"数量不是数字：「{value}」(not a number)")
    return number


def pack_factor(unit: str | None, sku: HasUnits) -> int:
    """How many base units one `unit` is for this SKU: 1 for its unit (or none given), the pack
    size for its pack unit or a pack word (箱/件/ctn/case…); InvalidInput for anything else."""
    factor = _factor(unit or "", sku.unit, sku.pack_unit, sku.pack_size)
    if factor is None:
        packs = f"、{sku.pack_unit}" if sku.pack_size > 1 and sku.pack_unit != sku.unit else ""
        raise InvalidInput(reason=f"单位「{unit}」不是这个商品的单位，可用：{sku.unit}{packs} (unknown unit)")
    return factor


@lru_cache(maxsize=4096)
def _factor(unit: str, base: str, pack: str, pack_size: int) -> int | None:
    """`pack_factor` for plain values (remembered: an import asks the same few questions 100,000 times)."""
    word = _fold(unit).lower()
    if not word or word == base.lower() or word in _family(base.lower()):
        return 1
    if word == pack.lower() or word in PACK_WORDS:
        return max(pack_size, 1)
    return None


def base_quantity(qty: Decimal | int | str, unit: str | None, sku: HasUnits, *, allow_zero: bool = False) -> int:
    """A quantity in `unit` as whole base units (`2.5箱` of 24 → 60); InvalidInput when it is not
    a whole, positive (or, with `allow_zero`, zero) number of base units."""
    number = _decimal(qty) * pack_factor(unit, sku)
    if number < 0 or (number == 0 and not allow_zero):
        raise InvalidInput(reason=f"数量须{'不小于 0' if allow_zero else '大于 0'}，现在是「{qty}」"
                                  f" (must be {'at least 0' if allow_zero else 'positive'})")
    if number != number.to_integral_value():
        raise InvalidInput(reason=f"「{qty}{unit or ''}」不是整数个{sku.unit} (not a whole number of {sku.unit})")
    if number > MAX_QTY:
        raise InvalidInput(reason=f"数量「{qty}」过大 (too large)")
    return int(number)


def _result(row: _Checked, status: str, shipment_id: int | None = None) -> ShipmentRowResult:
    return ShipmentRowResult(index=row.index, status=status, id=shipment_id,
                             error="；".join(row.problems) if row.problems else None, partner=row.partner,
                             sku=row.sku, qty=row.qty, shipped_on=row.shipped_on, ref=row.ref)


class CodeLookup:
    """Partners and SKUs by code (exact, else ignoring case when that is unambiguous)."""

    def __init__(self, rows):
        self.exact = {r.code: r for r in rows}
        upper: dict[str, list] = {}
        for r in rows:
            upper.setdefault(r.code.upper(), []).append(r)
        self.upper = {k: v[0] for k, v in upper.items() if len(v) == 1}

    def get(self, code: str):
        """The row for a code as written (width and case folded), or None; remembered per spelling."""
        found = self.exact.get(code)
        if found is None and code not in self.exact:
            folded = _fold(code)
            found = self.exact.get(folded) or self.upper.get(folded.upper())
            if found is not None:
                self.exact[code] = found
        return found


async def lookups(uow: UnitOfWork) -> tuple[CodeLookup, CodeLookup]:
    """Every partner (id, code, region, active) and SKU (id, code and units), one query each."""
    partners = await uow.session.execute(select(Partner.id, Partner.code, Partner.region, Partner.active))
    skus = await uow.session.execute(select(Sku.id, Sku.code, Sku.unit, Sku.pack_unit, Sku.pack_size))
    return CodeLookup(partners.all()), CodeLookup(skus.all())


async def check_shipments(uow: UnitOfWork, *, actor: Actor, rows: Sequence[ShipmentIn],
                          row_name: RowName | None = None) -> ShipmentPlan:
    """Checks every row inside the open unit of work, loading partners, SKUs and stored refs in bulk."""
    require_role(actor, "manager")
    row_name = row_name or (lambda i: f"第{i + 1}条")
    session = uow.session
    partners, skus = await lookups(uow)
    today = uow.now().astimezone(uow.settings.tz).date()
    checked = [_check_row(i, row, actor, partners, skus, today) for i, row in enumerate(rows)]
    refs = sorted({r.ref for r in checked if r.ref})
    stored: dict[str, tuple] = {}
    for i in range(0, len(refs), CHUNK):
        found = await session.execute(
            select(Shipment.ref, Shipment.id, Shipment.partner_id, Shipment.sku_id, Shipment.qty, Shipment.shipped_on)
            .where(Shipment.ref.in_(refs[i:i + CHUNK])))
        stored.update({ref: (sid, (p, s, q, d)) for ref, sid, p, s, q, d in found})
    return ShipmentPlan(tuple(_dedupe(checked, stored, row_name)))


def _check_row(index: int, row: ShipmentIn, actor: Actor, partners: CodeLookup, skus: CodeLookup,
               today: date) -> _Checked:
    """One row's own checks: partner and scope, SKU, quantity and unit, date, ref."""
    problems: list[str] = []
    partner = partners.get(row.partner)
    if partner is None:
        problems.append(f"未知经销商「{_fold(row.partner)}」(unknown partner)")
    elif not can_see_partner(actor, partner):
        problems.append(f"无权给 {partner.code} 发货，不在您管辖的区域 (partner outside your regions)")
    elif not partner.active:
        problems.append(f"经销商 {partner.code} 已停用 (partner inactive)")
    sku = skus.get(row.sku)
    qty = None
    if sku is None:
        problems.append(f"未知商品「{_fold(row.sku)}」(unknown SKU)")
    else:
        try:
            qty = base_quantity(row.qty, row.unit, sku)
        except InvalidInput as exc:
            problems.append(exc.facts["reason"])
    shipped_on = row.shipped_on or today
    if not isinstance(shipped_on, date):
        problems.append(f"发货日期不是日期：「{shipped_on}」(not a date)")
    elif shipped_on > today:
        problems.append(f"发货日期 {shipped_on} 晚于今天 {today} (date in the future)")
    ref = _fold(row.ref) or None
    if ref is not None and len(ref) > MAX_REF:
        problems.append(f"单号太长，最多 {MAX_REF} 个字符 (ref too long)")
    return _Checked(index=index, problems=tuple(problems), partner_id=partner and partner.id,
                    partner=partner.code if partner else _fold(row.partner), sku_id=sku and sku.id,
                    sku=sku.code if sku else _fold(row.sku), qty=qty, shipped_on=shipped_on, ref=ref)


def _dedupe(checked: list[_Checked], stored: dict[str, tuple], row_name: RowName) -> list[_Checked]:
    """Marks rows whose ref is already stored or came earlier in this call: the same content is a
    duplicate, different content an error."""
    out: list[_Checked] = []
    first: dict[str, _Checked] = {}
    for row in checked:
        if row.ref is None:
            out.append(row)
            continue
        if row.ref in stored:
            stored_id, content = stored[row.ref]
            if row.problems or content == row.content:
                out.append(replace(row, stored_id=stored_id))
            else:
                out.append(replace(row, problems=(REF_TAKEN.format(ref=row.ref),)))
            continue
        earlier = first.setdefault(row.ref, row)
        if earlier is row:
            out.append(row)
        elif row.problems or earlier.problems or earlier.content == row.content:
            out.append(replace(row, first=earlier.index))
        else:
            out.append(replace(row, problems=(f"单号 {row.ref} 与{row_name(earlier.index)}相同但内容不同"
                                               f" (same ref, different content)",)))
    return out


async def write_plan(uow: UnitOfWork, *, actor: Actor, plan: ShipmentPlan, source: str) -> list[ShipmentRowResult]:
    """Writes a plan without errors inside the open unit of work (the caller commits): bulk inserts,
    audit rows, stock alerts for the touched positions. Raises ShipmentsRejected if a concurrent
    writer stored one of the refs with other content meanwhile."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    if plan.errors:
        raise ShipmentsRejected(plan.errors, total=len(plan.rows))
    now = uow.now()
    new = [r for r in plan.rows if r.stored_id is None and r.first is None]
    values = {r.index: {"partner_id": r.partner_id, "sku_id": r.sku_id, "qty": r.qty, "shipped_on": r.shipped_on,
                        "ref": r.ref, "source": source, "created_by_id": actor.user_id, "created_at": now}
              for r in new}
    ids: dict[int, int] = {}
    keyed = {r.ref: r.index for r in new if r.ref is not None}
    if new:
        conn = await uow.session.connection()
        pg = conn.dialect.name == "postgresql"
        # Rows with a ref are matched by ref. Rows without one are never skipped and get ascending ids
        # in row order (one statement under the write lock); PostgreSQL also sorts by a sentinel,
        # which on SQLite would mean one INSERT per row.
        stmt = ((postgresql if pg else sqlite).insert(Shipment).on_conflict_do_nothing(index_elements=["ref"])
                .returning(Shipment.id, Shipment.ref, sort_by_parameter_order=pg))
        plain_ids = []
        for shipment_id, ref in await conn.execute(stmt, [values[r.index] for r in new]):
            if ref is None:
                plain_ids.append(shipment_id)
            else:
                ids[keyed.pop(ref)] = shipment_id
        ids.update(zip([r.index for r in new if r.ref is None], sorted(plain_ids)))
    raced = {} if not keyed else await _raced(uow, plan, keyed)
    results: list[ShipmentRowResult] = []
    for row in plan.rows:
        if row.index in ids:
            results.append(_result(row, "created", ids[row.index]))
        elif row.index in raced:
            results.append(raced[row.index])
        elif row.first is not None:
            results.append(_result(row, "duplicate", ids.get(row.first) or raced[row.first].id))
        else:
            results.append(_result(row, "duplicate", row.stored_id))
    if any(r.status == "error" for r in results):
        raise ShipmentsRejected([r for r in results if r.status == "error"], total=len(results))
    await _audit(uow, actor=actor, source=source, results=[r for r in results if r.status == "created"])
    await _reevaluate(uow, plan=plan, created={r.index for r in results if r.status == "created"})
    return results


async def _raced(uow: UnitOfWork, plan: ShipmentPlan, keyed: dict[str, int]) -> dict[int, ShipmentRowResult]:
    """Rows whose ref a concurrent transaction stored between our check and our insert."""
    found = {ref: (sid, (p, s, q, d)) for ref, sid, p, s, q, d in await uow.session.execute(
        select(Shipment.ref, Shipment.id, Shipment.partner_id, Shipment.sku_id, Shipment.qty, Shipment.shipped_on)
        .where(Shipment.ref.in_(list(keyed))))}
    out: dict[int, ShipmentRowResult] = {}
    for ref, index in keyed.items():
        row = plan.rows[index]
        stored_id, content = found[ref]
        if content == row.content:
            out[index] = _result(row, "duplicate", stored_id)
        else:
            out[index] = _result(replace(row, problems=(REF_TAKEN.format(ref=ref),)), "error")
    return out


async def _audit(uow: UnitOfWork, *, actor: Actor, source: str, results: list[ShipmentRowResult]) -> None:
    """One audit row per created shipment, in one bulk insert."""
    if not results:
        return
    now = uow.now()
    rows = [{"at": now, "user_id": actor.user_id, "channel": actor.channel, "action": "shipment.create",
             "entity": "shipment", "entity_id": str(r.id), "before": None,
             "after": {"partner": r.partner, "sku": r.sku, "qty": r.qty, "shipped_on": r.shipped_on.isoformat(),
                       "ref": r.ref, "source": source}} for r in results]
    conn = await uow.session.connection()
    await conn.execute(insert(AuditLog), rows)


async def _reevaluate(uow: UnitOfWork, *, plan: ShipmentPlan, created: set[int]) -> None:
    """Re-checks stock alerts for every (partner, SKU) a new shipment touched, partner by partner."""
    touched: dict[int, set[int]] = {}
    for row in plan.rows:
        if row.index in created:
            touched.setdefault(row.partner_id, set()).add(row.sku_id)
    for partner_id in sorted(touched):
        await stock_alerts.reevaluate(uow, partner_id=partner_id, sku_ids=sorted(touched[partner_id]))


async def record_shipments(uow: UnitOfWork, *, actor: Actor, rows: list[ShipmentIn],
                           source: str) -> list[ShipmentRowResult]:
    """Records shipments all or none; raises ShipmentsRejected naming every bad row, writing nothing."""
    if not rows:
        raise InvalidInput(reason="没有发货记录 (no shipments given)")
    async with uow:
        plan = await check_shipments(uow, actor=actor, rows=rows)
        results = await write_plan(uow, actor=actor, plan=plan, source=source)
        await uow.commit()
    return results
