"""Putting SKU mentions, quantities and prices together into lines, in the order they were written.

A mention opens a line or names one that has a quantity but no SKU yet (`20箱 28元 … A100`, as when
the bot re-reads the message plus the answer); a quantity or price belongs to the line before it;
`都是…`/`各…` share one price or quantity; a bare number is a count before a SKU or when the line
already has a price, otherwise a price. Amounts: an unmarked price takes the reading whose unit
price lies nearest the SKU's guide price.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from .skus import Mention
from .spans import Span
from .units import family, is_pack


@dataclass
class Item:
    mention: Mention | None = None
    qty: Span | None = None
    price: Span | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return self.mention.codes if self.mention else ()

    @property
    def known(self) -> bool:
        return len(self.codes) == 1


def _own_qty(elems: list, i: int) -> bool:
    """Whether the mention at `i` is followed by a quantity of its own."""
    for kind, e in elems[i + 1:]:
        if kind == "m":
            return False
        if kind == "q" and not e.extra.get("shared"):
            return True
        if kind == "b":
            return bool(e.extra.get("times"))
        if kind == "p":
            continue
    return False


def _price_run(elems: list, i: int) -> int:
    """How many prices (or bare numbers) stand together from the one at `i` on, with nothing between."""
    n = 0
    while i + n < len(elems) and elems[i + n][0] in "pb":
        n += 1
    return n


def _place(items: list[Item], cur: Item | None, e: Mention, last: str | None, own_qty: bool) -> Item:
    if cur is not None and last == "m" and cur.mention is not None:
        if cur.codes == e.codes or (len(cur.codes) > 1 and set(e.codes) < set(cur.codes)):
            if len(e.codes) < len(cur.codes):
                cur.mention = e
            return cur  # `B200 气泡水`: the same SKU named twice
    if len(e.codes) == 1:
        same = next((it for it in items if it.codes == e.codes), None)
        if same is not None and not (own_qty and same.qty is not None):
            return same
    if cur is not None and cur.mention is None and (last == "q" or not (own_qty and cur.qty is not None)):
        cur.mention = e
        return cur
    if not own_qty and e.codes:
        for it in items:
            unnamed = it.mention is None and (it.qty is not None or it.price is not None)
            vague = len(it.codes) > 1 and set(e.codes) < set(it.codes)
            if unnamed or vague:
                it.mention = e
                return it
    item = Item(mention=e)
    items.append(item)
    return item


def assemble(text: str, mentions: list[Mention], qtys: list[Span], prices: list[Span], bares: list[Span],
             count: bool = False) -> list[Item]:
    """The lines a message describes, in order."""
    elems = sorted([("m", m) for m in mentions] + [("q", q) for q in qtys] + [("p", p) for p in prices]
                   + [("b", b) for b in bares], key=lambda ke: ke[1].start)
    items: list[Item] = []
    cur: Item | None = None
    shared_prices: list[Span] = []
    pending: list[Span] = []
    last = None
    for i, (kind, e) in enumerate(elems):
        nxt = elems[i + 1] if i + 1 < len(elems) else None
        if kind == "b":
            before_sku = (nxt is not None and nxt[0] == "m" and not text[e.end:nxt[1].start].strip()
                          and not (cur is not None and cur.qty is not None and cur.price is None))
            more = nxt is not None and nxt[0] in "bp"
            wants_qty = cur is not None and cur.qty is None and (cur.price is not None or more)
            if count or e.extra.get("times") or before_sku or wants_qty:
                kind, e = "q", Span(e.start, e.end, "qty", e.value, None, extra={**e.extra, "bare": True})
                if before_sku and not (cur is not None and cur.mention is not None and cur.qty is None):
                    cur = None
            else:
                kind, e = "p", Span(e.start, e.end, "price", e.value, None, "unmarked", {**e.extra, "bare": True})
        if kind == "m":
            cur = _place(items, cur, e, last, _own_qty(elems, i))
        elif kind == "q":
            if e.extra.get("shared"):
                for it in items:
                    if it.qty is None:
                        it.qty = e
                last = "sq"
                continue
            if cur is not None and cur.qty is None:
                cur.qty = e
            else:
                cur = Item(qty=e)
                items.append(cur)
        elif kind == "p" and not count:
            run = _price_run(elems, i)
            if e.extra.get("shared") or last == "sq":
                shared_prices.append(e)
            elif cur is not None and cur.price is None and (run == 1 or last not in ("p", "q", "m")):
                cur.price = e
            else:  # `A100 20箱 B100 10箱 28 42`: several prices after the lines go to them in order
                free = next((it for it in items if it.price is None), None)
                if free is not None:
                    free.price = e
                else:
                    pending.append(e)
        last = kind
    _share(items, shared_prices, pending, elems)
    return items


def _share(items: list[Item], shared: list[Span], pending: list[Span], elems: list) -> None:
    """Shared and left-over prices go to the lines without one; one trailing unit price serves all."""
    for it in items:
        if it.price is None and shared:
            it.price = shared[0]
        elif it.price is None and pending:
            it.price = pending.pop(0)
    prices = {id(it.price): it.price for it in items if it.price is not None}
    if len(prices) == 1 and len(items) > 1:
        (only,) = prices.values()
        last_other = max((e.start for k, e in elems if k in "mq"), default=0)
        if only.mode == "per" and only.start > last_other:
            for it in items:
                it.price = it.price or only
    for it in items:
        if it.qty is None and it.price is not None and it.price.extra.get("one_unit"):
            p = it.price  # `一箱28`: one pack at 28
            it.qty = Span(p.start, p.start, "qty", Decimal(1), p.unit)


def readings(item: Item, sku) -> list[tuple[Decimal, Decimal]]:
    """Every (base quantity, amount) the line can mean, the likeliest first."""
    q, p = item.qty, item.price
    pack = sku.pack_size if sku.pack_size > 1 else 1
    n = q.value
    loose = q.extra.get("loose")
    if q.unit is None:
        qty_options = [(n * pack, True), (n, False)] if pack > 1 else [(n, False)]
    else:
        stated_pack = is_pack(q.unit, sku)
        base = n * pack if stated_pack else n
        if loose is not None:
            base += loose * pack if is_pack(q.extra["loose_unit"], sku) else loose
        qty_options = [(base, stated_pack)]
    out = []
    for base, in_packs in qty_options:
        if p.mode == "total":
            out.append((base, p.value))
        elif p.mode == "per":
            per_pack = is_pack(p.unit, sku) if p.unit else in_packs
            out.append((base, p.value * base / (pack if per_pack else 1)))
        else:
            out.append((base, p.value * base / (pack if in_packs else 1)))
            out.append((base, p.value))
            if pack > 1:
                out.append((base, p.value * base / (1 if in_packs else pack)))
    return out


def best_reading(item: Item, sku) -> tuple[Decimal, Decimal]:
    """The reading whose unit price lies nearest the guide price (the first one on a tie)."""
    guide = Decimal(sku.guide_price_fen) / 100
    options = readings(item, sku)
    if item.qty.extra.get("bare") and item.price.extra.get("bare") and item.qty.value != item.price.value:
        # two plain numbers (`A200 36 … 15`): which is the count and which the price is also a reading
        q, p = item.qty, item.price
        swapped = Item(item.mention, Span(p.start, p.end, "qty", p.value, None, extra=q.extra),
                       Span(q.start, q.end, "price", q.value, None, "unmarked", p.extra))
        options += readings(swapped, sku)
    if guide <= 0 or len(options) == 1:
        return options[0]

    def distance(option):
        base, amount = option
        if base <= 0 or amount <= 0:
            return math.inf
        return round(abs(math.log(float(amount / base / guide))), 9)
    return min(options, key=distance)


def _fits(word: str, sku) -> bool:
    word = word.lower()
    return word in family(sku.unit) or word == sku.pack_unit.lower() or is_pack(word, sku)


def narrow_by_units(items: list[Item], matcher) -> None:
    """A name that fits several SKUs keeps those its units fit (`农夫山泉 50件零8瓶`: the bottled one,
    not the 桶); unchanged when the units fit all or none."""
    for it in items:
        if len(it.codes) < 2:
            continue
        words = [w for w in (it.qty.unit if it.qty else None, it.qty.extra.get("loose_unit") if it.qty else None,
                             it.price.unit if it.price else None) if w]
        kept = tuple(c for c in it.codes if all(_fits(w, matcher.get(c)) for w in words))
        if kept and len(kept) < len(it.codes):
            m = it.mention
            it.mention = Mention(m.start, m.end, kept, m.token)
