"""Company names as people really write them (services/company_names.py and its helpers): traditional
characters, pinyin places, a county's name for its city, slips in the generic words, bracketed
branches — each across other provinces, cities and trades than the public samples — while look-alikes
(the same brand elsewhere or in another trade, a near brand in one city) stay apart; the indexed lookup
still finds exactly what the rules find, and migration 0006 rewrites stored keys by these rules."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services import claims_match, company_names
from services.cn_regions import Region
from services.name_fold import fold
from services.name_vocab import INDUSTRIES, LEGAL, industries_compatible
from services.place_pinyin import resolve
from storage import migrate
from storage.db import make_engine
from storage.models import ClaimKey, CustomerClaim, Partner


def conflicts(a: str, b: str) -> bool:
    return company_names.conflict_score(company_names.parse(a), company_names.parse(b)) is not None


def same(pairs):
    return pytest.mark.parametrize("probe,stored", pairs)


@same([("廣州市天河區美佳超市", "广州市天河区美佳超市"), ("瀋陽鑫盛商貿有限公司", "沈阳鑫盛商贸有限公司"),
       ("鄭州華聯超市", "郑州华联超市有限公司"), ("長沙湘味坊餐飲有限公司", "长沙湘味坊餐饮有限公司"),
       ("廈門鷺島茶行", "厦门市思明区鹭岛茶行"), ("ＣＨＥＮＧＤＵ 老李火鍋", "成都老李火锅")])
def test_traditional_characters_and_width_fold_away(probe, stored):
    assert conflicts(probe, stored)


def test_fold_converts_only_what_opencc_would():
    assert fold("蘇州同福商貿（園區）") == "苏州同福商贸(园区)"
    assert fold("Ｌｕｃｋｙ　Ｍａｒｔ") == "lucky mart"
    assert fold("南京好邻居") == "南京好邻居"


@same([("Chengdu 老李火锅", "成都市武侯区老李火锅店"), ("老李火锅 Chengdu", "成都老李火锅"),
       ("Sichuan 老李火锅", "成都老李火锅"), ("Xiamen 鹭岛茶行", "厦门市思明区鹭岛茶行"),
       ("Chongqing 山城火锅", "重庆市渝中区山城火锅店"), ("Shenzhen City 华强电子有限公司", "深圳华强电子有限公司"),
       ("武汉九头鸟餐饮有限公司 Wuhan", "武汉九头鸟餐饮有限公司"), ("Hangzhou Xihu 阿明水果店", "杭州市西湖区阿明水果店"),
       ("Jiangsu Suzhou 同福商贸", "苏州同福商贸有限公司"), ("华强电子有限公司 (Shenzhen)", "深圳华强电子有限公司")])
def test_a_pinyin_place_before_or_after_a_chinese_name_is_its_region(probe, stored):
    assert conflicts(probe, stored)


def test_pinyin_places_come_from_the_division_data_with_every_reading():
    suzhou = resolve("Suzhou", Region())
    assert {"3205", "3413"} <= suzhou.codes       # 苏州 and 宿州 both
    assert resolve("Jiangsu Suzhou", Region()).codes == frozenset({"3205"})
    assert resolve("chongqing", Region()).codes == frozenset({"50"})   # 重 read chong in the phrase
    assert resolve("Lucky", Region()) is None
    assert company_names.parse("Lucky 超市 Wuxi").brand == "lucky"


@same([("天河美佳超市", "广州市天河区美佳超市"), ("龙岗华强电子", "深圳市龙岗区华强电子有限公司"),
       ("萧山金马五金", "杭州市萧山区金马五金商行"), ("顺德美的电器", "佛山市顺德区美的电器有限公司"),
       ("天河区美佳超市", "广州市天河区美佳超市"), ("广州天河美佳超市", "广州市天河区美佳超市"),
       ("深圳华强电子", "深圳市福田区华强电子有限公司"), ("义乌小商品城商贸", "浙江义乌小商品城商贸有限公司"),
       ("江阴华西商贸", "无锡市江阴市华西商贸有限公司"), ("四川武侯老李火锅", "成都市武侯区老李火锅店"),
       ("苏州园区鑫隆餐饮", "苏州工业园区鑫隆餐饮管理有限公司"), ("南京江北新区好又多超市", "南京好又多超市")])
def test_a_county_without_its_city_or_a_city_without_its_county(probe, stored):
    assert conflicts(probe, stored)


@same([("东方红商贸有限公司", "宁波东方红商贸有限公司"), ("永和豆浆", "上海永和豆浆餐饮有限公司"),
       ("上海永和豆浆", "永和豆浆"), ("朝阳超市", "朝阳超市"), ("北京朝阳华联超市", "朝阳华联超市"),
       ("西湖龙井茶叶", "杭州西湖龙井茶叶有限公司")])
def test_a_place_name_that_is_part_of_the_brand_is_read_both_ways(probe, stored):
    assert conflicts(probe, stored)


def test_a_county_name_alone_gives_two_readings_and_keys_for_both():
    name = company_names.parse("萧山金马五金")
    assert [(r.brand, r.region.key(), r.alternative) for r in name.readings] == [
        ("金马", "330109", False), ("萧山金马", "", True)]
    assert claims_match.region_key(name) == "330109|"
    assert claims_match.province_of("330109|") == 0        # looked up from every province
    assert {"n:金马", "n:萧山金马"} <= set(claims_match.name_keys(name))
    assert not any(k.startswith("d:") and len(k) == 5 for k in claims_match.name_keys(name))  # no 萧山金马 deletions
    assert len(company_names.parse("长沙湘味坊").readings) == 1   # 长沙 the city holds 长沙县: no weak word


@same([("成都老李火锅有限公私", "成都老李火锅有限公司"), ("深圳华强电子有陷公司", "深圳华强电子有限公司"),
       ("深圳华强电子有限贵任公司", "深圳华强电子有限责任公司"), ("广州美佳商茂有限公司", "广州美佳商贸有限公司"),
       ("广州美佳超事", "广州美佳超市"), ("武汉九头鸟餐引管理有限公司", "武汉九头鸟餐饮管理有限公司"),
       ("郑州华联便力店", "郑州华联便利店"), ("郑州华联电子商物有限公司", "郑州华联电子商务有限公司"),
       ("广州美佳贸亿有限公司", "广州美佳贸易有限公司"), ("沈阳鑫盛建材有线公司", "沈阳鑫盛建材有限公司"),
       ("沈阳鑫盛建材有限工司", "沈阳鑫盛建材有限公司"), ("沈阳鑫盛建材有限公", "沈阳鑫盛建材有限公司"),
       ("兰州金城股分有限公司", "兰州金城股份有限公司"), ("青岛海韵净水设被有限公司", "青岛海韵净水设备有限公司")])
def test_one_slip_in_the_legal_form_or_the_industry_is_forgiven(probe, stored):
    assert conflicts(probe, stored)


def test_slips_are_read_as_the_words_they_slip_from():
    assert LEGAL.strip("金都饭店有线公司") == ("金都饭店", ["有限公司"])
    assert LEGAL.strip("东方红商贸有限工司") == ("东方红商贸", ["有限公司"])
    assert INDUSTRIES.strip("绿源净水设被") == ("绿源", ["净水", "设备"])
    assert LEGAL.strip("美的公司") == ("美的", ["公司"])       # not 分公司 with 美 left: a brand keeps its end
    assert INDUSTRIES.strip("好又多超市")[0] == "好又多"


@same([("昆明滇池超市", "昆明滇地超市"), ("西安同德商贸", "西安同福商贸"), ("合肥万家福超市", "合肥万家和超市"),
       ("太原美味源食品", "太原美味鲜食品"), ("南宁绿源净水设备", "南宁绿林净水设备")])
def test_no_slip_is_forgiven_in_a_short_brand(probe, stored):
    assert not conflicts(probe, stored)


def test_a_brand_of_the_same_sound_is_the_same_brand():
    assert conflicts("广州美佳超市", "广州美家超市") and conflicts("南京好临居商贸", "南京好邻居商贸有限公司")


@same([("美佳超市（天河店）", "广州市天河区美佳超市"), ("美佳超市[体育西路店]", "广州美佳超市"),
       ("美佳超市(体育西路分店)", "广州美佳超市"), ("广州美佳超市(天河店)", "广州美佳超市有限公司"),
       ("华联便利店(二店)", "郑州华联便利店"), ("深圳华强电子有限公司(福田分公司)", "深圳华强电子有限公司"),
       ("成都老李火锅（春熙路店）", "成都老李火锅有限公司"), ("昆明滇池超市【北京路店】", "昆明滇池超市")])
def test_a_bracketed_branch_is_its_head_store(probe, stored):
    assert conflicts(probe, stored)


def test_a_branch_in_brackets_adds_a_region_only_when_it_is_unmistakably_one():
    assert company_names.parse("美佳超市(湖南路店)").region.empty        # 湖南 is a province, 湖南路 a street
    assert company_names.parse("美佳超市(天河店)").region.empty          # 天河 alone may be an area's name
    assert company_names.parse("美佳超市(天河区店)").region.key() == "440106"
    assert company_names.parse("美佳超市(广州店)").region.key() == "4401"
    assert company_names.parse("好邻居商贸(南京)有限公司").region.key() == "3201"
    assert company_names.parse("武侯老李火锅(江宁店)").region.key() == "510107"  # what does not fit is left


@same([("宁波海曙区好再来超市(大关店)", "宁波市海曙区好再来超市"), ("好再来超市(永和店)", "宁波市海曙区好再来超市"),
       ("成都老李火锅(东方店)", "成都市武侯区老李火锅")])
def test_a_branch_named_like_a_county_elsewhere_stays_with_its_store(probe, stored):
    assert conflicts(probe, stored)


@same([("太原晋韵餐钦管理有限公司", "太原晋韵餐饮管理有限公司"), ("太原晋韵餐饮管理有限公司", "太原晋韵餐钦管理有限公司"),
       ("福州闽兴建林有限公司", "福州闽兴建材有限公司"), ("南昌赣鑫粮由商行", "南昌赣鑫粮油商行")])
def test_a_changed_character_of_another_sound_in_a_trade_word_meets_that_trade(probe, stored):
    assert conflicts(probe, stored)


@same([("太原晋韵餐钦管理有限公司", "太原晋韵超市"), ("福州闽兴建林有限公司", "福州闽兴食品有限公司"),
       ("合肥金万家福有限公司", "合肥金万超市"), ("太原晋韵餐钦管理有限公司", "太原晋源餐饮管理有限公司"),
       ("合肥金万家福有限公司", "合肥金万家和有限公司")])
def test_a_slip_reading_meets_only_the_same_brand_stating_that_trade(probe, stored):
    assert not conflicts(probe, stored)


@same([("苏州春晖食品 Co., Ltd.", "苏州春晖食品有限公司"), ("宁波甬达电器 Company Limited", "宁波甬达电器有限公司"),
       ("厦门鹭岛茶行 LTD", "厦门鹭岛茶行")])
def test_an_english_legal_form_after_a_chinese_name_comes_off(probe, stored):
    assert conflicts(probe, stored)


@same([("深圳美佳超市", "广州美佳超市"), ("广州美佳装饰工程有限公司", "广州美佳超市"), ("广州美好超市", "广州美佳超市"),
       ("成都老张火锅", "成都老李火锅"), ("重庆老李火锅", "成都老李火锅"), ("Chongqing 老李火锅", "成都老李火锅"),
       ("武汉九头鸟房地产开发有限公司", "武汉九头鸟餐饮有限公司"), ("沈阳鑫盛建材有限公司", "沈阳鑫盛食品有限公司"),
       ("沈阳鑫旺建材", "沈阳鑫盛建材"), ("天河美佳超市", "深圳市福田区美佳超市"), ("龙岗华强电子", "深圳市福田区华强电子"),
       ("Wuxi 同福商贸", "苏州同福商贸"), ("杭州西湖区阿明水果店", "杭州上城区阿明水果店"),
       ("郑州华联超市", "郑州华联便利店"), ("广州美佳汽车服务有限公司", "广州美佳电器有限公司"),
       ("长沙湘味坊餐饮有限公司", "长沙湘味源餐饮有限公司"), ("长沙湘味坊", "株洲湘味坊"),
       ("昆山天福便利", "昆山天禄便利"), ("萧山金马五金", "萧山金鸟五金"), ("美佳超市(广州天河店)", "深圳美佳超市"),
       ("兰州金城食品股份有限公司", "兰州金城房地产有限公司"), ("青岛海韵净水设备", "青岛海韵电动车")])
def test_look_alikes_stay_apart(probe, stored):
    assert not conflicts(probe, stored)


def test_industries_compare_word_by_word():
    assert industries_compatible("净水|设备", "设备") and industries_compatible("网络科技", "科技")
    assert industries_compatible("烟酒|店", "烟酒") and industries_compatible("", "超市")
    assert not industries_compatible("房地产|开发", "饭店") and not industries_compatible("超市", "便利")


def test_regions_are_alternatives():
    gulou = company_names.parse("鼓楼区好邻居").region
    assert len(gulou.codes) >= 4 and gulou.province is None
    assert gulou.fits(Region(frozenset({"3201"}))) and not gulou.fits(Region(frozenset({"3301"})))
    assert Region.from_key(gulou.key()) == gulou


async def partners(uow) -> dict[str, int]:
    async with uow:
        for code in ("P001", "P002"):
            uow.add(Partner(code=code, name=f"经销商{code}", tier="A", region="江苏-南京"))
        await uow.commit()
        return dict((await uow.session.execute(select(Partner.code, Partner.id))).all())


async def store(uow, partner_id: int, names: list[str]) -> dict[int, str]:
    """Claims written the way the life cycle writes them (claim_keys, key_columns)."""
    ids = {}
    async with uow:
        for name in names:
            keys = claims_match.claim_keys(name)
            row = CustomerClaim(partner_id=partner_id, customer=name, status="approved", claimed_at=uow.now(),
                                expires_at=uow.now() + timedelta(days=9), **claims_match.key_columns(keys))
            uow.add(row)
            await uow.flush()
            ids[row.id] = name
        await uow.commit()
    return ids


async def test_a_claim_read_two_ways_is_found_from_another_province(uow):
    p = await partners(uow)
    await store(uow, p["P001"], ["永和豆浆", "萧山金马五金商行"])
    got = await claims_match.find_conflicts(uow, customer="上海永和豆浆餐饮有限公司")
    assert [(c.customer, c.reason, c.score) for c in got] == [("永和豆浆", "name", 1.0)]
    assert [c.customer for c in await claims_match.find_conflicts(uow, customer="杭州市萧山区金马五金")] == [
        "萧山金马五金商行"]


PLACES = ("", "南京", "南京市江宁区", "江宁", "武进", "常州", "昆山", "苏州", "Suzhou ", "成都", "武侯", "東方",
          "永和", "朝阳", "北京市朝阳区", "杭州西湖", "西湖", "Hangzhou ", "上海昆山")
BRANDS = ("红", "东方红", "金马", "同福", "同德", "湘味坊", "湘味源", "老李", "老王", "天福", "华联", "鑫盛达华源")
TRADES = ("商贸", "商貿", "超市", "五金", "设备", "设被", "餐饮", "餐钦", "建材", "建林", "火锅", "")
FORMS = ("有限公司", "有线公司", "有限工司", "", "(湖南路店)", "（前进路店）")


def _variants(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(PLACES) + rng.choice(BRANDS) + rng.choice(TRADES) + rng.choice(FORMS) for _ in range(count)]


async def test_the_indexed_lookup_finds_what_the_rules_find_for_every_kind_of_writing(uow):
    p = await partners(uow)
    ids = await store(uow, p["P001"], sorted(set(_variants(random.Random(3), 300))))
    parsed = {i: company_names.parse(n) for i, n in ids.items()}
    hits = 0
    for probe in _variants(random.Random(8), 120):
        want = {i for i, name in parsed.items()
                if company_names.conflict_score(company_names.parse(probe), name) is not None}
        got = {c.claim_id for c in await claims_match.find_conflicts(uow, customer=probe)}
        assert got == want, probe
        hits += bool(want)
    assert hits > 60


async def test_migration_0006_rewrites_name_parts_and_keys_by_these_rules(uow, settings):
    p = await partners(uow)
    ids = await store(uow, p["P001"], ["蘇州同福商貿有限公司", "萧山金马五金", "昆山天福便利连锁有限公司"])
    async with uow:  # as an earlier version wrote them: other parts, no keys
        await uow.session.execute(update(CustomerClaim).values(brand_key="?", region_key="", industry_key=""))
        await uow.session.execute(ClaimKey.__table__.delete())
        await uow.commit()
    engine = make_engine(settings.database.url)
    try:
        await migrate.downgrade(engine, "0005")
        await migrate.upgrade(engine, claim_index=claims_match.stored_index)
    finally:
        await engine.dispose()
    async with uow:
        rows = (await uow.session.execute(select(CustomerClaim.id, CustomerClaim.brand_key,
                                                 CustomerClaim.region_key))).all()
        keys = set((await uow.session.execute(select(ClaimKey.key, ClaimKey.province, ClaimKey.claim_id))).all())
    fresh = {i: claims_match.claim_keys(n) for i, n in ids.items()}
    assert {(i, b, r) for i, b, r in rows} == {(i, k["brand_key"], k["region_key"]) for i, k in fresh.items()}
    assert keys == {(h, claims_match.province_of(k["region_key"]), i) for i, k in fresh.items() for h in k["lookup"]}
    assert [c.customer for c in await claims_match.find_conflicts(uow, customer="苏州同福商贸")] == ["蘇州同福商貿有限公司"]
