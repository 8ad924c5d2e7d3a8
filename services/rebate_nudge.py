"""Rebate-tier nudges (冲档提醒), the `rebate_nudge` job.

In a scheme's last `[rebates] nudge_last_days` days (the end day included, business dates in
`[app] timezone`), every active partner the scheme applies to whose counted total lies within
`nudge_within_pct` % of the next threshold (gap ≤ pct × threshold) hears how much more it needs
and what reaching it would pay. Once per partner × scheme × threshold: the announcement is an
`alert_state` row (kind `rebate_nudge`, subject `scheme:partner:threshold`) inserted with
ON CONFLICT DO NOTHING in the same transaction as the outbox rows, so a job running twice, or two
workers at once, tells it once. Reaching a higher threshold later earns a new nudge for the next.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import AlertState, Partner
from storage.uow import UnitOfWork

from . import outbox, rebates
from . import rebate_math as m
from .rebates import SchemeInfo, SchemeStanding

KIND = "rebate_nudge"


@dataclass(frozen=True)
class NudgeResult:
    schemes: int     # schemes in their closing window today
    nudged: int      # partner × scheme nudges queued (to the partner's owners and members)


def in_window(scheme: SchemeInfo, today: date, last_days: int) -> bool:
    """Whether `today` is one of the scheme's last `last_days` days."""
    return scheme.period_start <= today <= scheme.period_end and (scheme.period_end - today).days < last_days


def near(st: SchemeStanding, within_pct) -> bool:
    """Whether the total is short of the next threshold by at most `within_pct` % of that threshold."""
    now = st.now
    return now.next_tier is not None and now.gap > 0 and now.gap * 100 <= within_pct * now.next_tier.threshold


def text(st: SchemeStanding, today: date) -> str:
    """`📈 返利冲档提醒：「…」还剩 12 天（至 2026-12-31）。目前累计 …，再卖 … 即达 … 档（4%），返利可从 … 增至 …。`"""
    s, now = st.scheme, st.now
    days = (s.period_end - today).days + 1
    gain = ""
    if now.next_payout is not None:
        estimate = "按当前均价约" if s.basis == m.QTY else ""
        gain = f"，返利{estimate}可从 {m.yuan(now.payout.fen)} 增至 {m.yuan(now.next_payout.fen)}"
    return (f"📈 返利冲档提醒：「{s.name}」还剩 {days} 天（至 {s.period_end.isoformat()}）。"
            f"目前累计 {s.amount_text(now.total)}，再卖 {s.amount_text(now.gap)} 即达 "
            f"{s.amount_text(now.next_tier.threshold)} 档（{m.rate_text(now.next_tier.rate_bp)}）{gain}。"
            f"发「返利」查看明细。")


def _claim(uow: UnitOfWork, subject: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: a row back means this run tells it."""
    dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AlertState).values(kind=KIND, subject=subject, state="sent", changed_at=uow.now())
    return stmt.on_conflict_do_nothing(index_elements=[AlertState.kind, AlertState.subject]).returning(AlertState.id)


async def nudge(uow: UnitOfWork) -> NudgeResult:
    """Queues each due nudge once; one grouped query for all partners and closing schemes."""
    cfg = uow.settings.rebates
    async with uow:
        today = rebates.local_today(uow)
        schemes = [s for s in await rebates.load_schemes(uow, overlapping=(today, today))
                   if in_window(s, today, cfg.nudge_last_days)]
        if not schemes:
            return NudgeResult(0, 0)
        active = select(Partner.id).where(Partner.active.is_(True))
        totals = await rebates.counted_totals(uow, partners=active, schemes=schemes, as_of=today)
        partners = (await uow.session.execute(select(Partner.id, Partner.tier).where(Partner.active.is_(True))
                                              .order_by(Partner.id))).all()
        nudged = 0
        for scheme in schemes:
            for partner_id, tier in partners:
                if not scheme.applies_to(tier):
                    continue
                amount, qty = totals.get((partner_id, scheme.id), (0, 0))
                st = rebates.stand(scheme, amount_fen=amount, qty=qty, as_of=today)
                if not near(st, cfg.nudge_within_pct):
                    continue
                subject = f"{scheme.id}:{partner_id}:{st.now.next_tier.threshold}"
                if (await uow.session.execute(_claim(uow, subject))).first() is None:
                    continue  # told before
                told = await outbox.notify_partner(uow, partner_id=partner_id, text=text(st, today), kind="rebate")
                nudged += bool(told)  # a partner with nobody bound yet is passed over, not told later
        await uow.commit()
    return NudgeResult(len(schemes), nudged)
