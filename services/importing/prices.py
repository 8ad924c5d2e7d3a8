"""Import kind `prices`: price policy versions, `sku,guide_price,floor_price,tier,region,effective_from`
(yuan per base unit; blank tier or region = every one). Every row is a version written by
services/price_admin.py: a row whose scope and date already has the same prices is unchanged, so a
file imports again without effect; other prices for a stored scope and date are a newer version."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import Sku

from ..price_admin import Network, PolicyIn, price_problem, write_versions
from .kinds import Cells, Column, ImportSummary, Row, RowError, TableImport, register
from .partners import normalize_region


@register
class PriceImport(TableImport):
    """Price policies: all rows or none; unknown SKUs, tiers or regions and floor above guide are named."""

    name = "prices"
    key_column = "sku"
    columns = (
        Column("sku", "商品", ("商品编码", "编码", "产品编码", "货号", "sku code")),
        Column("guide_price", "指导价", ("指导价格", "指导单价", "guide")),
        Column("floor_price", "最低价", ("底价", "最低限价", "限价", "floor")),
        Column("tier", "等级", ("级别", "经销商等级", "partner tier"), required=False),
        Column("region", "区域", ("大区", "地区", "销售区域"), required=False),
        Column("effective_from", "生效日期", ("生效日", "起始日期", "开始日期", "执行日期", "effective date", "from")),
    )

    def parse(self, cells: Cells) -> PolicyIn | None:
        """Reads one row; the prices are checked against each other here, the names in `check`."""
        sku = cells.code("sku")
        guide, floor = cells.fen("guide_price", required=True), cells.fen("floor_price", required=True)
        problem = price_problem(guide, floor)
        if problem:
            cells.problem("floor_price" if "最低价" in problem else "guide_price", f"：{problem}")
        tier = cells.text("tier", max_len=16) or ""
        region = normalize_region(cells.text("region", max_len=100) or "")
        when = cells.date("effective_from", required=True)
        if cells.problems:
            return None
        return PolicyIn(sku=sku, guide_fen=guide, floor_fen=floor, effective_from=when, tier=tier, region=region)

    def key(self, value: PolicyIn | None) -> str | None:
        if value is None:
            return None
        return f"{value.sku} {value.tier or '*'} {value.region or '*'} {value.effective_from.isoformat()}"

    async def check(self, rows: list[Row]) -> list[RowError]:
        """SKUs must exist; a tier or region must have partners (when there are any)."""
        codes = sorted({c for r in rows for c in (r.value.sku, r.value.sku.upper())})
        found = list(await self.uow.session.scalars(select(Sku).where(Sku.code.in_(codes)))) if codes else []
        self.skus = {s.code: s for s in found}
        folded = {s.code.casefold(): s for s in found}
        network = await Network.load(self.uow)
        errors, fixed = [], []
        for r in rows:
            v = r.value
            sku = self.skus.get(v.sku) or folded.get(v.sku.casefold())
            tier, tier_problem = network.tier(v.tier)
            problems = [p for p in (None if sku else f"未知商品「{v.sku}」(unknown SKU)", tier_problem,
                                    network.region(v.region)) if p]
            if problems:
                errors.append(RowError(r.line, "；".join(problems)))
            else:
                self.skus[sku.code] = sku
                fixed.append(Row(r.line, PolicyIn(sku.code, v.guide_fen, v.floor_fen, v.effective_from, tier, v.region)))
        self.rows = fixed
        return errors

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Writes each new version with its audit row."""
        results = await write_versions(self.uow, actor=self.actor, rows=[r.value for r in self.rows], skus=self.skus)
        self.advance(len(results))
        counts = {s: sum(1 for _, st in results if st == s) for s in ("created", "updated", "unchanged")}
        return ImportSummary(kind=self.name, **counts)
