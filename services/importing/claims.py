"""Import kind `claims` (客户报备) for a network moving over: `partner,customer,phone,uscc,claimed_at`.

All rows or none: an unknown partner, an invalid phone or USCC (with the reason), a date that is not
one or lies in the future names its row. Imported claims are approved with `[app]
claim_protection_days` of protection from `claimed_at` (already expired ones are stored as expired),
with the name parts and keys `services.claims_match` looks up. Conflicts within the file or with
stored claims are not refused: the history comes over as it was. One audit entry records the import
and the ids it created.

A million rows load in under a minute on SQLite: company names are split in worker processes while
the file is still being read, and rows go in with the driver's own bulk path (executemany of plain
tuples on SQLite, COPY on PostgreSQL) under ids reserved up front, instead of one ORM object or
parameter dictionary per row.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.schema import CreateIndex, DropIndex

from storage.models import ClaimKey, CustomerClaim, Partner

from .. import claims_match, phones
from ..actors import can_see_partner
from ..errors import InvalidInput
from ..uscc import validate as validate_uscc
from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register

BATCH = 10_000          # names split per worker task, rows written per round
POOL_FROM = 2 * BATCH   # smaller files split their names in-process
SQLITE_CACHE_KIB = 256 * 1024  # page cache while a big import maintains the indexes
COLUMNS = ("id", "partner_id", "customer", *claims_match.PARTS, "phone", "uscc", "status", "claimed_at",
           "expires_at", "conflict_reason", "decision_reason", "created_by_id", "created_at")
INDEXES = sorted([*CustomerClaim.__table__.indexes, *ClaimKey.__table__.indexes], key=lambda i: i.name)
_DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One parsed row; `seq` is its place among the names sent to be split."""

    partner: str
    customer: str
    phone: str | None
    uscc: str | None
    claimed_at: datetime | None
    seq: int = -1


def _lower_priority() -> None:
    """Workers yield to the process reading the file: it is the critical path, they have slack."""
    try:
        os.nice(int(os.environ.get("NICE", "5")))
    except OSError:
        pass


def split_names(names: list[str]) -> list[tuple[tuple[str, str, str, str], tuple[int, ...]]]:
    """claims_match.name_parts of each name (run in a worker process)."""
    return [claims_match.name_parts(name) for name in names]


@register
class ClaimImport(TableImport):
    """Customer claims: approved (or expired) history, conflicts kept as they were."""

    name = "claims"
    columns = (
        Column("partner", "经销商", ("经销商编码", "经销商代码", "partner code")),
        Column("customer", "客户", ("客户名称", "终端客户", "customer name")),
        Column("phone", "电话", ("手机", "联系电话", "手机号", "电话号码", "phone number"), required=False),
        Column("uscc", "统一社会信用代码", ("信用代码", "社会信用代码", "税号"), required=False),
        Column("claimed_at", "报备日期", ("报备时间", "日期", "claim date", "claimed on")),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._names: list[str] = []
        self._sent = 0
        self._futures: list[Future] = []
        self._pool: ProcessPoolExecutor | None = None
        self._times: dict[str, datetime | None] = {}

    def parse(self, cells: Cells) -> ClaimRow:
        """Reads one row: a valid phone and USCC if given, a date (the start of that local day) or time."""
        customer = cells.text("customer", required=True)
        if customer is not None and len(customer) < 2:
            cells.problem("customer", f"「{customer}」太短，至少两个字 (too short)")
        phone = cells.text("phone", max_len=40)
        if phone is not None:
            try:
                phone = phones.normalize(phone)
            except InvalidInput as exc:
                cells.problem("phone", exc.facts["reason"])
        code = cells.text("uscc", max_len=40)
        if code is not None:
            try:
                code = validate_uscc(code)
            except InvalidInput as exc:  # the column's title already says 统一社会信用代码
                cells.problem("uscc", exc.facts["reason"].removeprefix("统一社会信用代码"))
        raw = cells.text("claimed_at", required=True, max_len=40)
        claimed_at = self._when(raw) if raw is not None else None
        if raw is not None and claimed_at is None:
            cells.problem("claimed_at", f"「{raw}」不是日期，请写成 2026-11-18 (not a date)")
        partner = cells.code("partner") or ""
        if cells.problems:
            return ClaimRow(partner, customer or "", phone, code, claimed_at)
        self._names.append(customer)
        if len(self._names) % BATCH == 0 and len(self._names) >= POOL_FROM:
            self._send()
        return ClaimRow(partner, customer, phone, code, claimed_at, len(self._names) - 1)

    def _when(self, raw: str) -> datetime | None:
        """A date is the start of that day in the configured timezone; a time without offset is local.
        One object per distinct cell text (a file holds a few hundred dates, not a million)."""
        if raw not in self._times:
            self._times[raw] = self._read_time(raw)
        return self._times[raw]

    def _read_time(self, raw: str) -> datetime | None:
        tz = self.uow.settings.tz
        m = _DAY.fullmatch(raw)
        try:
            if m:
                return datetime.combine(date(*map(int, m.groups())), time(0), tzinfo=tz)
            at = datetime.fromisoformat(raw.replace("/", "-"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=tz)

    def _send(self) -> None:
        """Hands the names gathered so far, in whole batches, to the worker processes."""
        if self._pool is None:
            workers = max(1, min(4, (os.cpu_count() or 2)))
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_lower_priority)
        while self._sent < len(self._names):
            batch = self._names[self._sent:self._sent + BATCH]
            self._futures.append(self._pool.submit(split_names, batch))
            self._sent += len(batch)

    def _close(self) -> None:
        """Stops the worker processes: at once when the import failed, after their work when it did not."""
        if self._pool is not None:
            done = all(f.done() for f in self._futures)
            self._pool.shutdown(wait=done, cancel_futures=True)
            self._pool = None

    async def _parts(self, batch: int) -> list[tuple]:
        """The name parts and keys of the `batch`-th slice of names."""
        if self._pool is None:
            return split_names(self._names[batch * BATCH:(batch + 1) * BATCH])
        return await asyncio.wrap_future(self._futures[batch])

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Partners by code in one query (known, in the actor's scope); no date after now."""
        try:
            errors = await self._check(rows)
        except BaseException:
            self._close()
            raise
        if errors:
            self._close()
        return errors

    async def _check(self, rows: list[Row]) -> list[RowError]:
        codes = sorted({r.value.partner for r in rows})
        self.partners: dict[str, Partner] = {}
        for i in range(0, len(codes), BATCH):
            found = await self.uow.session.scalars(select(Partner).where(Partner.code.in_(codes[i:i + BATCH])))
            self.partners.update((p.code, p) for p in found)
        now = self.uow.now()
        future = {id(at) for at in self._times.values() if at is not None and at > now}
        errors: list[RowError] = []
        for row in rows:
            value: ClaimRow = row.value
            partner = self.partners.get(value.partner)
            problems = []
            if partner is None:
                problems.append(f"未知经销商「{value.partner}」(unknown partner)")
            elif not can_see_partner(self.actor, partner):
                problems.append(f"经销商 {partner.code} 不在您管辖的区域 (partner outside your regions)")
            if id(value.claimed_at) in future:
                problems.append(f"报备日期 {value.claimed_at.date()} 晚于今天 (in the future)")
            if problems:
                errors.append(RowError(row.line, "；".join(problems)))
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts the claims and their name keys a batch at a time; one audit entry for the import."""
        try:
            if self._pool is not None:
                self._send()
            return await self._write(rows)
        finally:
            self._close()

    async def _write(self, rows: list[Row]) -> ImportSummary:
        conn = await self.uow.session.connection()
        big_sqlite = conn.dialect.name == "sqlite" and len(rows) >= POOL_FROM
        if big_sqlite:
            cache = int((await conn.exec_driver_sql("PRAGMA cache_size")).scalar())
            await conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        try:
            rebuild = big_sqlite and len(rows) >= await _stored(conn)
            if rebuild:  # a table that more than doubles: build its indexes once, sorted, not row by row
                for index in INDEXES:
                    await conn.execute(DropIndex(index))
            ids, expired = await self._insert(conn, rows, sort=not rebuild)
            if rebuild:
                for index in INDEXES:
                    await conn.execute(CreateIndex(index))
        finally:
            if big_sqlite:
                await conn.exec_driver_sql(f"PRAGMA cache_size={cache}")
        if rows:
            self.audit(action="claim.import", entity="customer_claim", entity_id=f"{ids[0]}-{ids[-1]}", before=None,
                       after={"created": len(rows), "expired": expired, "ids": _ranges(ids)})
        await self.write_audits()
        return ImportSummary(kind=self.name, created=len(rows))

    async def _insert(self, conn, rows: list[Row], *, sort: bool) -> tuple[list[int], int]:
        """Claims and their name keys, a batch at a time, the next batch built while the last one is
        written; `sort` orders each batch's keys for the index being kept up. Returns ids, expired."""
        ids = await _reserve_ids(conn, len(rows))
        process = CustomerClaim.__table__.c.claimed_at.type._cached_bind_processor(conn.dialect) or (lambda v: v)
        now, protection = self.uow.now(), timedelta(days=self.uow.settings.app.claim_protection_days)
        times = {id(at): (process(at), process(at + protection), "approved" if at + protection > now else "expired")
                 for at in self._times.values() if at is not None}
        partner_ids = {code: p.id for code, p in self.partners.items()}
        user, created = self.actor.user_id, process(now)
        expired = 0
        provinces: dict[str, int] = {}
        writing: asyncio.Future | None = None
        for start in range(0, len(rows), BATCH):
            parts = await self._parts(start // BATCH)
            claims, keys = [], []
            for i, row in enumerate(rows[start:start + BATCH], start=start):
                value: ClaimRow = row.value
                (name_key, brand, region, industry), lookup = parts[value.seq - start]
                claimed, ends, status = times[id(value.claimed_at)]
                expired += status == "expired"
                claim_id = ids[i]
                claims.append((claim_id, partner_ids[value.partner], value.customer, name_key, brand, region, industry,
                               value.phone, value.uscc, status, claimed, ends, "", "", user, created))
                province = provinces.get(region)
                if province is None:
                    province = provinces[region] = claims_match.province_of(region)
                keys += [(k, province, claim_id) for k in lookup]
            if sort:
                keys.sort()
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(self._put(conn, claims, keys))
            await asyncio.sleep(0)  # the driver's thread starts on it while the next batch is built
        if writing is not None:
            await writing
        return ids, expired

    async def _put(self, conn, claims: list[tuple], keys: list[tuple]) -> None:
        await _bulk(conn, CustomerClaim.__tablename__, COLUMNS, claims)
        await _bulk(conn, ClaimKey.__tablename__, ("key", "province", "claim_id"), keys)
        self.advance(len(claims))


async def _stored(conn) -> int:
    """How many claims are stored, about (the largest id)."""
    return (await conn.execute(select(func.coalesce(func.max(CustomerClaim.id), 0)))).scalar()


async def _reserve_ids(conn, count: int) -> list[int]:
    """Ids for `count` new claims: the sequence's next values on PostgreSQL; on SQLite, after the
    largest (the import holds the write lock, BEGIN IMMEDIATE, so nobody else takes them)."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        seq = text("SELECT nextval(pg_get_serial_sequence('customer_claim', 'id')) FROM generate_series(1, :n)")
        return list((await conn.execute(seq, {"n": count})).scalars())
    top = await _stored(conn)
    return list(range(top + 1, top + count + 1))


async def _bulk(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain tuples through the driver's bulk path: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    marks = ", ".join("?" * len(columns))
    await conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _ranges(ids: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] → [[1, 3], [7, 7]]: which claims an import created, compactly."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out
