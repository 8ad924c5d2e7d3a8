"""The general capabilities behind the parser (issue 13), each on cases of its own: folding,
holidays, everyday yes and no, openers, the customer bounded by grammar, spoken amounts."""
from __future__ import annotations

from datetime import date

import pytest

from handlers.parsing.fold import fold, simplified
from handlers.parsing.holidays import resolve
from handlers.parsing.intent import command, strip_openers, yes_no
from tests.test_parser import DRINKS, MAIN, parse


def test_folding_keeps_every_position():
    text = "報單 烏龍茶 １２箱 陳記茶餐廳"
    assert len(fold(text)) == len(text)
    assert fold(text) == "报单 乌龙茶 12箱 陈记茶餐厅"
    assert simplified("蘇打水還有多少") == "苏打水还有多少"


def test_a_traditional_customer_is_recorded_as_written():
    got = parse("報單 C300 12箱 每箱51 萬家樂超市")
    assert got["customer"] == "萬家樂超市" and got["items"] == [{"sku": "C300", "qty": 180, "amount_fen": 61200}]


@pytest.mark.parametrize("name,today,want", [
    ("元旦", date(2027, 1, 3), date(2027, 1, 1)),
    ("元旦", date(2026, 12, 31), date(2026, 1, 1)),          # this year's is still ahead: last year's
    ("春节", date(2027, 3, 1), date(2027, 2, 6)),             # lunar new year's day
    ("春节", date(2027, 1, 20), date(2026, 2, 17)),
    ("除夕", date(2026, 3, 1), date(2026, 2, 16)),            # the day before 春节
    ("大年初三", date(2026, 3, 1), date(2026, 2, 19)),
    ("清明节", date(2026, 5, 1), date(2026, 4, 5)),           # a solar term
    ("劳动节", date(2026, 6, 1), date(2026, 5, 1)),
    ("端午", date(2026, 7, 1), date(2026, 6, 19)),
    ("中秋", date(2026, 10, 1), date(2026, 9, 25)),
    ("腊八", date(2027, 1, 20), date(2027, 1, 15)),           # the 12th lunar month falls in the next solar year
    ("国庆", date(2026, 10, 6), date(2026, 10, 1)),
])
def test_holidays_are_the_most_recent_on_or_before_today(name, today, want):
    assert resolve(name, today) == want


def test_a_holiday_in_a_sale_and_numerals_that_only_look_like_one():
    assert parse("国庆那天给好邻居送了10箱A100 每箱28", date(2026, 10, 20))["date"] == "2026-10-01"
    got = parse("报单 A200 8箱 三十五一箱 好邻居", date(2026, 10, 20))    # 五一 inside an amount is no holiday
    assert got["date"] == "2026-10-20" and got["items"][0]["amount_fen"] == 28000


@pytest.mark.parametrize("text,want", [
    ("好的", "confirm"), ("嗯嗯可以", "confirm"), ("好的没问题", "confirm"), ("ok👍", "confirm"), ("對的", "confirm"),
    ("係呀", "confirm"), ("没毛病", "confirm"), ("算了", "cancel"), ("不要了", "cancel"), ("算了先不报了", "cancel"),
    ("唔要啦", "cancel"), ("哎呀算了算了这单先不报了", "cancel"), ("先别报了 我再问问价", "cancel"),
    ("不对 客户是张三", None),           # a correction, not a cancellation
    ("好的 改成3箱", None), ("可以给我查下库存吗", None),
])
def test_everyday_yes_and_no(text, want):
    assert yes_no(simplified(text)) == want


@pytest.mark.parametrize("text,intent", [
    ("麻烦帮我查下库存", "stock"), ("唔该查下可乐仲有几多", "stock"), ("上一单撤回", "undo"),
    ("刚才那单报错了 帮我撤回一下", "undo"), ("我之前报备的那些客户帮我列一下", "claims"),
    ("帮我报备一家 好又多超市 电话13912345678", "claim"), ("不好意思 这个怎么用啊", "help"),
    ("报单要按什么格式发啊", "help"), ("我的邀请码是 x8k2mq", "bind"), ("这个月返点到哪档了", "rebate"),
    ("今天盘了一下 仓库里还剩A100 12箱", "count"),
])
def test_intents_said_indirectly(text, intent):
    matcher = DRINKS if "可乐" in text else MAIN
    assert parse(text, matcher=matcher)["intent"] == intent


def test_openers_are_dropped_before_the_intent():
    assert strip_openers("不好意思 麻烦帮我 查下库存") == "查下库存"
    assert command(simplified("帮我报备一家 和顺超市"))[0] == "claim"


@pytest.mark.parametrize("text,customer", [
    ("嗯那个今天给和顺超市送了两箱A100 28一箱", "和顺超市"),           # filler in front, verb behind, 和 in the name
    ("就是那个都好副食昨天拿了俩箱A100 每箱28", "都好副食"),
    ("然后给给力烟酒行补了五箱A100 二十八一箱", "给力烟酒行"),          # a marker, then a name that starts like one
    ("每一天超市要了3箱A100 28一箱", "每一天超市"),
    ("鸿发槟榔摊要了3箱A100 28一箱", "鸿发槟榔摊"),                     # 发 inside a shop's name
    ("A100 3箱 28一箱 送到红星美食城", "红星美食城"),
    ("替润家超市万达店报：A100 3箱 28一箱", "润家超市万达店"),
    ("Lawson 中山路店要了3箱A100 每箱28", "Lawson 中山路店"),
    ("A100 3箱 28一箱 客户晚点补", None),
])
def test_the_customer_is_bounded_by_grammar(text, customer):
    assert parse(text)["customer"] == customer


@pytest.mark.parametrize("text,qty,fen", [
    ("给老王送了仨箱A100 二十八块五一箱", 72, 8550),
    ("给老王装了一台D10 一千八百九", 1, 189000),
    ("给老王装了俩台D20 一共一万三千六", 2, 1360000),
    ("老王那边A100x5箱 共140", 120, 14000),
])
def test_spoken_amounts_and_shorthand(text, qty, fen):
    (item,) = parse(text)["items"]
    assert (item["qty"], item["amount_fen"]) == (qty, fen)


def test_english_product_words_and_units_that_narrow_a_name():
    got = parse("sold 6 cases of coke to Sunny Mart at 50 per case", matcher=DRINKS)
    assert got["items"] == [{"sku": "SP-01", "qty": 144, "amount_fen": 30000}] and got["customer"] == "Sunny Mart"
    got = parse("盘点 农夫山泉 五十件零八瓶", matcher=DRINKS)
    assert got["items"] == [{"sku": "SP-03", "qty": 1208}]


def test_an_unclear_message_names_its_likeliest_meanings():
    assert parse("A100")["guesses"][:3] == ["sale", "stock", "count"]
    assert parse("好又多超市")["guesses"][0] == "claim"


@pytest.mark.parametrize("text,customer,fen", [
    ("sold 10 ctn A100 to 7-11 珠江路店 @ ¥28/ctn", "7-11 珠江路店", 28000),    # a name, not 11 July, not ¥7
    ("报单 A100 3箱 28元 7-11便利店", "7-11便利店", 8400),
    ("sold 6 ctn B200 to Ole' 精品超市 @40", "Ole' 精品超市", 24000),
])
def test_names_with_digits_and_latin_letters(text, customer, fen):
    got = parse(text)
    assert got["customer"] == customer and got["date"] == "2026-11-18" and got["items"][0]["amount_fen"] == fen


def test_a_shop_with_a_phone_is_a_claim_and_a_count_may_be_said_mid_sentence():
    got = parse("还有一家 苏果便利店江宁店 电话025-52123456")
    assert (got["intent"], got["customer"], got["phone"]) == ("claim", "苏果便利店江宁店", "02552123456")
    assert parse("A200 也盤了 还有 二十二箱")["items"] == [{"sku": "A200", "qty": 264}]


def test_formal_numerals_and_regional_words():
    got = parse("兹于2026年11月3日向南京市鼓楼区万福超市销售A100共计贰拾箱，单价每箱人民币贰拾捌元整。")
    assert got["customer"] == "南京市鼓楼区万福超市" and got["date"] == "2026-11-03"
    assert got["items"] == [{"sku": "A100", "qty": 480, "amount_fen": 56000}]
    got = parse("Ah Huat mini mart take 3 ctn B100 lah, 45 per ctn")
    assert got["customer"] == "Ah Huat mini mart" and got["items"] == [{"sku": "B100", "qty": 45, "amount_fen": 13500}]
    assert [parse(t)["intent"] for t in ("要得嘛", "ok can", "[强]", "cannot, cancel", "算了嘛")] == \
        ["confirm", "confirm", "confirm", "cancel", "cancel"]


@pytest.mark.parametrize("text,intent", [
    ("要得嘛 就这样整", "confirm"), ("没问题就这么着吧", "confirm"), ("先莫报了 那单算了嘛", "cancel"),
    ("不好意思", "unknown"), ("今天天气不错", "unknown"), ("可以帮我查下库存吗", "stock"),
])
def test_a_short_unclear_message_with_one_kind_of_answer_word_is_that_answer(text, intent):
    assert parse(text)["intent"] == intent


@pytest.mark.parametrize("text,customer", [
    ("今天早上我去了趟老街的德福粮油店，他们要了十五箱A100，说好了二十八一箱。", "德福粮油店"),   # a place before 的
    ("今天中午在店里，一个叫陈姐的客户买走了一台D20，六千五百块。", "陈姐"),                       # 一个 is no quantity here
    ("张老板说他那边再要十箱A100，还按二十八一箱", "张老板"),
    ("A100 十箱 28 卖了，是谁要的我得问问同事", None),
])
def test_sales_told_as_stories(text, customer):
    got = parse(text)
    assert got["intent"] == "sale" and got["customer"] == customer and got["items"][0]["amount_fen"]


def test_a_word_a_space_and_full_width_spaces():
    assert parse("查 一下 　A200 　还有 　多少 ？") == {"intent": "stock", "sku": "A200", "partner": None}
    assert parse("这个 　怎么 　用 ？ 教 一下 。")["intent"] == "help"


@pytest.mark.parametrize("text,customer", [
    ("报备 百家乐超市 139-1111-2222 他们想进点小瓶水", "百家乐超市"),     # a remark after the shop is no name
    ("报备 Lucky Mart Co., Ltd. 13912345678", "Lucky Mart Co., Ltd."),
    ("报备 永辉超市 鼓楼店 13912345678", "永辉超市 鼓楼店"),
])
def test_a_claimed_name_is_the_shop(text, customer):
    assert parse(text)["customer"] == customer
