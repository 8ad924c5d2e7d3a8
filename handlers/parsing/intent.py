"""Intents said in so many words, in any of the ways people say them (lexicon.toml): a command
word, a bare yes or no, a polite request (麻烦帮我查下库存, 帮我报备一家…), a phrase anywhere
(上一单撤回, 我报备过哪些, 这个怎么用). Messages that need the catalog (sales, stock questions,
counts told in words) are told apart in message.py."""
from __future__ import annotations

import re
from functools import lru_cache

from . import lexicon

_TRAIL = re.compile(r"[\s.。!！~～,，?？…]+$")
_SPACE = re.compile(r"[\s,，.。!！~～、]+")
_PARTICLES = frozenset({"啊", "呀", "吧", "哈", "呢", "了", "啦", "哦", "嘛", "的", "哈哈", "呗", "哟", "噢", "喔",
                        "谢谢", "thanks", "thx", "pls", "please", "哥", "姐", "老板", "亲", "先", "这单", "那单",
                        "这个", "那个", "就", "吧吧", "嗯", "嗯嗯", "emm", "em", "~", "哎呀", "哎", "唉", "呃",
                        "额", "诶", "麻烦了", "麻烦你了", "辛苦了", "辛苦", "经核对", "核对", "上述", "以上", "信息", "内容", "噻", "撒", "咯", "嘛", "lah", "leh", "lor", "ah", "哦豁", "!", "！", "✅", "~"})
# A quantity or price before a command phrase means the phrase is not what the message is about.
_QTY_BEFORE = re.compile(r"\d\s*[箱件瓶支罐听台套个袋提包盒桶元块]|[元块]|卖|送")
CLAIM_LEAD = re.compile(r"^(?:(?:一下|一哈|下|一家|一个|个|家|this one|this customer|new customer|customer|new party|party|this)"
                        r"(?:撒|嘛|哈|啊|吧|呀|哦)?)?\s*[,，:：]?\s*(?:那旮旯|那边|这边|新开的|一家)*\s*"
                        r"(?:叫做|名叫|名字叫|叫|是)?\s*", re.I)
_GREETING = re.compile(r"你好|您好|大家好|老板好|早上好|晚上好|下午好|hello|hi")
_SOFT_NO = frozenset({"不对", "不是", "错了", "不行", "no", "n", "wrong"})
CODE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9\-]{3,}(?![A-Za-z0-9])")
COMMAND_WORDS = lexicon.COMMANDS
_BY_LENGTH = sorted(COMMAND_WORDS, key=len, reverse=True)


@lru_cache(maxsize=None)
def _set(intent: str) -> frozenset[str]:
    return frozenset(p.lower() for p in lexicon.phrases(intent))


def _covered(text: str, words: frozenset[str]) -> bool:
    """Whether `text` is nothing but words of `words` (at least one) and particles."""
    n = len(text)
    best = [None] * (n + 1)  # best[i]: reachable, and whether a real word was used
    best[0] = False
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + 8) + 1):
            piece = text[i:j]
            if piece in words:
                best[j] = True
            elif piece in _PARTICLES and best[j] is not True:
                best[j] = best[i]
    return best[n] is True


def strip_openers(text: str) -> str:
    """`麻烦帮我查下库存` → `查下库存`; `不好意思 这个怎么用啊` → `这个怎么用啊`."""
    opener = _openers()
    while True:
        m = opener.match(text)
        if m is None or m.end() == 0:
            return text
        text = text[m.end():]


@lru_cache(maxsize=None)
def _openers() -> re.Pattern:
    words = [rf"{re.escape(o)}(?![a-z0-9])" if o.isascii() else re.escape(o) for o in lexicon.phrases("opener")]
    return re.compile(rf"(?:{'|'.join(words)})[\s,，:：~～!！]*", re.I)


def yes_no(norm: str) -> str | None:
    """`好的没问题`, `嗯对的`, `ok👍` → confirm; `算了先不报了`, `不对不对` → cancel."""
    bare = _SPACE.sub("", _TRAIL.sub("", norm)).lower()
    if not bare or len(bare) > 24 or re.search(r"[?？吗]|呢$", norm):
        return None  # `没问题吧？` asks; it does not answer
    if _covered(bare, _set("confirm")):
        return "confirm"
    if _covered(bare, _set("cancel")):
        return "cancel"
    first = _SPACE.split(_TRAIL.sub("", norm).lower(), maxsplit=1)
    if len(first) == 2 and first[0] not in _SOFT_NO and _covered(first[0], _set("cancel")) \
            and not re.search(r"\d", first[1]):
        return "cancel"  # `先别报了 我再问问价`; but `不对 …` is a correction, not a cancellation
    return None


def loose_yes_no(norm: str) -> str | None:
    """The last resort for a short message that is otherwise unclear: it holds a yes word or a no
    word of two characters or more (`要得嘛 就这样整`, `先莫报了 那单算了嘛`), only one kind, no number and
    no question."""
    bare = _GREETING.sub("", _SPACE.sub("", _TRAIL.sub("", norm)).lower())
    if not bare or len(bare) > 16 or re.search(r"[\d吗?？]|么$|怎么|咋|如何", norm):
        return None
    yes_words = [w for w in _set("confirm") if len(w) >= 2 and not w.isascii() and w in bare]
    no = any(w in bare for w in _set("cancel") if len(w) >= 2 and not w.isascii())
    rest = bare
    for w in sorted(yes_words, key=len, reverse=True):
        rest = rest.replace(w, "")
    if yes_words and re.search(r"[不没别等再核查问怎]", rest):
        return None  # `不确定`, `好的 等我再核对一下`: hesitation, not a yes
    yes = bool(yes_words)
    if yes != no:
        return "confirm" if yes else "cancel"
    return None


def _has(text: str, intent: str) -> re.Match | None:
    return _regex(intent).search(text)


@lru_cache(maxsize=None)
def _regex(intent: str) -> re.Pattern:
    words = []
    for p in lexicon.phrases(intent):
        w = re.escape(p)
        words.append(rf"(?<![a-z]){w}(?![a-z])" if p.isascii() else w)
    return re.compile("|".join(words), re.I)


def command(norm: str) -> tuple[str | None, str]:
    """The intent a message states and the text after its command phrase; (None, text) if none."""
    if not _TRAIL.sub("", norm):
        return "unknown", ""
    answer = yes_no(norm)
    if answer:
        return answer, ""
    core = strip_openers(norm)
    low = core.lower()
    if _has(low, "claims"):
        return "claims", core
    m = _regex("bind").search(low)
    if m:
        said = re.match(r"\s*(?:码|是|为)?\s*[:：]?\s*([A-Za-z0-9][A-Za-z0-9\-]{3,})\s*$", core[m.end():]) \
            if m.start() == 0 else None
        codes = [said.group(1)] if said else CODE.findall(core)
        if len(codes) == 1:
            return "bind", codes[0]
        if m.start() == 0 and not core[m.end():].strip(" :：码是"):
            return "bind", ""  # `绑定` alone: asked for the code
    if len(core) <= 60 and _has(low, "undo") and not re.search(r"\d", low.replace("上一", "")):
        return "undo", ""
    m = None
    for m in _regex("claim").finditer(low[:40]):  # the last one: `我这有个新客户想报备一下 叫…`
        pass
    if m and (m.start() == 0 or not _QTY_BEFORE.search(low[:m.start()])):
        return "claim", CLAIM_LEAD.sub("", core[m.end():].lstrip(" :：,，"))
    m = _regex("count").search(low[:14])
    if m and (m.start() == 0 or not _QTY_BEFORE.search(low[:m.start()])):
        return "count", core[m.end():] if m.start() == 0 else f"{core[:m.start()]} {core[m.end():]}"
    if len(core) <= 50 and _has(low, "help") and not re.search(r"\d", low):
        return "help", ""
    word = next((w for w in _BY_LENGTH if low.startswith(w)
                 and not (w.isascii() and len(low) > len(w) and low[len(w)].isalnum())), None)
    said = COMMAND_WORDS.get(word)
    if word is not None and said not in ("confirm", "cancel", "claims", "bind"):
        return said, core[len(word):].lstrip(" :：,，")
    if len(core) <= 20 and _has(low, "help"):
        return "help", ""
    if _has(low, "rebate"):
        return "rebate", core
    return None, norm
