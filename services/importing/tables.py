"""Reading a `.csv` or `.xlsx` file into header and rows of text, keeping the line numbers
the user sees in the file (the header is usually line 1)."""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from ..errors import InvalidInput

SUPPORTED = (".csv", ".xlsx")


@dataclass(frozen=True)
class Table:
    """A file's header cells and its non-blank data rows as (line number, cells)."""

    source: str
    header_line: int
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


def read_table(path: str | Path) -> Table:
    """Reads a `.csv` (UTF-8, UTF-8 with BOM, UTF-16 with BOM or GB18030) or `.xlsx` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InvalidInput(reason=f"不支持的文件类型「{path.suffix or path.name}」，请用 .csv 或 .xlsx"
                                  f" (unsupported file type; use .csv or .xlsx)", path=str(path))
    if not path.is_file():
        raise InvalidInput(reason=f"找不到文件 {path} (file not found)", path=str(path))
    lines = _xlsx_lines(path) if suffix == ".xlsx" else _csv_lines(path)
    return _table(str(path), lines)


def table_from_text(text: str, *, source: str = "<text>") -> Table:
    """Reads CSV text already in memory (tests, chat uploads, shipped data)."""
    return _table(source, _csv_records(text))


def _table(source: str, lines) -> Table:
    """Splits numbered lines into the header (first non-blank line) and non-blank data rows."""
    header_line, headers, rows = 0, (), []
    for line, cells in lines:
        if not any(cells):
            continue
        if not header_line:
            header_line, headers = line, cells
        else:
            rows.append((line, cells))
    if not header_line:
        raise InvalidInput(reason=f"文件 {Path(source).name} 是空的，没有表头 (file is empty)", path=source)
    return Table(source=source, header_line=header_line, headers=headers, rows=tuple(rows))


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, UTF-16 when it has a BOM, else GB18030 (Excel on Chinese Windows)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _csv_lines(path: Path):
    """Numbered CSV records of a file."""
    return _csv_records(_decode(path.read_bytes()))


def _csv_records(text: str):
    """Yields (first physical line of the record, stripped cells); tab-separated text is accepted."""
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    for record in reader:
        yield start, tuple(cell.strip() for cell in record)
        start = reader.line_num + 1


def _xlsx_lines(path: Path):
    """Numbered rows of the first worksheet, cells turned into text."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(reason=f"无法读取 Excel 文件 {path.name}：{exc} (not a valid .xlsx)",
                           path=str(path)) from None
    try:
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            yield line, tuple(_cell_text(v) for v in values)
    finally:
        book.close()


def _cell_text(value) -> str:
    """A spreadsheet value as the text a person typed: 24.0 → '24', dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value).strip()
