"""Marking what a sales message says: quantities, prices and bare numbers as spans of text.

Each finder returns non-overlapping `Span`s and records what it took; `sale.py` puts them
together. Order matters: prices with a unit (`28元/箱`, `每箱28`, `34元一箱`) are taken before
quantities so `一箱` is not read as one pack; totals and unit prices before bare numbers.
The patterns are compiled once per set of unit words (a catalog may add `提`, `桶`, `pack`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from .numbers import CN_DIGITS, CN_NUM, EN_NUM, NUMBER, is_chinese_numeral, spoken_price, to_decimal
from .units import unit_regex

YUAN = r"(?:元整|元钱|元|圆整|圆|块钱|块|蚊|rmb\b|yuan\b|人民币)"  # 蚊: Cantonese yuan
NUM_B = r"(?<![A-Za-z0-9.])"  # a number not glued to a code like A100
NUM_BC = rf"(?:(?<![A-Za-z0-9.])|(?<=(?<![A-Za-z])[x×X*])|(?=[{CN_DIGITS}半]))"  # also `雪碧x5箱`  # … unless written in Chinese (A100二十箱)
SIGN = r"(?:(?<![A-Za-z0-9.\-])(?P<neg>[-−]|负))?"
PRICE_NUM = (rf"{SIGN}(?:(?:[¥￥$]|人民币)\s*)?(?P<p>{NUMBER})"
             r"(?:\s*(?:块|元|蚊)(?P<jiao>[0-9一二两三四五六七八九])(?![0-9])(?:毛|角)?|\s*(?P<mao>毛|角)(?:钱)?)?")
NOT_COUNTED = set("叫姓是人客朋老小")
EACH_AFTER = re.compile(r"\s*(?:each|apiece)\b(?!\s*(?:@|at\b|for\b|\d))", re.I)
SHARED = re.compile(r"(?:都是|都按|都|均为|均是|均|各|统一|一律)\s*[:：]?\s*$")
# After a bare number these characters still end it (`28给张三`); any other Chinese character
# glues it into a name (`7号便利店`, `24小时店`).
NUMBER_ENDS = "给卖送发和跟及到每各都共的元块钱了啊吧呢，"
NUMBER_STARTS = "给卖送发和跟及到每各都共的了是为按价收要拿订进出售数量额计总"


@dataclass
class Span:
    start: int
    end: int
    kind: str                       # qty | price | bare
    value: Decimal | None = None
    unit: str | None = None         # qty: the unit word; price: the unit it is per (None = stated unit)
    mode: str = ""                  # price: per | total | unmarked
    extra: dict = field(default_factory=dict)


def free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(start < e and s < end for s, e in taken)


_free = free


def _price_value(m: re.Match) -> Decimal | None:
    value = spoken_price(m.group("p"), m.groupdict().get("jiao"))
    if value is not None and m.groupdict().get("mao"):
        value = value / 10
    if value is not None and m.groupdict().get("neg"):
        value = -value
    return value


class Grammar:
    """The span patterns for one set of counting units."""

    def __init__(self, units: str):
        unit = rf"(?P<u>{units})"
        pre = rf"(?<![{CN_DIGITS}\d])"
        self.per_unit = [
            # 每箱28元 / 每箱都是28 / 一箱28
            re.compile(rf"(?P<one>每|{pre}一)\s*{unit}\s*(?P<sh>都是|都|均为|均)?\s*(?:是|卖|价格?|单价|给他算|给她算|给他|给她|算他|算她|算)?\s*[:：]?\s*"
                       rf"{PRICE_NUM}\s*{YUAN}?", re.I),
            # 28元/箱, 28/箱, 28元一箱, 28一箱, 28元每箱, 28 per case, 28 a case
            re.compile(rf"{NUM_BC}{PRICE_NUM}\s*(?P<y>{YUAN})?\s*(?P<c>/|一|每|per\s+|a\s+|an\s+)\s*{unit}", re.I),
        ]
        self.stated = [
            re.compile(rf"(?:单价|价格|价钱|售价|卖价|报价|出货价|给他算|给她算|算他|算她|按|价)\s*(?:是|为)?\s*[:：]?\s*{PRICE_NUM}\s*{YUAN}?"
                       rf"(?!\s*{units})", re.I),
            re.compile(rf"@\s*{PRICE_NUM}\s*{YUAN}?", re.I),
            re.compile(rf"{NUM_B}{PRICE_NUM}\s*{YUAN}?\s*(?:each|apiece|ea\b|/\s*each)", re.I),
            re.compile(rf"\b(?:at|price)\s+(?:[¥￥$]\s*)?{PRICE_NUM}\s*{YUAN}?(?!\s*{units})(?![\d.])", re.I),
        ]
        self.total = [
            re.compile(rf"(?:一共|总共|总价|总金额|总货款|合计|总计|共计|总额|金额|货款|收款|收了|共|for\s+a\s+total\s+of|"
                       rf"total(?:\s+of)?|sum)\s*(?:是|为)?\s*[:：]?\s*(?:收了?)?\s*{PRICE_NUM}\s*{YUAN}?"
                       rf"(?!\s*{units})(?![\d.])", re.I),
            re.compile(rf"{NUM_B}{PRICE_NUM}\s*{YUAN}?\s*(?:in\s+total|total|altogether)\b", re.I),
        ]
        self.unmarked = [
            re.compile(rf"{NUM_B}{SIGN}(?P<p>\d+(?:\.\d+)?(?:[万千wWkK](?![A-Za-z]))?)\s*(?:块|元)"
                       rf"(?P<jiao>[0-9](?![0-9]))?(?:毛|角)?(?:钱)?"),
            re.compile(rf"{SIGN}(?P<p>{CN_NUM})\s*(?:块|元|蚊)(?P<jiao>[一二两三四五六七八九](?![{CN_DIGITS}]|{units}))?"
                       r"(?:毛|角)?(?:钱)?"),
            re.compile(rf"{NUM_B}{SIGN}(?P<p>\d+(?:\.\d+)?|{CN_NUM})\s*(?P<mao>毛|角)(?:钱)?"),
            re.compile(rf"(?:[¥￥]|rmb|cny)\s*{SIGN}(?P<p>\d+(?:,\d{{3}})*(?:\.\d+)?)", re.I),
            re.compile(rf"{NUM_B}{SIGN}(?P<p>\d+(?:\.\d+)?)\s*(?:rmb|yuan|cny)\b", re.I),
        ]
        self.qty = re.compile(
            rf"{NUM_BC}{SIGN}(?P<n>{NUMBER}|{EN_NUM}|半)\s*(?:个)?{unit}"
            rf"(?:\s*(?P<half>半))?"
            rf"(?:\s*(?:零|又|加|\+|and)?\s*(?P<n2>\d{{1,9}}|[{CN_DIGITS}]{{1,16}})\s*(?P<u2>{units}))?", re.I)
        self.qty_simple = re.compile(rf"{NUM_BC}{SIGN}(?P<n>{NUMBER}|{EN_NUM}|半)\s*(?:个)?{unit}(?:\s*(?P<half>半))?"
                                     r"(?P<n2>)(?P<u2>)", re.I)
        self.bare = re.compile(rf"(?:(?<![A-Za-z])(?P<x>[x×*])\s*(?=\d)|(?<![A-Za-z0-9.\-])){SIGN}"
                               r"(?P<p>\d+(?:,\d{3})*(?:\.\d+)?(?:[万千wWkK](?![A-Za-z]))?)"
                               r"(?![A-Za-z0-9.%])(?!-[A-Za-z0-9])",
                               re.I)

    def prices_with_unit(self, text: str, taken: list[tuple[int, int]]) -> list[Span]:
        spans = []
        for i, pattern in enumerate(self.per_unit):
            for m in pattern.finditer(text):
                if not free(taken, m.start(), m.end()):
                    continue
                if i == 1 and m.group("c") == "一" and not m.group("y") and is_chinese_numeral(m.group("p")) \
                        and m.group("p")[-1] in "十百千万零〇":
                    continue  # 二十一箱 is 21 packs, not 20 a pack (二十八一箱 is 28 a pack)
                value = _price_value(m)
                if value is None:
                    continue
                extra = {"num": m.group("p")}
                if i == 0 and m.group("one") == "一":
                    extra["one_unit"] = True
                if (i == 0 and m.group("sh")) or SHARED.search(text[:m.start()]):
                    extra["shared"] = True
                spans.append(Span(m.start(), m.end(), "price", value, m.group("u").lower(), "per", extra))
                taken.append((m.start(), m.end()))
        return spans

    def quantities(self, text: str, taken: list[tuple[int, int]]) -> list[Span]:
        spans = []
        for m in self.qty.finditer(text):
            if not free(taken, m.start(), m.end()) and m.group("n2"):
                m = self.qty_simple.match(text, m.start())  # `二十箱` before a price `二十八一箱`
            if m is None or not free(taken, m.start(), m.end()):
                continue
            if m.group("u") == "个" and text[m.end():m.end() + 1] in NOT_COUNTED:
                continue  # `一个叫陈姐的客户`: a person, not one piece
            n = Decimal("0.5") if m.group("n") == "半" else to_decimal(m.group("n"))
            if n is None:
                continue
            if m.group("half"):
                n += Decimal("0.5")
            if m.group("neg"):
                n = -n
            extra = {"num": m.group("n")}
            if m.group("n2"):
                n2 = to_decimal(m.group("n2"))
                if n2 is not None:
                    extra.update(loose=n2, loose_unit=m.group("u2").lower())
            if SHARED.search(text[:m.start()]) or EACH_AFTER.match(text, m.end()):
                extra["shared"] = True  # `各两箱`, `10ctn each`
            spans.append(Span(m.start(), m.end(), "qty", n, m.group("u").lower(), extra=extra))
            taken.append((m.start(), m.end()))
        return spans

    def other_prices(self, text: str, taken: list[tuple[int, int]]) -> list[Span]:
        spans = []
        for mode, patterns in (("total", self.total), ("per", self.stated), ("unmarked", self.unmarked)):
            for pattern in patterns:
                for m in pattern.finditer(text):
                    value = _price_value(m)
                    if value is None or not free(taken, m.start(), m.end()):
                        continue
                    extra = {"num": m.group("p")}
                    if SHARED.search(text[:m.start()]):
                        extra["shared"] = True
                    spans.append(Span(m.start(), m.end(), "price", value, None, mode, extra))
                    taken.append((m.start(), m.end()))
        return spans

    def bare_numbers(self, text: str, taken: list[tuple[int, int]], sku_word=None) -> list[Span]:
        """Numbers no other rule took: a count or a price, decided when the items are put together.
        `sku_word(end)`: whether the Chinese word ending at `end` names a product (`大瓶34`)."""
        spans = []
        for m in self.bare.finditer(text):
            start = m.start("neg") if m.group("neg") else m.start("p")
            if not free(taken, start, m.end()):
                continue
            after = text[m.end():m.end() + 1]
            if after and "\u4e00" <= after <= "\u9fff" and after not in NUMBER_ENDS:
                continue  # part of a name: 7号便利店
            before = text[start - 1:start] if start else ""
            if before and "\u4e00" <= before <= "\u9fff" and before not in NUMBER_STARTS \
                    and free(taken, start - 1, start) and not (sku_word and sku_word(start, m.group("p"))):
                continue  # part of a word: 冰泉550
            value = to_decimal(m.group("p"))
            if value is None:
                continue
            extra = {"num": m.group("p")}
            if m.group("neg"):
                value = -value
            if m.group("x"):
                extra["times"] = True
                start = m.start()
            if SHARED.search(text[:start]):
                extra["shared"] = True
            spans.append(Span(start, m.end(), "bare", value, extra=extra))
            taken.append((start, m.end()))
        for m in CN_RUN.finditer(text):
            value = to_decimal(m.group(1))
            if value is None or not free(taken, m.start(1), m.end(1)) or not _stands_alone(text, m, taken):
                continue
            extra = {"num": m.group(1)}
            if SHARED.search(text[:m.start(1)]):
                extra["shared"] = True
            spans.append(Span(m.start(1), m.end(1), "bare", value, extra=extra))
            taken.append((m.start(1), m.end(1)))
        return sorted(spans, key=lambda sp: sp.start)


# A Chinese numeral (`二十八`, `一千八百九`): a number when it stands alone between spaces, punctuation
# or what was already marked (`苏打水四十五气泡水四十六`), never inside a word (`八方超市`).
CN_RUN = re.compile(rf"({CN_NUM})")
_EDGE = set(" ,;:。!?、，；：！？\n")
_AFTER = set(NUMBER_ENDS) | _EDGE


def _stands_alone(text: str, m: re.Match, taken: list[tuple[int, int]]) -> bool:
    start, end = m.start(1), m.end(1)
    before_ok = start == 0 or text[start - 1] in _EDGE or text[start - 1] in NUMBER_STARTS \
        or not free(taken, start - 1, start)
    after_ok = end == len(text) or text[end] in _AFTER or not free(taken, end, end + 1)
    spaced = (start == 0 or text[start - 1] in _EDGE) and (end == len(text) or text[end] in _EDGE)
    return before_ok and after_ok and (end - start >= 2 or spaced or not free(taken, start - 1, start))


@lru_cache(maxsize=16)
def grammar(units: str | None = None) -> Grammar:
    """The compiled patterns for a units regex (the default units when None)."""
    return Grammar(units or unit_regex())


QTY_PATTERN = grammar().qty
