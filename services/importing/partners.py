"""Import kind `partners`: the network, upserted by code, regions like `江苏-南京`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from storage.models import Partner

from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register

FIELDS = ("name", "tier", "region")
_DASHES = re.compile(r"\s*[-－—–‐]+\s*|\s+")
_REGION = re.compile(r"[^\s\-]+(?:-[^\s\-]+)*")


@dataclass(frozen=True)
class PartnerRow:
    """One parsed row; `parent` is a code, '' for none, or None when the file has no parent column."""

    code: str
    fields: dict[str, Any]
    parent: str | None


def normalize_region(text: str) -> str:
    """`江苏 — 南京` or `江苏 南京` → `江苏-南京`: segments joined by one ASCII dash."""
    return _DASHES.sub("-", text.strip())


@register
class PartnerImport(TableImport):
    """Partners by code; a parent must be in the file or already stored, and no cycles."""

    name = "partners"
    key_column = "code"
    columns = (
        Column("code", "编码", ("经销商编码", "客户编码", "代码", "partner code")),
        Column("name", "名称", ("经销商名称", "客户名称", "公司名称", "partner name")),
        Column("tier", "等级", ("级别", "经销商等级", "partner tier"), required=False),
        Column("region", "区域", ("大区", "地区", "销售区域")),
        Column("parent", "上级", ("上级编码", "上级经销商", "parent code"), required=False),
    )

    def parse(self, cells: Cells) -> PartnerRow:
        """Reads one partner row; optional columns absent from the file are left out."""
        code = cells.code("code") or ""
        fields: dict[str, Any] = {"name": cells.text("name", required=True)}
        if cells.has("tier"):
            fields["tier"] = cells.text("tier", max_len=16) or ""
        region = cells.text("region", required=True, max_len=100)
        if region is not None:
            region = normalize_region(region)
            if not _REGION.fullmatch(region):
                cells.problem("region", f"「{region}」格式不对，应形如 江苏-南京 (like 江苏-南京)")
            fields["region"] = region
        parent = None
        if cells.has("parent"):
            parent = cells.code("parent", required=False) or ""
            if parent and parent.casefold() == code.casefold():
                cells.problem("parent", "不能是自己 (a partner cannot be its own parent)")
        return PartnerRow(code=code, fields=fields, parent=parent)

    def key(self, value: PartnerRow) -> str:
        """Partner codes are unique within a file."""
        return value.code

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Loads the network once; every parent must exist and the parent chain must not loop."""
        session = self.uow.session
        result = await session.execute(select(Partner.id, Partner.code, Partner.parent_id, *[
            getattr(Partner, f) for f in FIELDS]))
        self.existing = {r.code: r._asdict() for r in result}
        code_of = {r["id"]: code for code, r in self.existing.items()}
        parent_of = {code: code_of.get(r["parent_id"]) for code, r in self.existing.items()}
        self.old_parent = dict(parent_of)
        in_file = {row.value.code: row.line for row in rows}
        errors: list[RowError] = []
        for row in rows:
            p: PartnerRow = row.value
            if p.parent is None:
                parent_of.setdefault(p.code, None)
                continue
            parent_of[p.code] = p.parent or None
            if p.parent and p.parent not in in_file and p.parent not in self.existing:
                bad = p.parent.casefold() in self.failed_keys
                why = "所在的行有错误 (its row is bad)" if bad else "不存在 (unknown partner)"
                errors.append(RowError(row.line, f"上级(parent)「{p.parent}」{why}"))
        for row in rows:
            if _loops(row.value.code, parent_of):
                errors.append(RowError(row.line, f"上级关系成环：{_chain(row.value.code, parent_of)} (parent loop)"))
        self.parent_of = parent_of
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts new partners, then updates changed ones and late parents, in bulk; audits every change."""
        session, now = self.uow.session, self.uow.now()
        ids = {code: r["id"] for code, r in self.existing.items()}
        creates, changes = [], []
        for row in rows:
            p: PartnerRow = row.value
            old = self.existing.get(p.code)
            merged = ({f: old[f] for f in FIELDS} if old else {"tier": ""}) | p.fields
            merged["parent"] = self.parent_of.get(p.code)
            if old is None:
                creates.append({"code": p.code, **{f: merged[f] for f in FIELDS}, "created_at": now,
                                "parent_id": ids.get(merged["parent"])})
                changes.append((p.code, merged, None))
            else:
                was = {f: old[f] for f in FIELDS} | {"parent": self.old_parent.get(p.code)}
                before = {k: v for k, v in was.items() if merged[k] != v}
                if before:
                    changes.append((p.code, merged, before))
            self.advance()

        if creates:
            result = await session.execute(insert(Partner).returning(Partner.id, Partner.code), creates)
            ids.update({code: partner_id for partner_id, code in result})
        updates = []
        for code, merged, before in changes:
            parent = merged["parent"]
            if before is not None or (parent and parent not in self.existing):
                updates.append({"id": ids[code], **{f: merged[f] for f in FIELDS},
                                "parent_id": ids[parent] if parent else None})
            after = {k: merged[k] for k in before} if before is not None else merged
            self.audit(action="partner.update" if before else "partner.create", entity="partner",
                       entity_id=ids[code], before=before and {"code": code, **before}, after={"code": code, **after})
        if updates:
            await session.execute(update(Partner), updates)
        await self.write_audits()
        updated = len(changes) - len(creates)
        return ImportSummary(kind=self.name, created=len(creates), updated=updated,
                             unchanged=len(rows) - len(creates) - updated)


def _loops(code: str, parent_of: dict[str, str | None]) -> bool:
    """Whether following parents from `code` comes back to `code`."""
    seen, cur = set(), parent_of.get(code)
    while cur is not None and cur not in seen:
        if cur == code:
            return True
        seen.add(cur)
        cur = parent_of.get(cur)
    return False


def _chain(code: str, parent_of: dict[str, str | None]) -> str:
    """`P1 → P2 → P1` for the message."""
    chain, cur = [code], parent_of.get(code)
    while cur is not None and cur != code and len(chain) < 20:
        chain.append(cur)
        cur = parent_of.get(cur)
    return " → ".join(chain + [code])
