"""Unit words and how they map to a SKU's base unit and pack."""
from __future__ import annotations

import re

PACK_WORDS = {"箱", "件", "xiang", "jian", "ti", "ctn", "ctns", "carton", "cartons", "case", "cases", "box", "boxes", "提", "包", "盒", "pack",
              "packs"}
BASE_FAMILIES = [
    {"瓶", "支", "bottle", "bottles", "btl", "btls", "ping"},
    {"罐", "听", "can", "cans", "tin", "tins"},
    {"台", "unit", "units", "machine", "machines", "tai"},
    {"套", "set", "sets"},
    {"个", "只", "pc", "pcs", "piece", "pieces"},
    {"袋", "bag", "bags"},
]
CN_DEFAULT = "箱件瓶支罐听台套个只袋提包盒桶条"
EN_DEFAULT = ("xiang", "jian", "ti", "ping", "tai", "ctns", "ctn", "cartons", "carton", "cases", "case", "boxes", "box", "bottles", "bottle", "btls", "btl",
              "cans", "can", "tins", "tin", "units", "unit", "machines", "machine", "sets", "set", "pcs", "pc",
              "pieces", "piece", "packs", "pack", "bags", "bag")
# Size words in product names (550ml, 1.5L) are never counting units.
SPEC_UNITS = {"ml", "l", "g", "kg", "mg", "cl", "oz", "毫升", "升", "克", "千克", "斤", "公斤", "寸", "cm", "mm", "m"}


def family(word: str) -> set[str]:
    """The base-unit family a word belongs to (`瓶` ~ `支` ~ bottle), or just the word."""
    word = word.lower()
    for fam in BASE_FAMILIES:
        if word in fam:
            return fam
    return {word}


def is_pack(word: str, sku) -> bool:
    """Whether `word` names the SKU's pack (箱/件/case…, or the SKU's own pack unit)."""
    word = word.lower()
    if sku.pack_size <= 1:
        return False
    if word == sku.pack_unit.lower():
        return True
    if word in family(sku.unit) or word == sku.unit.lower():
        return False
    return word in PACK_WORDS or word in family(sku.pack_unit)


def to_base(qty, word: str | None, sku):
    """A quantity in `word` units as base units (Decimal; may be fractional, caller checks)."""
    if word and is_pack(word, sku):
        return qty * sku.pack_size
    return qty


def unit_regex(extra: tuple[str, ...] = ()) -> str:
    """A regex for any counting unit: the defaults plus a catalog's own units (`提`, `桶`, `pack`)."""
    cn = set(CN_DEFAULT)
    words = set(EN_DEFAULT)
    for raw in extra:
        word = raw.strip().lower()
        if not word or word in SPEC_UNITS:
            continue
        if len(word) == 1 and not word.isascii():
            cn.add(word)
        else:
            words.add(word)
            if word.isascii() and word.isalpha():
                words.add(word + "s")
    multi = sorted((w for w in words if not w.isascii()), key=len, reverse=True)
    ascii_words = sorted((w for w in words if w.isascii()), key=len, reverse=True)
    parts = [re.escape(w) for w in multi] + ["[" + "".join(sorted(cn)) + "]"]
    if ascii_words:
        parts.append(r"(?:" + "|".join(map(re.escape, ascii_words)) + r")(?![a-z])")
    return "(?:" + "|".join(parts) + ")"
