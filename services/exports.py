"""Exports (DESIGN §8.6): the rows of one kind streamed into a `.csv` (UTF-8 with BOM, so Excel
reads Chinese) or `.xlsx` file, scoped to what the actor may see.

A kind is an async generator registered with `@register(name, columns=…)`. It gets the open
read-only unit of work and an `ExportQuery` and yields one tuple per row: `int`, `str`,
`Decimal` for money (written with two decimals), `date` for days, None for empty. It should
stream (`yield_per`) rather than load everything, and restrict partners with
`actors.scope_partners`. An optional `count` lets the caller show progress. To add a kind
from another module, decorate it there and add the module to `KIND_MODULES` so it registers
before the first export.
"""
from __future__ import annotations

import asyncio
import csv
import importlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from sqlalchemy import Select, func, select

from storage.models import Partner, Sale, SaleLine, Sku
from storage.uow import UnitOfWork

from .actors import Actor, require_role, scope_partners
from .errors import InvalidInput

SUPPORTED = (".csv", ".xlsx")
BATCH = 2000                     # rows fetched per round trip and written per thread hop
XLSX_MAX_ROWS = 1_048_576        # a sheet's limit, header included; longer exports continue on a new sheet
KIND_MODULES: tuple[str, ...] = ("services.export_inventory", "services.export_claims", "services.export_rebates",
                                 "services.export_violations")  # modules that register further kinds
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportQuery:
    """Who asks and which days (`sold_on`, shipped on, … inclusive; None is open-ended)."""

    actor: Actor
    date_from: date | None = None
    date_to: date | None = None


RowSource = Callable[[UnitOfWork, ExportQuery], AsyncIterator[tuple]]
Counter = Callable[[UnitOfWork, ExportQuery], Awaitable[int]]


@dataclass(frozen=True)
class ExportKind:
    name: str
    columns: tuple[str, ...]
    rows: RowSource
    count: Counter | None = None
    roles: tuple[str, ...] = ("manager",)                    # besides admins
    number_formats: dict[str, str] = field(default_factory=dict)  # xlsx format by column, e.g. "0.0%"


@dataclass(frozen=True)
class ExportSummary:
    kind: str
    path: str
    rows: int


class UnknownExportKind(InvalidInput):
    code = "unknown_export_kind"


EXPORT_KINDS: dict[str, ExportKind] = {}


def register(name: str, *, columns: tuple[str, ...], count: Counter | None = None,
             roles: tuple[str, ...] = ("manager",), number_formats: dict[str, str] | None = None):
    """Decorator adding an async row generator to the registry as export kind `name`."""
    def deco(fn: RowSource) -> RowSource:
        if name in EXPORT_KINDS and EXPORT_KINDS[name].rows is not fn:
            raise ValueError(f"export kind {name!r} registered twice")
        EXPORT_KINDS[name] = ExportKind(name, tuple(columns), fn, count, roles, dict(number_formats or {}))
        return fn
    return deco


def _load_kinds() -> None:
    """Imports the modules that register kinds elsewhere."""
    for module in KIND_MODULES:
        importlib.import_module(module)


def kind_names() -> tuple[str, ...]:
    """The registered export kinds, sorted."""
    _load_kinds()
    return tuple(sorted(EXPORT_KINDS))


def get_kind(name: str) -> ExportKind:
    """The kind called `name`, or UnknownExportKind naming the valid ones."""
    valid = kind_names()
    if name not in EXPORT_KINDS:
        raise UnknownExportKind(kind=name, valid=list(valid),
                                reason=f"未知的导出类型「{name}」，可选：{', '.join(valid)} (unknown export kind)")
    return EXPORT_KINDS[name]


def check_path(path: str | Path) -> Path:
    """The output path if its type is supported and its folder exists; InvalidInput otherwise."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED:
        raise InvalidInput(reason=f"不支持的文件类型「{path.suffix or path.name}」，请用 .csv 或 .xlsx"
                                  f" (unsupported file type; use .csv or .xlsx)", path=str(path))
    if not path.parent.is_dir():
        raise InvalidInput(reason=f"目录不存在：{path.parent} (no such folder)", path=str(path))
    return path


async def export_file(uow: UnitOfWork, *, kind: str, path: str | Path, actor: Actor, date_from: date | None = None,
                      date_to: date | None = None, progress: Progress | None = None) -> ExportSummary:
    """Writes every row of `kind` the actor may see to `path`; the file appears whole or not at all.

    `progress(done, total)` is told about every batch when the kind can count its rows."""
    spec = get_kind(kind)
    require_role(actor, *spec.roles)
    path = check_path(path)
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(reason=f"开始日期 {date_from} 晚于结束日期 {date_to} (--from after --to)")
    query = ExportQuery(actor=actor, date_from=date_from, date_to=date_to)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    writer = await asyncio.to_thread(_XlsxWriter if path.suffix.lower() == ".xlsx" else _CsvWriter, part, spec)
    done = 0
    try:
        async with uow.reading() as reader:
            total = await spec.count(reader, query) if progress and spec.count else 0
            if progress:
                progress(0, total)
            batch: list[tuple] = []
            async for row in spec.rows(reader, query):
                batch.append(row)
                if len(batch) >= BATCH:
                    await asyncio.to_thread(writer.write, batch)
                    done += len(batch)
                    batch = []
                    if progress:
                        progress(done, max(total, done))
            await asyncio.to_thread(writer.write, batch)
            done += len(batch)
        await asyncio.to_thread(writer.close)
        os.replace(part, path)
    except BaseException:
        writer.abort()
        part.unlink(missing_ok=True)
        raise
    if progress:
        progress(done, max(total, done))
    return ExportSummary(kind=spec.name, path=str(path), rows=done)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A value as CSV text; text Excel would run as a formula gets a leading `'` (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _CsvWriter:
    """UTF-8 with BOM, `\\r\\n` line ends: what Excel on Chinese Windows opens correctly."""

    def __init__(self, path: Path, spec: ExportKind):
        self._file = open(path, "w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(spec.columns)

    def write(self, rows: list[tuple]) -> None:
        self._csv.writerows([_csv_cell(v) for v in row] for row in rows)

    def close(self) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()


class _XlsxWriter:
    """openpyxl in write-only mode (rows go to disk as they come); bold, frozen header row."""

    def __init__(self, path: Path, spec: ExportKind):
        from openpyxl import Workbook

        self._path, self._spec = path, spec
        self._book = Workbook(write_only=True)
        self._formats = [spec.number_formats.get(c) for c in spec.columns]
        self._sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self._sheets += 1
        title = self._spec.name if self._sheets == 1 else f"{self._spec.name} ({self._sheets})"
        self._sheet = self._book.create_sheet(title[:31])
        self._sheet.freeze_panes = "A2"
        for i, name in enumerate(self._spec.columns, start=1):
            self._sheet.column_dimensions[get_column_letter(i)].width = max(10, len(name) + 4)
        bold = Font(bold=True)
        header = []
        for name in self._spec.columns:
            cell = WriteOnlyCell(self._sheet, value=name)
            cell.font = bold
            header.append(cell)
        self._sheet.append(header)
        self._rows = 1

    def _cell(self, value: Any, number_format: str | None) -> Any:
        """Plain values as they are; money, days and formula-like text as styled cells."""
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, Decimal):
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.number_format = number_format or "0.00"
        elif isinstance(value, date):
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.number_format = number_format or "yyyy-mm-dd"
        elif isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.data_type = "s"  # text, never a formula
        elif value == "":
            return None
        elif number_format and value is not None:
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.number_format = number_format
        else:
            return value
        return cell

    def write(self, rows: list[tuple]) -> None:
        for row in rows:
            if self._rows >= XLSX_MAX_ROWS:
                self._new_sheet()
            self._sheet.append([self._cell(v, f) for v, f in zip(row, self._formats)])
            self._rows += 1

    def close(self) -> None:
        self._book.save(self._path)

    def abort(self) -> None:
        """Closes the sheets' row streams and removes their temporary files."""
        for sheet in self._book.worksheets:
            if sheet._writer is None or sheet.closed:
                continue
            sheet.close()
            sheet._writer.cleanup()


# --- sales -------------------------------------------------------------------------------

SALES_COLUMNS = ("id", "partner", "sku", "qty", "unit", "amount", "customer", "sold_on", "status", "flags")


def _sales_select(query: ExportQuery, *columns) -> Select:
    """Sale lines with their sale, partner and SKU, filtered by day and scoped to the actor."""
    stmt = (select(*columns).select_from(SaleLine).join(Sale, SaleLine.sale_id == Sale.id)
            .join(Partner, Sale.partner_id == Partner.id).join(Sku, SaleLine.sku_id == Sku.id))
    if query.date_from is not None:
        stmt = stmt.where(Sale.sold_on >= query.date_from)
    if query.date_to is not None:
        stmt = stmt.where(Sale.sold_on <= query.date_to)
    return scope_partners(stmt, query.actor)


def _flag_text(flag: Any) -> str:
    """A sale flag as a word (`below_floor`); structured flags by their kind."""
    if isinstance(flag, dict):
        return str(flag.get("kind") or flag.get("code") or flag)
    return str(flag)


async def _count_sales(uow: UnitOfWork, query: ExportQuery) -> int:
    """How many sale lines the export will write."""
    return await uow.session.scalar(_sales_select(query, func.count(SaleLine.id))) or 0


@register("sales", columns=SALES_COLUMNS, count=_count_sales)
async def sales_rows(uow: UnitOfWork, query: ExportQuery) -> AsyncIterator[tuple]:
    """One row per sale line, by day and sale: qty in base units, amount in yuan, flags `;`-joined."""
    stmt = _sales_select(query, Sale.id, Partner.code, Sku.code, SaleLine.qty, Sku.unit, SaleLine.amount_fen,
                         Sale.customer, Sale.sold_on, Sale.status, Sale.flags)
    stmt = stmt.order_by(Sale.sold_on, Sale.id, SaleLine.id).execution_options(yield_per=BATCH)
    result = await uow.session.stream(stmt)
    async for rows in result.partitions():  # one round trip per batch, not per row
        for sale_id, partner, sku, qty, unit, fen, customer, sold_on, status, flags in rows:
            yield (sale_id, partner, sku, qty, unit, Decimal(fen).scaleb(-2), customer, sold_on, status,
                   ";".join(_flag_text(f) for f in flags or ()))
