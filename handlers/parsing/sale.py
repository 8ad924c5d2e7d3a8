"""A sales message → customer, date and lines (SKU, quantity in base units, amount in fen).

Works on marked spans: dates, SKU mentions, prices, quantities and bare numbers are marked first
(spans.py); the words left over are split at customer markers (words.py) and become the customer
(after 给/卖给/客户/to, or the likeliest name), a SKU said loosely (pinyin, initials, part of a
name), or a product word we could not place. Lines are put together in items.py.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .dates import TIME, find_dates
from .items import Item, assemble, best_reading, narrow_by_units
from .numbers import is_chinese_numeral
from .skus import CJK, Mention, SkuMatcher
from .spans import Span, free, grammar
from .units import to_base
from .words import Word, glued_name, is_person, is_shop, may_be_person, strip_fillers, words

MAX_PACKS = 1_000_000
MAX_AMOUNT = Decimal(10) ** 9
ABSURD = 1000  # a unit price a thousand times above or below the guide price is a slip, asked again
SIZE = re.compile(r"^(?:[A-Za-z0-9.\-]+|\d+(?:\.\d+)?\s*(?:毫升|升|克|千克|公斤|斤))$")
SIZE_AFTER = re.compile(r"\s?(\d+(?:\.\d+)?\s*(?:ml|l|毫升|升|g|kg|克)?)(?![\d.A-Za-z])(?!\s*(?:[元块%]|[\u4e00-\u9fff]))",
                        re.I)
GLUED_SIZE = re.compile(r"(\d+(?:\.\d+)?(?:ml|l|毫升|升|g|kg|克)?)(?![\d.A-Za-z\u4e00-\u9fff])", re.I)  # not `净水器1台`
BRANCH = re.compile(r"^[\u4e00-\u9fff]{1,4}(?:分店|门店|店)$")
COMMAND = re.compile(r"^\s*(?:报单|销售|出货|卖货|sale|sold|sell)(?![A-Za-z])\s*[:：]?\s*", re.I)

__all__ = ["SaleParse", "parse_sale", "strip_fillers", "MAX_PACKS"]


@dataclass
class SaleParse:
    customer: str | None
    date: date | None
    future: bool
    items: list[dict]
    missing: list[str]
    unresolved: list[dict] = field(default_factory=list)  # {"token", "start", "end", "codes"} per unclear SKU
    problems: list[str] = field(default_factory=list)     # bad_quantity | bad_price | bad_date


@dataclass
class Marked:
    """Everything found in one message, before lines are put together."""
    text: str
    mentions: list[Mention]
    qtys: list[Span]
    prices: list[Span]
    bares: list[Span]
    words: list[Word]
    dates: list


def mark(text: str, matcher: SkuMatcher, today: date) -> Marked:
    """Marks dates, SKUs, prices, quantities and numbers; returns them with the leftover words."""
    g = grammar(matcher.units_re)
    taken: list[tuple[int, int]] = []
    cmd = COMMAND.match(text)
    if cmd:
        taken.append((0, cmd.end()))
    dates = [d for d in find_dates(text, today) if free(taken, d.start, d.end)]
    taken += [(t.start(), t.end()) for t in TIME.finditer(text)
              if free(taken, t.start(), t.end()) and all(not (t.start() < d.end and d.start < t.end()) for d in dates)]
    mentions = [m for m in matcher.find(text) if free(taken, m.start, m.end)
                and all(not (m.start < d.end and d.start < m.end) for d in dates)]
    mentions = [_with_size(text, m, matcher) for m in mentions]
    dates = [d for d in dates if all(not (m.start < d.end and d.start < m.end) for m in mentions)]
    taken += [(m.start, m.end) for m in mentions] + [(d.start, d.end) for d in dates]
    prices = g.prices_with_unit(text, taken)
    qtys = g.quantities(text, taken)
    prices += g.other_prices(text, taken)
    bares = g.bare_numbers(text, taken, _sku_word(text, taken, matcher))
    ambiguous = [d for d in dates if d.ambiguous]
    if ambiguous and ambiguous[-1].start > 0 and not prices and not bares and (mentions or qtys):
        d = ambiguous[-1]  # `11.30` opening a notebook line stays a date  # `11.16` with no other price is the price
        prices.append(Span(d.start, d.end, "price", Decimal(text[d.start:d.end]), None, "unmarked"))
        dates.remove(d)
    spans = qtys + prices
    # A Chinese numeral or a SKU word glued to the rest of a shop name belongs to the name.
    for s in list(spans):
        if is_chinese_numeral(s.extra.get("num", "")) and glued_name(text, s.end, taken):
            taken.remove((s.start, s.end))
            (qtys if s.kind == "qty" else prices).remove(s)
    for m in list(mentions):
        run = glued_name(text, m.end, taken)
        if CJK.search(text[m.start:m.end]) and run and len(run) <= 3:
            taken.remove((m.start, m.end))
            mentions.remove(m)
    items = [(m.start, m.end) for m in mentions] + [(s.start, s.end) for s in qtys + prices + bares]
    return Marked(text, mentions, qtys, prices, bares, words(text, taken, items), dates)


def _sku_word(text: str, taken: list[tuple[int, int]], matcher: SkuMatcher):
    """A test for `bare_numbers`: the Chinese word right before a number names a product, and the
    number is not its size (`大瓶34` is a price; `冰泉550` a size)."""
    def test(end: int, number: str) -> bool:
        start = end
        while start > 0 and end - start < 6 and CJK.match(text[start - 1]) and free(taken, start - 1, start):
            start -= 1
        codes = matcher.resolve(text[start:end]) if end - start >= 2 else ()
        return bool(codes) and not any(matcher.holds(c, number) for c in codes)
    return test


def _with_size(text: str, m: Mention, matcher: SkuMatcher) -> Mention:
    """A size written after a name (`雪碧330`, `农夫山泉 550`) belongs to the name when a name holds it."""
    size = SIZE_AFTER.match(text, m.end) or GLUED_SIZE.match(text, m.end)  # `农夫550 一共…`
    if not size or not any(matcher.holds(c, size.group(1)) for c in m.codes):
        return m
    codes = matcher.narrow(m.codes, size.group(1))
    return Mention(m.start, size.end(), codes, text[m.start:size.end()])


def parse_sale(text: str, matcher: SkuMatcher, today: date, *, marked: Marked | None = None,
               source: str | None = None) -> SaleParse:
    """Reads one sales message; nothing here touches the database (`marked`: `mark()` of it, if done;
    `source`: the text as written, same length, from which the customer's name is cut)."""
    text = unicodedata.normalize("NFKC", text or "")
    mk = marked if marked is not None and marked.text == text else mark(text, matcher, today)
    customer, plain = _resolve_words(mk, matcher)
    items = assemble(text, mk.mentions, mk.qtys, mk.prices, mk.bares)
    narrow_by_units(items, matcher)
    span = _unknown_products(items, plain, customer, text)
    written = source if source is not None and len(source) == len(text) else text
    return _finish(items, written[span[0]:span[1]] if span else None, mk.dates, matcher, today)


def _resolve_words(mk: Marked, matcher: SkuMatcher) -> tuple[Word | None, list[Word]]:
    """The marked customer, and leftover words: those naming a SKU loosely become mentions."""
    marked, plain = None, []
    shops = [w for w in mk.words if not w.marked and is_shop(w.text)]
    for w in mk.words:
        if w.marked and marked is None and (is_shop(w.text) or may_be_person(w.text) or not CJK.search(w.text)
                                            or not shops):
            marked = w  # after 给/客户: the customer, unless it is no name and a shop is named elsewhere
            continue
        codes = () if is_shop(w.text) or is_person(w.text) else matcher.resolve(w.text)
        if codes:
            mk.mentions.append(Mention(w.start, w.end, codes, w.text))
        else:
            plain.append(w)
    mk.mentions.sort(key=lambda m: m.start)
    for i, m in enumerate(mk.mentions):
        if len(m.codes) > 1:  # `冰泉 550ml`: a size word beside a vague name picks one
            hint = next((w for w in plain if 0 <= w.start - m.end <= 1 and SIZE.match(w.text)), None)
            codes = matcher.narrow(m.codes, hint.text) if hint else m.codes
            if len(codes) < len(m.codes):
                mk.mentions[i] = Mention(m.start, hint.end, codes, mk.text[m.start:hint.end])
                plain.remove(hint)
    return marked, plain


def _adjacent(w: Word, spans: list[Span], text: str) -> bool:
    """Whether a word touches one of the spans (at most a space or two between)."""
    return any((0 <= s.start - w.end <= 2 and not text[w.end:s.start].strip())
               or (0 <= w.start - s.end <= 2 and not text[s.end:w.start].strip()) for s in spans)


def _unknown_products(items: list[Item], plain: list[Word], customer: Word | None,
                      text: str) -> tuple[int, int] | None:
    """Words beside a line without a SKU name that line's product (unknown); the rest may be the customer
    (its span in the text)."""
    name_unknown(items, plain, text, customer is not None)
    if customer is not None:
        return customer.start, customer.end
    return _likeliest_name(plain, text)


def name_unknown(items: list[Item], plain: list[Word], text: str, has_customer: bool = False) -> None:
    """Gives a line without a SKU the word written beside its quantity or price (`雪碧 3箱`)."""
    unnamed = [it for it in items if it.mention is None]
    for it in unnamed:
        spans = [s for s in (it.qty, it.price) if s is not None]
        near = [w for w in plain if not is_shop(w.text) and not is_person(w.text) and _adjacent(w, spans, text)]
        if not near and len(unnamed) == 1 and (has_customer or any(is_shop(w.text) for w in plain)):
            near = [w for w in plain if not is_shop(w.text) and not is_person(w.text)]
            near = near if len(near) == 1 else []
        if near:
            w = near[0]
            it.mention = Mention(w.start, w.end, (), w.text)
            plain.remove(w)


def _likeliest_name(plain: list[Word], text: str) -> tuple[int, int] | None:
    """A shop-like name first (words apart only by spaces joined: `华润万家 南京店`), then a person."""
    groups: list[list[Word]] = []
    for w in plain:
        if groups and not text[groups[-1][-1].end:w.start].strip():
            groups[-1].append(w)
        else:
            groups.append([w])
    names = []
    for group in groups:
        for j, w in enumerate(group):
            if is_shop(w.text):
                branch = j > 0 and BRANCH.match(w.text) and CJK.search(group[j - 1].text)
                start = group[j - 1].start if branch else w.start  # `华润万家 南京店`
                names.append((2, w.end - start, (start, w.end)))
        for w in group:
            if len(w.text) >= 2 or not CJK.match(w.text):  # one Chinese character is no one's name
                names.append((1 if may_be_person(w.text) else 0, len(w.text), (w.start, w.end)))
    if not names:
        return None
    return max(names, key=lambda n: (n[0], n[1]))[2]


def _quantity(it: Item, sku, problems: list[str]) -> Decimal | None:
    """The line's quantity in base units; a bare count means packs unless the price says otherwise."""
    q = it.qty
    if it.price is not None:
        base = best_reading(it, sku)[0]
    else:
        base = to_base(q.value, q.unit, sku) if q.unit else q.value * max(sku.pack_size, 1)
        if q.extra.get("loose") is not None:
            base += to_base(q.extra["loose"], q.extra["loose_unit"], sku)
    if base <= 0 or base != base.to_integral_value() or base > MAX_PACKS * max(sku.pack_size, 1):
        problems.append("bad_quantity")
        return None
    return base


def _finish(items: list[Item], customer: str | None, dates, matcher: SkuMatcher, today: date) -> SaleParse:
    """Lines as §8.3 prints them, with what is missing, what is unclear and what looks wrong."""
    problems: list[str] = []
    unresolved, out = [], []
    missing: set[str] = set()
    when = next((d.value for d in dates), today)
    future = when is not None and when > today
    if when is None:
        problems.append("bad_date")
    if not items:
        missing.update(("sku", "quantity", "price"))
    for it in items:
        if not it.known:
            missing.add("sku")
            missing.update(f for f, v in (("quantity", it.qty), ("price", it.price)) if v is None)
            m = it.mention
            unresolved.append({"token": m.token if m else None, "start": m.start if m else None,
                               "end": m.end if m else None, "codes": list(it.codes)})
            continue
        sku = matcher.get(it.codes[0])
        qty_base = amount_fen = None
        if it.qty is None:
            missing.add("quantity")
        else:
            qty_base = _quantity(it, sku, problems)
            if qty_base is None:
                missing.add("quantity")
        if it.price is None:
            missing.add("price")
        elif qty_base is not None:
            amount = best_reading(it, sku)[1]
            guide = Decimal(sku.guide_price_fen) / 100
            fen = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)) if amount < MAX_AMOUNT else 0
            absurd = guide > 0 and not guide / ABSURD < amount / qty_base < guide * ABSURD
            if fen <= 0 or absurd:
                missing.add("price")
                problems.append("bad_price")
            else:
                amount_fen = fen
        elif it.price.value <= 0:
            missing.add("price")
            problems.append("bad_price")
        elif it.price.mode == "total" and it.price.value < MAX_AMOUNT:
            amount_fen = int((it.price.value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))  # `共260元`
        out.append({"sku": sku.code, "qty": int(qty_base) if qty_base is not None else None,
                    "amount_fen": amount_fen})
    if not customer:
        missing.add("customer")
    return SaleParse(customer, when, future, out, sorted(missing), unresolved, sorted(set(problems)))
