"""Money at the edges: yuan text or Decimal in, integer fen out, and back. Never float."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from .errors import InvalidInput

_PLAIN = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_PREFIXES = ("¥", "rmb", "cny")
_SUFFIXES = ("元", "rmb", "cny")


def _clean(text: str) -> str:
    """Folds width (full-width digits, ￥, ，), case and currency marks away."""
    s = unicodedata.normalize("NFKC", text).strip().lower()
    for mark in _PREFIXES:
        if s.startswith(mark):
            s = s[len(mark):].strip()
    for mark in _SUFFIXES:
        if s.endswith(mark):
            s = s[: -len(mark)].strip()
    return s


def _to_decimal(value: str | Decimal | int) -> Decimal:
    """Reads one amount in yuan; raises InvalidInput naming what was wrong."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError("money must be str, Decimal or int, never float or bool")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(reason=f"金额不是数字：{value}", value=str(value))
        return value
    s = _clean(value)
    if not s:
        raise InvalidInput(reason="金额为空", value=value)
    if s.startswith(("-", "−")):
        raise InvalidInput(reason=f"金额不能为负数：{value}", value=value)
    if s.startswith("+"):
        s = s[1:]
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    if not _PLAIN.fullmatch(s):
        raise InvalidInput(reason=f"金额不是数字：{value}", value=value)
    try:
        return Decimal(s)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
        raise InvalidInput(reason=f"金额不是数字：{value}", value=value) from None


def yuan_to_fen(value: str | Decimal | int) -> int:
    """Turns yuan ('1.25', '¥1,999.00', '１９９９', Decimal) into integer fen; at most 2 decimals."""
    amount = _to_decimal(value)
    if amount < 0:
        raise InvalidInput(reason=f"金额不能为负数：{value}", value=str(value))
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise InvalidInput(reason=f"金额最多两位小数（精确到分）：{value}", value=str(value))
    return int(fen)


def fen_to_yuan_str(fen: int, *, grouping: bool = False) -> str:
    """Formats integer fen as '¥560.00' ('-¥5.00' below zero; '¥1,999.00' with grouping)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fen must be an int")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    whole = f"{yuan:,}" if grouping else str(yuan)
    return f"{sign}¥{whole}.{cents:02d}"
