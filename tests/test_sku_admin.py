"""`/sku` from chat and the catalog service behind it: add, aliases, fields, list, help, refusals,
audit rows, and the parser finding a SKU the moment it is added."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from handlers.parsing import SkuMatcher, parse_message
from services import catalog, identities, skus
from services.actors import Actor
from services.errors import InvalidInput, NotAllowed, NotFound
from storage.models import AuditLog, Partner, Sku, User

_n = 0
ADD_A300 = "/sku add A300 冰泉苏打水 瓶 箱 24 2.50 2.20 480 饮料"
ROOT = Actor(user_id=None, name="root", role="admin", channel="test")


def msg(who: str, text: str) -> InboundMessage:
    global _n
    _n += 1
    return InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"sku{_n}")


async def say(deps, who, text) -> str:
    return "\n".join(r.text for r in await handle(deps, msg(who, text)))


@pytest.fixture
async def deps(runtime):
    async with runtime.uow() as uow:
        uow.add(Partner(code="P001", name="南京冰泉商贸有限公司", tier="A", region="江苏-南京"))
        uow.add(Sku(code="A100", name="冰泉矿泉水550ml", unit="瓶", pack_unit="箱", pack_size=24,
                    guide_price_fen=125, floor_price_fen=110, safety_stock=480, group_name="水"))
        await uow.commit()
    await skus.add_alias(runtime.uow(), actor=ROOT, code="A100", alias="小瓶水")
    for who, role, kw in (("root", "admin", {}), ("mgr", "manager", {"regions": ("江苏",)}),
                          ("alice", "member", {"partner_code": "P001"})):
        await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role, **kw)
    MATCHERS.invalidate()
    return Deps(uow=runtime.uow, settings=runtime.settings)


async def audits(runtime, action: str) -> list:
    """Audit rows of one action as plain rows (attribute access, no session needed)."""
    table = AuditLog.__table__
    async with runtime.uow() as uow:
        return list((await uow.session.execute(select(table).where(table.c.action == action)
                                               .order_by(table.c.id))).all())


async def test_admin_adds_a_sku_and_it_is_stored_in_fen_and_audited(deps, runtime):
    answer = await say(deps, "root", ADD_A300)
    assert "已添加" in answer and "A300 冰泉苏打水 · 24瓶/箱 · 指导¥2.50 最低¥2.20" in answer
    info = await catalog.get_sku_by_code(runtime.uow(), code="a300")
    assert (info.guide_price_fen, info.floor_price_fen, info.pack_size, info.safety_stock, info.group) == \
        (250, 220, 24, 480, "饮料")
    [row] = await audits(runtime, "sku.create")
    assert row.entity == "sku" and row.entity_id == str(info.id) and row.channel == "console"
    assert row.before is None and row.after["code"] == "A300" and row.after["guide_price_fen"] == 250


async def test_parser_finds_a_sku_right_after_it_is_added(deps, runtime):
    await say(deps, "root", ADD_A300)
    await say(deps, "root", "/sku alias A300 青柠苏打")
    matcher = SkuMatcher(await catalog.list_skus(runtime.uow()))
    meaning = parse_message("报单 青柠苏打 2箱 60元 张三超市", matcher, date(2026, 11, 18))
    assert meaning["intent"] == "sale"
    assert meaning["items"] == [{"sku": "A300", "qty": 48, "amount_fen": 12000}]
    cached = await MATCHERS.get(runtime.uow())  # the chat side's cache was invalidated by /sku
    assert cached.get("A300") is not None


async def test_aliases_are_added_removed_and_kept_unique(deps, runtime):
    await say(deps, "root", ADD_A300)
    answer = await say(deps, "root", "/sku alias A300 苏打 泡泡水;气泡苏打")
    assert "别名已更新" in answer and "苏打、泡泡水、气泡苏打" in answer
    taken = await say(deps, "root", "/sku alias A300 小瓶水")
    assert "别名「小瓶水」已属于 A100" in taken
    assert "与另一个 SKU 的编码 A100 相同" in await say(deps, "root", "/sku alias A300 a100")
    assert "没有别名「不存在」" in await say(deps, "root", "/sku alias A300 -不存在")
    await say(deps, "root", "/sku alias A300 -泡泡水")
    info = await catalog.get_sku_by_code(runtime.uow(), code="A300")
    assert info.aliases == ("苏打", "气泡苏打")
    rows = await audits(runtime, "sku.aliases")
    assert rows[-1].before["aliases"] == ["苏打", "泡泡水", "气泡苏打"] and rows[-1].after["aliases"] == ["苏打", "气泡苏打"]


async def test_set_changes_fields_together_and_audits_before_and_after(deps, runtime):
    answer = await say(deps, "root", "/sku set A100 指导价=1.30 floor_price=1.15 name=冰泉 矿泉水 550ml")
    assert "已修改" in answer and "指导¥1.30 最低¥1.15" in answer
    info = await catalog.get_sku_by_code(runtime.uow(), code="A100")
    assert (info.guide_price_fen, info.floor_price_fen, info.name) == (130, 115, "冰泉 矿泉水 550ml")
    [row] = await audits(runtime, "sku.update")
    assert row.before == {"code": "A100", "name": "冰泉矿泉水550ml", "guide_price_fen": 125, "floor_price_fen": 110}
    assert row.after == {"code": "A100", "name": "冰泉 矿泉水 550ml", "guide_price_fen": 130, "floor_price_fen": 115}
    assert "已停用" in (await say(deps, "root", "/sku set A100 启用=否")) and \
        [s.code for s in await catalog.list_skus(runtime.uow())] == []


async def test_bad_input_is_named_and_nothing_is_written(deps, runtime):
    assert "指导价(guide_price)「abc」不是有效金额" in await say(deps, "root", "/sku add A300 苏打 瓶 箱 24 abc 2.20")
    assert "最多两位小数" in await say(deps, "root", "/sku add A300 苏打 瓶 箱 24 2.505 2.20")
    assert "箱规(pack_size)须不小于 1" in await say(deps, "root", "/sku add A300 苏打 瓶 箱 0 2.50 2.20")
    assert "高于指导价" in await say(deps, "root", "/sku add A300 苏打 瓶 箱 24 2.00 2.20")
    assert "编码 A100 已存在" in await say(deps, "root", "/sku add a100 苏打 瓶 箱 24 2.50 2.20")
    assert "已是 A100 的别名" in await say(deps, "root", "/sku add 小瓶水 苏打 瓶 箱 24 2.50 2.20")
    assert "/sku add 编码" in await say(deps, "root", "/sku add A300 苏打")
    assert "未知字段「颜色」" in await say(deps, "root", "/sku set A100 颜色=蓝")
    assert "高于指导价" in await say(deps, "root", "/sku set A100 最低价=9")
    assert "没有找到商品「Z999」" in await say(deps, "root", "/sku set Z999 指导价=1")
    async with runtime.uow() as uow:
        assert (await uow.session.scalars(select(Sku.code))).all() == ["A100"]
        assert (await uow.session.get(Sku, 1)).floor_price_fen == 110
    assert await audits(runtime, "sku.create") == [] and await audits(runtime, "sku.update") == []


async def test_members_are_refused_and_managers_may_only_read(deps, runtime):
    assert "没有权限" in await say(deps, "alice", ADD_A300)
    assert "没有权限" in await say(deps, "alice", "/sku list")
    assert "没有权限" in await say(deps, "mgr", "/sku set A100 指导价=1")
    listing = await say(deps, "mgr", "/sku list")
    assert "A100 冰泉矿泉水550ml · 24瓶/箱 · 指导¥1.25 最低¥1.10" in listing
    assert "小瓶水" in await say(deps, "mgr", "/sku show a100")
    manager = await identities.bind_directly(runtime.uow(), channel="console", external_id="m2", role="manager",
                                           regions=("浙江",))
    with pytest.raises(NotAllowed):
        await skus.add_sku(runtime.uow(), actor=manager, code="X1", name="x", unit="瓶", pack_unit="箱",
                           pack_size=6, guide_price="1", floor_price="1")


async def test_list_narrows_by_keyword_and_marks_inactive(deps, runtime):
    await say(deps, "root", ADD_A300)
    await say(deps, "root", "/sku set A300 active=no")
    assert "A300" not in await say(deps, "root", "/sku list 小瓶")
    listing = await say(deps, "root", "/sku list")
    assert "A100" in listing and "A300 冰泉苏打水 · 24瓶/箱 · 指导¥2.50 最低¥2.20 · 已停用" in listing
    assert "没有找到商品" in await say(deps, "root", "/sku list 不存在的东西")


async def test_help_in_both_languages(deps, runtime):
    zh = await say(deps, "root", "/sku help")
    assert "/sku add 编码 名称 单位 箱单位 箱规 指导价 最低价 [安全库存] [分组]" in zh and "/sku alias" in zh
    assert "/sku set" in zh and "/sku list" in zh
    async with runtime.uow() as uow:
        for user in (await uow.session.scalars(select(User))).all():
            user.locale = "en"
        await uow.commit()
    en = await say(deps, "root", "/sku")
    assert "/sku add CODE NAME UNIT PACK_UNIT PACK_SIZE GUIDE FLOOR" in en


async def test_service_functions_return_plain_sku_info(deps, runtime):
    root = ROOT
    info = await skus.add_sku(runtime.uow(), actor=root, code="Ｃ１００", name="礼盒", unit="套", pack_unit="套",
                              pack_size="1", guide_price="¥1,999.00", floor_price="1800")
    assert (info.code, info.pack_size, info.guide_price_fen, info.floor_price_fen) == ("C100", 1, 199900, 180000)
    info = await skus.set_sku_field(runtime.uow(), actor=root, code="c100", field="safety_stock", value="５")
    assert info.safety_stock == 5
    info = await skus.remove_alias(runtime.uow(), actor=root, code="A100", alias="小瓶水")
    assert info.aliases == ()
    with pytest.raises(NotFound):
        await skus.add_alias(runtime.uow(), actor=root, code="NOPE", alias="x")
    with pytest.raises(InvalidInput, match="pack_unit equals unit"):
        await skus.set_sku_field(runtime.uow(), actor=root, code="C100", field="pack_size", value=6)
