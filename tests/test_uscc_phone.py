"""Unified social credit codes (GB 32100-2015) and Chinese phone numbers: what passes, what is
refused, and that a refusal says why."""
from __future__ import annotations

import random

import phonenumbers
import pytest

from services import phones, uscc
from services.errors import InvalidInput

CORPUS_CODES = ("91320100MA1X8K3L2C", "91310000MA1FL5PQ92", "91110000802100433B")


def reason(fn, value) -> str:
    with pytest.raises(InvalidInput) as caught:
        fn(value)
    return caught.value.facts["reason"]


@pytest.mark.parametrize("code", CORPUS_CODES)
def test_the_corpus_codes_are_valid(code):
    assert uscc.validate(code) == code


@pytest.mark.parametrize("raw,clean", [
    ("91310000ma1fl5pq92", "91310000MA1FL5PQ92"),          # lower case
    ("９１３２０１００ＭＡ１Ｘ８Ｋ３Ｌ２Ｃ", "91320100MA1X8K3L2C"),  # full width
    (" 9132 0100-MA1X 8K3L 2C ", "91320100MA1X8K3L2C"),    # spaces and dashes as people group it
])
def test_codes_are_folded_to_upper_case_ascii(raw, clean):
    assert uscc.validate(raw) == clean


def test_a_wrong_check_digit_names_the_expected_one():
    text = reason(uscc.validate, "91320100MA1X8K3L2D")
    assert "校验位" in text and "应为 C" in text and "expected C, got D" in text


@pytest.mark.parametrize("code", ["", "9132010", "91320100MA1X8K3L2CC"])
def test_a_wrong_length_says_how_long_it_is(code):
    text = reason(uscc.validate, code)
    assert "18 位" in text and f"this has {len(code)}" in text


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_the_five_excluded_letters_are_refused_with_their_position(letter):
    code = "91320100MA1X8K3L2C"
    text = reason(uscc.validate, code[:9] + letter + code[10:])
    assert f"第 10 位「{letter}」" in text and "not allowed" in text


def test_every_generated_code_passes_and_every_other_check_character_fails():
    rng = random.Random(3)
    for _ in range(200):
        body = "".join(rng.choice(uscc.ALPHABET) for _ in range(17))
        good = body + uscc.check_char(body)
        assert uscc.validate(good) == good
        wrong = next(c for c in uscc.ALPHABET if c != good[-1])
        with pytest.raises(InvalidInput):
            uscc.validate(body + wrong)


def test_check_character_follows_the_standard_weights():
    body = "91320100MA1X8K3L2"
    total = sum(uscc.ALPHABET.index(c) * w for c, w in zip(body, uscc.WEIGHTS))
    assert uscc.check_char(body) == uscc.ALPHABET[(31 - total % 31) % 31] == "C"
    assert uscc.WEIGHTS == tuple(pow(3, i, 31) for i in range(17))


@pytest.mark.parametrize("raw,digits", [
    ("13912345678", "13912345678"),
    ("139 1234 5678", "13912345678"),
    ("139-1234-5678", "13912345678"),
    ("+86 139 1234 5678", "13912345678"),
    ("0086 13912345678", "13912345678"),
    ("+86-13912345678", "13912345678"),
    ("１３９１２３４５６７８", "13912345678"),
    ("025-84561234", "02584561234"),
    ("025-8456-1234", "02584561234"),
    ("(025) 8456 1234", "02584561234"),
    ("02584561234", "02584561234"),
    ("+86 25 8456 1234", "02584561234"),
    ("010-62345678", "01062345678"),
    ("0571-87654321", "057187654321"),
])
def test_phones_become_national_digits(raw, digits):
    assert phones.normalize(raw) == digits


@pytest.mark.parametrize("raw", ["", "12345", "8456-1234", "1391234567", "139123456789", "+1 650 253 0000",
                                 "10000000000", "abc", "025-1234"])
def test_invalid_phones_are_refused_with_a_reason(raw):
    text = reason(phones.normalize, raw)
    assert "不是有效的中国电话号码" in text and "not a valid phone number in China" in text
    assert phones.normalize_or_none(raw) is None


def test_the_cached_verdicts_agree_with_libphonenumber():
    rng = random.Random(9)
    numbers = ["1" + "".join(rng.choice("0123456789") for _ in range(10)) for _ in range(400)]
    numbers += ["0" + "".join(rng.choice("0123456789") for _ in range(rng.choice((9, 10, 11)))) for _ in range(400)]
    for raw in numbers * 2:  # the second round answers from the cache
        assert phones.normalize_or_none(raw) == _libphonenumber(raw), raw


def _libphonenumber(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        return None
    return "".join(c for c in phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit())
