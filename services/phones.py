"""Chinese phone numbers normalised to the digits of the national number (mobile `13912345678`,
landline with its area code `02584561234`), checked with `phonenumbers` (libphonenumber's data)."""
from __future__ import annotations

import phonenumbers

from .errors import InvalidInput


def normalize(raw: str) -> str:
    """Digits only, no country code; InvalidInput when it is not a valid number in China."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise InvalidInput(field="phone", value=raw,
                           reason=f"「{text}」不是有效的中国电话号码；手机写 11 位，座机带区号，如 025-84561234"
                                  f" (not a valid phone number in China)")
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
