"""Unit words and how they map to a SKU's base unit and pack."""
from __future__ import annotations

PACK_WORDS = {"箱", "件", "ctn", "ctns", "carton", "cartons", "case", "cases", "box", "boxes", "提", "包"}
BASE_FAMILIES = [
    {"瓶", "支", "bottle", "bottles", "btl"},
    {"罐", "听", "can", "cans", "tin", "tins"},
    {"台", "unit", "units", "machine", "machines"},
    {"套", "set", "sets"},
    {"个", "只", "pc", "pcs", "piece", "pieces", "袋"},
]
CN_UNITS = "箱件瓶支罐听台套个只袋提包"
EN_UNITS = r"ctns?|cartons?|cases?|boxes|box|bottles?|btls?|cans?|tins?|units?|machines?|sets?|pcs|pc|pieces?"


def family(word: str) -> set[str]:
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
    if word in family(sku.unit):
        return False
    return word in PACK_WORDS


def to_base(qty, word: str | None, sku):
    """A quantity in `word` units as base units (Decimal; may be fractional, caller checks)."""
    if word and is_pack(word, sku):
        return qty * sku.pack_size
    return qty
