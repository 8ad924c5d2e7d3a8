"""Unified social credit codes (统一社会信用代码, GB 32100-2015): 18 characters, the last a check digit.

The alphabet is 0-9 and the capitals without I, O, Z, S, V; character i weighs 3^i mod 31 and the check
character is 31 − (Σ value × weight mod 31), 31 meaning 0. Errors say which rule a code breaks.
"""
from __future__ import annotations

import re
import unicodedata
from operator import mul

from .errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


_SHAPE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


def check_char(first17: str) -> str:
    """The check character of the first 17 characters (all from ALPHABET)."""
    total = sum(map(mul, map(VALUE.__getitem__, first17), WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """The code upper-cased (width folded, spaces and dashes dropped); InvalidInput(reason) names what is wrong."""
    text = unicodedata.normalize("NFKC", code or "").upper()
    if not _SHAPE.fullmatch(text):
        text = "".join(ch for ch in text if not ch.isspace() and ch != "-")
        _explain_shape(code, text)
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InvalidInput(field="uscc", value=code,
                           reason=f"统一社会信用代码校验位不对：应为 {expected}，现在是 {text[17]}"
                                  f" (check digit: expected {expected}, got {text[17]})")
    return text


def _explain_shape(code: str, text: str) -> None:
    """Raises InvalidInput for a wrong length or a character outside the alphabet."""
    if len(text) != LENGTH:
        raise InvalidInput(field="uscc", value=code,
                           reason=f"统一社会信用代码应为 18 位，「{text}」是 {len(text)} 位 "
                                  f"(a USCC has 18 characters, this has {len(text)})")
    for pos, ch in enumerate(text, start=1):
        if ch not in VALUE:
            raise InvalidInput(field="uscc", value=code,
                               reason=f"统一社会信用代码第 {pos} 位「{ch}」不是允许的字符（数字和除 I、O、Z、S、V 外的大写字母）"
                                      f" (character {pos} {ch!r} is not allowed)")
