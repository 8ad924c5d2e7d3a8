"""报单 conversations: ask, pick, confirm, cancel, undo, correct, redelivery, warnings."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from services import demo, identities
from storage.models import AuditLog, Sale, SaleLine, Shipment, Sku

_ids = itertools.count()


@pytest.fixture
async def deps(runtime):
    MATCHERS.invalidate()
    await demo.load_demo(runtime.uow(), users=False)
    await identities.bind_directly(runtime.uow(), channel="console", external_id="alice", role="member",
                                   partner_code="P001")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="bob", role="member",
                                   partner_code="P002")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="mgr", role="manager",
                                   regions=("江苏",))
    yield Deps(uow=runtime.uow, settings=runtime.settings)
    MATCHERS.invalidate()


async def say(deps, text, who="alice", message_id=None):
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text,
                         message_id=message_id or f"t{next(_ids)}")
    replies = await handle(deps, msg)
    return "\n".join(r.text for r in replies), replies


async def sales(runtime):
    async with runtime.uow() as uow:
        rows = (await uow.session.execute(
            select(Sale.id, Sale.customer, Sale.sold_on, Sale.status, Sku.code, SaleLine.qty, SaleLine.amount_fen)
            .join(SaleLine, SaleLine.sale_id == Sale.id).join(Sku, Sku.id == SaleLine.sku_id)
            .order_by(Sale.id, SaleLine.id))).all()
    return [tuple(r) for r in rows]


async def test_complete_message_reads_back_and_records_on_confirm(deps, runtime):
    text, replies = await say(deps, "报单 A100 20箱 28元 张三超市")
    assert "请确认" in text and "20箱" in text and "¥560.00" in text and "张三超市" in text
    assert replies[0].buttons == ("确认", "取消")
    assert await sales(runtime) == []
    text, _ = await say(deps, "确认")
    assert "已记录报单" in text
    (row,) = await sales(runtime)
    assert row[1:] == ("张三超市", row[2], "confirmed", "A100", 480, 56000)


async def test_missing_fields_are_asked_one_at_a_time_and_merged(deps, runtime):
    text, _ = await say(deps, "报单 A100 20箱")
    assert "价格" in text and "客户" not in text
    text, _ = await say(deps, "每箱28")
    assert "哪个客户" in text
    text, _ = await say(deps, "张三超市")
    assert "请确认" in text and "¥560.00" in text
    await say(deps, "确认")
    assert [r[4:] for r in await sales(runtime)] == [("A100", 480, 56000)]


async def test_missing_quantity_and_sku_are_asked(deps, runtime):
    text, _ = await say(deps, "报单 A100 28元 张三超市")
    assert "多少" in text
    text, _ = await say(deps, "20箱")
    assert "¥560.00" in text
    text, _ = await say(deps, "报单 20箱 28元 张三超市")
    assert "哪个商品" in text
    text, _ = await say(deps, "A100")
    assert "请确认" in text and "A100" in text


async def test_cancel_drops_the_draft(deps, runtime):
    await say(deps, "报单 A100 20箱 28元 张三超市")
    text, _ = await say(deps, "取消")
    assert "已取消" in text
    text, _ = await say(deps, "确认")
    assert "没有需要确认" in text
    assert await sales(runtime) == []


async def test_redelivered_confirmation_makes_one_sale(deps, runtime):
    await say(deps, "报单 A100 20箱 28元 张三超市")
    first, _ = await say(deps, "确认", message_id="wx-42")
    again, _ = await say(deps, "确认", message_id="wx-42")
    assert first == again
    assert len(await sales(runtime)) == 1


async def test_undo_within_window_only_and_audited(deps, runtime, clock):
    await say(deps, "报单 A100 20箱 28元 张三超市")
    await say(deps, "确认")
    text, _ = await say(deps, "撤销")
    assert "已撤销" in text
    assert (await sales(runtime))[0][3] == "undone"
    text, _ = await say(deps, "撤销")
    assert "没有可撤销" in text
    await say(deps, "报单 A100 1箱 28元 李四")
    await say(deps, "确认")
    clock.advance(hours=25)
    text, _ = await say(deps, "撤销")
    assert "没有可撤销" in text
    async with runtime.uow() as uow:
        actions = (await uow.session.scalars(select(AuditLog.action).where(AuditLog.entity == "sale")
                                             .order_by(AuditLog.id))).all()
    assert actions == ["sale.create", "sale.undo", "sale.create"]


async def test_corrections_change_quantity_or_price_and_are_audited(deps, runtime):
    await say(deps, "报单 A100 20箱 28元 张三超市")
    await say(deps, "确认")
    text, _ = await say(deps, "改成25箱")
    assert "25箱" in text and "¥700.00" in text
    text, _ = await say(deps, "价格改成27")
    assert "¥675.00" in text
    assert (await sales(runtime))[0][5:] == (600, 67500)
    async with runtime.uow() as uow:
        n = await uow.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sale.correct"))
        before, after = (await uow.session.execute(select(AuditLog.before, AuditLog.after).where(
            AuditLog.action == "sale.correct").order_by(AuditLog.id.desc()).limit(1))).one()
    assert n == 2 and before["lines"][0]["amount_fen"] == 70000 and after["lines"][0]["amount_fen"] == 67500


async def test_below_floor_and_over_stock_warn_but_do_not_block(deps, runtime):
    async with runtime.uow() as uow:
        sku = await uow.session.scalar(select(Sku).where(Sku.code == "A100"))
        from storage.models import Partner
        p1 = await uow.session.scalar(select(Partner).where(Partner.code == "P001"))
        uow.add(Shipment(partner_id=p1.id, sku_id=sku.id, qty=240, shipped_on=uow.now().date(), ref="S1",
                         created_at=uow.now()))
        await uow.commit()
    text, _ = await say(deps, "报单 A100 20箱 20元 张三超市")
    assert "低于最低价" in text and "超过您的库存" in text and "10箱" in text
    text, _ = await say(deps, "确认")
    assert "已记录" in text and len(await sales(runtime)) == 1


async def test_future_date_is_refused_and_asked(deps, runtime):
    text, _ = await say(deps, "报单 A100 20箱 28元 张三超市 2026-12-01")
    assert "还没到" in text
    text, _ = await say(deps, "昨天")
    assert "请确认" in text and "2026-11-17" in text


async def test_manager_cannot_report_a_sale(deps):
    text, _ = await say(deps, "报单 A100 20箱 28元 张三超市", who="mgr")
    await say(deps, "确认", who="mgr")
    text, _ = await say(deps, "确认", who="mgr")
    assert "没有需要确认" in text or "只有经销商" in text


async def test_nonsense_gets_help_not_an_error(deps):
    for text in ("你好", "？？？", "asdf qwer", "🙂", "报单"):
        answer, _ = await say(deps, text)
        assert answer and "编号" not in answer


async def test_ambiguous_sku_offers_candidates_picked_by_number_or_code(deps, runtime):
    text, _ = await say(deps, "报单 冰泉 20箱 28元 张三超市")
    assert "1. A100" in text and "2. A200" in text
    text, _ = await say(deps, "2")
    assert "请确认" in text and "A200" in text and "20箱" in text
    await say(deps, "取消")
    text, _ = await say(deps, "报单 冰泉 20箱 28元 张三超市")
    text, _ = await say(deps, "a100")
    assert "请确认" in text and "A100" in text


async def test_unknown_sku_is_not_guessed(deps, runtime):
    text, _ = await say(deps, "报单 雪碧 20箱 28元 张三超市")
    assert "没找到商品「雪碧」" in text or "哪个商品" in text
    text, _ = await say(deps, "B200")
    assert "请确认" in text and "B200" in text and "张三超市" in text


async def test_a_question_in_the_middle_keeps_the_draft(deps, runtime):
    await say(deps, "报单 A100 20箱 28元")
    text, _ = await say(deps, "帮助")
    assert "报单" in text
    text, _ = await say(deps, "张三超市")
    assert "请确认" in text


async def test_english_conversation(deps, runtime):
    text, replies = await say(deps, "sold 3 X1 to Wang's Kitchen for 5700 total yesterday")
    assert "Wang's Kitchen" in text and "¥5,700.00" in text or "¥5700.00" in text


@pytest.mark.parametrize("yes", ["好的", "嗯嗯可以", "ok👍", "没问题", "對的"])
async def test_everyday_yes_at_the_read_back_records_the_sale(deps, runtime, yes):
    text, _ = await say(deps, "嗯那个今天给同心超市送了仨箱小瓶水然后价格是二十八块五一箱")
    assert "请确认" in text and "同心超市" in text and "¥85.50" in text
    text, _ = await say(deps, yes)
    assert "已记录报单" in text
    (row,) = await sales(runtime)
    assert row[1] == "同心超市" and row[4:] == ("A100", 72, 8550)


async def test_everyday_no_at_the_read_back_drops_the_draft(deps, runtime):
    await say(deps, "報單 烏龍茶 12箱 每箱51 萬家樂超市")
    text, _ = await say(deps, "算了先不报了")
    assert "已取消" in text
    assert await sales(runtime) == []


async def test_an_unclear_message_offers_choices_and_a_number_picks_one(deps, runtime):
    text, replies = await say(deps, "今天天气不错")
    assert "您是想" in text and "1 报单" in text
    assert replies[0].buttons[:2] == ("报单", "库存")
    text, _ = await say(deps, "2")
    assert "库存" in text and "您是想" not in text


async def test_a_chosen_meaning_takes_the_unclear_message_with_it(deps, runtime):
    text, _ = await say(deps, "好邻居超市 A100")            # a shop and a product, nothing else: unclear
    assert "您是想" in text and "1 报单" in text
    await say(deps, "1")                                    # 报单: the same words, read as a sale
    text, _ = await say(deps, "20箱 28元")
    assert "请确认" in text and "好邻居超市" in text and "A100" in text and "¥560.00" in text


async def test_a_manager_is_offered_only_what_a_manager_can_do(deps, runtime):
    text, replies = await say(deps, "今天天气不错", who="mgr")
    assert "您是想" in text and "报单" not in replies[0].buttons and "报备" not in replies[0].buttons


async def test_a_correction_or_undo_at_a_read_back_never_touches_a_saved_sale(deps, runtime):
    await say(deps, "报单 A100 2箱 28元 甲超市")
    await say(deps, "确认")
    await say(deps, "报单 A100 3箱 28元 乙超市")
    for text in ("改成5箱", "撤销"):
        reply, _ = await say(deps, text)
        assert "还没保存" in reply
    rows = await sales(runtime)
    assert [(r[1], r[3], r[5]) for r in rows] == [("甲超市", "confirmed", 48)]
    reply, _ = await say(deps, "确认")
    assert "已记录报单" in reply and [r[1] for r in await sales(runtime)] == ["甲超市", "乙超市"]


@pytest.mark.parametrize("text", ["没问题吧？", "不确定", "好的 等我再核对一下"])
async def test_a_question_or_hesitation_at_a_read_back_saves_nothing(deps, runtime, text):
    await say(deps, "报单 A100 3箱 28元 乙超市")
    reply, _ = await say(deps, text)
    assert "已记录" not in reply and await sales(runtime) == []


async def test_a_manager_can_pick_violations_from_the_choices(deps, runtime):
    text, replies = await say(deps, "那个申诉处理一下", who="mgr")
    assert "我的违规" in replies[0].buttons and "库存 P001" in text
    number = replies[0].buttons.index("我的违规") + 1
    text, _ = await say(deps, str(number), who="mgr")
    assert "您是想" not in text
