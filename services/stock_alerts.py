"""Low-stock alerts that follow state: a position moving ok → low → out, or back to ok, is
announced once to the partner and to its region's managers; a position that stays put says
nothing more. Called inside the transaction of every change (sale, stocktake, shipment), and by
the `low_stock` sweep as a safety net.

The last announced state lives in `alert_state` (kind "stock", subject "partner_id:sku_id"; no
row means ok). The state is written with an upsert that only fires when the state differs, so
two transactions that see the same change announce it once. Unknown stock is never announced.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import AlertState, Partner, Shipment, Sku, Stocktake, StocktakeLine
from storage.uow import UnitOfWork

from . import inventory, outbox
from .catalog import format_qty
from .inventory import Pair, Position

KIND = "stock"
SWEEP_BATCH = 5000


@dataclass(frozen=True)
class Transition:
    partner_id: int
    sku_id: int
    before: str               # ok | low | out
    after: str
    position: Position


@dataclass(frozen=True)
class SweepResult:
    positions: int
    transitions: int


def subject(partner_id: int, sku_id: int) -> str:
    return f"{partner_id}:{sku_id}"


ICONS = {"ok": "✅", "low": "⚠️", "out": "❌"}


def _body(pos: Position, state: str) -> str:
    """What changed, after the icon: `A100 冰泉矿泉水550ml 库存低：还剩 3箱5瓶，…`."""
    q = lambda n: format_qty(n, pos)  # noqa: E731
    head = f"{pos.sku_code} {pos.sku_name}"
    if state == "ok":
        return f"{head} 库存已恢复：现有 {q(pos.on_hand)}，安全库存 {q(pos.safety_stock)}。"
    advice = f"建议补货 {q(pos.reorder_qty)}" if pos.reorder_qty else "暂不需补货"
    if state == "out":
        book = f"（账面 {q(pos.on_hand)}，请盘点核实）" if pos.on_hand < 0 else ""
        return f"{head} 已断货{book}，安全库存 {q(pos.safety_stock)}，{advice}。"
    cover = f"约可卖 {pos.days_of_cover} 天" if pos.days_of_cover is not None else "近28天没有销售"
    return f"{head} 库存低：还剩 {q(pos.on_hand)}，安全库存 {q(pos.safety_stock)}，{cover}，{advice}。"


def alert_text(pos: Position, state: str) -> str:
    """The partner's message for a position that became `state` (ok, low or out)."""
    return f"{ICONS[state]} {_body(pos, state)}"


def manager_text(pos: Position, state: str) -> str:
    """The managers' message: the partner's, naming the partner first."""
    return f"{ICONS[state]} {pos.partner_code} {pos.partner_name} · {_body(pos, state)}"


def _upsert(uow: UnitOfWork, key: str, state: str):
    """INSERT … ON CONFLICT DO UPDATE only when the state differs; RETURNING tells whether it did."""
    dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AlertState).values(kind=KIND, subject=key, state=state, changed_at=uow.now())
    return stmt.on_conflict_do_update(
        index_elements=[AlertState.kind, AlertState.subject],
        set_={"state": stmt.excluded.state, "changed_at": stmt.excluded.changed_at},
        where=AlertState.state != stmt.excluded.state).returning(AlertState.id)


async def _known_states(uow: UnitOfWork, keys: list[str]) -> dict[str, str]:
    rows = await uow.session.execute(select(AlertState.subject, AlertState.state)
                                     .where(AlertState.kind == KIND, AlertState.subject.in_(keys)))
    return {key: state for key, state in rows}


async def _apply(uow: UnitOfWork, found: dict[Pair, Position]) -> list[Transition]:
    """Records and announces every changed position of `found` (in the open unit of work)."""
    known = await _known_states(uow, [subject(*pair) for pair in found])
    out = []
    for (partner_id, sku_id), pos in found.items():
        before = known.get(subject(partner_id, sku_id), "ok")
        if pos.status in ("unknown", before):
            continue
        if (await uow.session.execute(_upsert(uow, subject(partner_id, sku_id), pos.status))).first() is None:
            continue  # another transaction announced this very change
        await outbox.notify_partner(uow, partner_id=partner_id, text=alert_text(pos, pos.status), kind="stock")
        await outbox.notify_region(uow, region=pos.region, text=manager_text(pos, pos.status), kind="stock")
        out.append(Transition(partner_id, sku_id, before, pos.status, pos))
    return out


async def reevaluate(uow: UnitOfWork, *, partner_id: int, sku_ids: list[int]) -> list[Transition]:
    """Re-checks the touched positions inside the caller's open unit of work; queues transition alerts."""
    async with uow:
        pairs = [(partner_id, s) for s in dict.fromkeys(sku_ids)]
        found = await inventory.evaluate(uow, pairs=pairs, active_only=True)
        transitions = await _apply(uow, found)
        await uow.commit()
    return transitions


async def _all_pairs(uow: UnitOfWork) -> list[Pair]:
    """Every active position with a count or a shipment, SKU by SKU (a batch's sale lines are read once)."""
    counted = (select(Stocktake.partner_id, StocktakeLine.sku_id)
               .join(StocktakeLine, StocktakeLine.stocktake_id == Stocktake.id))
    shipped = select(Shipment.partner_id, Shipment.sku_id)
    both = union(counted, shipped).subquery()
    stmt = (select(both.c.partner_id, both.c.sku_id)
            .join(Partner, Partner.id == both.c.partner_id).join(Sku, Sku.id == both.c.sku_id)
            .where(Partner.active.is_(True), Sku.active.is_(True))
            .order_by(both.c.sku_id, both.c.partner_id))
    return [(p, s) for p, s in await uow.session.execute(stmt)]


async def sweep(uow: UnitOfWork, *, batch: int = SWEEP_BATCH) -> SweepResult:
    """Checks every known position in read-only batches; re-checks and announces changes in short writes."""
    async with uow.reading() as ro:
        pairs = await _all_pairs(ro)
        known = {key: state for key, state in await ro.session.execute(
            select(AlertState.subject, AlertState.state).where(AlertState.kind == KIND))}
    transitions = 0
    for start in range(0, len(pairs), batch):
        async with uow.reading() as ro:
            found = await inventory.statuses(ro, pairs=pairs[start:start + batch], active_only=True)
        changed = [pair for pair, status in found.items()
                   if status != "unknown" and status != known.get(subject(*pair), "ok")]
        if not changed:
            continue
        async with uow:  # the write transaction looks again: a sale may have announced it meanwhile
            transitions += len(await _apply(uow, await inventory.evaluate(uow, pairs=changed, active_only=True)))
            await uow.commit()
    return SweepResult(positions=len(pairs), transitions=transitions)
