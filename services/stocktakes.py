"""Stocktakes (盘点): a partner's count of what it holds, the base of on-hand figures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.models import Partner, Sku, Stocktake, StocktakeLine
from storage.uow import UnitOfWork

from . import audit, stock_alerts
from .actors import Actor, require_partner
from .errors import InvalidInput, NotAllowed, NotFound


@dataclass(frozen=True)
class CountLine:
    sku: str
    qty: int


@dataclass(frozen=True)
class StocktakeResult:
    id: int
    partner: str
    counted_at: datetime
    lines: tuple[CountLine, ...]
    created: bool = True


async def record_stocktake(uow: UnitOfWork, *, actor: Actor, lines: list[CountLine], counted_at: datetime | None = None,
                           partner_code: str | None = None, idempotency_key: str | None = None) -> StocktakeResult:
    """Records a count (the actor's partner, or `partner_code` for admins/imports); re-evaluates stock alerts."""
    if not lines:
        raise InvalidInput(reason="盘点至少要有一个商品")
    if any(line.qty < 0 for line in lines):
        raise InvalidInput(reason="盘点数量不能是负数")
    async with uow:
        if idempotency_key:
            existing = await uow.session.scalar(select(Stocktake).where(Stocktake.idempotency_key == idempotency_key))
            if existing is not None:
                partner = await uow.session.get(Partner, existing.partner_id)
                codes = {s.id: s.code for s in await uow.session.scalars(
                    select(Sku).where(Sku.id.in_([ln.sku_id for ln in existing.lines])))}
                return StocktakeResult(existing.id, partner.code, existing.counted_at,
                                       tuple(CountLine(codes[ln.sku_id], ln.qty) for ln in existing.lines), False)
        if partner_code and not actor.is_partner_side:
            partner = await uow.session.scalar(select(Partner).where(Partner.code == partner_code.upper()))
            if partner is None:
                raise NotFound(what="partner", key=partner_code)
        elif actor.partner_id is not None:
            partner = await uow.session.get(Partner, actor.partner_id)
        else:
            raise NotAllowed(what="stocktake")
        require_partner(actor, partner)
        skus = {s.code: s for s in await uow.session.scalars(select(Sku).where(Sku.code.in_([ln.sku for ln in lines])))}
        unknown = sorted({ln.sku for ln in lines} - set(skus))
        if unknown:
            raise InvalidInput(reason=f"未知商品 {', '.join(unknown)}")
        merged: dict[str, int] = {}
        for line in lines:
            merged[line.sku] = line.qty  # the last count of a SKU in one stocktake wins
        take = Stocktake(partner_id=partner.id, counted_at=counted_at or uow.now(), idempotency_key=idempotency_key,
                         created_by_id=actor.user_id, created_at=uow.now(),
                         lines=[StocktakeLine(sku_id=skus[c].id, qty=q) for c, q in merged.items()])
        uow.add(take)
        await uow.flush()
        audit.record(uow, actor=actor, action="stocktake.create", entity="stocktake", entity_id=take.id,
                     after={"partner": partner.code, "lines": merged})
        await stock_alerts.reevaluate(uow, partner_id=partner.id, sku_ids=[skus[c].id for c in merged])
        result = StocktakeResult(take.id, partner.code, take.counted_at,
                                 tuple(CountLine(c, q) for c, q in merged.items()))
        await uow.commit()
    return result
