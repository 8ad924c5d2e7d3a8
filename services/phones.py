"""Chinese phone numbers normalised to the digits of the national number (mobile `13912345678`,
landline with its area code `02584561234`), checked with `phonenumbers` (libphonenumber's data).

libphonenumber decides validity of a Chinese number by its leading digits and its length, so its
verdict is cached per (first six digits, length): a million-row import asks it a few thousand
times, not a million.
"""
from __future__ import annotations

import re
import phonenumbers

from .errors import InvalidInput

_SEPARATORS = re.compile(r"[\s\-().·]+")
_PLAIN = re.compile(r"(?:\+86|0086)?(1\d{10}|0\d{9,11})")
_VERDICTS: dict[tuple[str, int], bool] = {}  # (first six digits, length) → libphonenumber's verdict


def normalize(raw: str) -> str:
    """Digits only, no country code; InvalidInput when it is not a valid number in China."""
    text = (raw or "").strip()
    plain = _PLAIN.fullmatch(text if text.isdigit() else _SEPARATORS.sub("", text))
    if plain:
        digits = plain.group(1)
        shape = (digits[:6], len(digits))
        if shape not in _VERDICTS:
            if len(_VERDICTS) > 1 << 17:
                _VERDICTS.clear()
            _VERDICTS[shape] = _slow(digits) == digits
        if _VERDICTS[shape]:
            return digits
    digits = _slow(text)
    if digits:
        return digits
    raise InvalidInput(field="phone", value=raw,
                       reason=f"「{text}」不是有效的中国电话号码；手机写 11 位，座机带区号，如 025-84561234"
                              f" (not a valid phone number in China)")


def _slow(text: str) -> str | None:
    """The national number's digits by libphonenumber itself, or None."""
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


def normalize_or_none(raw: str | None) -> str | None:
    """The normalised number, or None when empty or not valid (for lookups that must not fail)."""
    if not raw or not raw.strip():
        return None
    try:
        return normalize(raw)
    except InvalidInput:
        return None
