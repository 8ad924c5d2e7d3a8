"""库存 and 盘点: what a partner holds, and counting it.

    FLOW "count"
      confirm → 确认 records the stocktake · 取消 drops it · anything else is a new message
"""
from __future__ import annotations

from services import catalog, conversation
from services import inventory as inventory_service
from services import stocktakes as stocktake_service
from services.errors import InvalidInput

from . import stock_text as T
from .catalog_cache import MATCHERS
from .context import Ctx
from .intents import Parsed, command_word, normalize
from .messages import Reply
from .router import flow, intent

FLOW = "count"


@intent("stock")
async def stock(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Answers at once: the partner's positions, low first; one SKU's detail; a manager's partner."""
    partner_code = await _partner_asked(ctx, parsed)
    sku = parsed.fields.get("sku")
    if ctx.actor.role in ("manager", "admin") and partner_code is None:
        rows = await inventory_service.positions(ctx.uow(), actor=ctx.actor, sku_code=sku)
        return [Reply(T.overview(ctx, rows))]
    rows = await inventory_service.positions(ctx.uow(), actor=ctx.actor, partner_code=partner_code, sku_code=sku)
    if sku:
        moves = await inventory_service.movements(ctx.uow(), actor=ctx.actor,
                                                  partner_code=partner_code or ctx.actor.partner_code, sku_code=sku)
        return [Reply(T.detail(ctx, rows, moves))]
    return [Reply(T.listing(ctx, rows))]


async def _partner_asked(ctx: Ctx, parsed: Parsed) -> str | None:
    """A partner code in the message (`库存 P001`), for managers and admins."""
    code = parsed.fields.get("partner")
    if code is None:
        words = [w.upper() for w in normalize(parsed.rest).replace("库存", " ").split()]
        visible = {p.code for p in await catalog.list_partners(ctx.uow(), actor=ctx.actor)} \
            if ctx.actor.role in ("manager", "admin") else set()
        code = next((w for w in words if w in visible), None)
    return code


@intent("count")
async def count(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Reads a stocktake back (several lines at once), or says which words it did not understand."""
    items = parsed.fields.get("items") or []
    missing = parsed.fields.get("missing") or []
    matcher = await MATCHERS.get(ctx.uow())
    if not items or missing:
        return [Reply(T.count_unclear(ctx, parsed.fields, matcher))]
    lines = [[i["sku"], i["qty"]] for i in items]
    await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step="confirm", data={"lines": lines})
    return [Reply(T.count_read_back(ctx, lines, matcher), buttons=T.buttons(ctx))]


@flow(FLOW)
async def count_step(ctx: Ctx, state: conversation.State) -> list[Reply] | None:
    """确认 records the count; 取消 drops it; anything else passes through."""
    word = command_word(normalize(ctx.msg.text))
    if word and word.intent == "cancel":
        await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
        return [Reply(ctx.t("cancelled"))]
    if not (word and word.intent == "confirm" and not word.rest):
        return None
    lines = [stocktake_service.CountLine(sku, qty) for sku, qty in state.data["lines"]]
    if not lines:
        raise InvalidInput(reason="盘点是空的")
    key = f"{ctx.msg.channel}:{ctx.msg.message_id or ctx.identity.id}"
    result = await stocktake_service.record_stocktake(ctx.uow(), actor=ctx.actor, lines=lines, idempotency_key=key)
    await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
    matcher = await MATCHERS.get(ctx.uow())
    return [Reply(T.count_recorded(ctx, result, matcher))]
