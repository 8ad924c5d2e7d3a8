"""Violations (乱价 / 窜货): what a confirmed sale broke, and whether a sale counts for rebates.

A sale counts for rebates iff its status is `confirmed` and no Violation of it is `open`,
`appealed` or `upheld` (voided and cleared ones do not block): `counting_sales_clause()`.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, not_, select

from storage.models import Sale, Violation

BLOCKING = ("open", "appealed", "upheld")   # a sale with such a violation does not count for rebates
STATUSES = ("open", "appealed", "cleared", "upheld", "voided")


def blocks_rebate(sale_id_col=Sale.id) -> ColumnElement[bool]:
    """True where the sale in `sale_id_col` has a violation that keeps it out of rebates."""
    return exists(select(Violation.id).where(Violation.sale_id == sale_id_col,
                                             Violation.status.in_(BLOCKING)).correlate_except(Violation))


def counting_sales_clause(sale=Sale) -> ColumnElement[bool]:
    """The WHERE clause for sales that count for rebates: confirmed, and not blocked by a violation.
    Pass an aliased Sale when the query selects from an alias."""
    return and_(sale.status == "confirmed", not_(blocks_rebate(sale.id)))
