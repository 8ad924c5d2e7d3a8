"""Conflict lookup (services/claims_match.py): each reason, live claims only, exclusions, the issue's
examples, many written variants of one customer, and the indexed lookup finding exactly what a full
scan with the same rules finds."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services import claims_match, company_names
from storage.models import ClaimKey, ClaimLock, CustomerClaim, Partner


async def partners(uow) -> dict[str, int]:
    async with uow:
        for code in ("P001", "P002", "P003"):
            uow.add(Partner(code=code, name=f"经销商{code}", tier="A", region="江苏-南京"))
        await uow.commit()
        return dict((await uow.session.execute(select(Partner.code, Partner.id))).all())


async def claim(uow, partner_id: int, customer: str, *, phone=None, uscc=None, status="approved",
                days: int = 90) -> int:
    """A claim written the way the life cycle writes one (claim_keys, key_columns)."""
    keys = claims_match.claim_keys(customer, phone, uscc)
    now = uow.now()
    async with uow:
        row = CustomerClaim(partner_id=partner_id, customer=customer, phone=keys["phone"], uscc=keys["uscc"],
                            status=status, claimed_at=now - timedelta(days=1),
                            expires_at=None if status == "pending" else now + timedelta(days=days),
                            **claims_match.key_columns(keys))
        uow.add(row)
        await uow.commit()
        return row.id


async def found(uow, customer, **kw) -> list[tuple[str, str]]:
    return [(c.customer, c.reason) for c in await claims_match.find_conflicts(uow, customer=customer, **kw)]


async def test_same_uscc_same_phone_and_matching_name_are_the_three_reasons(uow):
    p = await partners(uow)
    await claim(uow, p["P001"], "上海盒马网络科技有限公司", uscc="91310000MA1FL5PQ92")
    await claim(uow, p["P001"], "江苏苏果超市有限公司", phone="025-84561234")
    await claim(uow, p["P002"], "南京好邻居商贸有限公司")
    assert await found(uow, "盒马鲜生", uscc="91310000ma1fl5pq92") == [("上海盒马网络科技有限公司", "uscc")]
    assert await found(uow, "南京金桥副食品超市", phone="025 8456 1234") == [("江苏苏果超市有限公司", "phone")]
    assert await found(uow, "好邻居商贸(南京)有限公司") == [("南京好邻居商贸有限公司", "name")]


async def test_one_object_per_claim_with_its_strongest_reason(uow):
    p = await partners(uow)
    both = await claim(uow, p["P001"], "南京好邻居商贸有限公司", phone="13912340001", uscc="91320100MA1X8K3L2C")
    await claim(uow, p["P002"], "南京好邻居商贸有限责任公司", phone="13912340001")
    got = await claims_match.find_conflicts(uow, customer="南京好邻居商贸", phone="139-1234-0001",
                                            uscc="91320100MA1X8K3L2C")
    assert [(c.claim_id == both, c.reason, c.score) for c in got] == [(True, "uscc", 1.0), (False, "phone", 1.0)]
    assert [c.partner for c in got] == ["P001", "P002"]


async def test_conflicts_come_strongest_first(uow):
    p = await partners(uow)
    await claim(uow, p["P001"], "好临居商贸有限公司")      # the same sound: 0.95
    await claim(uow, p["P002"], "南京好邻居商贸有限公司")  # the same brand: 1.0
    got = await claims_match.find_conflicts(uow, customer="南京好邻居")
    assert [(c.customer, c.score) for c in got] == [("南京好邻居商贸有限公司", 1.0), ("好临居商贸有限公司", 0.95)]


@pytest.mark.parametrize("stored,probe,conflict", [
    ("南京好邻居商贸有限公司", "南京好邻居", True),                 # the issue's examples
    ("深圳市南山区美佳超市", "广州市天河区美佳超市", False),
    ("宁波恒丰电器有限公司", "宁波恒丰食品有限公司", False),
    ("宁波恒丰电器有限公司", "宁波恒丰电器", True),
])
async def test_the_issue_examples(uow, stored, probe, conflict):
    p = await partners(uow)
    await claim(uow, p["P001"], stored)
    assert bool(await found(uow, probe)) is conflict


async def test_only_live_claims_conflict(uow):
    p = await partners(uow)
    for status in ("released", "rejected", "returned", "expired"):
        await claim(uow, p["P001"], "南京好邻居商贸有限公司", status=status)
    await claim(uow, p["P002"], "好邻居商贸有限公司", days=-1)      # approved, but its protection ran out
    assert await found(uow, "南京好邻居商贸有限公司") == []
    await claim(uow, p["P003"], "南京好邻居商贸有限责任公司", status="pending")
    assert await found(uow, "南京好邻居商贸有限公司") == [("南京好邻居商贸有限责任公司", "name")]


async def test_own_partner_and_own_claim_can_be_left_out(uow):
    p = await partners(uow)
    mine = await claim(uow, p["P001"], "南京好邻居商贸有限公司", phone="13912340001")
    await claim(uow, p["P002"], "南京好邻居商贸有限公司")
    assert len(await found(uow, "南京好邻居")) == 2
    assert [c.partner for c in await claims_match.find_conflicts(
        uow, customer="南京好邻居", exclude_partner_id=p["P001"])] == ["P002"]
    assert [c.claim_id != mine for c in await claims_match.find_conflicts(
        uow, customer="南京好邻居", exclude_claim_id=mine)] == [True]


async def test_an_invalid_phone_or_uscc_in_a_probe_is_simply_not_used(uow):
    p = await partners(uow)
    await claim(uow, p["P001"], "南京好邻居商贸有限公司", phone="13912340001")
    assert await found(uow, "南京好邻居", phone="12345", uscc="91320100MA1X8K3L2D") == [("南京好邻居商贸有限公司", "name")]
    assert await found(uow, "", phone="bad", uscc="") == []
    assert await found(uow, "   ") == []


VARIANTS = {
    "南京好邻居商贸有限公司": [
        "好邻居商贸(南京)有限公司", "好邻居商贸（南京）有限公司", "【南京】好邻居商贸有限公司", "南京市好邻居商贸有限公司",
        "江苏省南京市好邻居商贸有限公司", "江苏南京好邻居商贸", "南京 好邻居 商贸 有限 公司", "南京好邻居贸易有限责任公司",
        "南京好邻居商贸股份有限公司", "南京市鼓楼区好邻居商贸", "南京鼓楼好邻居商贸有限公司", "好邻居商贸", "好邻居",
        "南京好临居商贸有限公司", "好邻居南京商贸有限公司", "好邻居商贸有限公司南京分公司", "南京好邻居商贸有限公司鼓楼分公司",
        "南京好邻居商贸有限公司。"],
    "杭州市西湖区小王烟酒店": ["杭州小王烟酒店", "杭州西湖小王烟酒店", "杭州市西湖区小王烟酒", "浙江省杭州市小王烟酒商行",
                               "小王烟酒店", "西湖区小王烟酒店"],
    "Lucky Mart Co., Ltd.": ["LUCKY MART CO LTD", "Lucky Mart Limited", "lucky mart inc.", "Lucky Mart Company Limited",
                             "The Lucky Mart", "Lucky  Mart  Co.,Ltd", "ＬＵＣＫＹ ＭＡＲＴ", "LuckyMart Co., Ltd.",
                             "Nanjing Lucky Mart Co., Ltd.", "Lucky Mart (Shanghai) Co., Ltd.", "Lucky Mart有限公司",
                             "Luky Mart Ltd", "Lucky Mart Trading Co., Ltd."],
    "苏果超市（江苏）有限公司": ["江苏苏果超市有限公司", "苏果超市", "南京苏果超市", "苏果超市湖南路店", "苏果超市南京店",
                                "江苏省苏果超市连锁有限公司"],
    "上海浦东新区华联超市有限公司": ["上海华联超市", "浦东新区华联超市", "上海市浦东华联超市", "华联超市（上海）有限公司"],
}
NOT_VARIANTS = {
    "南京好邻居商贸有限公司": ["上海好邻居商贸有限公司", "南京好邻居餐饮有限公司", "南京好朋友商贸有限公司", "南京好邻商贸",
                               "杭州市好邻居商贸", "南京好邻居超市"],
    "杭州市西湖区小王烟酒店": ["杭州市上城区小王烟酒店", "杭州小李烟酒店", "宁波小王烟酒店", "杭州小王超市"],
    "Lucky Mart Co., Ltd.": ["Happy Mart Co., Ltd.", "Lucky Foods Co., Ltd.", "Lucky Star Mart", "Plucky Duck Mart"],
    "苏果超市（江苏）有限公司": ["浙江苏果超市有限公司", "苏果餐饮有限公司", "苏宁超市"],
}


@pytest.mark.parametrize("stored,probe", [(s, p) for s, ps in VARIANTS.items() for p in ps])
async def test_variants_of_one_customer_conflict(uow, stored, probe):
    p = await partners(uow)
    await claim(uow, p["P001"], stored)
    assert await found(uow, probe) == [(stored, "name")]


@pytest.mark.parametrize("stored,probe", [(s, p) for s, ps in NOT_VARIANTS.items() for p in ps])
async def test_other_customers_do_not(uow, stored, probe):
    p = await partners(uow)
    await claim(uow, p["P001"], stored)
    assert await found(uow, probe) == []


POOL = "华鑫盛达金源隆福祥泰丰恒瑞佳美新宏兴昌安康明亿万利德嘉和中天永海龙凯通鸿汇邦信诚尚优品家乐惠好邻居星光宝成"
REGIONS = ("", "南京", "南京市", "江苏省南京市", "杭州市西湖区", "苏州", "浙江", "上海市浦东新区", "广州市天河区")
INDUSTRIES = ("商贸", "超市", "便利店", "食品", "烟酒店", "餐饮", "")
FORMS = ("有限公司", "有限责任公司", "股份有限公司", "")


def _names(rng: random.Random, count: int) -> list[str]:
    """Names over a small pool so that brands repeat, with one-character typos of earlier ones."""
    out: list[str] = []
    for _ in range(count):
        if out and rng.random() < 0.4:
            brand = company_names.parse(rng.choice(out)).brand or "华联"
            i = rng.randrange(len(brand))
            brand = rng.choice((brand[:i] + brand[i + 1:], brand[:i] + rng.choice(POOL) + brand[i:],
                                brand[:i] + rng.choice(POOL) + brand[i + 1:], brand[1:2] + brand[:1] + brand[2:]))
        else:
            brand = "".join(rng.choices(POOL[:20], k=rng.choice((2, 3, 4, 5))))
        out.append(rng.choice(REGIONS) + brand + rng.choice(INDUSTRIES) + rng.choice(FORMS))
    return out


async def test_the_indexed_lookup_finds_exactly_what_a_full_scan_finds(uow):
    p = await partners(uow)
    rng = random.Random(17)
    stored = _names(rng, 400)
    ids = {}
    async with uow:
        for i, name in enumerate(stored):
            keys = claims_match.claim_keys(name)
            row = CustomerClaim(partner_id=p["P001"], customer=name, status="approved", claimed_at=uow.now(),
                                expires_at=uow.now() + timedelta(days=9), **claims_match.key_columns(keys))
            uow.add(row)
            await uow.flush()
            ids[row.id] = name
        await uow.commit()
    parsed = {i: company_names.parse(n) for i, n in ids.items()}
    probes = _names(random.Random(5), 150) + stored[:50]
    hits = 0
    for probe in probes:
        want = {i for i, name in parsed.items()
                if company_names.conflict_score(company_names.parse(probe), name) is not None}
        got = {c.claim_id for c in await claims_match.find_conflicts(uow, customer=probe)}
        assert got == want, probe
        hits += bool(want)
    assert hits > 40  # the check means something


def test_one_typo_apart_is_a_match_two_are_not():
    score = company_names.brand_score
    assert score("好邻居", "好邻居") == 1.0 and score("好邻居", "好临居") == 0.95
    assert score("京东世纪", "京东世") > 0.8 and score("京东世纪", "京东世纪城") > 0.8   # one dropped / added
    assert score("鑫盛达华源", "鑫盛达华泰") == 0.8 and score("鑫盛达华源", "鑫达盛华源") == 0.8  # changed / swapped
    assert score("京东世纪", "京东世界") < company_names.BRAND_THRESHOLD  # one changed in four: another brand
    assert score("鑫盛达华源", "鑫盛华") == 0.0 and score("华东", "华西") == 0.0


def test_keys_of_a_typo_meet_the_keys_of_the_name():
    original = claims_match.claim_keys("南京鑫盛达华源商贸有限公司", "139 1234 0001", "91320100MA1X8K3L2C")
    assert original["phone"] == "13912340001" and original["uscc"] == "91320100MA1X8K3L2C"
    for typo in ("鑫盛达华商贸", "鑫盛达华源泰商贸", "鑫盛达华泰商贸", "鑫达盛华源商贸", "鑫胜达华源商贸"):
        other = claims_match.claim_keys(typo)
        for stored, probe in ((original, typo), (other, "南京鑫盛达华源商贸有限公司")):
            looked_up = {claims_match.key_hash(k) for k in claims_match.probe_keys(company_names.parse(probe))}
            assert set(stored["lookup"]) & looked_up, typo
        assert set(claims_match.lock_ids(original)) & set(claims_match.lock_ids(other)), typo


async def test_lock_keys_holds_the_buckets_in_the_open_transaction(uow):
    keys = claims_match.claim_keys("南京好邻居商贸有限公司", "13912340001")
    async with uow:
        await claims_match.lock_keys(uow, keys)
        locked = await uow.session.scalar(select(func.count()).select_from(ClaimLock))
        await uow.commit()
    assert locked == (len(claims_match.lock_ids(keys)) if uow.settings.database.url.startswith("postgresql") else 0)


async def test_claim_keys_rows_are_written_with_the_claim(uow):
    p = await partners(uow)
    claim_id = await claim(uow, p["P001"], "南京鑫盛达华源商贸有限公司")
    async with uow:
        stored = set(await uow.session.scalars(select(ClaimKey.key).where(ClaimKey.claim_id == claim_id)))
    assert stored == set(claims_match.claim_keys("南京鑫盛达华源商贸有限公司")["lookup"]) and len(stored) == 7
