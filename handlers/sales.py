"""报单: read a sale from free text, ask for what is missing one question at a time, read it
back, record it on 确认; 撤销 and 改成… fix the last one.

    FLOW "sale"
      ask_sku       → which SKU (candidates by number or code)      → re-read, next question
      ask_quantity  → how many                                       → re-read, next question
      ask_price     → at what price                                  → re-read, next question
      ask_customer  → to whom                                        → next question
      ask_date      → which day (the one given was in the future)    → next question
      confirm       → 确认 records the sale · 取消 drops it · anything else is a new message
"""
from __future__ import annotations

import re
from datetime import date

from services import conversation
from services import sales as sales_service

from . import sales_text as T
from .catalog_cache import MATCHERS
from .context import Ctx
from .intents import Parsed, command_word, normalize
from .messages import Reply
from .parsing import parse_message
from .parsing.dates import find_dates
from .parsing.sale import strip_fillers
from .router import flow, intent
from .understand import changes_the_last_sale, today

FLOW = "sale"
ORDER = ("sku", "quantity", "price", "customer")


@intent("sale")
async def start(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """A new sales message: keep what it says, then ask or read back."""
    data = {"text": parsed.rest, "customer": None, "date": None}
    return await _next(ctx, data, parsed.fields)


@flow(FLOW)
async def step(ctx: Ctx, state: conversation.State) -> list[Reply] | None:
    """Takes the answer to the pending question, or 确认/取消 at the read-back."""
    text = normalize(ctx.msg.text)
    word = command_word(text)
    if word and word.intent == "cancel":
        await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
        return [Reply(ctx.t("cancelled"))]
    data = dict(state.data)
    if state.step == "confirm":
        if word and word.intent == "confirm" and not word.rest:
            return await _record(ctx, data)
        if changes_the_last_sale(text):
            return [Reply(ctx.t("draft_not_saved"))]  # `改成5箱`, `撤销` never reach a saved sale meanwhile
        return None  # anything else is a new message; a new 报单 replaces this draft
    if word and word.intent not in ("confirm",):
        return None  # a command in the middle of a question: handle it, keep the draft
    if state.step == "ask_customer":
        name = strip_fillers(re.sub(r"^(?:客户|customer)\s*[:：]?", "", text, flags=re.I))
        if not name:
            return [Reply(T.question(ctx, "customer", data))]
        data["customer"] = name
    elif state.step == "ask_date":
        found = find_dates(text, today(ctx))
        if not found or found[0].value is None:
            return [Reply(T.ask_date_again(ctx))]
        data["date"] = found[0].value.isoformat()
    elif state.step == "ask_sku":
        data["text"] = _pick(data, text)
    else:
        data["text"] = f"{data['text']} {text}"
    matcher = await MATCHERS.get(ctx.uow())
    meaning = parse_message(data["text"], matcher, today(ctx))
    if meaning.get("intent") != "sale":
        meaning = {**meaning, "intent": "sale"}
    return await _next(ctx, data, meaning)


def _pick(data: dict, answer: str) -> str:
    """Puts the chosen SKU code (by number or code) in place of the word that was unclear."""
    options = data.get("options") or []
    token = data.get("token")
    choice = answer.strip()
    if choice.isdigit() and 1 <= int(choice) <= len(options):
        choice = options[int(choice) - 1]
    if token and token in data["text"]:
        return data["text"].replace(token, f" {choice} ", 1)
    return f"{data['text']} {choice}"


async def _next(ctx: Ctx, data: dict, meaning: dict) -> list[Reply]:
    """Asks the first missing thing, or reads the whole sale back for 确认."""
    matcher = await MATCHERS.get(ctx.uow())
    if data.get("customer") is None and meaning.get("customer"):
        data["customer"] = meaning["customer"]
    sold_on = date.fromisoformat(data["date"] or meaning.get("date") or today(ctx).isoformat())
    missing = [m for m in ORDER if m in (meaning.get("missing") or []) and not (m == "customer" and data["customer"])]
    problems = meaning.get("problems") or []
    if missing:
        field = missing[0]
        data.update(options=[], token=None)
        if field == "sku":
            unresolved = (meaning.get("unresolved") or [{}])[0]
            token = unresolved.get("token")
            codes = unresolved.get("codes") or []
            options = [s.code for s in ([matcher.get(c) for c in codes] if codes else matcher.candidates(token or ""))
                       if s is not None][:6]
            data.update(options=options, token=token)
            text = T.ask_sku(ctx, token, [matcher.get(c) for c in options])
        else:
            text = T.question(ctx, field, data, problems)
        await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step=f"ask_{field}", data=data)
        return [Reply(text)]
    if meaning.get("future_date") and not data.get("date"):
        await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step="ask_date", data=data)
        return [Reply(T.future_date(ctx, sold_on))]
    lines = [sales_service.LineDraft(i["sku"], i["qty"], i["amount_fen"]) for i in meaning["items"]]
    draft = sales_service.SaleDraft(data["customer"], sold_on, tuple(lines))
    warnings = await sales_service.check_draft(ctx.uow(), actor=ctx.actor, draft=draft)
    data["draft"] = {"customer": draft.customer, "sold_on": sold_on.isoformat(),
                     "lines": [[ln.sku, ln.qty, ln.amount_fen] for ln in lines]}
    await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step="confirm", data=data)
    return [Reply(T.read_back(ctx, draft, matcher, warnings, today(ctx)), buttons=T.confirm_buttons(ctx))]


async def _record(ctx: Ctx, data: dict) -> list[Reply]:
    d = data["draft"]
    draft = sales_service.SaleDraft(d["customer"], date.fromisoformat(d["sold_on"]),
                                    tuple(sales_service.LineDraft(*ln) for ln in d["lines"]))
    key = f"{ctx.msg.channel}:{ctx.msg.message_id or ctx.identity.id}"
    result = await sales_service.record_sale(ctx.uow(), actor=ctx.actor, draft=draft, idempotency_key=key)
    await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
    return [Reply(T.recorded(ctx, result))]


@intent("undo")
async def undo(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Undoes the last sale inside the window."""
    result = await sales_service.undo_last(ctx.uow(), actor=ctx.actor)
    return [Reply(T.undone(ctx, result))]


@intent("correct")
async def correct(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """`改成25箱` / `价格改成27`: fixes the last sale's quantity or price."""
    f = parsed.fields
    price_unit = None
    if f.get("price") is not None and f.get("unit"):
        price_unit = "pack" if f["unit"] in sales_service.PACK_WORDS else "base"
    result = await sales_service.correct_last(
        ctx.uow(), actor=ctx.actor, sku=f.get("sku"), qty=f.get("qty"),
        qty_unit=f.get("unit") if f.get("qty") is not None else None, price=f.get("price"), price_unit=price_unit)
    return [Reply(T.corrected(ctx, result))]
