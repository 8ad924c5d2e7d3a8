"""Business dates as chat writes them, resolved in the configured timezone relative to now.

今天/昨天/前天/大前天/3天前, 上周五/上上周一/本周三/周一/礼拜五 (the most recent such day),
11月15日/十一月十五号/15号/上月20号, 11.16, 3/15, 11-16, 2026-11-15, today/yesterday/last friday/Nov 15.
A date without a year is the most recent one, so `12.30` written on 2 January is last year's,
unless it lies only weeks ahead (`11月25日` on 18 November: a future date, not last year's).
A date after today (明天, 下周一, an ISO date ahead) is reported; the caller refuses it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import cn2an

from . import holidays
from .units import unit_regex

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
EN_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
               "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
               "sunday": 6, "sun": 6}
MONTHS = {m: i + 1 for i, names in enumerate(
    ["jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july", "aug august",
     "sep sept september", "oct october", "nov november", "dec december"]) for m in names.split()}
RELATIVE = {"昨": 1, "今天": 0, "今日": 0, "寻日": 1, "琴日": 1, "噚日": 1, "听日": -1, "yday": 1, "yest": 1, "今儿个": 0, "今儿": 0, "昨儿个": 1, "前儿个": 2, "今早": 0, "今晚": 0, "今天上午": 0, "昨天": 1, "昨日": 1, "昨儿": 1,
            "昨晚": 1, "昨夜": 1, "前天": 2, "前日": 2, "前儿": 2, "大前天": 3, "明天": -1, "明日": -1, "后天": -2,
            "today": 0, "tonight": 0, "yesterday": 1, "tomorrow": -1, "day before yesterday": 2,
            "the day before yesterday": 2}
NEAR_FUTURE_DAYS = 31
CN_SMALL = "一二两三四五六七八九十"
_B = r"(?<![\dA-Za-z.\-/])"   # not glued to a number or word before
_A = r"(?![\d.])"             # nor after
_NOT_AMOUNT = rf"(?!\s*(?:元|块|[万千wWkK%‰升克斤]|毫升|公斤|{unit_regex()}|[一每/]\s*{unit_regex()}))"
_EN_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_EN_WEEKDAY = "|".join(sorted(EN_WEEKDAYS, key=len, reverse=True))
_EN_WEEKDAY_FULL = "|".join(w for w in EN_WEEKDAYS if w.endswith("day"))
PATTERNS = [
    ("holiday", holidays.PATTERN),
    ("iso", re.compile(rf"{_B}(20\d\d)\s*[-/.年]\s*(\d{{1,2}})\s*[-/.月]\s*(\d{{1,2}})\s*[日号]?{_A}")),
    ("md_cn", re.compile(rf"(?:(今年|去年|前年)|{_B}(20\d\d)年)?{_B}(\d{{1,2}}|[{CN_SMALL}]{{1,3}})月份?"
                         rf"(\d{{1,2}}|[{CN_SMALL}]{{1,3}})[日号]?(?![\d{CN_SMALL}])")),
    ("day_cn", re.compile(rf"(本月|这个月|这月|上个月|上月)?{_B}(\d{{1,2}}|[{CN_SMALL}]{{1,3}})[日号]"
                          r"(?!便利|超市|商店|小卖部|批发|商行|市场|[店楼院门线仓库馆铺厅柜房室街路巷栋座层台车位机码])")),
    ("md_slash", re.compile(rf"{_B}(\d{{1,2}})/(\d{{1,2}}){_A}(?![/A-Za-z]){_NOT_AMOUNT}")),
    ("md_dash", re.compile(rf"{_B}(\d{{1,2}})-(\d{{1,2}}){_A}(?![\-A-Za-z]){_NOT_AMOUNT}"
                           r"(?!\s?(?:便利|超市|[\u4e00-\u9fff]{0,6}店))")),  # `7-11便利店` is a name
    ("md_dot", re.compile(rf"{_B}(\d{{1,2}})\.(\d{{1,2}}){_A}(?![A-Za-z]){_NOT_AMOUNT}")),
    ("ago_cn", re.compile(rf"{_B}(\d{{1,2}}|[{CN_SMALL}]{{1,3}})\s*天(?:以)?前")),
    ("week_cn", re.compile(r"(上上个?|上个?|本|这个?|下个?)?(?:周|星期|礼拜)([一二三四五六日天七])")),
    ("rel_cn", re.compile("|".join(sorted((k for k in RELATIVE if not k.isascii()), key=len, reverse=True)))),
    ("en_md", re.compile(rf"(?<![A-Za-z])(?:({_EN_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?|"
                         rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+"
                         rf"(?:of\s+)?({_EN_MONTH})(?![A-Za-z])\.?)(?:,?\s+(20\d\d))?(?![\d])", re.I)),
    ("ago_en", re.compile(r"(?<![A-Za-z])(\d{1,2}|one|two|three|four|five|six|seven)\s+days?\s+ago(?![A-Za-z])", re.I)),
    ("week_en", re.compile(rf"(?<![A-Za-z])(?:(last|this|past|on|next)\s+)?({_EN_WEEKDAY_FULL})(?![A-Za-z])", re.I)),
    ("week_en", re.compile(rf"(?<![A-Za-z])(last|this|past|on|next)\s+({_EN_WEEKDAY})(?![A-Za-z])\.?", re.I)),
    ("day_en", re.compile(r"(?<![A-Za-z])(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)(?![A-Za-z])", re.I)),
    ("rel_en", re.compile(r"(?<![A-Za-z])(the day before yesterday|day before yesterday|today|tonight|yesterday|"
                          r"tomorrow|yday|yest)(?![A-Za-z])", re.I)),
]
_EN_SMALL = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


# A time of day (`下午3点`, `15:30`): ignored, but never a quantity, a price or a name.
TIME = re.compile(r"(?:上午|下午|晚上|早上|中午|傍晚|凌晨|夜里)?\s*(?<![\dA-Za-z.])(?:\d{1,2}|[一二两三四五六七八九十]{1,3}(?=[点时]))"
                  r"\s*(?:[点时](?:\s*(?:\d{1,2}\s*分?|[一二三四五]十?[一二三四五六七八九]?分|半|一刻|钟))?|"
                  r":\d{2}(?!\d))|上午|下午|晚上|早上|中午|傍晚|凌晨|\b(?:\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?)\b", re.I)


# What each kind of date cannot do without (a prefilter; the patterns decide).
NEEDS = {kind: re.compile(chars, re.I) for kind, chars in {
    "iso": r"\d", "md_slash": r"\d/", "md_dash": r"\d-", "md_dot": r"\d\.", "ago_en": r"ago", "md_cn": "月",
    "day_cn": "[日号]", "day_en": "(?:st|nd|rd|th)", "ago_cn": "天", "week_cn": "[周期拜]", "en_md": "[a-z]", "week_en": "[a-z]", "rel_en": "[a-z]",
    "holiday": "[" + "".join(sorted({n[0] for n in holidays.NAMES} | set("大正"))) + "]",
}.items()}


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    value: date | None      # None when the written date does not exist (2月30日)
    ambiguous: bool = False  # `11.16` could also be a price


def _int(token: str) -> int:
    return int(token) if token.isdigit() else int(cn2an.cn2an(token, "smart"))


def _recent(today: date, month: int, day: int, year: int | None = None) -> date | None:
    """A month and day in the year that makes it most recent; a few weeks ahead stays ahead (refused)."""
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        if candidate <= today or (candidate - today).days <= NEAR_FUTURE_DAYS:
            return candidate
        return date(today.year - 1, month, day)
    except ValueError:
        return None


def _weekday(today: date, weekday: int, prefix: str | None) -> date:
    monday = today - timedelta(days=today.weekday())
    this_week = monday + timedelta(days=weekday)
    if prefix and prefix.startswith("上上"):
        return this_week - timedelta(days=14)
    if prefix and prefix.startswith("上"):
        return this_week - timedelta(days=7)
    if prefix and prefix.startswith("下") or prefix == "next":
        return this_week + timedelta(days=7)
    if prefix and prefix[0] in "本这" or prefix == "this":
        return this_week
    if prefix in ("last", "past"):
        return this_week if this_week < today else this_week - timedelta(days=7)
    return this_week if this_week <= today else this_week - timedelta(days=7)


def _month_day(today: date, day: int, prefix: str | None) -> date | None:
    first = today.replace(day=1)
    if prefix and prefix.startswith("上"):
        first = (first - timedelta(days=1)).replace(day=1)
    for _ in range(3):
        try:
            candidate = first.replace(day=day)
        except ValueError:
            if prefix:
                return None
            candidate = None
        if candidate is not None and (prefix or candidate <= today):
            return candidate
        first = (first - timedelta(days=1)).replace(day=1)
    return None


def find_dates(text: str, today: date) -> list[DateMatch]:
    """Every date expression in `text`, non-overlapping, in order."""
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        need = NEEDS.get(kind)
        if need is not None and not need.search(text):
            continue  # a cheap test first: most messages hold no word this kind of date needs
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            try:
                value, ambiguous = _resolve(kind, m, today)
            except (ValueError, KeyError, TypeError):
                continue
            if value is None and kind in ("day_en", "day_cn", "md_dot", "md_slash", "md_dash", "ago_cn", "en_md"):
                continue  # `35号`, `2.30`: not a date after all
            found.append(DateMatch(m.start(), m.end(), value, ambiguous))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def _resolve(kind: str, m: re.Match, today: date) -> tuple[date | None, bool]:
    g = m.groups()
    if kind == "holiday":
        return holidays.resolve(m.group(0), today), False
    if kind == "iso":
        return _recent(today, int(g[1]), int(g[2]), int(g[0])), False
    if kind == "md_cn":
        year = int(g[1]) if g[1] else {"今年": today.year, "去年": today.year - 1, "前年": today.year - 2}.get(g[0])
        return _recent(today, _int(g[2]), _int(g[3]), year), False
    if kind in ("md_slash", "md_dash"):
        return _recent(today, int(g[0]), int(g[1])), False
    if kind == "md_dot":
        return _recent(today, int(g[0]), int(g[1])), True
    if kind == "day_cn":
        day = _int(g[1])
        return (_month_day(today, day, g[0]) if 1 <= day <= 31 else None), False
    if kind == "day_en":
        day = int(g[0])
        return (_month_day(today, day, None) if 1 <= day <= 31 else None), False
    if kind in ("ago_cn", "ago_en"):
        n = _EN_SMALL.get(g[0].lower()) or _int(g[0])
        return today - timedelta(days=n), False
    if kind == "week_cn":
        return _weekday(today, WEEKDAYS[g[1]], g[0]), False
    if kind == "rel_cn":
        return today - timedelta(days=RELATIVE[m.group(0)]), False
    if kind == "en_md":
        month = MONTHS[(g[0] or g[3]).lower()]
        day = int(g[1] or g[2])
        return _recent(today, month, day, int(g[4]) if g[4] else None), False
    if kind == "week_en":
        prefix = (g[0] or "").lower() or None
        return _weekday(today, EN_WEEKDAYS[g[1].lower()], None if prefix == "on" else prefix), False
    return today - timedelta(days=RELATIVE[m.group(1).lower()]), False
