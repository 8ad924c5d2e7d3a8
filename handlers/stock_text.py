"""What 库存 and 盘点 say: positions low first, in packs and loose units, with days of cover."""
from __future__ import annotations

from services.catalog import format_qty

from .context import Ctx

ICON = {"out": "❌", "low": "⚠️", "ok": "✅", "unknown": "❔"}
LIMIT = 40


def _zh(ctx: Ctx) -> bool:
    return not ctx.locale.startswith("en")


def buttons(ctx: Ctx) -> tuple[str, ...]:
    return ("确认", "取消") if _zh(ctx) else ("yes", "no")


def _cover(p) -> str:
    if p.days_of_cover is None:
        return "近28天无销售"
    return f"约可卖 {p.days_of_cover:.1f} 天"


def _position(p) -> str:
    if p.on_hand is None:
        return f"{ICON['unknown']} {p.sku_code} {p.sku_name}：暂无盘点或到货记录"
    line = f"{ICON[p.status]} {p.sku_code} {p.sku_name}：{format_qty(p.on_hand, p)}（{_cover(p)}"
    if p.status != "ok":
        line += f"，安全库存 {format_qty(p.safety_stock, p)}"
        if p.reorder_qty:
            line += f"，建议补货 {format_qty(p.reorder_qty, p)}"
    return line + "）"


def listing(ctx: Ctx, rows) -> str:
    if not rows:
        return "还没有库存数据：发「盘点 A100 35箱 B100 12箱」登记一次盘点吧。"
    p = rows[0]
    low = sum(1 for r in rows if r.status in ("low", "out"))
    head = f"{p.partner_code} {p.partner_name} 库存" + (f"（{low} 项低于安全库存）：" if low else "（全部正常）：")
    body = [_position(r) for r in rows[:LIMIT]]
    more = [f"……另有 {len(rows) - LIMIT} 项，发「库存 编码」查看单品。"] if len(rows) > LIMIT else []
    return "\n".join([head, *body, *more])


def detail(ctx: Ctx, rows, moves) -> str:
    if not rows:
        return "没有这个商品的库存数据。"
    p = rows[0]
    out = [f"{p.partner_code} · {p.sku_code} {p.sku_name}", _position(p),
           f"近28天销售 {format_qty(p.sold_28d, p)}"]
    if moves:
        out.append("最近变动：")
        names = {"stocktake": "盘点", "shipment": "到货", "sale": "销售"}
        for m in moves:
            sign = "=" if m.kind == "stocktake" else ("+" if m.qty >= 0 else "−")
            out.append(f"· {m.date.isoformat()} {names.get(m.kind, m.kind)} {sign}{format_qty(abs(m.qty), p)}"
                       + (f" {m.note}" if m.note else ""))
    return "\n".join(out)


def overview(ctx: Ctx, rows) -> str:
    """A manager's view: low and out positions of its partners, grouped by partner."""
    lows = [r for r in rows if r.status in ("low", "out")]
    partners = sorted({r.partner_code for r in rows})
    if not rows:
        return "辖区内还没有库存数据。"
    head = f"辖区 {len(partners)} 家经销商，{len(lows)} 项低于安全库存" + ("：" if lows else "。发「库存 经销商编码」查看明细。")
    body = [f"{r.partner_code} {_position(r)}" for r in lows[:LIMIT]]
    tail = ["发「库存 经销商编码」查看某家的全部库存。"] if lows else []
    return "\n".join([head, *body, *tail])


def count_unclear(ctx: Ctx, fields: dict, matcher) -> str:
    missing = fields.get("missing") or []
    parts = ["盘点没有完全看懂，请按「盘点 A100 35箱 B100 12箱」重新发送（每个商品写清数量）。"]
    for u in fields.get("unresolved") or []:
        if u.get("codes"):
            names = "、".join(f"{c} {matcher.get(c).name}" for c in u["codes"] if matcher.get(c))
            parts.append(f"「{u.get('token', '')}」可能是：{names}")
        elif u.get("token"):
            parts.append(f"没找到商品「{u['token']}」")
    if "quantity" in missing:
        parts.append("有商品缺少数量。")
    return "\n".join(parts)


def count_read_back(ctx: Ctx, lines, matcher) -> str:
    rows = [f"· {code} {matcher.get(code).name}：{format_qty(qty, matcher.get(code))}" for code, qty in lines]
    return "\n".join(["请确认盘点（以实际清点数为准，覆盖之前的库存）：", *rows, "回复「确认」保存，「取消」放弃。"])


def count_recorded(ctx: Ctx, result, matcher) -> str:
    rows = "；".join(f"{ln.sku} {format_qty(ln.qty, matcher.get(ln.sku))}" for ln in result.lines)
    return f"已记录盘点 #{result.id}：{rows}。发「库存」查看最新库存。"
