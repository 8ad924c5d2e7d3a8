"""Business dates as chat writes them, resolved in the configured timezone relative to now.

今天/昨天/前天/大前天, 上周五/上上周一/本周三/周一 (the most recent such day), 11月15日/15号,
11.16, 3/15, 2026-11-15, today/yesterday/last friday. A date without a year is the most recent
one not after today, so `12.30` written on 2 January is last year's. A date after today is
reported as future (the caller refuses it)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
EN_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "wednesday": 2, "wed": 2, "thursday": 3,
               "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
RELATIVE = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3, "today": 0, "yesterday": 1}

_B = r"(?<![\dA-Za-z.])"   # not glued to a number or word before
_A = r"(?![\d.])"          # nor after
PATTERNS = [
    ("iso", re.compile(rf"{_B}(20\d\d)[-/.年](\d{{1,2}})[-/.月](\d{{1,2}})[日号]?{_A}")),
    ("md_cn", re.compile(r"(\d{1,2})月(\d{1,2})[日号]?")),
    ("day_cn", re.compile(rf"{_B}(\d{{1,2}})[日号](?=$|[^\u4e00-\u9fff]|[给卖送发的])")),
    ("md_slash", re.compile(rf"{_B}(\d{{1,2}})/(\d{{1,2}}){_A}(?!\s*(?:元|块))")),
    ("md_dot", re.compile(rf"{_B}(\d{{1,2}})\.(\d{{1,2}}){_A}(?!\s*(?:元|块|[箱件瓶支罐听台套个]))")),
    ("week_cn", re.compile(r"(上上|上|本|这|这个|上个)?(?:周|星期|礼拜)([一二三四五六日天七])")),
    ("rel_cn", re.compile(r"大前天|前天|昨天|昨日|今天|今日")),
    ("week_en", re.compile(r"\b(?:(last|this|on)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
                           re.I)),
    ("rel_en", re.compile(r"\b(today|yesterday)\b", re.I)),
]


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    value: date | None      # None when the written date does not exist (2月30日)
    ambiguous: bool = False  # `11.16` could also be a price


def _recent(today: date, month: int, day: int, year: int | None = None) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate <= today else date(today.year - 1, month, day)
    except ValueError:
        return None


def _weekday(today: date, weekday: int, prefix: str | None) -> date:
    monday = today - timedelta(days=today.weekday())
    if prefix in ("上", "上个", "last"):
        return monday - timedelta(days=7) + timedelta(days=weekday)
    if prefix == "上上":
        return monday - timedelta(days=14) + timedelta(days=weekday)
    this_week = monday + timedelta(days=weekday)
    if prefix in ("本", "这", "这个", "this"):
        return this_week
    return this_week if this_week <= today else this_week - timedelta(days=7)


def find_dates(text: str, today: date) -> list[DateMatch]:
    """Every date expression in `text`, non-overlapping, in order."""
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            value, ambiguous = _resolve(kind, m, today)
            if kind == "day_cn" and value is None:
                continue
            found.append(DateMatch(m.start(), m.end(), value, ambiguous))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def _resolve(kind: str, m: re.Match, today: date) -> tuple[date | None, bool]:
    g = m.groups()
    if kind == "iso":
        return _recent(today, int(g[1]), int(g[2]), int(g[0])), False
    if kind in ("md_cn", "md_slash"):
        return _recent(today, int(g[0]), int(g[1])), False
    if kind == "md_dot":
        return _recent(today, int(g[0]), int(g[1])), True
    if kind == "day_cn":
        day = int(g[0])
        for back in range(0, 3):
            month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1) if back else today.replace(day=1)
            if back == 2:
                month_start = (month_start - timedelta(days=1)).replace(day=1)
            try:
                candidate = month_start.replace(day=day)
            except ValueError:
                continue
            if candidate <= today:
                return candidate, False
        return None, False
    if kind == "week_cn":
        return _weekday(today, WEEKDAYS[g[1]], g[0]), False
    if kind == "rel_cn":
        return today - timedelta(days=RELATIVE[m.group(0)]), False
    if kind == "week_en":
        prefix = (g[0] or "").lower() or None
        return _weekday(today, EN_WEEKDAYS[g[1].lower()], "last" if prefix == "last" else None), False
    return today - timedelta(days=RELATIVE[m.group(1).lower()]), False
