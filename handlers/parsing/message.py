"""Any chat message → the §8.3 meaning: intent plus the fields that intent needs.

Command words (报单, 库存, …) decide when present; otherwise the text is understood when it
is clear: a SKU with a quantity is a sale, 还有多少/库存 asks for stock, 返利 for rebates.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers

from .. import intents
from . import spans as S
from .sale import parse_sale, strip_fillers
from .skus import SkuMatcher
from .units import to_base

STOCK_WORDS = re.compile(r"库存|还有多少|剩多少|还剩|多少货|有货吗|有没有货|存货|stock|inventory", re.I)
REBATE_WORDS = re.compile(r"返利|返点|rebate", re.I)
CLAIMS_WORDS = re.compile(r"我的报备|报备列表|my claims", re.I)
COUNT_WORDS = re.compile(r"^\s*(盘点|盘库|count|stocktake)", re.I)
SALE_VERBS = re.compile(r"卖了|卖给|卖出|售出|送了|发了|出货|报单|sold|\bsell\b|\bsale\b", re.I)
USCC = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])")
PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}[\s-]?\d{3,4}[\s-]?\d{4})(?!\d)")


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()


def phone_digits(raw: str) -> str | None:
    """A valid CN mobile or landline as national digits (`13912345678`, `02584561234`)."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def parse_claim(rest: str) -> dict:
    """`NAME [phone] [USCC]` in any order after the command word."""
    text = rest
    uscc = None
    m = USCC.search(text.upper())
    if m:
        uscc = m.group(1)
        text = text[:m.start()] + " " + text[m.end():]
    phone = None
    for pm in PHONE.finditer(text):
        digits = phone_digits(pm.group(0))
        if digits:
            phone = digits
            text = text[:pm.start()] + " " + text[pm.end():]
            break
    name = re.sub(r"^(?:客户|客户名称|名称|name)\s*[:：]?\s*", "", normalize(text).strip(" ,，;；:："), flags=re.I)
    name = re.sub(r"\s*(?:电话|手机|tel|phone|信用代码|统一社会信用代码)\s*[:：]?\s*$", "", name, flags=re.I)
    return {"customer": name or None, "phone": phone, "uscc": uscc}


def parse_count(rest: str, matcher: SkuMatcher, today: date) -> dict:
    """`A100 35箱 B100 12箱` / one SKU a line / `B200 0` → items of SKU and base quantity."""
    items, missing = [], set()
    for line in re.split(r"[\n;；]+", rest):
        parsed = parse_sale(line, matcher, today)
        if not parsed.items and not parsed.unresolved:
            continue
        for it in parsed.items:
            if it["qty"] is None:
                bare = re.search(r"(?<![A-Za-z0-9.])(\d+)(?![\d.])\s*$", line)
                qty = int(bare.group(1)) if bare else None
                if qty == 0 or (qty is not None and "quantity" not in parsed.missing):
                    it = {**it, "qty": qty}
                elif it.get("amount_fen") is None and bare and qty is not None:
                    it = {**it, "qty": qty}
            if it["qty"] is None:
                missing.add("quantity")
            items.append({"sku": it["sku"], "qty": it["qty"]})
        if parsed.unresolved:
            missing.add("sku")
    return {"items": items, "missing": sorted(missing)}


def parse_message(text: str, matcher: SkuMatcher, today: date) -> dict:
    """The meaning of one message as §8.3 prints it (extra keys allowed)."""
    norm = normalize(text)
    found = intents.command_word(norm)
    intent = found.intent if found else _guess(norm, matcher)
    rest = found.rest if found else norm
    if intent == "sale":
        p = parse_sale(norm, matcher, today)
        out = {"intent": "sale", "customer": p.customer, "date": p.date.isoformat() if p.date else None,
               "items": p.items, "missing": p.missing}
        if p.future:
            out["future_date"] = True
        if p.unresolved:
            out["unresolved"] = p.unresolved
        if p.problems:
            out["problems"] = p.problems
        return out
    if intent == "stock":
        mentions = matcher.find(rest)
        codes = {c for m in mentions for c in m.codes}
        code = next(iter(codes)) if len(codes) == 1 else None
        partner = re.search(r"(?<![A-Za-z0-9])(P\d{2,})(?![0-9])", rest, re.I)
        if code is None and not mentions:
            word = strip_fillers(STOCK_WORDS.sub(" ", re.sub(r"查一下|查查|查|看看|看一下|的", " ", rest)).strip())
            resolved = matcher.resolve(word) if word else ()
            code = resolved[0] if len(resolved) == 1 else None
        return {"intent": "stock", "sku": code, "partner": partner.group(1).upper() if partner else None}
    if intent == "count":
        return {"intent": "count", **parse_count(COUNT_WORDS.sub("", rest) if not found else rest, matcher, today)}
    if intent == "claim":
        return {"intent": "claim", **parse_claim(rest)}
    if intent == "bind":
        code = rest.split()[0].upper() if rest.split() else None
        return {"intent": "bind", "code": code}
    return {"intent": intent}


def _guess(text: str, matcher: SkuMatcher) -> str:
    if CLAIMS_WORDS.search(text):
        return "claims"
    if COUNT_WORDS.search(text):
        return "count"
    if REBATE_WORDS.search(text):
        return "rebate"
    if STOCK_WORDS.search(text) and not SALE_VERBS.search(text):
        return "stock"
    has_sku = bool(matcher.find(text))
    has_qty = bool(S.QTY_PATTERN.search(text))
    if (has_sku and has_qty) or (SALE_VERBS.search(text) and (has_sku or has_qty)):
        return "sale"
    return "unknown"


__all__ = ["parse_message", "to_base"]
