"""Marking what a sales message says: quantities, prices and customer markers as spans of text.

Each finder returns non-overlapping `Span`s; `sale.py` puts them together. Order matters:
prices with a unit (`28元/箱`, `每箱28`, `34元一箱`) are taken before quantities so `一箱`
is not read as one pack; totals and unit prices before bare numbers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from .numbers import CN_DIGITS, CN_NUM, NUMBER, spoken_price, to_decimal
from .units import CN_UNITS, EN_UNITS

UNIT = rf"(?:[{CN_UNITS}]|(?:{EN_UNITS})\b)"
YUAN = r"(?:元|块钱|块|rmb\b|yuan\b)"
NUM_B = r"(?<![A-Za-z0-9.])"  # a number not glued to a code like A100
# `2块8`: yuan and jiao spoken; `¥28`; `28.5`; `二十八`.
PRICE_NUM = rf"(?:[¥￥]\s*)?(?P<p>{NUMBER})(?:\s*(?:块|元)(?P<jiao>[0-9一二两三四五六七八九])(?![0-9]))?"


@dataclass
class Span:
    start: int
    end: int
    kind: str                       # qty | price | bareqty
    value: Decimal | None = None
    unit: str | None = None         # qty: the unit word; price: the unit it is per (None = stated unit)
    mode: str = ""                  # price: per | total | unmarked
    extra: dict = field(default_factory=dict)


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(start < e and s < end for s, e in taken)


def _price_value(m: re.Match) -> Decimal | None:
    return spoken_price(m.group("p"), m.groupdict().get("jiao"))


PER_UNIT_PATTERNS = [
    # 每箱28元 / 每箱 28 / 一箱28
    re.compile(rf"(?:每|一)\s*(?P<u>{UNIT})\s*(?:是|卖|价格?)?\s*{PRICE_NUM}\s*{YUAN}?"),
    # 28元/箱, 28/箱, 28元一箱, 28一箱, 28元每箱, 28 per case, 28/case
    re.compile(rf"{NUM_B}{PRICE_NUM}\s*{YUAN}?\s*(?:/|一|每|per\s+|a\s+)\s*(?P<u>{UNIT})"),
]
STATED_UNIT_PATTERNS = [
    re.compile(rf"(?:单价|单价是|价格|价钱|售价|价)\s*[:：]?\s*{PRICE_NUM}\s*{YUAN}?"),
    re.compile(rf"@\s*{PRICE_NUM}\s*{YUAN}?"),
    re.compile(rf"{NUM_B}{PRICE_NUM}\s*{YUAN}?\s*(?:each|apiece|ea\b)", re.I),
]
TOTAL_PATTERNS = [
    re.compile(rf"(?:一共|总共|总价|合计|总计|共计|总额|金额|货款|共|total(?:\s+of)?)\s*[:：]?\s*(?:是|收了?)?\s*{PRICE_NUM}\s*{YUAN}?",
               re.I),
    re.compile(rf"{NUM_B}{PRICE_NUM}\s*{YUAN}?\s*(?:in\s+total|total)\b", re.I),
]
UNMARKED_PATTERNS = [
    re.compile(rf"{NUM_B}(?P<p>\d+(?:\.\d+)?(?:[万千wWkK](?![A-Za-z]))?)\s*(?:块|元)(?P<jiao>[0-9](?![0-9]))?(?:钱)?"),
    re.compile(rf"(?P<p>{CN_NUM})\s*(?:块|元)(?P<jiao>[一二两三四五六七八九](?![{CN_UNITS}]))?(?:钱)?"),
    re.compile(rf"[¥￥]\s*(?P<p>\d+(?:\.\d+)?)"),
    re.compile(rf"{NUM_B}(?P<p>\d+(?:\.\d+)?)\s*(?:rmb|yuan)\b", re.I),
]
QTY_PATTERN = re.compile(
    rf"{NUM_B}(?P<n>{NUMBER}|半)\s*(?P<u>{UNIT})"
    rf"(?:\s*(?P<half>半))?"
    rf"(?:\s*(?:零|又|加|\+)?\s*(?P<n2>\d+|[{CN_DIGITS}]+)\s*(?P<u2>{UNIT}))?", re.I)
SHARED = re.compile(r"(都是|均为|均是|各)\s*$")


def find_prices_with_unit(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    spans = []
    for pattern in PER_UNIT_PATTERNS:
        for m in pattern.finditer(text):
            value = _price_value(m)
            if value is None or not _free(taken, m.start(), m.end()):
                continue
            spans.append(Span(m.start(), m.end(), "price", value, m.group("u").lower(), "per"))
            taken.append((m.start(), m.end()))
    return spans


def find_quantities(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    spans = []
    for m in QTY_PATTERN.finditer(text):
        if not _free(taken, m.start(), m.end()):
            continue
        n = Decimal("0.5") if m.group("n") == "半" else to_decimal(m.group("n"))
        if n is None:
            continue
        if m.group("half"):
            n += Decimal("0.5")
        extra = {}
        if m.group("n2"):
            n2 = to_decimal(m.group("n2"))
            if n2 is not None:
                extra = {"loose": n2, "loose_unit": m.group("u2").lower()}
        spans.append(Span(m.start(), m.end(), "qty", n, m.group("u").lower(), extra=extra))
        taken.append((m.start(), m.end()))
    return spans


def find_other_prices(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    spans = []
    for mode, patterns in (("per", STATED_UNIT_PATTERNS), ("total", TOTAL_PATTERNS),
                           ("unmarked", UNMARKED_PATTERNS)):
        for pattern in patterns:
            for m in pattern.finditer(text):
                value = _price_value(m)
                if value is None or not _free(taken, m.start(), m.end()):
                    continue
                spans.append(Span(m.start(), m.end(), "price", value, None, mode))
                taken.append((m.start(), m.end()))
    for span in spans:
        if SHARED.search(text[:span.start]):
            span.extra["shared"] = True
    return spans


def find_bare_numbers(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    """Numbers no other rule took: a count before a SKU, otherwise an unmarked price."""
    spans = []
    for m in re.finditer(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?(?:[万千wWkK](?![A-Za-z]))?)(?![A-Za-z0-9.])", text):
        if not _free(taken, m.start(), m.end()):
            continue
        value = to_decimal(m.group(1))
        if value is None:
            continue
        shared = bool(SHARED.search(text[:m.start()]))
        spans.append(Span(m.start(), m.end(), "bare", value, extra={"shared": shared} if shared else {}))
        taken.append((m.start(), m.end()))
    return spans
