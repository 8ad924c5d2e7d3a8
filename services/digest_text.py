"""The daily digest as a manager reads it in chat: short lines, yuan (`¥1,234.00`) and packs (`20箱`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import format_qty
from .money import fen_to_yuan_str

if TYPE_CHECKING:
    from .digest import FlagCount, RegionDigest

MAX_PARTNERS = 10          # listed by name; the rest are summed up in one line
WEEKDAYS = "一二三四五六日"


def yuan(fen: int) -> str:
    return fen_to_yuan_str(fen, grouping=True)


def signed(fen: int) -> str:
    """`+¥200.00`, `-¥50.00`, `±¥0.00`."""
    return ("+" if fen > 0 else "±" if fen == 0 else "") + yuan(fen)


def packs(qty: int, units) -> str:
    return format_qty(qty, units)


def day_label(d: RegionDigest) -> str:
    return f"{d.day.month}月{d.day.day}日（周{WEEKDAYS[d.day.weekday()]}）"


def _flags(name: str, flags: FlagCount, *, graded: bool) -> str | None:
    if not flags.total:
        return None
    levels = f"（{'、'.join(f'{level}级 {n}' for level, n in flags.by_level)}）" if graded else ""
    state = [f"待处理 {flags.open}"] if flags.open else []
    state += [f"申诉中 {flags.appealed}"] if flags.appealed else []
    done = flags.total - flags.open - flags.appealed
    state += [f"已处理 {done}"] if done else []
    return f"{name} {flags.total} 笔{levels}：{'，'.join(state)}"


def _sales(d: RegionDigest) -> list[str]:
    if d.empty:
        before = f"（前日 {yuan(d.prev_amount_fen)}）" if d.prev_amount_fen else ""
        return [f"昨日无报单{before}。"]
    lines = [f"销售 {yuan(d.amount_fen)} · {d.sales} 单（较前日 {signed(d.amount_fen - d.prev_amount_fen)}）"]
    for p in d.partners[:MAX_PARTNERS]:
        lines.append(f"· {p.code} {p.name} {yuan(p.amount_fen)} · {p.sales} 单（{signed(p.delta_fen)}）")
    rest = d.partners[MAX_PARTNERS:]
    if rest:
        lines.append(f"· 其余 {len(rest)} 家 {yuan(sum(p.amount_fen for p in rest))} · {sum(p.sales for p in rest)} 单")
    if d.skus:
        lines.append("热销：" + "；".join(f"{s.code} {s.name} {packs(s.qty, s)} {yuan(s.amount_fen)}" for s in d.skus))
    return lines


def _stock(d: RegionDigest) -> str | None:
    if not (d.low or d.out):
        return None
    counts = "，".join(x for x in (f"断货 {d.out}" if d.out else "", f"偏低 {d.low}" if d.low else "") if x)
    worst = "；".join(f"{s.partner_code} {s.sku_code} {s.sku_name} "
                     + (f"断货（安全 {s.safety_stock}）" if s.status == "out" else f"{s.on_hand}（安全 {s.safety_stock}）")
                     for s in d.worst_stock)
    return f"库存：{counts} — {worst}"


def _claims(d: RegionDigest) -> str | None:
    parts = [f"{d.pending_claims} 件报备" if d.pending_claims else "",
             f"{d.extension_requests} 件延期申请" if d.extension_requests else ""]
    parts = [p for p in parts if p]
    return f"待您审批：{'，'.join(parts)}（回复「我的报备」查看）" if parts else None


def render(d: RegionDigest) -> str:
    """The digest's text: title, sell-out, top SKUs, flags, stock, claims; sections with nothing are left out."""
    lines = [f"📊 {d.region} 日报 · {day_label(d)}", *_sales(d)]
    lines += [line for line in (_flags("乱价", d.deviations, graded=True), _flags("窜货", d.conflicts, graded=False),
                                         _stock(d), _claims(d))
              if line]
    return "\n".join(lines)
