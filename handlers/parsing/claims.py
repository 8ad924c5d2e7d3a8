"""`报备 NAME [phone] [USCC]`: a customer claim's name, phone (national digits) and USCC, in any order."""
from __future__ import annotations

import re
import unicodedata

import phonenumbers

USCC = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])")
PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|\(?0\d{2,3}\)?[\s-]?\d{3,4}"
                   r"[\s-]?\d{4})(?!\d)")
LABELS = re.compile(r"(?:统一社会信用代码|社会信用代码|信用代码|税号|uscc|联系电话|电话号码|电话|手机号码|手机号|手机|座机|"
                    r"联系人电话|tel|phone|mobile|客户名称|客户名|客户|公司名称|名称|name)\s*(?:是|为)?\s*[:：]?", re.I)
POLITE_END = re.compile(r"(?:[\s,，。!！]*(?:唔该晒|唔该|谢谢你|谢谢|麻烦了|麻烦你了|辛苦了|thanks|thx|pls|please|哈|啊|呀|吧|[。!！])|[\s,，]+(?:老板|店主))+$", re.I)
CONTACT = re.compile(r"[,，;；\s]*(?:联系人|contact)\s*[:：]?\s*([^\s,，;；\d]+)", re.I)
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def phone_digits(raw: str) -> str | None:
    """A valid CN mobile or landline as national digits (`13912345678`, `02584561234`)."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def uscc_valid(code: str) -> bool:
    """The GB 32100-2015 check character."""
    if not USCC.fullmatch(code):
        return False
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31] == code[17]


def _shop_part(name: str) -> str:
    """`百家乐超市 他们想进点小瓶水`, `好邻居便利店 老板姓王`: the shop, not the remark after it."""
    from .words import BRANCH_WORD, is_shop
    parts = [p for p in re.split(r"\s*[,，;；]\s*|\s+", name) if p]
    if len(parts) < 2:
        return name
    for k, part in enumerate(parts):
        if is_shop(part) and not BRANCH_WORD.match(part) or k + 1 < len(parts) and BRANCH_WORD.match(parts[k + 1]):
            end = k + 2 if k + 1 < len(parts) and BRANCH_WORD.match(parts[k + 1]) else k + 1
            kept = parts[:end]
            stop = name.find(kept[-1], name.find(kept[0])) + len(kept[-1])
            dropped = name[stop:]
            return name[:stop] if re.search(r"[\u4e00-\u9fff]", dropped) else name  # `Co., Ltd.` stays
    return name


def parse_claim(rest: str) -> dict:
    """`NAME [phone] [USCC]` in any order after the command word; labels (电话:, 信用代码:) dropped."""
    text = unicodedata.normalize("NFKC", rest or "")
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
    contact = CONTACT.search(text)
    if contact:
        text = text[:contact.start()] + " " + text[contact.end():]
    text = LABELS.sub(" ", text)
    name = re.sub(r"\s+", " ", text).strip(" ,，;；:：、/|-")
    name = re.sub(r"\s*[,，;；、/|]\s*$", "", name).strip()
    name = POLITE_END.sub("", name).strip(" ,，;；:：、/|-")
    name = _shop_part(name)
    out = {"customer": name or None, "phone": phone, "uscc": uscc}
    if contact:
        out["contact"] = contact.group(1)
    if uscc is not None:
        out["uscc_valid"] = uscc_valid(uscc)
    return out
