"""Price policies: precedence of tier and region, versions by effective date, `import prices` (all rows or
none, Chinese headers, idempotent), `/price set|list|history` in chat, history kept and audited."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from services import demo, identities, imports, price_admin
from services.pricing import price_in_force, region_prefixes
from storage.models import AuditLog, Partner, PricePolicy, Sku

_ids = itertools.count()
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


@pytest.fixture
async def people(runtime):
    MATCHERS.invalidate()
    await demo.load_demo(runtime.uow(), users=False)
    out = {}
    for who, role, partner, regions in (("alice", "member", "P001", ()), ("mgr", "manager", None, ("江苏",)),
                                        ("root", "admin", None, ())):
        out[who] = await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                                  partner_code=partner, regions=regions)
    yield out
    MATCHERS.invalidate()


async def floor_for(runtime, sku, partner, on):
    async with runtime.uow() as uow:
        s = await uow.session.scalar(select(Sku).where(Sku.code == sku))
        p = await uow.session.scalar(select(Partner).where(Partner.code == partner))
        price = await price_in_force(uow, sku=s, partner=p, on=on)
    return price.floor_fen, price.policy_id


async def put(runtime, root, sku, floor, *, tier="", region="", on=date(2026, 11, 1)):
    info, status = await price_admin.set_policy(runtime.uow(), actor=root, sku=sku, guide="9.99", floor=floor,
                                                tier=tier, region=region, effective_from=on)
    return info.id, status


def test_region_prefixes():
    assert region_prefixes("江苏-南京-鼓楼") == ["", "江苏", "江苏-南京", "江苏-南京-鼓楼"]
    assert region_prefixes("") == [""]


async def test_most_specific_scope_wins_then_the_latest_version(runtime, people):
    root = people["root"]
    day = date(2026, 11, 18)
    assert await floor_for(runtime, "A100", "P001", day) == (110, None)            # no policy: the SKU's own
    national, _ = await put(runtime, root, "A100", "1.00")
    tier_a, _ = await put(runtime, root, "A100", "1.05", tier="A")
    jiangsu, _ = await put(runtime, root, "A100", "1.08", region="江苏")
    nanjing, _ = await put(runtime, root, "A100", "1.09", region="江苏-南京")
    both, _ = await put(runtime, root, "A100", "1.12", tier="A", region="江苏")
    assert await floor_for(runtime, "A100", "P001", day) == (112, both)            # tier A + 江苏 covers 江苏-南京
    assert await floor_for(runtime, "A100", "P002", day) == (108, jiangsu)         # tier B, 江苏-苏州
    assert await floor_for(runtime, "A100", "P003", day) == (100, national)        # 浙江
    assert await floor_for(runtime, "A100", "P001", date(2026, 10, 31)) == (110, None)  # before any policy
    # a newer national price does not override a regional one; a newer version of the region does
    newer, _ = await put(runtime, root, "A100", "0.95", on=date(2026, 11, 15))
    assert await floor_for(runtime, "A100", "P003", day) == (95, newer)
    assert await floor_for(runtime, "A100", "P003", date(2026, 11, 14)) == (100, national)
    assert await floor_for(runtime, "A100", "P002", day) == (108, jiangsu)
    later, _ = await put(runtime, root, "A100", "1.20", region="江苏", on=date(2026, 12, 1))
    assert await floor_for(runtime, "A100", "P002", day) == (108, jiangsu)
    assert await floor_for(runtime, "A100", "P002", date(2026, 12, 1)) == (120, later)
    again, status = await put(runtime, root, "A100", "1.07", region="江苏")        # same scope and date: newer row
    assert status == "updated" and await floor_for(runtime, "A100", "P002", day) == (107, again)
    assert {nanjing, tier_a} < {p.id for p in await price_admin.history(runtime.uow(), actor=root, sku="A100")}


async def test_region_beats_tier_and_longer_region_beats_shorter(runtime, people):
    root = people["root"]
    await put(runtime, root, "B100", "2.80", tier="A")
    region, _ = await put(runtime, root, "B100", "2.75", region="江苏-南京")
    assert await floor_for(runtime, "B100", "P001", date(2026, 11, 18)) == (275, region)
    await put(runtime, root, "B100", "2.60", region="江苏")
    assert await floor_for(runtime, "B100", "P001", date(2026, 11, 18)) == (275, region)


async def test_set_is_idempotent_checked_and_audited(runtime, people):
    root = people["root"]
    first = await put(runtime, root, "A100", "1.00", tier="a")                   # tier spelled as partners do
    assert await put(runtime, root, "A100", "1.00", tier="A") == (first[0], "unchanged")
    for kwargs, words in (({"floor": "1.50"}, "最低价不能高于指导价"), ({"tier": "Z"}, "没有等级为「Z」"),
                          ({"region": "江苏省"}, "没有经销商在区域「江苏省」"), ({"floor": "abc"}, "金额不是数字")):
        args = {"sku": "A100", "guide": "1.30", "floor": "1.10", **kwargs}
        with pytest.raises(Exception) as exc:
            await price_admin.set_policy(runtime.uow(), actor=root, **args)
        assert words in exc.value.facts["reason"]
    with pytest.raises(Exception) as exc:
        await price_admin.set_policy(runtime.uow(), actor=people["mgr"], sku="A100", guide="1.3", floor="1.1")
    assert exc.value.code == "not_allowed"
    async with runtime.uow() as uow:
        rows = (await uow.session.execute(select(AuditLog.action, AuditLog.user_id)
                                          .where(AuditLog.entity == "price_policy"))).all()
        tiers = (await uow.session.scalars(select(PricePolicy.tier))).all()
    assert [tuple(r) for r in rows] == [("price.set", root.user_id)] and tiers == ["A"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_import_prices_with_english_and_chinese_headers_is_idempotent(runtime, people, tmp_path):
    root = people["root"]
    english = _write(tmp_path, "prices.csv", "sku,guide_price,floor_price,tier,region,effective_from\n"
                                             "A100,1.30,1.15,,,2026-11-01\n"
                                             "A100,1.35,1.20,A,江苏,2026-12-01\n"
                                             "b100,3.20,2.90,,江苏 - 南京,2026/11/01\n")
    summary = await imports.import_file(runtime.uow(), kind="prices", path=english, actor=root)
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    again = await imports.import_file(runtime.uow(), kind="prices", path=english, actor=root)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    chinese = _write(tmp_path, "价格.csv", "商品编码,指导价(元),最低价(元),等级,区域,生效日期\n"
                                          "A100,¥1.30,1.12,,,2026年11月1日\n")
    changed = await imports.import_file(runtime.uow(), kind="prices", path=chinese, actor=root)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    assert (await floor_for(runtime, "A100", "P003", date(2026, 11, 18)))[0] == 112
    assert (await floor_for(runtime, "B100", "P001", date(2026, 11, 18)))[0] == 290
    async with runtime.uow() as uow:
        assert len((await uow.session.scalars(select(PricePolicy))).all()) == 4   # history kept


async def test_import_prices_names_every_bad_row_and_writes_nothing(runtime, people, tmp_path):
    bad = _write(tmp_path, "bad.csv", "sku,guide_price,floor_price,tier,region,effective_from\n"
                                      "A100,1.30,1.15,,,2026-11-01\n"
                                      "X999,1.30,1.15,,,2026-11-01\n"
                                      "A100,1.30,1.50,,江苏,2026-11-01\n"
                                      "A100,1.30,1.15,Z,,2026-11-01\n"
                                      "A100,1.30,1.15,,上海,2026-11-01\n"
                                      "A100,-1,1.15,,,2026-11-02\n"
                                      "A100,1.30,1.15,,,2026-13-01\n"
                                      "A100,1.30,1.15,,,2026-11-01\n")
    with pytest.raises(imports.ImportFailed) as exc:
        await imports.import_file(runtime.uow(), kind="prices", path=bad, actor=people["root"])
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9]
    assert "未知商品「X999」" in errors[3] and "最低价不能高于指导价" in errors[4] and "「Z」" in errors[5]
    assert "上海" in errors[6] and "负数" in errors[7] and "不是日期" in errors[8] and "与第2行重复" in errors[9]
    async with runtime.uow() as uow:
        assert (await uow.session.scalars(select(PricePolicy))).all() == []


async def say(runtime, text, who):
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"p{next(_ids)}")
    replies = await handle(Deps(uow=runtime.uow, settings=runtime.settings), msg)
    return "\n".join(r.text for r in replies)


async def test_price_commands_in_chat(runtime, people):
    assert "/price set 商品 指导价 最低价" in await say(runtime, "/price help", "root")
    text = await say(runtime, "/price set A100 1.30 1.15 region=江苏 from=2026-12-01", "root")
    assert "已设置价格" in text and "江苏 · 指导 ¥1.30 最低 ¥1.15 · 2026-12-01 起 #1 · 待生效" in text
    text = await say(runtime, "/price set a100 1.28 1.12 等级=A", "root")
    assert "A级 · 指导 ¥1.28 最低 ¥1.12 · 2026-11-18 起 #2 · 执行中" in text
    assert "价格未变" in await say(runtime, "/price set A100 1.28 1.12 tier=A from=今天", "root")
    text = await say(runtime, "/price list A100", "mgr")
    assert "A100 冰泉矿泉水550ml（元/瓶）" in text and "全国 · 指导 ¥1.25 最低 ¥1.10 · 商品默认价" in text
    assert "待生效" in text and "执行中" in text
    text = await say(runtime, "/price history A100", "mgr")
    assert "#1" in text and "#2" in text and "root 2026-11-18" in text
    assert "没有权限" in await say(runtime, "/price set A100 1.30 1.15", "mgr")
    assert "没有权限" in await say(runtime, "/price list", "alice")
    assert "用法" in await say(runtime, "/price set A100 1.30", "root")
    assert "不是日期" in await say(runtime, "/price set A100 1.30 1.15 from=12月", "root")
    assert "没有找到商品「A999」" in await say(runtime, "/price set A999 1.30 1.15", "root")
    assert "最低价不能高于指导价" in await say(runtime, "/price set A100 1.00 1.15", "root")
    text = await say(runtime, "/price list", "root")
    assert "D20 商用净水机Pro" in text and "E05" in text


def test_cli_import_prices(tmp_path):
    db = tmp_path / "cli.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = f"sqlite:///{db}"
    assert subprocess.run([PARTNERBOT, "demo"], env=env, capture_output=True, timeout=120).returncode == 0
    good = _write(tmp_path, "p.csv", "sku,guide_price,floor_price,tier,region,effective_from\nA100,1.3,1.15,,,2026-11-01\n")
    done = subprocess.run([PARTNERBOT, "import", "prices", str(good)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "1 created" in done.stdout
    bad = _write(tmp_path, "b.csv", "sku,guide_price,floor_price,effective_from\nA100,1.3,1.5,2026-11-01\n")
    done = subprocess.run([PARTNERBOT, "import", "prices", str(bad)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "第2行" in done.stderr and "Traceback" not in done.stderr
