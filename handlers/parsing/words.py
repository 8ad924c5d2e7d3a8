"""The words of a sales message that no number, date or SKU took: fillers, customer markers
(给/卖给/客户:/to …, wherever they stand), customer names and unknown product words."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon, segment

PUNCT = re.compile(r"[,，;；:：。!！?？、\n()（）\[\]【】<>《》\"“”]+")
SHOP = re.compile(r"(?:超市|便利店|便利|商店|商行|商场|商城|百货|店|铺|行|公司|集团|餐厅|餐馆|餐饮|饭店|饭馆|酒店|酒楼|酒家|食堂|批发部|"
                  r"批发|经营部|门市部|部|厂|中心|商贸|贸易|超|馆|社|站|坊|堂|楼|广场|市场|摊|档|家|院|校|所|会所|吧|士多|烧烤|火锅|小吃|"
                  r"美食城|城|副食|烟酒|粮油|水果|茶行|药房|冒菜|串串|麻辣烫|快餐|菜馆|饭庄|蹄花|小面|米粉|"
                  r"kopitiam|provision shop|mini ?mart|minimart|pte\.? ?ltd\.?|"
                  r"mart|store|shop|kitchen|restaurant|cafe|café|bar|hotel|market|supermarket|ltd\.?|co\.?|inc\.?|"
                  r"company|trading|group|hall|deli|bakery|foods?|pharmacy)$", re.I)
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
            "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
PERSON = re.compile(r"^(?:[老小阿][\u4e00-\u9fff]{1,2}|[\u4e00-\u9fff]{1,3}(?:总|姐|哥|叔|姨|嫂|师傅|老板|经理|老师|先生|女士|小姐))$")
FULL_NAME = re.compile(rf"^[{SURNAMES}][\u4e00-\u9fff]{{1,2}}$")
CJK = re.compile(r"[\u4e00-\u9fff]")
_AFTER_MARKER = frozenset("是为了的就也又")  # `卖给了X`, `客户是X`: grammar right after a marker
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'&.\-]*|\d+[A-Za-z\-][A-Za-z0-9'&.\-]*")
BRANCH_WORD = re.compile(r"^[\u4e00-\u9fff]{1,8}(?:分店|门店|店|分公司)$")


@dataclass
class Word:
    start: int
    end: int
    text: str
    marked: bool = False


def strip_fillers(text: str) -> str:
    """`卖了老王的` → `老王`: the text from its first name-like run to its last, by the same grammar
    words (lexicon.toml) as the parser; an answer made only of grammar words is empty."""
    text = text.strip(" :：-~")
    runs = words(text, [])
    return text[runs[0].start:runs[-1].end] if runs else ""


def is_shop(word: str) -> bool:
    return bool(SHOP.search(word.rstrip(" .")))


def is_person(word: str) -> bool:
    """老王, 王总, 李姐: plainly a person."""
    return bool(PERSON.match(word))


def may_be_person(word: str) -> bool:
    """张三, 李建国: a surname and one or two characters (also many product words, so only a hint)."""
    return bool(PERSON.match(word) or FULL_NAME.match(word))


def words(text: str, taken: list[tuple[int, int]], items: list[tuple[int, int]] | None = None) -> list[Word]:
    """The leftover words: runs of jieba tokens that are not grammar (fillers, verbs, particles,
    markers — lexicon.toml), split at punctuation and spaces; the run right after a marker
    (给/卖给/客户是/to …) is `marked` (the customer). A name is never cut inside a token."""
    mask = bytearray(len(text))
    for s, e in taken:
        mask[s:e] = b"\x01" * (e - s)
    for s, e in items if items is not None else taken:
        mask[s:e] = b"\x02" * (e - s)  # a product, quantity or price: what 和/都 may join
    out: list[Word] = []
    i, n = 0, len(text)
    pending = False
    while i < n:
        if mask[i]:
            i += 1
            continue
        j = i
        while j < n and not mask[j]:
            j += 1
        for ps, pe in _pieces(text, i, j, PUNCT):
            pending = _runs(text, ps, pe, out, pending, mask)
        i = j
    return _join_branches(text, out)


def _runs(text: str, start: int, end: int, out: list[Word], pending: bool, mask: bytearray) -> bool:
    """Appends the name-like runs of text[start:end] to `out`; returns whether a marker waits.

    Spaces, markers and grammar words of two or more characters (送了, 那个, 一共) end a run. A
    one-character grammar word (发, 再, 的, 和) is weak: inside a name that ends in a shop word
    (顺发超市, 好再来饭店, 阿嬷的店) or after a marker (给好再来烧烤) it belongs to the name; at a
    run's edges and elsewhere it is grammar."""
    seg: list[tuple[int, int, str, bool]] = []  # (start, end, token, weak)
    last_marker_end = -1
    for ts, te, tok in _verb_split(segment.tokens(text, start, end)):
        low = tok.lower()
        glued = te < len(text) and CJK.match(text[te]) is not None
        if _LATIN_WORD.fullmatch(tok) and glued:
            low = ""  # `OK便利店`: letters glued to a Chinese name are part of it
        if seg and ts > seg[-1][1] and not text[seg[-1][1]:ts].strip() \
                and not (_LATIN_WORD.fullmatch(seg[-1][2]) and _LATIN_WORD.fullmatch(tok)):
            pending = _flush(text, seg, out, pending, mask)  # a space, unless between Latin words
            seg = []
        if ts == last_marker_end and low in lexicon.MARKER:
            seg = [(ts, te, tok, False)]  # `给给力烟酒行`: a marker right after a marker begins the name
            continue
        marker = low in lexicon.MARKER
        if marker and len(tok) == 1 and any(not t[3] for t in seg) and not pending:
            seg.append((ts, te, tok, True))
            continue
        if marker:
            pending = _flush(text, seg, out, pending, mask)
            seg, pending, last_marker_end = [], True, te
            if len(tok) == 1 and tok in lexicon.NAME_START:
                seg = [(ts, te, tok, True)]  # `给力批发`: kept only if the name would be one character
            continue
        grammar = low in lexicon.GRAMMAR and not (ts == last_marker_end and low in lexicon.MARKER)
        if grammar and len(tok) > 1:
            pending = _flush(text, seg, out, pending, mask)
            seg = []
            continue
        seg.append((ts, te, tok, grammar or low in lexicon.SOFT))
    return _flush(text, seg, out, pending, mask)


def _flush(text: str, seg: list[tuple[int, int, str, bool]], out: list[Word], pending: bool,
           mask: bytearray) -> bool:
    """Turns one segment into runs (see `_runs`); returns whether a marker still waits."""
    if seg and seg[0][2] in lexicon.MARKER and seg[0][3]:
        rest = text[seg[1][0]:seg[-1][1]] if len(seg) > 1 else ""
        shop = SHOP.search(rest)
        if not (shop and shop.start() == 1):
            seg = seg[1:]  # the marker was a marker; `给力批发` keeps it (力批发 has a one-character brand)
    while seg and seg[-1][3] and seg[-1][2] not in lexicon.SOFT:
        seg = seg[:-1]  # a trailing verb or particle: 张三超市发, 老王又
    if not seg:
        return pending
    whole = text[seg[0][0]:seg[-1][1]]
    de = [k for k, t in enumerate(seg) if t[2] == "的" and k + 1 < len(seg)]
    if de and is_shop(after := text[seg[de[-1] + 1][0]:seg[-1][1]]) and len(after) >= 3:
        seg = seg[de[-1] + 1:]  # `隔壁街的周奶奶杂货店`: the place before 的 is not the name (阿嬷的店 stays)
        whole = after
    if pending or is_shop(whole):
        shop = is_shop(whole)
        while seg and seg[0][3]:
            first = seg[0]
            starts_name = shop and (first[2] in lexicon.NAME_START and (first[0] == 0 or mask[first[0] - 1] != 2)
                                    or pending and first[2] not in _AFTER_MARKER)  # 客户：再来一碗面馆
            if starts_name or (first[2] in lexicon.SOFT and (shop or first[0] == 0 or mask[first[0] - 1] != 2)):
                break
            seg = seg[1:]  # `苏打水和气泡水`: joins two marked things; `我是…`, `又…`: not a name's first word
        if seg:
            out.append(Word(seg[0][0], seg[-1][1], text[seg[0][0]:seg[-1][1]], pending))
            pending = False
        return pending
    run: list[tuple[int, int, str, bool]] = []
    for tok in seg + [None]:
        if tok is None or (tok[3] and tok[2] not in lexicon.SOFT) or (tok[3] and not run):
            while run and run[-1][3] and len(run) == 1:
                run.pop()
            if run:
                out.append(Word(run[0][0], run[-1][1], text[run[0][0]:run[-1][1]], pending))
                pending = False
            run = []
            continue
        run.append(tok)
    return pending


def _verb_split(toks: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """`超市发` (a dictionary word) before a product is 超市 + 发: a shop word then a verb."""
    out = []
    for ts, te, tok in toks:
        if len(tok) >= 3 and tok[-1] in lexicon.VERB and is_shop(tok[:-1]):
            out += [(ts, te - 1, tok[:-1]), (te - 1, te, tok[-1])]
        else:
            out.append((ts, te, tok))
    return out


def _join_branches(text: str, out: list[Word]) -> list[Word]:
    """`Lawson 中山路店`, `永辉超市 鼓楼店`: a branch written after its chain, with only a space between."""
    joined: list[Word] = []
    for w in out:
        prev = joined[-1] if joined else None
        spaced = prev is not None and not text[prev.end:w.start].strip()
        latin_then_shop = spaced and _LATIN_WORD.fullmatch(prev.text.replace(" ", "")) is not None \
            and CJK.search(w.text) is not None and (is_shop(w.text) or is_shop(prev.text))  # `Ole' 精品超市`
        if latin_then_shop or spaced and BRANCH_WORD.match(w.text) \
                and (is_shop(prev.text) or _LATIN_WORD.search(prev.text)) and not BRANCH_WORD.match(prev.text):
            joined[-1] = Word(prev.start, w.end, text[prev.start:w.end], prev.marked or w.marked)
            continue
        joined.append(w)
    return joined


def _pieces(text: str, start: int, end: int, sep: re.Pattern) -> list[tuple[int, int]]:
    out, pos = [], start
    for m in sep.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if end > pos:
        out.append((pos, end))
    return [(s, e) for s, e in out if text[s:e].strip()]


def glued_name(text: str, end: int, taken: list[tuple[int, int]]) -> str | None:
    """The Chinese run glued right after a span, when it reads as the rest of a shop name
    (`三只` + `松鼠专卖店`); None when a marker or a non-name follows."""
    if end and text[end - 1].isspace():
        return None  # a space between: not glued
    j = end
    while j < len(text) and CJK.match(text[j]) and not any(s <= j < e for s, e in taken):
        j += 1
    run = text[end:j]
    marker = next((ts for ts, _te, tok in segment.tokens(run, 0, len(run)) if tok in lexicon.MARKER), None)
    if marker is not None:
        run = run[:marker]
    return run if run and is_shop(run) else None
