"""One folding of company names, used on both sides of every comparison (a claim as stored, a probe,
the division names it is split by): compatibility forms to plain ones (NFKC: full-width letters,
digits, brackets and spaces), traditional characters to simplified (OpenCC `t2s`), lower case.

NFKC runs before OpenCC so that compatibility ideographs (U+F900…) reach OpenCC as the ordinary
traditional characters it knows. Division names go through the same fold (OpenCC turns 乾县 into
干县), so a name and the index it is looked up in always agree.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Width, traditional characters and case folded; spaces at the ends dropped, punctuation kept
    (the splitter still needs brackets and word breaks)."""
    text = unicodedata.normalize("NFKC", text or "")
    if not text.isascii():
        text = _t2s().convert(text)
    return text.lower().strip()
