"""Import kind `skus`: the catalog, upserted by code, prices per base unit in yuan."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from storage.models import Sku, SkuAlias

from ..money import fen_to_yuan_str
from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register

FIELDS = ("name", "unit", "pack_unit", "pack_size", "guide_price_fen", "floor_price_fen", "safety_stock",
          "group_name")
ALIAS_SPLIT = re.compile(r"[;；、]")
MAX_ALIAS = 100


@dataclass(frozen=True)
class SkuRow:
    """One parsed row: the code, the Sku fields the file gives, and its aliases (None: no such column)."""

    code: str
    fields: dict[str, Any]
    aliases: tuple[str, ...] | None


def _split_aliases(raw: str | None) -> tuple[str, ...]:
    """`a;b；c、d` → ('a', 'b', 'c', 'd'), blanks and repeats (ignoring case) dropped."""
    out: dict[str, str] = {}
    for part in ALIAS_SPLIT.split(raw or ""):
        part = part.strip()
        if part:
            out.setdefault(part.casefold(), part)
    return tuple(out.values())


@register
class SkuImport(TableImport):
    """SKUs by code: new codes are created, known ones updated where the file differs."""

    name = "skus"
    key_column = "code"
    columns = (
        Column("code", "编码", ("代码", "SKU编码", "商品编码", "产品编码", "货号", "sku", "sku code")),
        Column("name", "名称", ("品名", "商品名称", "产品名称", "sku name")),
        Column("aliases", "别名", ("简称", "俗称", "alias"), required=False),
        Column("unit", "单位", ("基本单位", "最小单位", "base unit")),
        Column("pack_unit", "包装单位", ("箱单位", "大单位"), required=False),
        Column("pack_size", "箱规", ("包装规格", "每箱数量", "装箱数"), required=False),
        Column("guide_price", "指导价", ("指导价格", "指导单价")),
        Column("floor_price", "底价", ("最低价", "最低限价", "限价")),
        Column("safety_stock", "安全库存", required=False),
        Column("group", "分组", ("品类", "类别", "产品线"), required=False),
    )

    def parse(self, cells: Cells) -> SkuRow:
        """Reads one SKU row; optional columns absent from the file are left out of `fields`."""
        code = cells.code("code")
        fields: dict[str, Any] = {
            "name": cells.text("name", required=True),
            "unit": cells.text("unit", required=True, max_len=8),
            "guide_price_fen": cells.fen("guide_price", required=True),
            "floor_price_fen": cells.fen("floor_price", required=True),
        }
        if cells.has("pack_unit"):
            fields["pack_unit"] = cells.text("pack_unit", max_len=8) or fields["unit"]
        if cells.has("pack_size"):
            fields["pack_size"] = cells.integer("pack_size", minimum=1) or 1
        if cells.has("safety_stock"):
            fields["safety_stock"] = cells.integer("safety_stock", minimum=0) or 0
        if cells.has("group"):
            fields["group_name"] = cells.text("group", max_len=50) or ""
        aliases = None
        if cells.has("aliases"):
            aliases = _split_aliases(cells.text("aliases", max_len=4000))
            for alias in aliases:
                if len(alias) > MAX_ALIAS:
                    cells.problem("aliases", f"「{alias[:20]}…」太长，每个别名最多 {MAX_ALIAS} 个字符")
        return SkuRow(code=code or "", fields=fields, aliases=aliases)

    def key(self, value: SkuRow) -> str:
        """SKU codes are unique within a file."""
        return value.code

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Loads the catalog once; checks prices, pack units and that every alias names one SKU."""
        session = self.uow.session
        cols = [getattr(Sku, f) for f in FIELDS]
        self.existing = {r.code: r._asdict() for r in await session.execute(select(Sku.id, Sku.code, *cols))}
        code_of = {r["id"]: code for code, r in self.existing.items()}
        self.old_aliases: dict[str, list[tuple[int, str]]] = {}
        for alias_id, sku_id, alias in await session.execute(select(SkuAlias.id, SkuAlias.sku_id, SkuAlias.alias)):
            self.old_aliases.setdefault(code_of[sku_id], []).append((alias_id, alias))

        replaced = {row.value.code for row in rows if row.value.aliases is not None}
        owner: dict[str, tuple[str, int | None]] = {
            alias.casefold(): (code, None)
            for code, pairs in self.old_aliases.items() if code not in replaced for _, alias in pairs}
        codes = {c.casefold(): c for c in self.existing} | {row.value.code.casefold(): row.value.code for row in rows}
        self.merged: dict[str, dict[str, Any]] = {}
        errors: list[RowError] = []
        for row in rows:
            sku: SkuRow = row.value
            merged = self._merge(sku)
            self.merged[sku.code] = merged
            problems = _consistency(merged)
            for alias in sku.aliases or ():
                held = owner.setdefault(alias.casefold(), (sku.code, row.line))
                other = codes.get(alias.casefold())
                if held[0] != sku.code:
                    where = f"第{held[1]}行的 " if held[1] else ""
                    problems.append(f"别名「{alias}」已属于 {where}{held[0]} (alias already used)")
                elif other is not None and other != sku.code:
                    problems.append(f"别名「{alias}」与另一个 SKU 的编码 {other} 相同 (alias equals a code)")
            if problems:
                errors.append(RowError(row.line, "；".join(problems)))
        return errors

    def _merge(self, sku: SkuRow) -> dict[str, Any]:
        """What the SKU will look like: stored (or default) values overlaid with the file's."""
        old = self.existing.get(sku.code)
        base = {f: old[f] for f in FIELDS} if old else {"pack_unit": None, "pack_size": 1, "safety_stock": 0,
                                                        "group_name": ""}
        merged = base | sku.fields
        if merged["pack_unit"] is None:
            merged["pack_unit"] = merged["unit"]
        return merged

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts new SKUs and updates changed ones in bulk; audits every change."""
        session, now = self.uow.session, self.uow.now()
        creates, updates, audits = [], [], []
        drop_ids: list[int] = []
        new_aliases: dict[str, tuple[str, ...]] = {}
        unchanged = 0
        for row in rows:
            sku: SkuRow = row.value
            merged, old = self.merged[sku.code], self.existing.get(sku.code)
            old_aliases = [a for _, a in self.old_aliases.get(sku.code, [])]
            if old is None:
                creates.append({"code": sku.code, **merged, "created_at": now})
                new_aliases[sku.code] = sku.aliases or ()
                audits.append(("sku.create", sku.code, None, {"code": sku.code, **{f: merged[f] for f in FIELDS},
                                                              "aliases": list(sku.aliases or ())}))
                self.advance()
                continue
            before = {f: old[f] for f in FIELDS if old[f] != merged[f]}
            after = {f: merged[f] for f in before}
            if sku.aliases is not None and sorted(sku.aliases) != sorted(old_aliases):
                before["aliases"], after["aliases"] = old_aliases, list(sku.aliases)
                drop_ids += [alias_id for alias_id, _ in self.old_aliases.get(sku.code, [])]
                new_aliases[sku.code] = sku.aliases
            if before:
                updates.append({"id": old["id"], **merged})
                audits.append(("sku.update", sku.code, {"code": sku.code, **before}, {"code": sku.code, **after}))
            else:
                unchanged += 1
            self.advance()

        ids = {code: r["id"] for code, r in self.existing.items()}
        if creates:
            result = await session.execute(insert(Sku).returning(Sku.id, Sku.code), creates)
            ids.update({code: sku_id for sku_id, code in result})
        if updates:
            await session.execute(update(Sku), updates)
        for i in range(0, len(drop_ids), 500):
            await session.execute(delete(SkuAlias).where(SkuAlias.id.in_(drop_ids[i:i + 500]))
                                  .execution_options(synchronize_session=False))
        alias_rows = [{"sku_id": ids[code], "alias": a} for code, aliases in new_aliases.items() for a in aliases]
        if alias_rows:
            await session.execute(insert(SkuAlias), alias_rows)
        for action, code, before, after in audits:
            self.audit(action=action, entity="sku", entity_id=ids[code], before=before, after=after)
        await self.write_audits()
        return ImportSummary(kind=self.name, created=len(creates), updated=len(updates), unchanged=unchanged)


def _consistency(merged: dict[str, Any]) -> list[str]:
    """Problems between fields of one SKU: floor above guide, a pack that is its own unit."""
    problems = []
    guide, floor = merged["guide_price_fen"], merged["floor_price_fen"]
    if guide is not None and floor is not None and floor > guide:
        problems.append(f"底价(floor_price) {fen_to_yuan_str(floor)} 高于指导价(guide_price) "
                        f"{fen_to_yuan_str(guide)} (floor above guide)")
    if merged["pack_unit"] == merged["unit"] and merged["pack_size"] != 1:
        problems.append(f"包装单位与单位都是「{merged['unit']}」时箱规(pack_size)须为 1；"
                        f"请填写包装单位，如「箱」(pack_unit needed)")
    return problems
