"""Export kind `rebates` (DESIGN §8.6): one row per partner in scope × scheme that applies to its tier.

Columns `partner,scheme,total,tier_rate,payout,next_threshold,gap,next_payout,projected_total,
projected_payout`, as of the export's `--to` date (default: today, `[app] timezone`):

- schemes: those in force on that date; with `--from` too, every scheme whose period overlaps
  `--from … --to` (a whole year of quarterly schemes at once), each as of `--to` or its own end;
- `total`, `next_threshold`, `gap`, `projected_total` in yuan on an amount basis, in base units on
  a quantity basis; `payout`, `next_payout`, `projected_payout` in yuan; `tier_rate` the rate of the
  tier reached as a fraction (0.035 = 3.5 %; percent-formatted in .xlsx), 0 below the first tier;
- `next_threshold`, `gap`, `next_payout` are empty at the top tier (and `next_payout` for a
  quantity scheme with nothing sold: no price to go by);
- `projected_*` run the total so far on at its daily average to the period's end; for a period
  already over they equal the final figures.

The same arithmetic as `返利` (services/rebates.py, services/rebate_math.py); one grouped query.
"""
from __future__ import annotations

from decimal import Decimal
from typing import AsyncIterator

from sqlalchemy import select

from storage.models import Partner
from storage.uow import UnitOfWork

from . import rebate_math as m
from . import rebates
from .actors import scope_partners
from .exports import ExportQuery, register

COLUMNS = ("partner", "scheme", "total", "tier_rate", "payout", "next_threshold", "gap", "next_payout",
           "projected_total", "projected_payout")


def _money(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


def _measure(scheme: rebates.SchemeInfo, value: int | None):
    """Yuan on an amount basis, base units on a quantity basis."""
    if value is None:
        return None
    return _money(value) if scheme.basis == m.AMOUNT else value


def row(partner_code: str, st: rebates.SchemeStanding) -> tuple:
    """One export row for a partner's standing in a scheme."""
    s, now = st.scheme, st.now
    return (partner_code, s.code, _measure(s, now.total), Decimal(now.rate_bp) / m.BP, _money(now.payout.fen),
            _measure(s, now.next_tier.threshold if now.next_tier else None), _measure(s, now.gap),
            _money(now.next_payout.fen if now.next_payout else None), _measure(s, st.projected.total),
            _money(st.projected.payout.fen))


@register("rebates", columns=COLUMNS, number_formats={"tier_rate": "0.00%"})
async def rebate_rows(uow: UnitOfWork, query: ExportQuery) -> AsyncIterator[tuple]:
    """Every partner in scope (by code) × each scheme applying to its tier (by start, code)."""
    as_of = query.date_to or rebates.local_today(uow)
    first = query.date_from or as_of
    schemes = await rebates.load_schemes(uow, overlapping=(first, as_of))
    if not schemes:
        return
    partners_in_scope = scope_partners(select(Partner.id).where(Partner.active.is_(True)), query.actor)
    totals = await rebates.counted_totals(uow, partners=partners_in_scope, schemes=schemes, as_of=as_of)
    partners = (await uow.session.execute(
        scope_partners(select(Partner.id, Partner.code, Partner.tier).where(Partner.active.is_(True)), query.actor)
        .order_by(Partner.code))).all()
    for partner_id, code, tier in partners:
        for scheme in schemes:
            if scheme.applies_to(tier):
                amount, qty = totals.get((partner_id, scheme.id), (0, 0))
                yield row(code, rebates.stand(scheme, amount_fen=amount, qty=qty, as_of=as_of))
