"""Holidays as dates: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆 … → the most recent such day on or
before today. Lunar festivals come from `lunardate` (the lunar calendar), 清明 and 冬至 from
`chinese_calendar`'s solar terms; fixed ones are plain month and day."""
from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

SOLAR = {"元旦": (1, 1), "情人节": (2, 14), "妇女节": (3, 8), "三八节": (3, 8), "劳动节": (5, 1), "五一": (5, 1),
         "儿童节": (6, 1), "六一": (6, 1), "国庆": (10, 1), "国庆节": (10, 1), "双十一": (11, 11), "双11": (11, 11),
         "双十二": (12, 12), "双12": (12, 12), "平安夜": (12, 24), "圣诞": (12, 25), "圣诞节": (12, 25),
         "new year's day": (1, 1), "christmas": (12, 25), "national day": (10, 1), "labour day": (5, 1),
         "labor day": (5, 1)}
LUNAR = {"春节": (1, 1), "大年初一": (1, 1), "正月初一": (1, 1), "元宵": (1, 15), "元宵节": (1, 15), "端午": (5, 5),
         "端午节": (5, 5), "七夕": (7, 7), "中秋": (8, 15), "中秋节": (8, 15), "重阳": (9, 9), "重阳节": (9, 9),
         "腊八": (12, 8), "小年": (12, 23), "除夕": (0, 0), "大年三十": (0, 0), "年三十": (0, 0),
         "chinese new year": (1, 1), "spring festival": (1, 1), "mid-autumn festival": (8, 15),
         "dragon boat festival": (5, 5)}
TERMS = {"清明": "清明", "清明节": "清明", "冬至": "冬至", "qingming": "清明"}
_FIRST_DAYS = re.compile(r"(?:大年|正月)初([一二三四五六七八九十])")
_CN_DAY = {c: i + 1 for i, c in enumerate("一二三四五六七八九十")}
NAMES = sorted({*SOLAR, *LUNAR, *TERMS}, key=len, reverse=True)
# A holiday said with numerals (五一, 六一, 双11) is not one inside an amount (`三十五一箱`, `五一块`).
_NUMERALS = "零〇一二两三四五六七八九十百千万俩仨"
PATTERN = re.compile(rf"(?<![{_NUMERALS}\d.])(?:" + "|".join(re.escape(n) for n in NAMES) + r"|" + _FIRST_DAYS.pattern
                     + rf")(?:当天|那天|那日|嗰日|嗰天)?(?![{_NUMERALS}\d.]|\s*[箱件瓶支罐听台套个只袋提包盒桶条块元毛角])", re.I)


@lru_cache(maxsize=256)
def _in_year(name: str, year: int) -> date | None:
    name = name.lower()
    first = _FIRST_DAYS.fullmatch(name)
    if first:
        return LunarDate(year, 1, _CN_DAY[first.group(1)]).to_solar_date()
    if name in SOLAR:
        return date(year, *SOLAR[name])
    if name in LUNAR:
        month, day = LUNAR[name]
        if month == 0:  # the lunar year's last day: the day before the next 春节
            return LunarDate(year + 1, 1, 1).to_solar_date() - timedelta(days=1)
        return LunarDate(year, month, day).to_solar_date()
    if name in TERMS:
        terms = chinese_calendar.get_solar_terms(date(year, 1, 1), date(year, 12, 31))
        return next((d for d, term in terms if term == TERMS[name]), None)
    return None


def resolve(name: str, today: date) -> date | None:
    """The most recent day of that holiday on or before `today`."""
    name = re.sub(r"(?:当天|那天|那日|嗰日|嗰天)$", "", name)
    for year in (today.year, today.year - 1):
        try:
            day = _in_year(name, year)
        except (ValueError, NotImplementedError):
            day = None
        if day is not None and day <= today:
            return day
    return None
