"""A sales message → customer, date and lines (SKU, quantity in base units, amount in fen).

Works on marked spans (spans.py): dates, SKU mentions, quantities and prices are marked first;
what is left over is the customer (after 给/卖给/客户/to, or the likeliest name), or a product
word we could not place. Prices are per stated unit unless marked as a total; an unmarked price
takes the reading whose unit price lies nearest the SKU's guide price.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from . import spans as S
from .dates import find_dates
from .skus import Mention, SkuMatcher
from .units import is_pack, to_base

MAX_PACKS = 1_000_000
COMMAND = re.compile(r"^\s*(报单|销售|出货|sale|sold|sell)\s*[:：]?\s*", re.I)
PUNCT = re.compile(r"[,，;；。!！?？、\n]+")
MARKER = re.compile(r"^(?:卖给|送给|发给|卖到|客户名称|客户名|客户|顾客|门店|to|customer|client)\s*[:：]?\s*|^给", re.I)
FILLER_WORDS = ("卖了", "卖出", "售出", "卖掉", "送了", "发了", "出了", "发货", "出货", "卖", "送", "发", "给", "了",
                "的", "一下", "和", "跟", "还有", "以及", "另外", "都是", "各", "每", "元", "块", "共", "啊", "呢", "吧",
                "sold", "sell", "sale", "to", "for", "at", "on", "the", "and", "of", "each", "total", "in", "yuan",
                "rmb", "customer", "client")
_FILLER = re.compile(r"^(?:" + "|".join(sorted(map(re.escape, FILLER_WORDS), key=len, reverse=True)) + r")(?:\b|(?=[^a-z]))",
                     re.I)
_FILLER_END = re.compile(r"(?:\b|(?<=[^a-z]))(?:" + "|".join(sorted(map(re.escape, FILLER_WORDS), key=len, reverse=True))
                         + r")$", re.I)
SHOP = re.compile(r"(超市|便利店|商店|商行|店|公司|餐厅|饭店|酒店|酒楼|批发|部|厂|中心|商贸|超|mart|store|shop|kitchen|"
                  r"restaurant|ltd|co\b|market)", re.I)


@dataclass
class Item:
    codes: tuple[str, ...] = ()
    qty: S.Span | None = None
    price: S.Span | None = None
    token: str | None = None        # the word we could not place as a SKU


@dataclass
class SaleParse:
    customer: str | None
    date: date | None
    future: bool
    items: list[dict]
    missing: list[str]
    unresolved: list[dict] = field(default_factory=list)  # {"token", "codes"} for ambiguous/unknown SKUs
    problems: list[str] = field(default_factory=list)     # bad_quantity | bad_price | bad_date


def strip_fillers(text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        text = _FILLER.sub("", text).strip(" :：-")
        text = _FILLER_END.sub("", text).strip(" :：-")
    return text


def _chunks(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Maximal runs of text no span took, split at punctuation and at spaces between CJK words."""
    mask = [False] * len(text)
    for s, e in taken:
        for i in range(s, e):
            mask[i] = True
    out, i = [], 0
    while i < len(text):
        if mask[i]:
            i += 1
            continue
        j = i
        while j < len(text) and not mask[j]:
            j += 1
        pos = i
        for piece in re.split(r"([,，;；。!！?？、\n]+|(?<![A-Za-z'.&])\s+|\s+(?![A-Za-z'&]))", text[i:j]):
            if piece and not PUNCT.fullmatch(piece) and piece.strip():
                out.append((pos, pos + len(piece), piece))
            pos += len(piece) if piece else 0
        i = j
    return out


def parse_sale(text: str, matcher: SkuMatcher, today: date) -> SaleParse:
    """Reads one sales message; nothing here touches the database."""
    taken: list[tuple[int, int]] = []
    cmd = COMMAND.match(text)
    if cmd:
        taken.append((0, cmd.end()))
    dates = [d for d in find_dates(text, today) if S._free(taken, d.start, d.end)]
    mentions = [m for m in matcher.find(text) if S._free(taken, m.start, m.end)
                and all(not (m.start < d.end and d.start < m.end) for d in dates)]
    taken += [(m.start, m.end) for m in mentions] + [(d.start, d.end) for d in dates if not d.ambiguous]
    ambiguous_dates = [d for d in dates if d.ambiguous]
    taken += [(d.start, d.end) for d in ambiguous_dates]
    prices = S.find_prices_with_unit(text, taken)
    qtys = S.find_quantities(text, taken)
    prices += S.find_other_prices(text, taken)
    for bare in S.find_bare_numbers(text, taken):
        nxt = min((m for m in mentions if m.start >= bare.end), key=lambda m: m.start, default=None)
        if nxt is not None and not text[bare.end:nxt.start].strip():
            qtys.append(S.Span(bare.start, bare.end, "qty", bare.value, None))
        else:
            prices.append(S.Span(bare.start, bare.end, "price", bare.value, None, "unmarked", bare.extra))
    if not prices and ambiguous_dates and (mentions or qtys):
        d = ambiguous_dates.pop()
        prices.append(S.Span(d.start, d.end, "price", Decimal(text[d.start:d.end]), None, "unmarked"))
        dates = [x for x in dates if x is not d]
    customer, mentions = _customer_and_words(text, taken, mentions, qtys, matcher)
    items = _assemble(mentions, qtys, prices)
    return _finish(items, customer, dates, matcher, today)


def _customer_and_words(text, taken, mentions, qtys, matcher):
    """Picks the customer among the leftovers; leftovers that name a SKU become mentions."""
    marked, plain = None, []
    for start, end, raw in _chunks(text, taken):
        m = MARKER.match(raw.strip())
        if m:
            name = strip_fillers(raw.strip()[m.end():])
            if name and marked is None:
                marked = name
            continue
        word = strip_fillers(raw.strip())
        if not word:
            continue
        codes = matcher.resolve(word) if not SHOP.search(word) else ()
        if codes:
            mentions.append(Mention(start, end, codes))
        else:
            plain.append((start, end, word))
    mentions.sort(key=lambda m: m.start)
    if marked:
        return marked, mentions
    # A word right next to a quantity that names no SKU is an unknown product, not the customer.
    names = []
    for start, end, word in plain:
        near_qty = any(abs(q.start - end) <= 1 or abs(start - q.end) <= 1 for q in qtys)
        if near_qty and not SHOP.search(word):
            mentions.append(Mention(start, end, ()))
            continue
        names.append((bool(SHOP.search(word)), len(word), start, word))
    mentions.sort(key=lambda m: m.start)
    if not names:
        return None, mentions
    return max(names)[3], mentions


def _assemble(mentions, qtys, prices) -> list[Item]:
    elems = sorted([("m", m.start, m) for m in mentions] + [("q", q.start, q) for q in qtys]
                   + [("p", p.start, p) for p in prices], key=lambda e: e[1])
    items: list[Item] = []
    current: Item | None = None
    shared, pending = [], []
    last_kind = None
    for kind, _pos, e in elems:
        if kind == "m":
            existing = next((it for it in items if it.codes == e.codes and len(e.codes) == 1 and it.qty), None)
            if last_kind == "m" and current is not None and current.codes == e.codes:
                pass  # `B200 气泡水`: the same SKU named twice
            elif existing is not None:
                current = existing
            elif current is not None and not current.codes and current.qty is not None and last_kind == "q":
                current.codes = e.codes  # `二十箱A100`
            else:
                current = Item(codes=e.codes)
                items.append(current)
            if not e.codes and current.token is None:
                current.token = "?"
        elif kind == "q":
            if current is not None and current.qty is None and (current.codes or current.token):
                current.qty = e
            else:
                current = Item(qty=e)
                items.append(current)
        else:
            if e.extra.get("shared"):
                shared.append(e)
            elif current is not None and current.price is None:
                current.price = e
            else:
                free = next((it for it in items if it.price is None), None)
                if free is not None:
                    free.price = e
                else:
                    pending.append(e)
        last_kind = kind
    for it in items:
        if it.price is None and shared:
            it.price = shared[0]
        elif it.price is None and pending:
            it.price = pending.pop(0)
    return items


def _amount(item: Item, sku, qty_base: Decimal) -> Decimal | None:
    p = item.price
    stated_pack = item.qty.unit is not None and is_pack(item.qty.unit, sku)
    if p.mode == "total":
        return p.value
    if p.mode == "per":
        pack = is_pack(p.unit, sku) if p.unit else stated_pack
        return p.value * qty_base / (sku.pack_size if pack else 1)
    readings = [p.value * qty_base / (sku.pack_size if stated_pack else 1), p.value]
    if sku.pack_size > 1:
        readings.append(p.value * qty_base / (1 if stated_pack else sku.pack_size))
    guide = Decimal(sku.guide_price_fen) / 100
    if guide <= 0 or qty_base <= 0:
        return readings[0]
    return min(readings, key=lambda a: abs(math.log(float(a / qty_base / guide))) if a > 0 else math.inf)


def _finish(items, customer, dates, matcher, today) -> SaleParse:
    problems, unresolved, out = [], [], []
    missing = set()
    when = next((d.value for d in dates), today)
    future = when is not None and when > today
    if when is None:
        problems.append("bad_date")
    if not items:
        missing.add("sku")
    for it in items:
        if len(it.codes) != 1:
            missing.add("sku")
            unresolved.append({"codes": list(it.codes)})
            continue
        sku = matcher.get(it.codes[0])
        qty_base = None
        if it.qty is None:
            missing.add("quantity")
        else:
            q = to_base(it.qty.value, it.qty.unit, sku)
            if it.qty.extra.get("loose") is not None:
                q += to_base(it.qty.extra["loose"], it.qty.extra["loose_unit"], sku)
            if q <= 0 or q != q.to_integral_value() or q > MAX_PACKS * max(sku.pack_size, 1):
                missing.add("quantity")
                problems.append("bad_quantity")
            else:
                qty_base = q
        amount_fen = None
        if it.price is None:
            missing.add("price")
        elif qty_base is not None:
            amount = _amount(it, sku, qty_base)
            if amount is None or amount <= 0 or amount > Decimal(10) ** 9:
                missing.add("price")
                problems.append("bad_price")
            else:
                amount_fen = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        out.append({"sku": sku.code, "qty": int(qty_base) if qty_base is not None else None,
                    "amount_fen": amount_fen})
    if not customer:
        missing.add("customer")
    return SaleParse(customer, when, future, out, sorted(missing), unresolved, problems)
