"""Import kind `stocktakes`: counts per partner and SKU, one stocktake per (partner, counted_at),
each recorded by `services.stocktakes.record_stocktake` (audit and stock alerts included).

`counted_at` is a date and time (`2026-11-18 18:00`, ISO with or without an offset; none means
the configured timezone) or a date alone. A date alone is the close of that local day, 23:59:59:
the count is what was on the shelf at the end of the day, so that day's shipments and sales
recorded before it are already in it and only later movements add to or take from it. A count
dated today is taken as of the import (the end of today has not come yet); a time after now is
refused. Importing the same file again changes nothing: each stocktake carries an idempotency
key made from its partner, time and lines.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal

from .. import shipments, stocktakes
from ..actors import can_see_partner
from ..errors import InvalidInput
from ..stocktakes import CountLine
from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register
from .shipments import PARTNER, SKU, UNIT, read_qty

END_OF_DAY = time(23, 59, 59)
_DATE = (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
         re.compile(r"(\d{4})(\d{2})(\d{2})"))


@dataclass(frozen=True)
class CountRow:
    """One parsed row: codes, the quantity in `unit`, and when it was counted (None if unreadable)."""

    partner: str
    sku: str
    qty: Decimal | None
    unit: str | None
    counted_at: datetime | None
    day_only: bool


def _date(text: str) -> date | None:
    """`2026-11-18`, `2026/11/18`, `20261118`, `2026年11月18日`, or None."""
    for form in _DATE:
        m = form.fullmatch(text)
        if m:
            try:
                return date(*(int(g) for g in m.groups()))
            except ValueError:
                return None
    return None


@register
class StocktakeImport(TableImport):
    """Stocktakes (盘点): all rows or none; rows of one partner and time make one stocktake."""

    name = "stocktakes"
    columns = (
        PARTNER, SKU, Column("qty", "数量", ("盘点数量", "库存数量", "库存", "quantity")), UNIT,
        Column("counted_at", "盘点时间", ("盘点日期", "日期", "时间", "count date", "counted on")),
    )

    def parse(self, cells: Cells) -> CountRow:
        """Reads one row; a date alone becomes the end of that local day."""
        raw = cells.text("counted_at", required=True, max_len=40)
        counted_at, day_only = None, False
        if raw is not None:
            counted_at, day_only = self._when(raw)
            if counted_at is None:
                cells.problem("counted_at", f"「{raw}」不是日期或时间，请写成 2026-11-18 或 2026-11-18 18:00"
                                            f" (not a date or time)")
        return CountRow(partner=cells.code("partner") or "", sku=cells.code("sku") or "",
                        qty=read_qty(cells, "qty"), unit=cells.text("unit", max_len=16), counted_at=counted_at,
                        day_only=day_only)

    def _when(self, raw: str) -> tuple[datetime | None, bool]:
        """The aware time a cell means, and whether it was a date alone."""
        tz = self.uow.settings.tz
        day = _date(raw)
        if day is not None:
            return datetime.combine(day, END_OF_DAY, tzinfo=tz), True
        try:
            at = datetime.fromisoformat(raw.replace("/", "-"))
        except ValueError:
            return None, False
        return (at if at.tzinfo else at.replace(tzinfo=tz)), False

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Partner, scope, SKU, whole base units, not after now, one count per SKU per stocktake."""
        partners, skus = await shipments.lookups(self.uow)
        now = self.uow.now()
        seen: dict[tuple, int] = {}
        self.counts: dict[int, tuple[str, str, int, datetime, str]] = {}
        errors: list[RowError] = []
        for row in rows:
            value: CountRow = row.value
            problems: list[str] = []
            partner, sku, qty = partners.get(value.partner), skus.get(value.sku), None
            if partner is None:
                problems.append(f"未知经销商「{value.partner}」(unknown partner)")
            elif not can_see_partner(self.actor, partner):
                problems.append(f"经销商 {partner.code} 不在您管辖的区域 (partner outside your regions)")
            if sku is None:
                problems.append(f"未知商品「{value.sku}」(unknown SKU)")
            elif value.qty is not None:
                try:
                    qty = shipments.base_quantity(value.qty, value.unit, sku, allow_zero=True)
                except InvalidInput as exc:
                    problems.append(exc.facts["reason"])
            at = value.counted_at
            if at is not None and value.day_only and at > now and at.date() == now.astimezone(at.tzinfo).date():
                at = now
            if at is not None and at > now:
                problems.append(f"盘点时间 {at.isoformat(sep=' ', timespec='minutes')} 晚于现在 (in the future)")
            if partner is not None and sku is not None and at is not None:
                first = seen.setdefault((partner.id, at, sku.id), row.line)
                if first != row.line:
                    problems.append(f"与第{first}行是同一经销商、同一时间、同一商品 (duplicate count)")
            if problems:
                errors.append(RowError(row.line, "；".join(problems)))
            else:
                when = (f"day:{value.counted_at.date()}" if value.day_only
                        else value.counted_at.astimezone(timezone.utc).isoformat())
                self.counts[row.line] = (partner.code, sku.code, qty, at, when)
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Records one stocktake per (partner, time); an identical one already stored counts as unchanged."""
        groups: dict[tuple[str, datetime, str], list[CountLine]] = {}
        for row in rows:
            partner, sku, qty, at, when = self.counts[row.line]
            groups.setdefault((partner, at, when), []).append(CountLine(sku, qty))
        created = unchanged = 0
        for (partner, at, when), lines in groups.items():
            result = await stocktakes.record_stocktake(self.uow, actor=self.actor, lines=lines, counted_at=at,
                                                       partner_code=partner, idempotency_key=_key(partner, when, lines))
            if result.created:
                created += len(lines)
            else:
                unchanged += len(lines)
            self.advance(len(lines))
        return ImportSummary(kind=self.name, created=created, unchanged=unchanged)


def _key(partner: str, when: str, lines: list[CountLine]) -> str:
    """The same partner, written time and counts give the same key, so a file imported twice is written once."""
    body = "|".join([partner, when, *sorted(f"{ln.sku}={ln.qty}" for ln in lines)])
    return "import:" + hashlib.sha256(body.encode()).hexdigest()[:40]
