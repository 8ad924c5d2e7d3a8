"""盘点 and 库存 from chat: read-back and confirm, scoping, detail, nothing written on cancel."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from services import demo, identities
from storage.models import Stocktake

_ids = itertools.count()


@pytest.fixture
async def deps(runtime):
    MATCHERS.invalidate()
    await demo.load_demo(runtime.uow(), users=False)
    for who, role, scope in (("alice", "member", "P001"), ("bob", "member", "P002"), ("carol", "member", "P003")):
        await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                       partner_code=scope)
    await identities.bind_directly(runtime.uow(), channel="console", external_id="mgr", role="manager",
                                   regions=("江苏",))
    yield Deps(uow=runtime.uow, settings=runtime.settings)
    MATCHERS.invalidate()


async def say(deps, text, who="alice"):
    deps.uow().clock.advance(seconds=1)  # each message a moment after the last
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"s{next(_ids)}")
    return "\n".join(r.text for r in await handle(deps, msg))


async def stocktakes(runtime) -> int:
    async with runtime.uow() as uow:
        return await uow.session.scalar(select(func.count(Stocktake.id)))


async def test_stocktake_is_read_back_and_recorded_on_confirm(deps, runtime):
    text = await say(deps, "盘点 A100 35箱\nB100 12箱\nC300 8箱5瓶")
    assert "请确认盘点" in text and "35箱" in text and "12箱" in text and "8箱5瓶" in text
    assert await stocktakes(runtime) == 0
    assert "已记录盘点" in await say(deps, "确认")
    assert await stocktakes(runtime) == 1
    text = await say(deps, "库存")
    assert "A100 冰泉矿泉水550ml：35箱" in text and "C300 乌龙茶500ml：8箱5瓶" in text
    assert text.index("B100") < text.index("A100")  # low items first (12箱 < 20箱)


async def test_cancelled_stocktake_writes_nothing(deps, runtime):
    await say(deps, "盘点 A100 35箱")
    assert "已取消" in await say(deps, "取消")
    assert await stocktakes(runtime) == 0


async def test_unclear_stocktake_names_the_word(deps, runtime):
    text = await say(deps, "盘点 冰泉 35箱")
    assert "冰泉" in text and "A100" in text and "A200" in text
    assert await stocktakes(runtime) == 0


async def test_each_partner_sees_only_its_own_stock(deps, runtime):
    await say(deps, "盘点 A100 35箱")
    await say(deps, "确认")
    assert "还没有库存数据" in await say(deps, "库存", who="bob")
    assert "35箱" not in await say(deps, "库存 P001", who="bob")
    text = await say(deps, "库存 P001", who="mgr")
    assert "P001" in text and "35箱" in text
    assert "没有权限" in await say(deps, "库存 P003", who="mgr") or "P003" not in await say(deps, "库存 P003", who="mgr")


async def test_one_sku_shows_its_movements(deps, runtime):
    await say(deps, "盘点 A100 35箱")
    await say(deps, "确认")
    await say(deps, "报单 A100 5箱 28元 张三超市")
    await say(deps, "确认")
    text = await say(deps, "A100还有多少货")
    assert "30箱" in text and "盘点" in text and "销售" in text and "张三超市" in text
