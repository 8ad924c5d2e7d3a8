"""The import framework: columns with Chinese and English headers, typed cell readers that
collect problems, the base class of an import kind, and the registry of kinds.

A kind is a `TableImport` subclass registered with `@register`: it names its columns,
parses one row (pure, no database), checks the parsed rows against each other and the
database, and writes them. A fresh instance runs each import, so `check` may keep what
it loaded for `write`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, ClassVar

from sqlalchemy import insert

from storage.models import AuditLog
from storage.uow import UnitOfWork

from ..actors import Actor
from ..errors import InvalidInput
from ..money import yuan_to_fen

Progress = Callable[[int, int], None]
MAX_INT = 2**31 - 1  # integer columns are 32-bit on PostgreSQL


@dataclass(frozen=True)
class Column:
    """One column: its English key, the Chinese label used in messages, other accepted headers."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = True

    @property
    def title(self) -> str:
        """`指导价(guide_price)`: how messages name the column."""
        return f"{self.label}({self.key})"


@dataclass(frozen=True)
class Row:
    """A parsed data row and the line it came from."""

    line: int
    value: Any


@dataclass(frozen=True)
class RowError:
    """A bad row: the line as the user sees it in the file and what is wrong, in plain words."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"第{self.line}行: {self.reason}"


@dataclass(frozen=True)
class ImportSummary:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Rows in the file."""
        return self.created + self.updated + self.unchanged


class ImportFailed(InvalidInput):
    """Some rows are bad; nothing was written. `errors` names every bad row."""

    code = "import_failed"

    def __init__(self, *, kind: str, errors: list[RowError]):
        self.errors = sorted(errors, key=lambda e: e.line)
        super().__init__(kind=kind, errors=self.errors,
                         reason=f"{len(self.errors)} 行有问题，未导入任何数据 (nothing imported)")


class UnknownImportKind(InvalidInput):
    code = "unknown_import_kind"


def fold(text: str) -> str:
    """Width-folded, trimmed text (full-width letters and digits become ASCII)."""
    return unicodedata.normalize("NFKC", text).strip()


def header_key(text: str) -> str:
    """Folds a header for matching: width, case, spaces, `_`, `*` marks and a `(元)`-style note."""
    s = fold(text).lower().strip("*").strip()
    s = re.sub(r"\([^)]*\)$", "", s)
    return re.sub(r"[\s_\-]+", "", s)


_DATE_FORMS = (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
               re.compile(r"(\d{4})(\d{2})(\d{2})"))


class Cells:
    """One data row's cells by column key, with typed readers that collect problems.

    A reader returns None when the column is absent from the file or the cell is empty and
    not required; a bad value records a problem and returns None too."""

    def __init__(self, values: dict[str, str], columns: dict[str, Column]):
        self._values = values
        self._columns = columns
        self.problems: list[str] = []

    def has(self, key: str) -> bool:
        """Whether the file has this column at all (absent columns keep what is stored)."""
        return key in self._values

    def problem(self, key: str, message: str) -> None:
        """Records a problem with one cell."""
        self.problems.append(f"{self._columns[key].title}{message}")

    def _raw(self, key: str, required: bool) -> str | None:
        value = fold(self._values.get(key, ""))
        if not value:
            if required:
                self.problem(key, "不能为空 (required)")
            return None
        return value

    def text(self, key: str, *, required: bool = False, max_len: int = 200) -> str | None:
        """Trimmed, width-folded text of at most `max_len` characters."""
        value = self._raw(key, required)
        if value is not None and len(value) > max_len:
            self.problem(key, f"太长，最多 {max_len} 个字符 (too long)")
            return None
        return value

    def code(self, key: str, *, required: bool = True, max_len: int = 32) -> str | None:
        """A code such as A100 or P001: no spaces inside."""
        value = self.text(key, required=required, max_len=max_len)
        if value is not None and re.search(r"\s", value):
            self.problem(key, f"「{value}」不能含空格 (no spaces in codes)")
            return None
        return value

    def fen(self, key: str, *, required: bool = False) -> int | None:
        """An amount in yuan as integer fen."""
        value = self._raw(key, required)
        if value is None:
            return None
        try:
            fen = yuan_to_fen(value)
        except InvalidInput as exc:
            self.problem(key, f"「{value}」不是有效金额：{exc.facts['reason']}")
            return None
        if fen > MAX_INT:
            self.problem(key, f"「{value}」金额过大 (too large)")
            return None
        return fen

    def integer(self, key: str, *, minimum: int = 0, required: bool = False) -> int | None:
        """A whole number at least `minimum` ('24', '24.0', '1,000')."""
        value = self._raw(key, required)
        if value is None:
            return None
        try:
            number = Decimal(value.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number != number.to_integral_value():
            self.problem(key, f"须为整数，现在是「{value}」(must be a whole number)")
            return None
        if not minimum <= number <= MAX_INT:
            self.problem(key, f"须不小于 {minimum}，现在是「{value}」(must be at least {minimum})")
            return None
        return int(number)

    def date(self, key: str, *, required: bool = False) -> date | None:
        """A calendar date: 2026-11-18, 2026/11/18, 20261118 or 2026年11月18日."""
        value = self._raw(key, required)
        if value is None:
            return None
        for form in _DATE_FORMS:
            m = form.fullmatch(value.split("T")[0].split(" ")[0])
            if m:
                try:
                    return date(*(int(g) for g in m.groups()))
                except ValueError:
                    break
        self.problem(key, f"「{value}」不是日期，请写成 2026-11-18 (not a date)")
        return None

    def choice(self, key: str, options: dict[str, str], *, required: bool = False) -> str | None:
        """One of a fixed set; `options` maps every accepted spelling (lower case) to its value."""
        value = self._raw(key, required)
        if value is None:
            return None
        if value.lower() not in options:
            allowed = "、".join(sorted(set(options.values())))
            self.problem(key, f"「{value}」不在可选值内：{allowed}")
            return None
        return options[value.lower()]


class TableImport:
    """Base of one import kind. Subclasses set `name` and `columns` and implement the steps."""

    name: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    key_column: ClassVar[str | None] = None  # the column `key()` comes from, for messages

    def __init__(self, uow: UnitOfWork, *, actor: Actor, progress: Progress | None = None):
        self.uow = uow
        self.actor = actor
        self._progress = progress
        self._done = self._total = self._reported = 0
        self._audits: list[dict] = []
        self.failed_keys: set[str] = set()  # keys of rows that failed to parse, set before check()

    def parse(self, cells: Cells) -> Any:
        """Turns one row into a value, recording problems on `cells`; never touches the database."""
        raise NotImplementedError

    def key(self, value: Any) -> str | None:
        """The natural key of a parsed row; two rows with the same key are an error."""
        return None

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Checks the parsed rows against each other and the database; returns every problem."""
        return []

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Writes the checked rows inside the open unit of work (the caller commits)."""
        raise NotImplementedError

    def audit(self, *, action: str, entity: str, entity_id: Any, before: dict | None, after: dict | None) -> None:
        """Queues one audit row: who, when, which channel, what it was before and after."""
        self._audits.append({"at": self.uow.now(), "user_id": self.actor.user_id, "channel": self.actor.channel,
                             "action": action, "entity": entity, "entity_id": str(entity_id),
                             "before": before, "after": after})

    async def write_audits(self) -> None:
        """Writes the queued audit rows in one bulk insert (one ORM object per row is far too slow
        for 100k rows on SQLite); the rows are the ones `services.audit.record` writes."""
        if self._audits:
            await self.uow.session.execute(insert(AuditLog), self._audits)
            self._audits.clear()

    def start(self, total: int) -> None:
        """Sets the amount of work the progress callback counts towards."""
        self._done, self._total, self._reported = 0, total, 0
        self.advance(0)

    def advance(self, n: int = 1) -> None:
        """Counts `n` more steps done; tells the progress callback about every half percent."""
        self._done += n
        if self._progress is None:
            return
        done = min(self._done, self._total)
        if n == 0 or done == self._total or done - self._reported >= max(1, self._total // 200):
            self._reported = done
            self._progress(done, self._total)


IMPORT_KINDS: dict[str, type[TableImport]] = {}


def register(cls: type[TableImport]) -> type[TableImport]:
    """Class decorator adding an import kind to the registry under its `name`."""
    if cls.name in IMPORT_KINDS and IMPORT_KINDS[cls.name] is not cls:
        raise ValueError(f"import kind {cls.name!r} registered twice")
    IMPORT_KINDS[cls.name] = cls
    return cls


def kind_class(name: str) -> type[TableImport]:
    """The registered kind called `name`, or UnknownImportKind naming the valid ones."""
    try:
        return IMPORT_KINDS[name]
    except KeyError:
        valid = ", ".join(sorted(IMPORT_KINDS))
        raise UnknownImportKind(kind=name, valid=sorted(IMPORT_KINDS),
                                reason=f"未知的导入类型「{name}」，可选：{valid} (unknown import kind)") from None

