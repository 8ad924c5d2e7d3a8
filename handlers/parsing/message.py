"""Any chat message → the §8.3 meaning: intent plus the fields that intent needs.

Command words (报单, 库存, …) decide when present; otherwise the text is understood when it is
clear: a SKU with a quantity or price is a sale, 还剩多少/有货吗/how much … left asks for stock,
返利 for rebates, 好的/不对 confirm or cancel. Anything else is `unknown`, never an error.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from . import intent as said, lexicon
from .claims import PHONE, USCC, parse_claim, phone_digits
from .intent import CLAIM_LEAD
from .words import is_shop
from .fold import simplified
from .items import assemble, narrow_by_units
from .sale import MAX_PACKS, Marked, mark, name_unknown, parse_sale, strip_fillers
from .skus import Mention, SkuMatcher
from .units import to_base

STOCK_WORDS = re.compile(r"库存|还有多少|还有没|有没有|有没$|仲有|几多|有冇|冇货|还有好多|剩好多|\bchk\b|"
                         r"\bcheck stock\b|\bstock or not\b|\bstill have\b|\bany left\b|还剩|剩多少|剩下多少|剩几|还有几|多少货|有货吗|有没有货|有货没|存货|货还有|有吗$|有没有|"
                         r"\bstock\b|\binventory\b|"
                         r"how (?:much|many)\b.*\b(?:left|remaining|in stock|on hand|do we have|have we got|do i have)|"
                         r"\b(?:left|remaining)\s*\??$", re.I)
STOCK_NOISE = re.compile(r"库存|还有多少|还剩多少|还剩|剩多少|剩下多少|剩下|剩几箱|剩几|还有几箱|还有几|多少货|有货吗|有没有货|有货没|有吗|有没有|"
                         r"存货|货还有|多少|几箱|查一下|查询|查查|查|看看|看一下|请问|的|吗|呢|还有|\bstock\b|\binventory\b|"
                         r"\bhow\b|\bmuch\b|\bmany\b|\bleft\b|\bremaining\b|\bin\b|\bon hand\b|\bcheck\b|\bof\b|\bis\b|"
                         r"\bthere\b|\bany\b|\bdo\b|\bwe\b|\bi\b|\bhave\b|\bgot\b|\bfor\b|\bthe\b|"
                         r"\bcases?\b|\bbottles?\b|"
                         r"[?？!！,，.。]", re.I)
SALE_VERBS = re.compile("|".join(sorted((re.escape(v) for v in lexicon.words("verb") if len(v) > 1), key=len, reverse=True))
                        + r"|报单|\bsold\b|\bsell\b|\bsale\b", re.I)
STRONG_VERBS = re.compile(r"卖了|卖给|卖出|售出|报单|\bsold\b|\bsell\b|\bsale\b", re.I)
CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
LEFT_WORDS = re.compile(r"还剩|剩下|还有|剩")
QUESTION = re.compile(r"[吗嘛么?？]|多少|几[箱件瓶个台]?")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), inner whitespace collapsed, trimmed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()


def parse_message(text: str, matcher: SkuMatcher, today: date) -> dict:
    """The meaning of one message as §8.3 prints it (extra keys allowed)."""
    source = normalize(text)
    norm = simplified(source)
    intent, rest, marked = _intent(norm, matcher, today)
    if intent == "unknown" and CJK_GAP.search(norm):  # `查 一下 大瓶水 还有 多少`: a word a space
        squeezed = CJK_GAP.sub("", norm)
        again = _intent(squeezed, matcher, today)
        if again[0] not in ("unknown", "sale"):
            intent, rest, marked = again
    if intent == "sale":
        p = parse_sale(norm, matcher, today, marked=marked, source=source)
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
        return {"intent": "stock", **parse_stock(rest, matcher)}
    if intent == "count":
        out = {"intent": "count", **parse_count(rest, matcher, today)}
        shift = len(norm) - len(rest) if norm.endswith(rest) else 0
        for u in out.get("unresolved", []):
            if u["start"] is not None:
                u["start"], u["end"] = u["start"] + shift, u["end"] + shift
        return out
    if intent == "claim":
        claim = parse_claim(rest)
        name, at = claim["customer"], rest.find(claim["customer"] or "\0")
        if name and at >= 0 and norm.endswith(rest):  # the name as written (traditional stays traditional)
            offset = len(norm) - len(rest) + at
            claim["customer"] = source[offset:offset + len(name)]
        return {"intent": "claim", **claim}
    if intent == "bind":
        return {"intent": "bind", "code": rest.upper() if rest else None}
    if intent == "unknown":
        return {"intent": "unknown", "guesses": guesses(norm, matcher)}
    return {"intent": intent}


def guesses(norm: str, matcher: SkuMatcher) -> list[str]:
    """What an unclear message most likely wanted, best first (four at most): a product named points
    to a sale, stock or a count; a shop-like name to a claim; numbers to a sale."""
    order: list[str] = []
    if matcher.find(norm):
        order += ["sale", "stock", "count"]
    if any(is_shop(w) for w in re.split(r"[\s,，。;；:：]+", norm) if w):
        order += ["claim", "sale", "claims"]
    if re.search(r"\d|[一二两三四五六七八九十百千]", norm):
        order += ["sale", "count"]
    order += ["sale", "stock", "claim", "rebate", "help"]
    return list(dict.fromkeys(order))[:4]


def _intent(norm: str, matcher: SkuMatcher, today: date) -> tuple[str, str, Marked | None]:
    """The intent, the text after the command word (the whole text when there is none), and the
    marked message when telling a sale needed it."""
    intent, rest = said.command(norm)
    if intent is not None:
        return intent, rest, None
    core = said.strip_openers(norm)
    mk = _looks_like_sale(norm, matcher, today)
    if STOCK_WORDS.search(core) and not SALE_VERBS.search(core):
        if mk is not None and mk.qtys and (mk.prices or mk.bares):
            return "sale", norm, mk
        if mk is not None and mk.qtys and mk.mentions and LEFT_WORDS.search(core) and not QUESTION.search(core):
            return "count", core, None  # `仓库里小瓶水还剩三十五箱`: a count told in words
        return "stock", core, None
    if mk is None and _names_a_contact(core):
        return "claim", CLAIM_LEAD.sub("", re.sub(r"^(?:还有|另外|再|又)", "", core)), None
    if mk is not None:
        return "sale", norm, mk
    loose = said.loose_yes_no(norm)
    return (loose, "", None) if loose else ("unknown", norm, None)


def _names_a_contact(text: str) -> bool:
    """A shop or company named with a phone or credit code, and nothing sold: a customer to claim
    (`还有一家 苏果便利店江宁店 电话025-52123456`)."""
    rest = USCC.sub(" ", text.upper())
    found = USCC.search(text.upper()) is not None or any(phone_digits(m.group(0)) for m in PHONE.finditer(rest))
    return found and any(is_shop(w) for w in re.split(r"[\s,，。;；:：、]+", PHONE.sub(" ", rest)) if w)


def _looks_like_sale(norm: str, matcher: SkuMatcher, today: date) -> Marked | None:
    """A SKU with a quantity or a price, a quantity with a price, or a sales verb with either."""
    if not re.search(r"\d|[一二两三四五六七八九十百千万半]|\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten)\b",
                     norm, re.I):
        return None
    mk = mark(norm, matcher, today)
    has_sku = bool(mk.mentions) or any(matcher.resolve(w.text) for w in mk.words if not w.marked)
    has_qty = bool(mk.qtys)
    has_price = any(p.mode in ("per", "total") or p.extra.get("num") for p in mk.prices) or bool(mk.bares)
    verb = bool(SALE_VERBS.search(norm))
    strong = bool(STRONG_VERBS.search(norm))
    sale = (has_sku and (has_qty or has_price or verb)) or (has_qty and (verb or bool(mk.prices) or bool(mk.bares))) \
        or (strong and has_price)
    return mk if sale else None


def parse_stock(rest: str, matcher: SkuMatcher) -> dict:
    """`A100还有多少`, `查一下苏打水库存`, `how much A100 left` → the SKU asked about (or null)."""
    mentions = matcher.find(rest)
    codes = sorted({c for m in mentions for c in m.codes})
    partner = re.search(r"(?<![A-Za-z0-9])(P\d{2,})(?![0-9])", rest, re.I)
    if not mentions:
        for word in STOCK_NOISE.sub(" ", rest).split():
            word = strip_fillers(word)
            if word and not (partner and word.upper() == partner.group(1).upper()):
                codes = sorted(set(codes) | set(matcher.resolve(word)))
    out = {"sku": codes[0] if len(codes) == 1 else None,
           "partner": partner.group(1).upper() if partner else None}
    if len(codes) > 1:
        out["candidates"] = codes
    return out


def parse_count(rest: str, matcher: SkuMatcher, today: date) -> dict:
    """`A100 35箱 B100 12箱` / one SKU a line / `B200 0` → items of SKU and base quantity."""
    text = unicodedata.normalize("NFKC", rest)
    mk = mark(text, matcher, today)
    plain = []
    for w in mk.words:
        codes = matcher.resolve(w.text)
        if codes:
            mk.mentions.append(Mention(w.start, w.end, codes, w.text))
        else:
            plain.append(w)
    mk.mentions.sort(key=lambda m: m.start)
    items, missing, unresolved, problems = [], set(), [], set()
    lines = assemble(text, mk.mentions, mk.qtys, [], mk.bares, count=True)
    narrow_by_units(lines, matcher)
    name_unknown(lines, plain, text)
    for it in lines:
        if not it.known:
            if it.mention is not None or it.qty is not None:
                missing.add("sku")
                m = it.mention
                unresolved.append({"token": m.token if m else None, "start": m.start if m else None,
                                   "end": m.end if m else None, "codes": list(it.codes)})
            continue
        sku = matcher.get(it.codes[0])
        qty = None
        if it.qty is None:
            missing.add("quantity")
        else:
            q = it.qty
            base = to_base(q.value, q.unit, sku) if q.unit else q.value * max(sku.pack_size, 1)
            if q.extra.get("loose") is not None:
                base += to_base(q.extra["loose"], q.extra["loose_unit"], sku)
            if base < 0 or base != base.to_integral_value() or base > MAX_PACKS * max(sku.pack_size, 1):
                missing.add("quantity")
                problems.add("bad_quantity")
            else:
                qty = int(base)
        items.append({"sku": sku.code, "qty": qty})
    if not items and not unresolved:
        missing.add("sku")
    out = {"items": items, "missing": sorted(missing)}
    if unresolved:
        out["unresolved"] = unresolved
    if problems:
        out["problems"] = sorted(problems)
    return out


__all__ = ["parse_message", "parse_stock", "parse_count", "normalize"]
