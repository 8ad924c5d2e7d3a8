"""Import kind `rebate_schemes` (DESIGN §8.6):
`code,name,period_start,period_end,basis,mode,sku_group,tiers,partner_tiers,cap`.

- `basis` amount|qty (金额/销售额, 数量/销量), `mode` retroactive|marginal (全额累进, 超额累进/分段累进).
- `tiers` like `0:0%;50000:2%;150000:3.5%`: thresholds in yuan (amount basis) or base units (qty
  basis), strictly increasing; rates in percent with at most two decimals, stored exactly as basis
  points (3.5 % → 350, 2.25 % → 225). `；`, `：`, `％` and `50,000` are accepted too.
- `partner_tiers` like `A;B` (empty: every tier); `cap` yuan or empty (no cap); `sku_group` a group
  some SKU has, or empty (every SKU). These three columns are optional: a file without one keeps
  what is stored (a new scheme: every tier, every SKU, no cap).

All rows or none, every bad row named. A code already stored is updated; every create and
change is audited with what it was before.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from storage.models import RebateScheme, Sku

from .. import rebate_math as m
from ..errors import InvalidInput
from ..money import yuan_to_fen
from .kinds import MAX_INT, Cells, Column, ImportSummary, Row, RowError, TableImport, fold, register

FIELDS = ("name", "period_start", "period_end", "basis", "mode", "sku_group", "tiers", "partner_tiers", "cap_fen")
OPTIONAL = ("sku_group", "partner_tiers", "cap_fen")       # a file without the column keeps what is stored
DEFAULTS = {"sku_group": "", "partner_tiers": "", "cap_fen": None}   # every SKU, every tier, no cap
BASIS_WORDS = {"amount": "amount", "金额": "amount", "销售额": "amount", "按金额": "amount",
               "qty": "qty", "quantity": "qty", "数量": "qty", "销量": "qty", "按数量": "qty"}
MODE_WORDS = {"retroactive": "retroactive", "全额": "retroactive", "全额累进": "retroactive", "追溯": "retroactive",
              "marginal": "marginal", "超额": "marginal", "超额累进": "marginal", "分段": "marginal",
              "分段累进": "marginal"}
_TIER_SPLIT = re.compile(r"[;；]")
_LIST_SPLIT = re.compile(r"[;；,，、\s]+")


@dataclass(frozen=True)
class SchemeRow:
    code: str
    name: str
    period_start: date | None
    period_end: date | None
    basis: str | None
    mode: str | None
    tiers: list[list[int]]
    optional: dict  # sku_group, partner_tiers, cap_fen: only those whose column the file has


def parse_tiers(text: str, basis: str | None) -> list[list[int]]:
    """`0:0%;50000:2%` → [[0, 0], [5000000, 200]] (fen on an amount basis); ValueError naming the problem."""
    tiers: list[list[int]] = []
    for part in (p.strip() for p in _TIER_SPLIT.split(fold(text))):
        if not part:
            continue
        threshold, sep, rate = part.partition(":")
        if not sep:
            raise ValueError(f"「{part}」应写成 门槛:返点，如 50000:2%")
        threshold = threshold.strip()
        if basis == m.QTY:
            if not re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", threshold):
                raise ValueError(f"门槛「{threshold}」须为整数数量（基本单位）")
            value = int(threshold.replace(",", ""))
        else:
            try:
                value = yuan_to_fen(threshold)
            except InvalidInput as exc:
                raise ValueError(f"门槛「{threshold}」不是金额：{exc.facts['reason']}") from None
        if value > MAX_INT:
            raise ValueError(f"门槛「{threshold}」过大")
        tiers.append([value, m.parse_rate(rate)])
    if not tiers:
        raise ValueError("至少要有一档，如 0:0%;50000:2%")
    for (before, _), (after, _) in zip(tiers, tiers[1:]):
        if after <= before:
            raise ValueError(f"门槛须逐档递增：{_show(after, basis)} 不大于 {_show(before, basis)}")
    return tiers


def _show(value: int, basis: str | None) -> str:
    return f"{value:,}" if basis == m.QTY else m.yuan(value)


def split_partner_tiers(text: str | None) -> str:
    """`A；B、a` → `A;B` (order kept, repeats dropped); empty for every tier."""
    seen: dict[str, str] = {}
    for part in _LIST_SPLIT.split(text or ""):
        if part:
            seen.setdefault(part.casefold(), part)
    return ";".join(seen.values())


@register
class RebateSchemeImport(TableImport):
    """Rebate schemes by code: new codes created, known ones updated where the file differs."""

    name = "rebate_schemes"
    key_column = "code"
    columns = (
        Column("code", "编码", ("方案编码", "返利编码", "方案代码", "scheme code", "scheme")),
        Column("name", "名称", ("方案名称", "返利名称", "scheme name")),
        Column("period_start", "开始日期", ("起始日期", "开始", "生效日期", "start", "period start")),
        Column("period_end", "结束日期", ("截止日期", "结束", "end", "period end")),
        Column("basis", "基准", ("返利基准", "计算基准", "口径", "考核口径")),
        Column("mode", "方式", ("计算方式", "累进方式", "返利方式")),
        Column("sku_group", "商品分组", ("分组", "产品线", "品类", "group", "sku group"), required=False),
        Column("tiers", "阶梯", ("档位", "返点阶梯", "阶梯返点", "返点")),
        Column("partner_tiers", "适用等级", ("经销商等级", "等级", "partner tier"), required=False),
        Column("cap", "封顶", ("封顶金额", "上限", "返利上限"), required=False),
    )

    def parse(self, cells: Cells) -> SchemeRow:
        """Reads one scheme; a bad cell is named with its column."""
        basis = cells.choice("basis", BASIS_WORDS, required=True)
        start, end = cells.date("period_start", required=True), cells.date("period_end", required=True)
        if start and end and end < start:
            cells.problem("period_end", f"「{end}」早于开始日期 {start} (ends before it starts)")
        tiers: list[list[int]] = []
        raw = cells.text("tiers", required=True, max_len=2000)
        if raw is not None and basis is not None:
            try:
                tiers = parse_tiers(raw, basis)
            except ValueError as exc:
                cells.problem("tiers", f"有误：{exc}")
        optional: dict = {}
        if cells.has("sku_group"):
            optional["sku_group"] = cells.text("sku_group", max_len=50) or ""
        if cells.has("partner_tiers"):
            optional["partner_tiers"] = split_partner_tiers(cells.text("partner_tiers", max_len=100))
        if cells.has("cap"):
            optional["cap_fen"] = cells.fen("cap")
            if optional["cap_fen"] == 0:
                cells.problem("cap", "须大于 0（不封顶请留空）")
        return SchemeRow(code=cells.code("code") or "", name=cells.text("name", required=True) or "",
                         period_start=start, period_end=end, basis=basis,
                         mode=cells.choice("mode", MODE_WORDS, required=True), tiers=tiers, optional=optional)

    def key(self, value: SchemeRow) -> str:
        """Scheme codes are unique within a file."""
        return value.code

    async def check(self, rows: list[Row]) -> list[RowError]:
        """A SKU group must be one some SKU has (a typo would count nothing); loads stored schemes."""
        session = self.uow.session
        groups = {g for g in await session.scalars(select(Sku.group_name).distinct()) if g}
        self.existing = {s.code.casefold(): s for s in await session.scalars(select(RebateScheme))}
        errors = []
        for row in rows:
            group = row.value.optional.get("sku_group")
            if group and group not in groups:
                known = "、".join(sorted(groups)) or "（还没有商品分组）"
                errors.append(RowError(row.line, f"商品分组(sku_group)「{group}」没有任何商品；现有分组：{known}"))
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Creates or updates each scheme and audits it."""
        created = updated = 0
        for row in rows:
            value: SchemeRow = row.value
            scheme = self.existing.get(value.code.casefold())
            kept = {f: getattr(scheme, f) for f in OPTIONAL} if scheme is not None else dict(DEFAULTS)
            fields = {"name": value.name, "period_start": value.period_start, "period_end": value.period_end,
                      "basis": value.basis, "mode": value.mode, "tiers": value.tiers, **kept, **value.optional}
            if scheme is None:
                scheme = RebateScheme(code=value.code, created_at=self.uow.now(), **fields)
                self.uow.add(scheme)
                await self.uow.flush()
                self.audit(action="rebate_scheme.create", entity="rebate_scheme", entity_id=scheme.id,
                           before=None, after=_plain({"code": value.code, **fields}))
                created += 1
            else:
                before = {f: getattr(scheme, f) for f in FIELDS if getattr(scheme, f) != fields[f]}
                if before:
                    for f in before:
                        setattr(scheme, f, fields[f])
                    self.audit(action="rebate_scheme.update", entity="rebate_scheme", entity_id=scheme.id,
                               before=_plain({"code": scheme.code, **before}),
                               after=_plain({"code": scheme.code, **{f: fields[f] for f in before}}))
                    updated += 1
            self.advance()
        await self.uow.flush()
        await self.write_audits()
        return ImportSummary(kind=self.name, created=created, updated=updated,
                             unchanged=len(rows) - created - updated)


def _plain(values: dict) -> dict:
    """JSON-ready audit values (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
