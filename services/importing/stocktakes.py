"""Import kind `stocktakes`: counts per partner and SKU, one stocktake per (partner, counted_at),
written in bulk with the rules of `services.stocktakes.record_stocktake` (the same rows, audit
entries and stock alerts; one alert check per partner rather than per stocktake, so a big file
stays fast and announces only where positions end up).

`counted_at` is a date and time (`2026-11-18 18:00`, ISO with or without an offset; none means
the configured timezone) or a date alone. A date alone is the close of that local day, 23:59:59:
the count is what was on the shelf at the end of the day, so that day's shipments and sales
recorded before it are already in it and only later movements add to or take from it. A count
dated today is taken as of the import (the end of today has not come yet); a time after now is
refused. Importing the same file again changes nothing: each stocktake carries an idempotency
key made from its partner, written time and lines.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import Stocktake, StocktakeLine

from .. import shipments, stock_alerts
from ..actors import can_see_partner
from ..errors import InvalidInput
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


@dataclass(frozen=True)
class _Count:
    """A checked row: ids and codes, base units, the time it means and how it was written."""

    partner_id: int
    partner: str
    sku_id: int
    sku: str
    qty: int
    at: datetime
    when: str


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
        self.counts: dict[int, _Count] = {}
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
                self.counts[row.line] = _Count(partner.id, partner.code, sku.id, sku.code, qty, at, when)
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts the stocktakes not stored yet and their lines in bulk, audits each, checks alerts."""
        groups: dict[tuple[int, datetime, str], list[_Count]] = {}
        for row in rows:
            c = self.counts[row.line]
            groups.setdefault((c.partner_id, c.at, c.when), []).append(c)
        keyed = {_key(counts[0].partner, when, counts): counts for (_, _, when), counts in groups.items()}
        stored: set[str] = set()
        keys = list(keyed)
        for i in range(0, len(keys), shipments.CHUNK):
            stored.update(await self.uow.session.scalars(
                select(Stocktake.idempotency_key).where(Stocktake.idempotency_key.in_(keys[i:i + shipments.CHUNK]))))
        fresh = {key: counts for key, counts in keyed.items() if key not in stored}
        ids = await self._insert(fresh) if fresh else {}
        touched: dict[int, set[int]] = {}
        for key, counts in fresh.items():
            if key in ids:
                self.audit(action="stocktake.create", entity="stocktake", entity_id=ids[key], before=None,
                           after={"partner": counts[0].partner, "lines": {c.sku: c.qty for c in counts}})
                touched.setdefault(counts[0].partner_id, set()).update(c.sku_id for c in counts)
        await self.write_audits()
        for partner_id in sorted(touched):
            await stock_alerts.reevaluate(self.uow, partner_id=partner_id, sku_ids=sorted(touched[partner_id]))
        self.advance(len(rows))
        created = sum(len(counts) for key, counts in fresh.items() if key in ids)
        return ImportSummary(kind=self.name, created=created, unchanged=len(rows) - created)

    async def _insert(self, fresh: dict[str, list[_Count]]) -> dict[str, int]:
        """Stocktake rows (a key a concurrent import stored meanwhile is skipped) and their lines."""
        conn = await self.uow.session.connection()
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        now = self.uow.now()
        stmt = (dialect.insert(Stocktake).on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(Stocktake.id, Stocktake.idempotency_key))
        result = await conn.execute(stmt, [{"partner_id": counts[0].partner_id, "counted_at": counts[0].at,
                                            "idempotency_key": key, "created_by_id": self.actor.user_id,
                                            "created_at": now} for key, counts in fresh.items()])
        ids = {key: stocktake_id for stocktake_id, key in result}
        lines = [{"stocktake_id": ids[key], "sku_id": c.sku_id, "qty": c.qty}
                 for key, counts in fresh.items() if key in ids for c in counts]
        if lines:
            await conn.execute(insert(StocktakeLine), lines)
        return ids


def _key(partner: str, when: str, counts: list[_Count]) -> str:
    """The same partner, written time and counts give the same key, so a file imported twice is written once."""
    body = "|".join([partner, when, *sorted(f"{c.sku}={c.qty}" for c in counts)])
    return "import:" + hashlib.sha256(body.encode()).hexdigest()[:40]
