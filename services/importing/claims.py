"""Import kind `claims` (客户报备) for a network moving over: `partner,customer,phone,uscc,claimed_at`.

All rows or none: an unknown partner, an invalid phone or USCC (with the reason) or a date in the
future names its row. Imported claims are approved with `[app] claim_protection_days` of protection
from `claimed_at` (already expired ones are stored as expired), with the same name keys that
`services.claims_match` looks up. Conflicts within the file or with stored claims are not refused:
the history comes over as it was. A row already imported (same partner, customer, phone, USCC and
time) is unchanged, so a file imported twice is written once. Rows are written in bulk chunks with
one audit entry per import (the id range), so a million rows load in under a minute on SQLite.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import ClaimKey, CustomerClaim, Partner

from .. import claims_match, phones
from ..actors import can_see_partner
from ..errors import InvalidInput
from ..uscc import validate as validate_uscc
from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register

CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One parsed row; `parts` are the name columns of claims_match.claim_keys, `lookup` its name keys."""

    partner: str
    customer: str
    phone: str | None
    uscc: str | None
    claimed_at: datetime | None
    parts: tuple[str, str, str, str] = ("", "", "", "")
    lookup: tuple[int, ...] = ()


PARTS = ("name_key", "brand_key", "region_key", "industry_key")


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
        keys = claims_match.claim_keys(customer, phone, code)
        return ClaimRow(partner, customer, phone, code, claimed_at, tuple(keys[k] for k in PARTS), keys["lookup"])

    def _when(self, raw: str) -> datetime | None:
        """A date is the start of that day in the configured timezone; a time without offset is local."""
        tz = self.uow.settings.tz
        text = raw.replace("/", "-").replace(".", "-")
        for form in ("%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"):
            try:
                return datetime.combine(datetime.strptime(text, form).date(), time(0), tzinfo=tz)
            except ValueError:
                pass
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=tz)

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Partners by code in one query (known, in the actor's scope); no date after now."""
        codes = sorted({r.value.partner for r in rows})
        self.partners: dict[str, Partner] = {}
        for i in range(0, len(codes), CHUNK):
            found = await self.uow.session.scalars(select(Partner).where(Partner.code.in_(codes[i:i + CHUNK])))
            self.partners.update((p.code, p) for p in found)
        now = self.uow.now()
        errors: list[RowError] = []
        for row in rows:
            value: ClaimRow = row.value
            partner = self.partners.get(value.partner)
            problems = []
            if partner is None:
                problems.append(f"未知经销商「{value.partner}」(unknown partner)")
            elif not can_see_partner(self.actor, partner):
                problems.append(f"经销商 {partner.code} 不在您管辖的区域 (partner outside your regions)")
            if value.claimed_at is not None and value.claimed_at > now:
                problems.append(f"报备日期 {value.claimed_at.date()} 晚于今天 (in the future)")
            if problems:
                errors.append(RowError(row.line, "；".join(problems)))
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts the claims and their name keys chunk by chunk; one audit entry for the import."""
        conn = await self.uow.session.connection()
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = (dialect.insert(CustomerClaim).on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(CustomerClaim.id, CustomerClaim.idempotency_key))
        now, protection = self.uow.now(), timedelta(days=self.uow.settings.app.claim_protection_days)
        expired = 0
        ids: list[int] = []
        for start in range(0, len(rows), CHUNK):
            records, lookup_of = [], {}
            for row in rows[start:start + CHUNK]:
                value: ClaimRow = row.value
                key = _idempotency_key(value)
                if key in lookup_of:
                    continue
                lookup_of[key] = value.lookup
                expires = value.claimed_at + protection
                records.append({"partner_id": self.partners[value.partner].id, "customer": value.customer,
                                **dict(zip(PARTS, value.parts)), "phone": value.phone, "uscc": value.uscc,
                                "status": "approved" if expires > now else "expired", "claimed_at": value.claimed_at,
                                "expires_at": expires, "conflict_reason": "", "decision_reason": "",
                                "idempotency_key": key, "created_by_id": self.actor.user_id, "created_at": now})
            inserted = dict((await conn.execute(stmt, records)).all())
            index = [{"key": k, "claim_id": claim_id} for claim_id, key in inserted.items() for k in lookup_of[key]]
            if index:
                await conn.execute(insert(ClaimKey), index)
            fresh = set(inserted.values())
            expired += sum(r["status"] == "expired" for r in records if r["idempotency_key"] in fresh)
            ids += inserted
            self.advance(min(CHUNK, len(rows) - start))
        if ids:
            self.audit(action="claim.import", entity="customer_claim", entity_id=f"{min(ids)}-{max(ids)}",
                       before=None, after={"created": len(ids), "expired": expired, "ids": _ranges(sorted(ids))})
        await self.write_audits()
        return ImportSummary(kind=self.name, created=len(ids), unchanged=len(rows) - len(ids))


def _ranges(ids: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] → [[1, 3], [7, 7]]: which claims an import created, compactly."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _idempotency_key(value: ClaimRow) -> str:
    """The same partner, customer, phone, USCC and time give the same key: a file imported twice is written once."""
    body = "|".join([value.partner, value.parts[0], value.phone or "", value.uscc or "",
                     value.claimed_at.isoformat()])
    return "import:" + hashlib.sha1(body.encode()).hexdigest()
