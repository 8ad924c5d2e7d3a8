"""Numbers as chat writes them: 20, 2.8, １０ (NFKC first), 二十, 两, 一百二十, 3.5万, 2w, 1千, 3k, two.

cn2an does the Chinese numerals; this module finds them in text and adds the 万/千/w/k
multipliers and the 块/毛 spoken-price forms cn2an leaves alone. Everything is Decimal.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import cn2an

CN_DIGITS = "零〇一二两三四五六七八九十百千万亿俩仨廿卅卌壹贰叁参肆伍陆柒捌玖拾佰仟"
CN_NUM = rf"[{CN_DIGITS}]{{1,16}}(?:点[{CN_DIGITS}]{{1,8}})?"  # bounded: a longer run is no number, and scanning stays linear
AR_NUM = r"\d{1,30}(?:,\d{3}){0,5}(?:\.\d{1,8})?"
MULT = {"万": Decimal(10000), "w": Decimal(10000), "千": Decimal(1000), "k": Decimal(1000)}
EN_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
            "hundred": 100, "a": 1, "an": 1}
EN_NUM = r"(?:" + "|".join(sorted(EN_WORDS, key=len, reverse=True)) + r")(?![a-z'])"
# An amount: arabic (with an optional 万/千/w/k) or Chinese numerals.
NUMBER = rf"(?:{AR_NUM}(?:[万千](?![\u4e00-\u9fff])|[万千](?=[元块钱箱件瓶支罐听台套个只袋提包盒桶条多左])|\s?[wWkK](?![A-Za-z]))?|{CN_NUM})"
_AR_RE = re.compile(rf"^({AR_NUM})\s?([万千wWkK]?)$")
_CN_RE = re.compile(rf"^{CN_NUM}$")


# 俩/仨 (two, three), 廿/卅/卌 (twenty, thirty, forty: 廿五 = 25, 卅件 = 30)
# and the formal capitals of invoices (贰拾捌 = 28)
_SPOKEN = str.maketrans({"俩": "两", "仨": "三", "廿": "二十", "卅": "三十", "卌": "四十", "壹": "一", "贰": "二",
                         "叁": "三", "参": "三", "肆": "四", "伍": "五", "陆": "六", "柒": "七", "捌": "八", "玖": "九",
                         "拾": "十", "佰": "百", "仟": "千"})


@lru_cache(maxsize=4096)
def to_decimal(token: str) -> Decimal | None:
    """`28`→28, `2.8`→2.8, `3.5万`→35000, `二十八`→28, `一万二`→12000, `two`→2; None if not a number."""
    token = token.strip().translate(_SPOKEN)
    m = _AR_RE.match(token)
    try:
        if m:
            value = Decimal(m.group(1).replace(",", ""))
            return value * MULT[m.group(2).lower()] if m.group(2) else value
        if token.lower() in EN_WORDS:
            return Decimal(EN_WORDS[token.lower()])
        if _CN_RE.match(token):
            if token in ("万", "千", "百", "亿", "十万", "千万", "百万"):
                return None
            return Decimal(str(cn2an.cn2an(token, "smart")))
    except (InvalidOperation, ValueError, KeyError, TypeError):
        return None
    return None


def spoken_price(major: str, minor: str | None) -> Decimal | None:
    """`2块8` / `两块五` → 2.8 / 2.5 (the digit after 块 is jiao)."""
    whole = to_decimal(major)
    if whole is None:
        return None
    if not minor:
        return whole
    jiao = to_decimal(minor)
    if jiao is None or jiao >= 10:
        return None
    return whole + jiao / 10


def is_chinese_numeral(token: str) -> bool:
    """Whether a number was written in Chinese numerals (三, 二十), which names also use."""
    return bool(token) and all(ch in CN_DIGITS or ch == "点" for ch in token)
