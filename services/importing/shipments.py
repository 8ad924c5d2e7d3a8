"""Import kind `shipments`: sell-in rows checked and written by `services.shipments`, so a row's
`ref` is idempotent with `/ship` and the HTTP API (a stored ref with the same content counts as
unchanged; with other content it is a bad row)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .. import shipments
from ..shipments import ShipmentIn, ShipmentPlan, ShipmentsRejected
from .kinds import Cells, Column, ImportFailed, ImportSummary, Row, RowError, TableImport, register

PARTNER = Column("partner", "经销商", ("经销商编码", "客户", "客户编码", "partner code"))
SKU = Column("sku", "商品", ("商品编码", "产品编码", "物料编码", "货号", "sku code"))
QTY = Column("qty", "数量", ("发货数量", "quantity"))
UNIT = Column("unit", "单位", ("计量单位", "uom"), required=False)


def read_qty(cells: Cells, key: str) -> Decimal | None:
    """A quantity as Decimal (`20`, `2.5`, `1,200`); whole base units are checked against the SKU later."""
    raw = cells.text(key, required=True, max_len=20)
    if raw is None:
        return None
    try:
        number = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        cells.problem(key, f"「{raw}」不是数字 (not a number)")
        return None
    return number


@register
class ShipmentImport(TableImport):
    """Shipments (发货): every row checked before any is written; a file is all rows or none."""

    name = "shipments"
    columns = (
        PARTNER, SKU, QTY, UNIT,
        Column("shipped_on", "发货日期", ("日期", "发货时间", "出库日期", "date", "ship date")),
        Column("ref", "单号", ("发货单号", "出库单号", "单据号", "单据编号", "reference"), required=False),
    )

    def parse(self, cells: Cells) -> ShipmentIn:
        """Reads one row; the unit may be empty (the SKU's base unit)."""
        qty = read_qty(cells, "qty")
        return ShipmentIn(partner=cells.code("partner") or "", sku=cells.code("sku") or "",
                          qty=qty if qty is not None else Decimal(0), unit=cells.text("unit", max_len=16),
                          shipped_on=cells.date("shipped_on", required=True), ref=cells.text("ref", max_len=64))

    async def check(self, rows: list[Row]) -> list[RowError]:
        """Checks every row with the service's rules: partner and scope, SKU, unit, date, refs."""
        self.plan: ShipmentPlan = await shipments.check_shipments(
            self.uow, actor=self.actor, rows=[r.value for r in rows], row_name=lambda i: f"第{rows[i].line}行")
        return [RowError(rows[e.index].line, e.error) for e in self.plan.errors]

    async def write(self, rows: list[Row]) -> ImportSummary:
        """Inserts the new shipments in bulk; rows whose ref is already stored count as unchanged."""
        try:
            results = await shipments.write_plan(self.uow, actor=self.actor, plan=self.plan, source="import")
        except ShipmentsRejected as exc:  # a concurrent writer took one of the refs meanwhile
            raise ImportFailed(kind=self.name, errors=[RowError(rows[e.index].line, e.error) for e in exc.errors])
        self.advance(len(results))
        created = sum(r.status == "created" for r in results)
        return ImportSummary(kind=self.name, created=created, unchanged=len(results) - created)
