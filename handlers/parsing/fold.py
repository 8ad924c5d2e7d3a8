"""The first step for every message: full width to half width (NFKC) and traditional characters
to simplified (OpenCC `t2s`), keeping every character's position so that a name can be cut from
the text exactly as the user wrote it."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


@lru_cache(maxsize=4096)
def _char(ch: str) -> str:
    out = _T2S.convert(ch)
    return out if len(out) == 1 and ord(out) <= 0xFFFF else ch


def simplified(text: str) -> str:
    """`報單 蘇打水` → `报单 苏打水`, same length as the input (phrase conversions that would change
    the length fall back to character by character)."""
    out = _T2S.convert(text)
    if len(out) != len(text):
        return "".join(_char(ch) for ch in text)
    if _ASTRAL.search(out):  # `嗰` → `𠮶`: Cantonese characters stay as written
        return "".join(o if ord(o) <= 0xFFFF else t for o, t in zip(out, text))
    return out


def nfkc(text: str) -> str:
    """NFKC, keeping length where a character would expand (`㎖`), so positions still line up."""
    out = unicodedata.normalize("NFKC", text)
    if len(out) == len(text):
        return out
    return "".join(c if len(n := unicodedata.normalize("NFKC", c)) != 1 else n for c in text)


def fold(text: str) -> str:
    """NFKC, then simplified characters; positions unchanged."""
    return simplified(nfkc(text or ""))
