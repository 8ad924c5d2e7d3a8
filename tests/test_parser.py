"""The free-text parser (handlers/parsing) on realistic chat messages, table by table.

Two catalogs: the public corpus catalog (A100 冰泉矿泉水550ml …) and an invented drinks catalog
(SP-01 可口可乐330ml, 听/瓶/支 in 箱/件/提/盒) that proves nothing is tied to the first. The
clock is 2026-11-18 (a Wednesday) unless a case says otherwise.
"""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from handlers.parsing import SkuMatcher, SkuRef, parse_message, parse_sale

DATA = Path(__file__).parent / "data"
TODAY = date(2026, 11, 18)


def load(name: str) -> SkuMatcher:
    skus = []
    with open(DATA / name, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            aliases = tuple(a for a in row["aliases"].split(";") if a)
            skus.append(SkuRef(row["code"], row["name"], row["unit"], row["pack_unit"], int(row["pack_size"]),
                               int(Decimal(row["guide_price"]) * 100), aliases))
    return SkuMatcher(skus)


MAIN = load("parser_catalog.csv")
DRINKS = load("parser_catalog_drinks.csv")


def parse(text: str, today: date = TODAY, matcher: SkuMatcher = MAIN) -> dict:
    return parse_message(text, matcher, today)


def check(got: dict, want: dict) -> None:
    for key, value in want.items():
        assert got.get(key) == value, f"{key}: want {value!r}, got {got.get(key)!r} in {got}"


def line(sku, qty, fen):
    return {"sku": sku, "qty": qty, "amount_fen": fen}


# Each price form: A100 is 24 bottles a case at a guide of ¥1.25 a bottle.
PRICE_FORMS = [
    ("报单 A100 10箱 每箱28 张三超市", 28000),
    ("报单 A100 10箱 每箱 28元 张三超市", 28000),
    ("报单 A100 10箱 28元/箱 张三超市", 28000),
    ("报单 A100 10箱 28/箱 张三超市", 28000),
    ("报单 A100 10箱 单价28 张三超市", 28000),
    ("报单 A100 10箱 单价:28元 张三超市", 28000),
    ("报单 A100 10箱 28一箱 张三超市", 28000),
    ("报单 A100 10箱 28元一箱 张三超市", 28000),
    ("报单 A100 10箱 28块钱一箱 张三超市", 28000),
    ("报单 A100 10箱 28元每箱 张三超市", 28000),
    ("报单 A100 10箱 @28 张三超市", 28000),
    ("报单 A100 10箱 ¥28 张三超市", 28000),
    ("报单 A100 10箱 二十八元 张三超市", 28000),
    ("报单 A100 10箱 28 张三超市", 28000),          # unmarked: per case is nearest the guide
    ("报单 A100 10箱 280 张三超市", 28000),         # unmarked: a total is nearest the guide
    ("报单 A100 10箱 共280 张三超市", 28000),
    ("报单 A100 10箱 一共280元 张三超市", 28000),
    ("报单 A100 10箱 总价280 张三超市", 28000),
    ("报单 A100 10箱 合计280元 张三超市", 28000),
    ("报单 A100 10箱 总共 280 张三超市", 28000),
    ("报单 A100 10箱 每瓶1.2元 张三超市", 28800),
    ("报单 A100 10箱 1.2元/瓶 张三超市", 28800),
    ("报单 A100 10箱 2块8一瓶 张三超市", 67200),
    ("报单 A100 240瓶 1.2元 张三超市", 28800),
    ("报单 A100 240瓶 28 张三超市", 28000),         # 28 a bottle is absurd; 28 a case is not
    ("sale A100 10 cases 28 each Lucky Mart", 28000),
    ("sale A100 10 cases @ 28 Lucky Mart", 28000),
    ("sale A100 10 cases total 280 Lucky Mart", 28000),
    ("sold 10 cases of A100 to Lucky Mart at 28 per case", 28000),
    ("sold 10 cases of A100 to Lucky Mart for 280 total", 28000),
    ("sold 10 cases of A100 to Lucky Mart, 280 in total", 28000),
]


@pytest.mark.parametrize("text,fen", PRICE_FORMS)
def test_each_price_form_gives_the_line_total(text, fen):
    got = parse(text)
    check(got, {"intent": "sale", "missing": []})
    assert got["items"][0]["amount_fen"] == fen


QUANTITIES = [
    ("报单 C300 十五箱 48元/箱 苏果超市", "C300", 225, 72000),
    ("报单 A100 两箱 28元/箱 苏果超市", "A100", 48, 5600),
    ("报单 A200 一百二十瓶 2.8元/瓶 苏果超市", "A200", 120, 33600),
    ("报单 A100 两千瓶 1.2元/瓶 苏果超市", "A100", 2000, 240000),
    ("报单 A100 1.2万瓶 1.2元/瓶 苏果超市", "A100", 12000, 1440000),
    ("报单 A100 3k瓶 1.2元/瓶 苏果超市", "A100", 3000, 360000),
    ("报单 A100 2w瓶 1.2元/瓶 苏果超市", "A100", 20000, 2400000),
    ("报单 A100 1,200瓶 1.2元/瓶 苏果超市", "A100", 1200, 144000),
    ("报单 A100 二十一箱 28元/箱 苏果超市", "A100", 504, 58800),
    ("报单 Ａ１００ １０箱 ２８元 苏果超市", "A100", 240, 28000),
    ("报单 a100 10箱 28元 苏果超市", "A100", 240, 28000),
    ("报单 A100 20箱零5瓶 共580元 苏果超市", "A100", 485, 58000),
    ("报单 A100 8箱5瓶 每箱28 苏果超市", "A100", 197, 22983),      # 197 × 28 / 24 = 229.833…
    ("报单 A100 3箱又2瓶 每箱24 苏果超市", "A100", 74, 7400),
    ("报单 A100 半箱 28元/箱 苏果超市", "A100", 12, 1400),
    ("报单 A100 一箱半 每箱28 苏果超市", "A100", 36, 4200),
    ("报单 A100 1箱半 每箱28 苏果超市", "A100", 36, 4200),
    ("报单 A200 两箱半 34元一箱 苏果超市", "A200", 30, 8500),
    ("报单 A100 7瓶 每箱28 苏果超市", "A100", 7, 817),             # 8.1666… rounds to 8.17
    ("报单 C300 5瓶 每箱28 苏果超市", "C300", 5, 933),              # 9.333…
    ("报单 A100 1瓶 1.005元/瓶 苏果超市", "A100", 1, 101),          # half up, not half even
    ("报单 B200 48罐 2元 苏果超市", "B200", 48, 9600),
    ("报单 B200 48听 2元 苏果超市", "B200", 48, 9600),
    ("报单 B200 2件 46 苏果超市", "B200", 48, 9200),
    ("报单 A100 10 ctns 28 苏果超市", "A100", 240, 28000),
    ("sold two cases of A100 to Lucky Mart, 28 each", "A100", 48, 5600),
    ("sold 24 bottles of A100 to Lucky Mart at 1.2 each", "A100", 24, 2880),
    ("sale 3 X1 @1899 Lucky Mart", "D10", 3, 569700),
    ("报单 X1 两台 3998 苏果超市", "D10", 2, 399800),               # a total is nearest the guide
    ("报单 滤芯 3套 199 苏果超市", "E05", 3, 59700),
    ("报单 滤芯 2箱 1800 苏果超市", "E05", 20, 360000),
    ("报单 A100 x10 每箱28 苏果超市", "A100", 240, 28000),
    ("一箱A100 28元 苏果超市", "A100", 24, 2800),
    ("报单 A100 一箱 28元 苏果超市", "A100", 24, 2800),
    ("报单 小瓶水 二十箱 二十八 苏果超市", "A100", 480, 56000),
    ("报单 A100 两万瓶 1.2元/瓶 苏果超市", "A100", 20000, 2400000),
    ("报单 A100 一千二百瓶 1.2元/瓶 苏果超市", "A100", 1200, 144000),
]


@pytest.mark.parametrize("text,sku,qty,fen", QUANTITIES)
def test_numbers_and_units_become_base_units(text, sku, qty, fen):
    got = parse(text)
    check(got, {"intent": "sale", "items": [line(sku, qty, fen)], "missing": []})


SEVERAL = [
    ("报单 A100 10箱 B100 5箱 给张三超市 A100每箱28 B100每箱42", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("A100 10箱 每箱28,B100 5箱 每箱42,张三超市", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("A100 10箱 B100 5箱 都是28一箱 张三超市", [line("A100", 240, 28000), line("B100", 75, 14000)]),
    ("A100 10箱 B100 5箱 每箱都是28 张三超市", [line("A100", 240, 28000), line("B100", 75, 14000)]),
    ("A100 B100 各10箱 每箱28 张三超市", [line("A100", 240, 28000), line("B100", 150, 28000)]),
    ("A100和B100各10箱,都是每箱30,给张三超市", [line("A100", 240, 30000), line("B100", 150, 30000)]),
    ("卖给李四便利店 苏打水3箱 每箱43 橙子汽水2箱 每箱46", [line("B100", 45, 12900), line("B200", 48, 9200)]),
    ("A100 10箱 28 B200 5箱 46 张三超市", [line("A100", 240, 28000), line("B200", 120, 23000)]),
    ("张三超市 十箱A100 二十八元 五箱B100 四十二元", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("报单 A100 10箱 B100 5箱 张三超市 28 42", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("A100 10 B100 5 张三超市 28 42", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("张三超市 A100 10箱 28 B100 5箱 42", [line("A100", 240, 28000), line("B100", 75, 21000)]),
    ("报单 乌龙茶 10箱 每箱50 苏达水 5箱 每箱42 张三超市", [line("C300", 150, 50000), line("B100", 75, 21000)]),
]


@pytest.mark.parametrize("text,items", SEVERAL)
def test_several_lines_with_their_own_or_a_shared_price(text, items):
    check(parse(text), {"intent": "sale", "customer": "张三超市" if "张三" in text else "李四便利店",
                        "items": items, "missing": []})


CUSTOMERS = [
    ("张三超市 A100 10箱 28", "张三超市"),
    ("A100 10箱 28 张三超市", "张三超市"),
    ("客户:好又多超市 A100 10箱 28", "好又多超市"),
    ("客户:好又多超市,A100 10箱 28", "好又多超市"),
    ("A100 10箱 28 客户名 好又多超市", "好又多超市"),
    ("A100 10箱 28 客户是好又多超市", "好又多超市"),
    ("A100 10箱 28 卖给好又多超市", "好又多超市"),
    ("给好又多超市 A100 10箱 28", "好又多超市"),
    ("昨天给王五副食店送了5件乌龙茶,单价50", "王五副食店"),
    ("昨天卖了3箱苏达水给老王,每箱42", "老王"),
    ("今天卖了二十箱A100给张三超市,每箱28", "张三超市"),
    ("A100 10箱 28 王总", "王总"),
    ("帮我报一下 A100 10箱 28 老王", "老王"),
    ("A100 10箱 28 7号便利店", "7号便利店"),
    ("A100 10箱 28 卖给7号便利店", "7号便利店"),
    ("A100 10箱 28 三只松鼠专卖店", "三只松鼠专卖店"),
    ("卖给三只松鼠专卖店 A100 10箱 28", "三只松鼠专卖店"),
    ("A100 10箱 28 万家福超市", "万家福超市"),
    ("A100 10箱 28 一品香餐厅", "一品香餐厅"),
    ("A100 10箱 28 华润万家南京店", "华润万家南京店"),
    ("A100 10箱 28 华润万家 南京店", "华润万家 南京店"),
    ("A100 10箱 28 老王烟酒店", "老王烟酒店"),
    ("A100 10箱 28 三元里超市", "三元里超市"),
    ("A100 10箱 28 24小时便利店", "24小时便利店"),
    ("A100 10箱 28 百佳超市", "百佳超市"),
    ("A100 10箱 28 乌龙茶馆", "乌龙茶馆"),
    ("张三超市要了10箱A100,28一箱", "张三超市"),
    ("A100 10 cases 28 each to Golden Dragon Restaurant", "Golden Dragon Restaurant"),
    ("sale 3 X1 @1899 Wang's Kitchen", "Wang's Kitchen"),
    ("sold 3 X1 to Wang's Kitchen for 5700 total yesterday", "Wang's Kitchen"),
    ("sale A100 10 cases 28 each 7-Eleven", "7-Eleven"),
    ("sold 10 cases of A100 to Lucky Mart at 28 per case please", "Lucky Mart"),
    ("报单 X1 1台 1899 散客", "散客"),
    ("你好,A100 10箱 28 张三超市", "张三超市"),
    ("昨天的单:张三超市 A100 10箱 28", "张三超市"),
    ("报单 A100 10箱 28元 张三超市(南京店)", "张三超市"),
    ("报单 A100 10箱 28元 南京张三商贸有限公司", "南京张三商贸有限公司"),
    ("报单 A100 10箱 28元 张三超市 谢谢", "张三超市"),
    ("sold 10 cases A100 @28/case to ABC Trading Co.", "ABC Trading Co."),
    ("老王那边拿了10箱A100 每箱28", "老王"),
    ("今天张三超市A100十箱二十八一箱", "张三超市"),
    ("张三超市订了A100 10箱,28一箱", "张三超市"),
    ("10箱A100卖给张三超市了 28", "张三超市"),
    ("A100 10箱 28 大润发", "大润发"),
    ("给张三超市发A100 10箱 28", "张三超市"),
    ("Sold to Lucky Mart: A100 10 cases, 28 per case", "Lucky Mart"),
    ("给我记一下 A100 10箱 28 张三超市", "张三超市"),
    ("帮我给张三超市报一下 A100 10箱 28", "张三超市"),
    ("报单 A100 10箱 28 张三 送货上门", "张三"),
    ("A100 10箱 28 张三超市 有没有问题", "张三超市"),
    ("sold 240 bottles A100 at 1.2 to John Smith", "John Smith"),
]


@pytest.mark.parametrize("text,customer", CUSTOMERS)
def test_the_customer_is_found_wherever_it_stands(text, customer):
    got = parse(text)
    check(got, {"intent": "sale", "customer": customer})
    assert "customer" not in got["missing"] and "quantity" not in got["missing"] and "price" not in got["missing"]


def test_a_customer_marker_inside_a_leftover_word_splits_it():
    check(parse("昨天卖了3箱苏达水给老王,每箱42"),
          {"customer": "老王", "date": "2026-11-17", "items": [line("B100", 45, 12600)], "missing": []})


TODAY_DATES = [
    ("今天", "2026-11-18"), ("昨天", "2026-11-17"), ("前天", "2026-11-16"), ("大前天", "2026-11-15"),
    ("3天前", "2026-11-15"), ("上周五", "2026-11-13"), ("周一", "2026-11-16"), ("上周日", "2026-11-15"),
    ("星期三", "2026-11-18"), ("礼拜五", "2026-11-13"), ("本周一", "2026-11-16"), ("周四", "2026-11-12"),
    ("上上周一", "2026-11-02"), ("11月15日", "2026-11-15"), ("11月15号", "2026-11-15"), ("十一月十五日", "2026-11-15"),
    ("11.16", "2026-11-16"), ("11/15", "2026-11-15"), ("3/15", "2026-03-15"), ("2026-11-15", "2026-11-15"),
    ("2026年11月15日", "2026-11-15"), ("2026/11/15", "2026-11-15"), ("15号", "2026-11-15"), ("上月20号", "2026-10-20"),
    ("12.30", "2025-12-30"), ("today", "2026-11-18"), ("yesterday", "2026-11-17"), ("last friday", "2026-11-13"),
    ("on monday", "2026-11-16"), ("Nov 15", "2026-11-15"), ("15 November", "2026-11-15"), ("11-16", "2026-11-16"),
    ("昨天下午3点", "2026-11-17"), ("今天上午10:30", "2026-11-18"),
]


@pytest.mark.parametrize("words,iso", TODAY_DATES)
def test_dates_resolve_relative_to_today(words, iso):
    got = parse(f"报单 A100 10箱 28元 张三超市 {words}")
    check(got, {"intent": "sale", "date": iso, "missing": [], "items": [line("A100", 240, 28000)]})
    assert not got.get("future_date")
    got = parse(f"{words}卖了10箱A100给张三超市,每箱28")
    check(got, {"date": iso, "customer": "张三超市", "items": [line("A100", 240, 28000)]})


YEAR_END = [("12.30", "2026-12-30"), ("12月30日", "2026-12-30"), ("12/31", "2026-12-31"), ("昨天", "2027-01-01"),
            ("前天", "2026-12-31"), ("上周五", "2026-12-25"), ("周一", "2026-12-28"), ("1.2", "2027-01-02"),
            ("last friday", "2027-01-01")]


@pytest.mark.parametrize("words,iso", YEAR_END)
def test_dates_cross_the_year_end(words, iso):
    check(parse(f"报单 A100 10箱 28元 张三超市 {words}", today=date(2027, 1, 2)),
          {"date": iso, "items": [line("A100", 240, 28000)]})


@pytest.mark.parametrize("words", ["2026-11-20", "明天", "tomorrow", "下周一", "11月25日"])
def test_a_future_date_is_flagged(words):
    got = parse(f"报单 A100 10箱 28元 张三超市 {words}")
    assert got["future_date"] is True
    assert got["date"] > "2026-11-18"


def test_a_date_that_does_not_exist_is_a_problem():
    got = parse("报单 A100 10箱 28元 张三超市 2月30日")
    assert "bad_date" in got["problems"]


def test_a_decimal_quantity_is_not_read_as_a_date():
    check(parse("报单 A100 1.2万瓶 1.2元 张三超市"), {"date": "2026-11-18", "items": [line("A100", 12000, 1440000)]})


def test_a_dotted_number_is_the_price_when_there_is_no_other():
    check(parse("A100 5箱 单价29 客户 小李烟酒店 11.16"), {"date": "2026-11-16", "items": [line("A100", 120, 14500)]})
    check(parse("报单 A200 10箱 36.5 张三超市"), {"date": "2026-11-18", "items": [line("A200", 120, 36500)]})


MISSING = [
    ("报单 A100 20箱 28元", ["customer"]),
    ("报单 20箱 28元 张三超市", ["sku"]),
    ("报单 A100 28元 张三超市", ["quantity"]),
    ("报单 A100 20箱 张三超市", ["price"]),
    ("报单 A100", ["customer", "price", "quantity"]),
    ("报单", ["customer", "price", "quantity", "sku"]),
    ("报单 20箱 张三超市", ["price", "sku"]),
    ("报单 冰泉 张三超市", ["price", "quantity", "sku"]),
    ("报单 冰泉 20箱 28元 张三超市", ["sku"]),
    ("报单 雪碧 20箱 28元 张三超市", ["sku"]),
]


@pytest.mark.parametrize("text,missing", MISSING)
def test_what_is_missing_is_reported(text, missing):
    check(parse(text), {"intent": "sale", "missing": missing})


REPARSED = [  # the conversation re-reads the first message plus the answer
    ("报单 A100 20箱 28元 张三超市", line("A100", 480, 56000)),
    ("报单 20箱 28元 张三超市 A100", line("A100", 480, 56000)),
    ("报单 A100 28元 张三超市 20箱", line("A100", 480, 56000)),
    ("报单 A100 28元 张三超市 20", line("A100", 480, 56000)),
    ("报单 A100 20箱 张三超市 28", line("A100", 480, 56000)),
    ("报单 A100 20箱 张三超市 每箱28", line("A100", 480, 56000)),
    ("报单 冰泉 20箱 28元 张三超市 A100", line("A100", 480, 56000)),
    ("报单 雪碧 20箱 28元 张三超市 A100", line("A100", 480, 56000)),
    ("报单 20箱 28元 张三超市 冰泉大瓶", line("A200", 240, 56000)),
    ("报单 A200 28 张三超市 20", line("A200", 240, 56000)),   # which plain number is the count: the guide says
    ("报单 A100 20 28 张三超市", line("A100", 480, 56000)),
]


@pytest.mark.parametrize("text,item", REPARSED)
def test_an_answer_appended_to_the_message_completes_it(text, item):
    check(parse(text), {"intent": "sale", "customer": "张三超市", "items": [item], "missing": []})


UNCLEAR = [
    ("报单 冰泉 20箱 28元 张三超市", "冰泉", ["A100", "A200"]),
    ("报单 矿泉水 20箱 28元 张三超市", "矿泉水", ["A100", "A200"]),
    ("报单 净水 2台 3998 张三超市", "净水", ["D10", "D20"]),
    ("报单 雪碧 3箱 28元 张三超市", "雪碧", []),
    ("报单 3箱雪碧 28元 老王", "雪碧", []),
    ("给张三超市 芬达 3箱 28元", "芬达", []),
]


@pytest.mark.parametrize("text,token,codes", UNCLEAR)
def test_an_ambiguous_or_unknown_product_is_asked_not_guessed(text, token, codes):
    got = parse(text)
    assert got["intent"] == "sale" and "sku" in got["missing"] and got["items"] == []
    assert got["customer"] in ("张三超市", "老王")
    (u,) = got["unresolved"]
    assert (u["token"], u["codes"]) == (token, codes)
    assert text[u["start"]:u["end"]] == token


def test_unresolved_offsets_are_in_the_nfkc_text():
    text = "报单 ２０箱 冰泉 ２８元 张三超市"
    got = parse_sale(text, MAIN, TODAY)
    (u,) = got.unresolved
    norm = "报单 20箱 冰泉 28元 张三超市"
    assert norm[u["start"]:u["end"]] == "冰泉" and u["codes"] == ["A100", "A200"]


def test_candidates_offer_the_closest_names():
    assert [s.code for s in MAIN.candidates("冰泉")] == ["A100", "A200"]
    assert [s.code for s in MAIN.candidates("净水")] == ["D10", "D20"]
    assert MAIN.candidates("苏打")[0].code == "B100"
    assert MAIN.candidates("乌龙茶叶")[0].code == "C300"
    assert MAIN.candidates("冰泉矿泉水 2L")[0].code in ("A100", "A200")
    assert "SP-02" in [s.code for s in DRINKS.candidates("雪碧")]
    assert MAIN.candidates("") == []


FUZZY = [
    ("苏达水", "B100"), ("青柠苏达", "B100"), ("乌笼茶", "C300"), ("乌龙", "C300"), ("qnsds", "B100"), ("wlc", "C300"),
    ("汽泡水", "B200"), ("橙子汽水", "B200"), ("x1", "D10"), ("X1净水器", "D10"), ("d10", "D10"), ("商用机", "D20"),
    ("净水机pro", "D20"), ("冰泉大瓶", "A200"), ("小瓶水", "A100"), ("冰泉矿泉水 550ml", "A100"), ("滤芯", "E05"),
    ("冰泉550", "A100"), ("冰泉 550ml", "A100"), ("冰泉1.5L", "A200"), ("冰泉 1.5升", "A200"), ("冰泉 大瓶", "A200"),
    ("550矿泉水", "A100"),
]


@pytest.mark.parametrize("word,code", FUZZY)
def test_skus_by_code_name_alias_pinyin_and_initials(word, code):
    check(parse(f"报单 {word} 3箱 每箱30 张三超市"), {"intent": "sale", "missing": []})
    assert parse(f"报单 {word} 3箱 每箱30 张三超市")["items"][0]["sku"] == code


DRINKS_CASES = [
    ("报单 SP-01 10箱 每箱60 张三超市", line("SP-01", 240, 60000)),
    ("报单 sp01 10箱 每箱60 张三超市", line("SP-01", 240, 60000)),
    ("报单 ｓｐ－０１ 10箱 每箱60 张三超市", line("SP-01", 240, 60000)),
    ("报单 可乐 48听 2.5元 张三超市", line("SP-01", 48, 12000)),
    ("sale coke 2 cases 60 each Lucky Mart", line("SP-01", 48, 12000)),
    ("报单 雪碧 2箱 60 张三超市", line("SP-02", 48, 12000)),
    ("报单 农夫山泉 3件 36 张三超市", None),   # 550ml or 5L: asked
    ("报单 农夫 3件 36 张三超市", line("SP-03", 72, 10800)),
    ("报单 大桶水 3件 每桶9元 张三超市", line("SP-04", 12, 10800)),
    ("报单 王老吉 5提 每提21 张三超市", line("SP-05", 30, 10500)),
    ("报单 凉茶 30罐 3.5元 张三超市", line("SP-05", 30, 10500)),
    ("报单 红牛 2箱 每罐6 张三超市", line("SP-06", 48, 28800)),
    ("sold 2 cases of Red Bull to Lucky Mart at 144 per case", line("SP-06", 48, 28800)),
    ("报单 牙膏 3盒 每支8 张三超市", line("SP-07", 36, 28800)),
    ("报单 牙膏 3盒 96 张三超市", line("SP-07", 36, 28800)),
    ("报单 kkkl 2箱 60 张三超市", line("SP-01", 48, 12000)),
]


@pytest.mark.parametrize("text,item", DRINKS_CASES)
def test_another_catalog_with_other_codes_units_and_packs(text, item):
    got = parse(text, matcher=DRINKS)
    if item is None:
        assert got["missing"] == ["sku"] and got["unresolved"][0]["codes"] == ["SP-03", "SP-04"]
    else:
        check(got, {"intent": "sale", "items": [item], "missing": []})


BAD = [
    ("报单 A100 0箱 28元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 -3箱 28元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 负3箱 28元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 2000000箱 28元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 1000001箱 28元 张三超市", "quantity", "bad_quantity"),
    ("报单 B100 半箱 42元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 半瓶 1元 张三超市", "quantity", "bad_quantity"),
    ("报单 A100 3箱 0元 张三超市", "price", "bad_price"),
    ("报单 A100 3箱 -28元 张三超市", "price", "bad_price"),
    ("报单 A100 3箱 每箱280000 张三超市", "price", "bad_price"),
    ("报单 A100 3箱 共0 张三超市", "price", "bad_price"),
    ("报单 A100 3箱 0.0001 张三超市", "price", "bad_price"),
    ("报单 A100 3箱 99999999999999999999 张三超市", "price", "bad_price"),
    ("报单 A100 99999999999999999999箱 28 张三超市", "quantity", "bad_quantity"),
]


@pytest.mark.parametrize("text,field,problem", BAD)
def test_zero_negative_or_absurd_numbers_are_asked_again(text, field, problem):
    got = parse(text)
    assert got["intent"] == "sale" and field in got["missing"] and problem in got["problems"]


def test_a_million_packs_is_still_accepted():
    check(parse("报单 A100 1000000箱 28元 张三超市"), {"items": [line("A100", 24_000_000, 2_800_000_000)], "missing": []})


@pytest.mark.parametrize("text", ["你好", "asdf", "??", "？？", "😀", "", "   ", "哈哈哈", "在吗", "12345", "20箱", "28元",
                                  "!@#$%", "A100", "今天天气不错"])
def test_nonsense_is_unknown_never_an_error(text):
    got = parse(text)
    assert got["intent"] == "unknown" and set(got) == {"intent", "guesses"}
    assert 1 <= len(got["guesses"]) <= 4 and set(got["guesses"]) <= {"sale", "stock", "count", "claim", "claims",
                                                                      "rebate", "help"}


STOCK = [
    ("库存", None), ("stock", None), ("库存 A100", "A100"), ("A100库存", "A100"), ("A100还有多少货", "A100"),
    ("还剩多少A100", "A100"), ("A100有货吗", "A100"), ("how much A100 left", "A100"), ("stock A100", "A100"),
    ("查一下苏打水库存", "B100"), ("苏达水还剩多少", "B100"), ("乌龙茶还有几箱", "C300"), ("冰泉还有多少", None),
    ("A100 in stock?", "A100"), ("how many X1 left?", "D10"), ("有没有A100", "A100"), ("查库存", None),
    ("how many cases of A100 do we have", "A100"), ("A100还剩20箱吗", "A100"), ("check stock A100", "A100"),
    ("净水器还有吗", "D10"),
]


@pytest.mark.parametrize("text,sku", STOCK)
def test_stock_questions(text, sku):
    check(parse(text), {"intent": "stock", "sku": sku})


COUNT = [
    ("盘点 A100 35箱\nB100 12箱\nB200 0", [("A100", 840), ("B100", 180), ("B200", 0)]),
    ("盘点 A100 35箱 B100 12箱", [("A100", 840), ("B100", 180)]),
    ("盘点:乌龙茶 8箱5瓶", [("C300", 125)]),
    ("盘点 A100 三十五箱,苏达水十二箱", [("A100", 840), ("B100", 180)]),
    ("count A100 35 cases, B100 12 cases", [("A100", 840), ("B100", 180)]),
    ("盘点 X1 3台 滤芯 2箱5套", [("D10", 3), ("E05", 25)]),
    ("盘点 A100 35", [("A100", 840)]),
    ("盘点 A100 35 B100 12 B200 0", [("A100", 840), ("B100", 180), ("B200", 0)]),
    ("盘点:A100三十五箱,B100十二箱", [("A100", 840), ("B100", 180)]),
    ("stocktake A100 35, B100 12", [("A100", 840), ("B100", 180)]),
]


@pytest.mark.parametrize("text,items", COUNT)
def test_stocktakes(text, items):
    check(parse(text), {"intent": "count", "items": [{"sku": s, "qty": q} for s, q in items], "missing": []})


def test_a_stocktake_with_an_unknown_product_or_a_negative_count_asks():
    got = parse("盘点 雪碧 3箱")
    assert got["missing"] == ["sku"] and got["unresolved"][0]["token"] == "雪碧"
    got = parse("盘点 冰泉 35箱")
    (u,) = got["unresolved"]
    assert "盘点 冰泉 35箱"[u["start"]:u["end"]] == "冰泉" and u["codes"] == ["A100", "A200"]
    got = parse("盘点 A100 -3箱")
    assert "quantity" in got["missing"] and got["problems"] == ["bad_quantity"]


CLAIMS = [
    ("报备 南京市鼓楼区好邻居便利店 13912345678", "南京市鼓楼区好邻居便利店", "13912345678", None),
    ("报备 好邻居便利店 +86 139-1234-5678", "好邻居便利店", "13912345678", None),
    ("报备 好邻居便利店 139 1234 5678", "好邻居便利店", "13912345678", None),
    ("报备 好邻居便利店 025-84561234", "好邻居便利店", "02584561234", None),
    ("报备 南京好邻居商贸有限公司 91320100MA1X8K3L2C", "南京好邻居商贸有限公司", None, "91320100MA1X8K3L2C"),
    ("报备 客户:南京好邻居商贸有限公司 电话:13912345678 信用代码:91320100MA1X8K3L2C", "南京好邻居商贸有限公司",
     "13912345678", "91320100MA1X8K3L2C"),
    ("报备 13912345678 好邻居便利店", "好邻居便利店", "13912345678", None),
    ("claim Lucky Mart Co., Ltd. 139 1234 5678", "Lucky Mart Co., Ltd.", "13912345678", None),
    ("claim Lucky Mart Co., Ltd. +86 13912345678", "Lucky Mart Co., Ltd.", "13912345678", None),
    ("报备 好又多超市 (025)84561234", "好又多超市", "02584561234", None),
    ("报备 好又多超市 0086-13812345678", "好又多超市", "13812345678", None),
    ("报备:好又多超市(新街口店) 138-1234-5678", "好又多超市(新街口店)", "13812345678", None),
    ("报备客户 南京好又多商贸有限公司,联系人张经理 13812345678", "南京好又多商贸有限公司", "13812345678", None),
    ("claim ABC Trading Co., Ltd., phone +86 138 1234 5678, USCC 91320100MA1X8K3L2C", "ABC Trading Co., Ltd.",
     "13812345678", "91320100MA1X8K3L2C"),
]


@pytest.mark.parametrize("text,customer,phone,uscc", CLAIMS)
def test_claims_with_phone_and_uscc(text, customer, phone, uscc):
    check(parse(text), {"intent": "claim", "customer": customer, "phone": phone, "uscc": uscc})


INTENTS = [
    ("我的报备", "claims"), ("my claims", "claims"), ("claims", "claims"), ("报备列表", "claims"),
    ("返利", "rebate"), ("我的返利进度怎么样了", "rebate"), ("rebate", "rebate"), ("how is my rebate", "rebate"),
    ("帮助", "help"), ("help", "help"), ("怎么用", "help"),
    ("撤销", "undo"), ("undo", "undo"), ("撤回上一单", "undo"), ("取消刚才那单", "undo"), ("删除刚才的报单", "undo"),
    ("确认", "confirm"), ("yes", "confirm"), ("好的", "confirm"), ("OK", "confirm"), ("对", "confirm"),
    ("好的,确认", "confirm"), ("确认!", "confirm"),
    ("取消", "cancel"), ("no", "cancel"), ("算了", "cancel"), ("不对", "cancel"),
]


@pytest.mark.parametrize("text,intent", INTENTS)
def test_short_intents_in_chinese_and_english(text, intent):
    assert parse(text)["intent"] == intent


@pytest.mark.parametrize("text,code", [("绑定 8F3K2Q", "8F3K2Q"), ("绑定 8f3k2q", "8F3K2Q"), ("bind ab12cd", "AB12CD"),
                                       ("邀请码:8F3K2Q", "8F3K2Q")])
def test_bind_codes_are_upper_case(text, code):
    check(parse(text), {"intent": "bind", "code": code})


@pytest.mark.parametrize("text", ["A100 20箱 28 张三超市", "卖了3箱苏达水给老王 每箱42", "张三超市 要了 十箱 乌龙茶 50一箱",
                                  "sold 5 cases of A100 to Lucky Mart", "雪碧 3箱 28元 张三超市"])
def test_free_text_without_a_command_word_is_a_sale_when_clear(text):
    assert parse(text)["intent"] == "sale"


def test_amounts_are_exact_to_the_fen():
    # 1.1 + 2.2 style float drift would show here: 3 × 33 bottles at ¥1.1 a bottle.
    check(parse("报单 A100 99瓶 1.1元/瓶 张三超市"), {"items": [line("A100", 99, 10890)]})
    check(parse("报单 A100 3瓶 0.35元/瓶 张三超市"), {"items": [line("A100", 3, 105)]})
