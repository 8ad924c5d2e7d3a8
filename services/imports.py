"""Tabular imports (DESIGN §8.6): a `.csv` or `.xlsx` file of one kind, all rows or none,
with every bad row named by the line the user sees in the file.

Kinds live in `services/importing/` as `TableImport` subclasses registered with
`@register`; the list below imports each one so it registers. To add a kind: write
the module, decorate the class, add it to this list.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from storage.uow import UnitOfWork

from .actors import Actor, require_role
from .importing import claims, partners, shipments, skus, stocktakes  # noqa: F401  (each registers its kind)
from .importing import rebate_schemes  # noqa: F401
from .importing import prices  # noqa: F401
from .importing.kinds import (IMPORT_KINDS, Cells, Column, ImportFailed, ImportSummary, Progress, Row,
                              RowError, TableImport, UnknownImportKind, fold, header_key, kind_class,
                              register)
from .importing.tables import SUPPORTED, Table, read_table, table_from_text

__all__ = [
    "IMPORT_KINDS", "Cells", "Column", "ImportFailed", "ImportSummary", "Progress", "Row", "RowError",
    "SUPPORTED", "Table", "TableImport", "UnknownImportKind", "import_file", "import_table_into",
    "kind_names", "read_table", "register", "table_from_text",
]


def kind_names() -> tuple[str, ...]:
    """The registered import kinds, sorted."""
    return tuple(sorted(IMPORT_KINDS))


async def import_file(uow: UnitOfWork, *, kind: str, path: str | Path, actor: Actor,
                      progress: Progress | None = None) -> ImportSummary:
    """Imports one file in one transaction; raises ImportFailed listing every bad row, writing nothing.

    `progress(done, total)` counts steps: each row once when parsed and once when written."""
    require_role(actor, "admin")
    job = kind_class(kind)(uow, actor=actor, progress=progress)
    table = await asyncio.to_thread(read_table, path)
    rows, errors = await asyncio.to_thread(_parse, job, table)
    async with uow:
        summary = await _check_and_write(job, rows, errors)
        await uow.commit()
    return summary


async def import_table_into(uow: UnitOfWork, *, kind: str, table: Table, actor: Actor,
                            progress: Progress | None = None) -> ImportSummary:
    """Imports an already read table inside an open unit of work; the caller commits."""
    require_role(actor, "admin")
    job = kind_class(kind)(uow, actor=actor, progress=progress)
    rows, errors = _parse(job, table)
    return await _check_and_write(job, rows, errors)


async def _check_and_write(job: TableImport, rows: list[Row], errors: list[RowError]) -> ImportSummary:
    """Runs the kind's checks; writes only when no row at all is bad."""
    errors = errors + await job.check(rows)
    if errors:
        raise ImportFailed(kind=job.name, errors=errors)
    return await job.write(rows)


def _columns_hint(job: TableImport) -> str:
    """`编码(code), 名称(name), …` for a message about headers."""
    return ", ".join(c.title for c in job.columns)


def _positions(job: TableImport, table: Table) -> dict[str, int]:
    """Maps each known column key to its position in the file; raises on unknown or missing headers."""
    lookup = {header_key(name): col.key for col in job.columns for name in (col.key, col.label, *col.aliases)}
    positions: dict[str, int] = {}
    problems: list[str] = []
    for i, head in enumerate(table.headers):
        if not fold(head):
            continue
        key = lookup.get(header_key(head))
        if key is None:
            problems.append(f"未知的列「{head}」(unknown column)；可用的列：{_columns_hint(job)}")
        elif key in positions:
            problems.append(f"列「{head}」与「{table.headers[positions[key]]}」重复 (duplicate column)")
        else:
            positions[key] = i
    for col in job.columns:
        if col.required and col.key not in positions:
            problems.append(f"缺少必需的列 {col.title} (missing column)")
    if problems:
        raise ImportFailed(kind=job.name, errors=[RowError(table.header_line, p) for p in problems])
    return positions


def _parse(job: TableImport, table: Table) -> tuple[list[Row], list[RowError]]:
    """Parses every data row; returns the good rows and a problem for every bad one."""
    positions = _positions(job, table)
    columns = {c.key: c for c in job.columns}
    width = len(table.headers)
    job.start(2 * len(table.rows))
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        values = {key: cells[i] if i < len(cells) else "" for key, i in positions.items()}
        reader = Cells(values, columns)
        extra = [c for c in cells[width:] if c]
        if extra:
            reader.problems.append(f"表头之外多出数据「{extra[0]}」(more cells than headers)")
        value = job.parse(reader)
        key = job.key(value)
        if key:
            first = seen.setdefault(key.casefold(), line)
            if first != line:
                reader.problem(job.key_column, f"「{key}」与第{first}行重复 (duplicate)")
        if reader.problems:
            errors.append(RowError(line, "；".join(reader.problems)))
            if job.key_column in values:
                job.failed_keys.add(fold(values[job.key_column]).casefold())
        else:
            rows.append(Row(line, value))
        job.advance()
    return rows, errors
