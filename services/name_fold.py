"""One folding of company names, used on both sides of every comparison (a claim as stored, a probe,
the division names it is split by): compatibility forms to plain ones (NFKC: full-width letters,
digits, brackets and spaces), traditional characters to simplified (OpenCC `t2s`), lower case.

NFKC runs before OpenCC so that compatibility ideographs (U+F900…) reach OpenCC as the ordinary
traditional characters it knows. Division names go through the same fold (OpenCC turns 乾县 into
干县), so a name and the index it is looked up in always agree.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional() -> re.Pattern:
    """The characters OpenCC changes on their own (one call over every CJK character, each on its
    own line so that no phrase spans two), as a character class: a name with none of them is left
    as it is, which is most names, and costs one regex search instead of a conversion."""
    chars = [chr(c) for r in ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00)) for c in range(*r)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # not one line out per line in: convert every name instead
        return re.compile(r"[^\x00-\x7f]")
    return re.compile("[" + "".join(c for c, s in zip(chars, converted) if c != s) + "]")


def fold(text: str) -> str:
    """Width, traditional characters and case folded; spaces at the ends dropped, punctuation kept
    (the splitter still needs brackets and word breaks)."""
    text = unicodedata.normalize("NFKC", text or "")
    if not text.isascii() and _traditional().search(text):
        text = _t2s().convert(text)
    return text.lower().strip()
