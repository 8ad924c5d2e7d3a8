"""Place names written in pinyin — `Suzhou 老陈烟酒店`, `美味鲜食品有限公司 Hangzhou`, `Nanjing Lucky Mart
Co., Ltd.` — resolved to regions with the division data services/cn_regions.py splits Chinese names
by: every province, city and county, not a list. Each name is indexed under its phrase-aware pinyin
(pypinyin: 重庆 chongqing, 厦门 xiamen) and its character-by-character one; a spelling that fits
several places (suzhou: 苏州 and 宿州) gives them all as alternatives.

Next to a Chinese name a Latin run is a place only when all of it reads as places (and words such as
`city`, `shi`); English names use provinces and cities only: their words are English, and county
names in pinyin are too close to ordinary brand spellings (Xinhua).
"""
from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import lazy_pinyin

from .cn_regions import COUNTY_KINDS, Region, fold, merge_region, pinyin, short_name, walk_divisions

FILLERS = frozenset({"province", "city", "district", "county", "sheng", "shi", "qu"})
EN_REGIONS = {"china": (), "prc": (), "hongkong": ("81",), "macau": ("82",), "macao": ("82",)}
MAX_RUN = 40
_LEAD = re.compile(r"^([a-z][a-z\s'.,\-]*?)[\s,]*(?=[\u4e00-\u9fff])")
_TRAIL = re.compile(r"(?<=[\u4e00-\u9fff])[\s,]*([a-z][a-z\s'.,\-]*)$")
_NOT_LETTER = re.compile(r"[^a-z]")


def _spellings(name: str) -> set[str]:
    """How a place name may be spelt: phrase-aware and per-character pinyin, ü as v or u."""
    found = {"".join(lazy_pinyin(name)), pinyin(name)}
    return {s.replace("ü", "v") for s in found} | {s.replace("ü", "u").replace("v", "u") for s in found}


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(provinces and cities, every division) by spelling, built on first use: most names have no
    Latin place in them, so most processes never pay for it."""
    upper: dict[str, set[str]] = {}
    every: dict[str, set[str]] = {}
    for node, code, _ in walk_divisions():
        short = short_name(fold(node["name"]))
        if len(short) < 2:
            continue
        for spelling in _spellings(short):
            every.setdefault(spelling, set()).add(code)
            if node["type"] not in COUNTY_KINDS:
                upper.setdefault(spelling, set()).add(code)
    for word, codes in EN_REGIONS.items():
        upper[word] = every[word] = set(codes)
    return ({k: tuple(sorted(v)) for k, v in upper.items()}, {k: tuple(sorted(v)) for k, v in every.items()})


def resolve(run: str, region: Region, counties: bool = True) -> Region | None:
    """The region a Latin run names when all of it reads as places that fit `region`, else None."""
    letters = _NOT_LETTER.sub("", run.lower().replace("ü", "v"))
    if not letters or len(letters) > MAX_RUN:
        return None
    table = _tables()[1 if counties else 0]

    def go(i: int, found: Region) -> Region | None:
        if i == len(letters):
            return found
        for size in range(min(len(letters) - i, 24), 1, -1):
            piece = letters[i:i + size]
            if piece in FILLERS and i:
                done = go(i + size, found)
            elif piece in table:
                merged = merge_region(found, table[piece]) if table[piece] else found
                done = go(i + size, merged) if merged is not None else None
            else:
                continue
            if done is not None:
                return done
        return None

    return go(0, region)


def take_latin_places(body: str, region: Region) -> tuple[str, Region]:
    """Latin runs that are places, before or after a Chinese name, taken off it into the region."""
    lead = _LEAD.match(body) if "a" <= body[:1] <= "z" else None
    if lead and (found := resolve(lead.group(1), region)) is not None:
        body, region = body[lead.end():], found
    trail = _TRAIL.search(body) if "a" <= body[-1:] <= "z" else None
    if trail and (found := resolve(trail.group(1), region)) is not None:
        body, region = body[:trail.start()], found
    return body, region


def take_english_places(text: str, region: Region) -> tuple[str, Region]:
    """Takes `nanjing`, `jiangsu`, `china`, `hong kong` (one or two words) off either end of an
    English name, while some of it stays."""
    changed = True
    while changed:
        changed = False
        words = text.split()
        for take, rest in ((words[:2], words[2:]), (words[-2:], words[:-2]), (words[:1], words[1:]),
                           (words[-1:], words[:-1])):
            if not rest or not take:
                continue
            found = resolve(" ".join(take), region, counties=False)
            if found is None or ("".join(take) in FILLERS):
                continue
            text, region, changed = " ".join(rest), found, True
            break
    return text, region
