"""What the 报单 conversation says: questions, the read-back, and the outcome."""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services import violation_notices
from services.catalog import format_qty
from services.money import fen_to_yuan_str

from .context import Ctx

QUESTIONS = {
    "quantity": {"zh-CN": "卖了多少？例如「20箱」或「8箱5瓶」。", "en": "How many? e.g. \"20 cases\"."},
    "price": {"zh-CN": "价格是多少？例如「每箱28」或「共560元」。", "en": "At what price? e.g. \"28 per case\" or \"560 total\"."},
    "customer": {"zh-CN": "卖给哪个客户？请发客户名称。", "en": "Who is the customer?"},
}
PROBLEMS = {
    "bad_quantity": {"zh-CN": "数量需要大于 0、不超过一百万箱，并且能换算成整瓶/整件。",
                     "en": "The quantity must be above 0, at most a million packs, in whole units."},
    "bad_price": {"zh-CN": "价格需要大于 0 且在合理范围内。", "en": "The price must be above 0 and sensible."},
}


def _zh(ctx: Ctx) -> bool:
    return not ctx.locale.startswith("en")


def question(ctx: Ctx, field: str, data: dict, problems: list[str] | None = None) -> str:
    lang = "zh-CN" if _zh(ctx) else "en"
    why = " ".join(PROBLEMS[p][lang] for p in problems or [] if p in PROBLEMS and
                   (p == "bad_quantity") == (field == "quantity"))
    return (why + "\n" if why else "") + QUESTIONS[field][lang]


def ask_sku(ctx: Ctx, token: str | None, options) -> str:
    options = [o for o in options if o is not None]
    if _zh(ctx):
        head = f"「{token}」对应多个商品，请选择：" if token and options else \
            (f"没找到商品「{token}」，" if token else "是哪个商品？") + ("您是指：" if options else "请发商品编码或名称。")
        rows = [f"{i}. {o.code} {o.name}" for i, o in enumerate(options, 1)]
        tail = "回复序号或商品编码。" if options else ""
    else:
        head = f"\"{token}\" fits several products:" if token and options else "Which product?"
        rows = [f"{i}. {o.code} {o.name}" for i, o in enumerate(options, 1)]
        tail = "Reply with the number or the code." if options else "Send the code or name."
    return "\n".join([head, *rows, tail]).strip()


def future_date(ctx: Ctx, when: date) -> str:
    return (f"日期 {when.isoformat()} 还没到，报单只能报已经发生的销售。请发实际日期，例如「今天」或「11月15日」。"
            if _zh(ctx) else f"{when.isoformat()} is in the future. Send the actual date, e.g. \"today\".")


def ask_date_again(ctx: Ctx) -> str:
    return "没认出日期，请发例如「今天」「昨天」「11月15日」。" if _zh(ctx) else "Send a date like \"yesterday\"."


def unit_price(amount_fen: int, qty: int, sku) -> str:
    """`¥28.00/箱` when the quantity is whole packs, else per base unit."""
    if sku.pack_size > 1 and qty % sku.pack_size == 0:
        per = Decimal(amount_fen) * sku.pack_size / qty
        unit = sku.pack_unit
    else:
        per, unit = Decimal(amount_fen) / qty, sku.unit
    return f"{fen_to_yuan_str(int(per.quantize(Decimal(1), rounding=ROUND_HALF_UP)))}/{unit}"


def _day(ctx: Ctx, when: date, today: date) -> str:
    names = {0: "今天", 1: "昨天", 2: "前天"} if _zh(ctx) else {0: "today", 1: "yesterday"}
    label = names.get((today - when).days)
    return f"{when.isoformat()}（{label}）" if label and _zh(ctx) else (f"{when.isoformat()} ({label})" if label else when.isoformat())


def _line(sku, qty: int, amount_fen: int) -> str:
    return f"· {sku.code} {sku.name} {format_qty(qty, sku)} × {unit_price(amount_fen, qty, sku)} = {fen_to_yuan_str(amount_fen)}"


def warning_text(ctx: Ctx, w, sku) -> str:
    if w.kind == "below_floor":
        return (f"⚠️ {sku.code} 单价 {fen_to_yuan_str(w.unit_price_fen)}/{sku.unit} 低于最低价 "
                f"{fen_to_yuan_str(w.floor_fen)}/{sku.unit}（低 {w.gap_pct}%），确认后会记录为价格偏离并通知渠道经理"
                f"（不影响保存）。")
    return f"⚠️ {sku.code} 本次 {format_qty(w.qty, sku)}，超过您的库存 {format_qty(w.on_hand, sku)}，请核对（仍可确认）。"


def read_back(ctx: Ctx, draft, matcher, warnings, today: date) -> str:
    skus = {ln.sku: matcher.get(ln.sku) for ln in draft.lines}
    total = sum(ln.amount_fen for ln in draft.lines)
    rows = [_line(skus[ln.sku], ln.qty, ln.amount_fen) for ln in draft.lines]
    warn = [warning_text(ctx, w, skus[w.sku]) for w in warnings]
    if _zh(ctx):
        return "\n".join(["请确认这笔报单：", f"客户：{draft.customer}", f"日期：{_day(ctx, draft.sold_on, today)}", *rows,
                          f"合计：{fen_to_yuan_str(total)}", *warn, "回复「确认」保存，「取消」放弃。"])
    return "\n".join(["Please confirm this sale:", f"Customer: {draft.customer}",
                      f"Date: {_day(ctx, draft.sold_on, today)}", *rows, f"Total: {fen_to_yuan_str(total)}", *warn,
                      "Reply \"yes\" to save or \"no\" to drop it."])


def confirm_buttons(ctx: Ctx) -> tuple[str, ...]:
    return ("确认", "取消") if _zh(ctx) else ("yes", "no")


def _summary(result) -> str:
    return "；".join(f"{ln.sku} {format_qty(ln.qty, ln)} {fen_to_yuan_str(ln.amount_fen)}" for ln in result.lines)


def _violations(ctx: Ctx, result) -> str:
    """What the sale broke (price, channel), told at once; never a reason not to save it."""
    live = [v for v in result.violations if v.status in ("open", "appealed")]
    if not live:
        return ""
    if _zh(ctx):
        return "\n" + violation_notices.new_for_partner(live)
    ids = ", ".join(f"#{v.id}" for v in live)
    return (f"\n⚠️ Recorded as violation {ids} (below floor price or another partner's customer) and reported "
            f"to your channel manager; the sale is saved. To appeal: \"申诉 ID reason\".")


def _voided(ctx: Ctx, result) -> str:
    if not result.voided:
        return ""
    ids = "、".join(f"#{v.id}" for v in result.voided)
    return f"\n相关违规 {ids} 已作废。" if _zh(ctx) else f"\nViolation {ids} voided."


def recorded(ctx: Ctx, result) -> str:
    hours = ctx.deps.settings.app.undo_window_hours
    if _zh(ctx):
        return (f"已记录报单 #{result.id}：{result.customer} · {result.sold_on.isoformat()} · {_summary(result)}，"
                f"合计 {fen_to_yuan_str(result.total_fen)}。\n{hours} 小时内可发「撤销」，或「改成25箱」「价格改成27」更正。"
                + _violations(ctx, result))
    return (f"Sale #{result.id} saved: {result.customer} · {result.sold_on.isoformat()} · {_summary(result)}, "
            f"total {fen_to_yuan_str(result.total_fen)}. Send \"undo\" within {hours} h to take it back."
            + _violations(ctx, result))


def undone(ctx: Ctx, result) -> str:
    return (f"已撤销报单 #{result.id}（{result.customer} · {_summary(result)}）。" if _zh(ctx)
            else f"Sale #{result.id} ({result.customer}) undone.") + _voided(ctx, result)


def corrected(ctx: Ctx, result) -> str:
    return (f"已更正报单 #{result.id}：{_summary(result)}，合计 {fen_to_yuan_str(result.total_fen)}。" if _zh(ctx)
            else f"Sale #{result.id} corrected: {_summary(result)}, total {fen_to_yuan_str(result.total_fen)}.") \
        + _voided(ctx, result) + _violations(ctx, result)
