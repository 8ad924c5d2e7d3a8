"""The generic words of company names — legal forms (Company Law) and industry words (the trades of
GB/T 4754 as shop signs and registrations write them) — and how they come off the end of a name,
with room for the slips people make in them.

A name's generic part is a short, closed vocabulary, so a slip in it can be recognised: one
character changed in a word of three or more (便力店), one character of a two-character word
changed to another of the same sound (设被 for 设备, 工司 for 公司: the pinyin input method's slip),
and in legal forms of four or more characters one character added, dropped or changed (有线公司,
有限工司, 有限公). The brand is an open vocabulary and gets none of this here: its own tolerance is
in company_names.brand_score. A slip is considered only where no exact word ends the text (a legal
form also when the slip makes a longer form than the exact one: 有线公司 over 公司), and never where
it would leave fewer than two characters of the name before it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .cn_regions import pinyin

LEGAL_FORMS = frozenset({
    "集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "分公司", "总公司", "集团公司",
    "公司", "集团", "合伙企业", "有限合伙", "普通合伙", "个人独资企业", "独资企业", "个体工商户", "个体户", "工作室",
    "股份合作公司", "股份公司", "责任公司"})
COMPANY = ("有限责任公司", "股份有限公司", "有限公司", "公司")
BRANCH = ("分公司", "分店", "门店", "营业部", "分部", "办事处", "店")
# A name may stack several (网络 + 科技, 副食品 + 超市, 净水 + 设备); the longest suffix is taken first.
INDUSTRY = frozenset("""
商贸 贸易 工贸 经贸 国际贸易 进出口 商业 实业 发展 投资 管理 咨询 服务 供应链 物流 电子商务 电商 网络科技 信息科技
科技 网络 信息技术 技术 电子 数码 通讯 通信 软件 智能 超市 超级市场 便利店 便利 百货商店 百货商场 百货 日用百货
商场 商店 商行 商城 商铺 购物中心 购物广场 广场 量贩 连锁 小卖部 杂货店 杂货 餐饮 餐饮管理 饭店 餐厅 餐馆 饭馆
菜馆 饭庄 酒家 食府 快餐 小吃 面馆 火锅 烧烤 茶楼 茶馆 咖啡 奶茶 烘焙 蛋糕 面包 糕点 农家乐 大排档 食堂 酒店
大酒店 宾馆 旅馆 客栈 民宿 酒楼 酒吧 食品 副食品 副食 烟酒店 烟酒 烟酒行 烟酒商行 酒水 酒类 茶叶 茶业 茶行 饮料
饮品 乳业 乳品 粮油 米业 调味品 水产 海鲜 肉类 肉业 冻品 干货 特产 土特产 蔬菜 果蔬 水果 果业 生鲜 农产品 农业
酒业 酒行 饮用水 纯净水 日化 日用品 化妆品 美妆 母婴 电器 家电 五金 五金交电 建材 家居 家具 灯饰 照明 陶瓷 卫浴
装饰 装修 装饰工程 礼品 工艺品 玩具 文具 办公用品 图书 书店 眼镜 珠宝 首饰 钟表 服装 服饰 鞋业 箱包 皮具 纺织
家纺 医药 大药房 药房 药店 药业 医疗器械 医疗 诊所 生物 生物科技 制药 健康 保健品 设备 机械 机电 电气 电力 电动车
汽车 汽车销售 汽配 车行 摩托车 自行车 化工 塑料 塑胶 橡胶 钢铁 金属 材料 新材料 能源 新能源 光电 自动化 仪器 仪表
环保 净水 水处理 印刷 包装 纸业 制品 制造 工业 工程 建筑 建设 安装 维修 设计 房地产 地产 置业 物业 物业管理 开发
租赁 人力资源 劳务 保洁 家政 运输 货运 快递 仓储 冷链 广告 文化传媒 传媒 文化 教育 培训 旅游 旅行社 体育 娱乐 健身
美容 美发 摄影 婚庆 宠物 花卉 园林 绿化 养殖 种植 渔业 洗衣 干洗 视频 银行 批发部 经营部 门市部 零售 批发 专卖店
旗舰店 店""".split())
EN_INDUSTRY = frozenset({"supermarket", "supermarkets", "mart", "market", "store", "stores", "shop", "trading",
                         "trade", "foods", "food", "restaurant", "kitchen", "technology", "technologies", "tech",
                         "electronics", "retail", "supply chain", "logistics", "hotel", "cafe", "international",
                         "investment", "management", "consulting", "services", "service", "development",
                         "industrial", "industries", "industry", "enterprise", "enterprises", "commerce",
                         "commercial", "import and export", "pharmacy", "catering", "beverage", "beverages"})
SYNONYMS = {"贸易": "商贸", "工贸": "商贸", "经贸": "商贸", "国际贸易": "商贸", "烟酒店": "烟酒", "烟酒商行": "烟酒",
            "烟酒行": "烟酒", "百货商店": "百货", "百货商场": "百货", "日用百货": "百货", "便利店": "便利",
            "副食品": "副食", "餐饮管理": "餐饮", "家电": "电器", "药店": "药房", "大药房": "药房", "大酒店": "酒店",
            "茶业": "茶叶", "杂货店": "杂货", "超级市场": "超市", "电商": "电子商务", "通讯": "通信", "饭馆": "餐馆",
            "trade": "trading", "stores": "store", "supermarkets": "supermarket", "food": "foods",
            "technologies": "technology", "tech": "technology"}
# Words that say what kind of shop or firm, not what trade: they never make two industries differ.
SHOP_WORDS = frozenset({"店", "商店", "商行", "商铺", "门市部", "经营部", "批发部", "连锁", "专卖店",
                        "旗舰店", "管理", "store", "shop"})
SEPARATOR = "|"
MIN_LEFT = 2


@dataclass(frozen=True)
class Vocabulary:
    """Words that come off the end of a name, exactly or with one slip."""
    words: frozenset[str]
    fuzzy_from: int          # shortest word a slip is looked for in (2: same-sound only)
    indels_from: int = 0     # shortest word a character added or dropped is looked for in (0: never)
    longer_slips: bool = False  # a slip making a longer word wins over a shorter exact one

    @cached_property
    def pattern(self) -> re.Pattern:
        """The words reversed, longest first: matching at the start of the reversed text finds the
        longest word ending the text in one call into the regex engine."""
        return re.compile("|".join(re.escape(w[::-1]) for w in sorted(self.words, key=len, reverse=True)))

    @cached_property
    def _halves(self) -> dict[int, tuple[dict[str, list[str]], dict[str, list[str]]]]:
        """Words by length, then by their first half and by their second: a word one character away
        from a text agrees with it on one half, so two lookups find every candidate."""
        table: dict[int, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}
        for word in sorted(self.words):
            if len(word) >= self.fuzzy_from:
                heads, tails = table.setdefault(len(word), ({}, {}))
                heads.setdefault(word[:len(word) // 2], []).append(word)
                tails.setdefault(word[len(word) // 2:], []).append(word)
        return table

    @cached_property
    def _dropped(self) -> dict[str, str]:
        """Each long word with one character dropped → the word."""
        if not self.indels_from:
            return {}
        return {w[:i] + w[i + 1:]: w for w in sorted(self.words) if len(w) >= self.indels_from for i in range(len(w))}

    @cached_property
    def _by_first(self) -> dict[tuple[int, str], list[str]]:
        """Long words by length and first character: a word with one character added after its first."""
        table: dict[tuple[int, str], list[str]] = {}
        for word in sorted(self.words):
            if self.indels_from and len(word) >= self.indels_from:
                table.setdefault((len(word), word[0]), []).append(word)
        return table

    @cached_property
    def _sizes(self) -> tuple[int, ...]:
        return tuple(sorted({len(w) for w in self.words if len(w) >= self.fuzzy_from}
                            | {len(w) - 1 for w in self._dropped.values()}
                            | {len(w) + 1 for w in self._dropped.values()}))

    def changed(self, tail: str, any_sound: bool = False) -> str | None:
        """The word `tail` is with one character changed. The first character may change only to one
        of the same sound, and so may either of a two-character word: else any word that ends like
        the text would take the brand's last character (的公司 read as 分公司). `any_sound` lifts that."""
        halves = self._halves.get(len(tail))
        if not halves:
            return None
        half = len(tail) // 2
        for word in (*halves[0].get(tail[:half], ()), *halves[1].get(tail[half:], ())):
            diff = [i for i, (a, b) in enumerate(zip(word, tail)) if a != b]
            if len(diff) == 1 and (any_sound or (diff[0] and len(word) >= 3)
                                   or pinyin(word[diff[0]]) == pinyin(tail[diff[0]])):
                return word
        return None

    def changed_all(self, tail: str) -> list[str]:
        """Every word `tail` is with one character changed, whatever its sound."""
        halves = self._halves.get(len(tail))
        if not halves:
            return []
        half = len(tail) // 2
        found = {w for w in (*halves[0].get(tail[:half], ()), *halves[1].get(tail[half:], ()))
                 if sum(a != b for a, b in zip(w, tail)) == 1}
        return sorted(found)

    def _added(self, tail: str) -> str | None:
        """The long word `tail` is with one character added after its first."""
        for word in self._by_first.get((len(tail) - 1, tail[0]), ()):
            i = next((j for j in range(len(word)) if word[j] != tail[j]), len(word))
            if tail[i + 1:] == word[i:]:
                return word
        return None

    @cached_property
    def _chars(self) -> frozenset[str]:
        return frozenset("".join(self.words))

    def _slip(self, text: str, end: int, longer_than: int) -> tuple[int, str] | None:
        """The longest word that the text before `end` is with one slip, as (characters, word).
        A slip accounts for one character no word has, at most: they are counted as the tail grows,
        from where the exact word (all of whose characters words have) leaves off."""
        chars, found, strange, counted = self._chars, None, 0, longer_than
        for size in self._sizes:   # shortest first
            if end - size < MIN_LEFT:
                break
            while counted < size:
                counted += 1
                strange += text[end - counted] not in chars
            if strange > 1:
                break
            if size <= longer_than:
                continue
            tail = text[end - size:end]
            word = self.changed(tail) or self._dropped.get(tail) or (self._added(tail) if self._by_first else None)
            if word:
                found = size, word  # a longer one may follow
        return found

    def strip(self, text: str, keep: int = 1, slips: bool = True) -> tuple[str, list[str]]:
        """Takes words off the end, longest first, while at least `keep` characters stay; returns the
        rest and the words as the vocabulary spells them. Where no word ends the text, one slip is
        looked for, once (for legal forms together with the word taken last: 有线 + 公司)."""
        rev = text[::-1]
        found: list[str] = []
        end = len(text)
        last = 0    # characters of the word taken last, when nothing stood between it and the text left
        match, size = self.pattern.match, len(text)
        while end > keep:
            m = match(rev, size - end, size - keep)
            if m:
                last = m.end() - m.start()
                found.append(text[end - last:end])
                end -= last
                while end > 0 and text[end - 1].isspace():
                    end, last = end - 1, 0
                continue
            # a slip needs room and, in the two characters before it, one that words have
            if not slips or end < MIN_LEFT + 2 or (text[end - 1] not in self._chars
                                                    and text[end - 2] not in self._chars):
                break
            slips = False
            joined = last if self.longer_slips else 0
            slip = self._slip(text, end + joined, joined)
            if slip is None:
                break
            if joined:
                found.pop()
            found.append(slip[1])
            end += joined - slip[0]
            last = 0
        return text[:end], found[::-1]


LEGAL = Vocabulary(LEGAL_FORMS, fuzzy_from=2, indels_from=4, longer_slips=True)
INDUSTRIES = Vocabulary(INDUSTRY, fuzzy_from=2)
BRANCHES = Vocabulary(frozenset(BRANCH), fuzzy_from=99)
EN_SUFFIXES = Vocabulary(frozenset({f" {w}" for w in EN_INDUSTRY} | EN_INDUSTRY), fuzzy_from=99)


def canonical(words: list[str]) -> str:
    """Industry words as stored: synonyms made one (贸易 → 商贸), joined by `|`."""
    return SEPARATOR.join(SYNONYMS.get(w.strip(), w.strip()) for w in words)


def is_generic(text: str) -> bool:
    """Whether a would-be brand is only a generic word (超市, 有限公司): then it is no brand."""
    return text in INDUSTRY or text in LEGAL_FORMS or text in EN_INDUSTRY


def industries_compatible(a: str, b: str) -> bool:
    """Equal trades, or one side's trades all within the other's (净水设备 and 设备, 网络科技 and 科技);
    shop words (店, 商行, 连锁) and a side that says nothing fit anything."""
    left = [w for w in a.split(SEPARATOR) if w and w not in SHOP_WORDS]
    right = [w for w in b.split(SEPARATOR) if w and w not in SHOP_WORDS]
    if not left or not right:
        return True
    return all(any(x in y for y in right) for x in left) or all(any(y in x for x in left) for y in right)
