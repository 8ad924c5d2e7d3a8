"""Violations in chat through handlers.all.handle and `partnerbot replay`: the deviation told at the
read-back and the confirmation, pushed to the region's managers, appealed by the partner (申诉),
decided by a manager (裁定 … 撤销|维持, or the button text), scope, usage replies."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from handlers.violations import violation_command
from services import demo, identities
from storage.models import Outbox, Violation

_ids = itertools.count()
TRANSCRIPT = Path(__file__).parent / "transcripts" / "violations.txt"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


@pytest.fixture
async def deps(runtime):
    MATCHERS.invalidate()
    await demo.load_demo(runtime.uow(), users=False)
    for who, role, partner, regions in (("alice", "member", "P001", ()), ("bob", "member", "P002", ()),
                                        ("mgr", "manager", None, ("江苏",)), ("zmgr", "manager", None, ("浙江",))):
        await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                       partner_code=partner, regions=regions)
    yield Deps(uow=runtime.uow, settings=runtime.settings)
    MATCHERS.invalidate()


async def say(deps, text, who="alice", message_id=None):
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text,
                         message_id=message_id or f"v{next(_ids)}")
    replies = await handle(deps, msg)
    return "\n".join(r.text for r in replies)


async def pushes(runtime):
    async with runtime.uow() as uow:
        rows = (await uow.session.scalars(select(Outbox).order_by(Outbox.id))).all()
        out = [(r.target, r.text, tuple(r.payload.get("buttons", ()))) for r in rows]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return out


async def statuses(runtime):
    async with runtime.uow() as uow:
        return [tuple(r) for r in (await uow.session.execute(
            select(Violation.id, Violation.status).order_by(Violation.id))).all()]


def test_command_parser():
    assert violation_command("申诉 12 客户是团购").fields == {"violation_id": 12, "reason": "客户是团购"}
    assert violation_command("申诉#12：团购").fields == {"violation_id": 12, "reason": "团购"}
    assert violation_command("申诉").fields == {} and violation_command("申诉 理由").fields == {}
    assert violation_command("裁定 12 撤销 已报批").fields == {"violation_id": 12, "decision": "clear", "reason": "已报批"}
    assert violation_command("裁定 #3 维持").fields["decision"] == "uphold"
    assert violation_command("resolve 3 clear ok").fields["decision"] == "clear"
    assert violation_command("裁定 12").fields == {} and violation_command("裁定 12 同意吗").intent == "violation_resolve"
    assert violation_command("我的违规").intent == "violations" and violation_command("violations").intent == "violations"
    assert violation_command("撤销") is None and violation_command("appeals") is None


async def test_deviation_is_told_appealed_and_cleared(deps, runtime):
    text = await say(deps, "报单 A100 10箱 24元 张三超市")
    assert "低于最低价 ¥1.10/瓶（低 9.09%）" in text and "不影响保存" in text
    text = await say(deps, "确认")
    assert "已记录报单 #1" in text
    assert "价格偏离 #1：A100 单价 ¥1.00/瓶，低于最低价 ¥1.10/瓶 9.09%（共 ¥24.00），2级（较重）" in text
    assert "「申诉 1 理由」" in text
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and "P001 南京冰泉商贸有限公司 报单 #1（张三超市 · 2026-11-18）" in push[1]
    assert "待处理" in await say(deps, "我的违规")
    assert "只能申诉本公司的违规" in await say(deps, "申诉 1 不是我们的", "bob")
    assert "申诉 违规编号 理由" in await say(deps, "申诉 1")
    assert "申诉由经销商的人员发起" in await say(deps, "申诉 1 理由", "mgr")
    assert "没有找到违规「#99」" in await say(deps, "申诉 99 理由")
    text = await say(deps, "申诉 1 客户是团购，价格经区域经理同意")
    assert "已提交申诉：违规 #1" in text
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and "申诉理由：客户是团购" in push[1]
    assert push[2] == ("裁定 1 撤销", "裁定 1 维持")
    assert "已经申诉过" in await say(deps, "申诉 1 再说一次")
    text = await say(deps, "我的违规", "mgr")
    assert "待处理的违规" in text and "申诉中" in text and "申诉理由：客户是团购" in text
    assert "只有负责该经销商所在区域的渠道经理" in await say(deps, "裁定 1 撤销", "zmgr")
    assert "只有负责该经销商所在区域的渠道经理" in await say(deps, "裁定 1 撤销", "alice")
    for bad in ("裁定 1", "裁定", "裁定 abc 撤销"):
        assert "裁定 违规编号 撤销|维持" in await say(deps, bad, "mgr")
    assert await statuses(runtime) == [(1, "appealed")]
    text = await say(deps, "裁定 1 撤销 团购价已报批", "mgr")
    assert "违规 #1（P001 报单 #1）已撤销（团购价已报批），该报单恢复计入返利" in text
    (push,) = await pushes(runtime)
    assert push[0] == "alice" and "您的申诉已通过" in push[1] and "团购价已报批" in push[1]
    assert "无需再裁定" in await say(deps, "裁定 1 维持", "mgr")
    assert await statuses(runtime) == [(1, "cleared")]
    assert "已撤销" in await say(deps, "我的违规")


async def test_manager_upholds_without_appeal_and_in_english(deps, runtime):
    await say(deps, "报单 A100 10箱 20元 李四商行")
    await say(deps, "确认")
    await pushes(runtime)
    text = await say(deps, "resolve 1 uphold far below floor", "mgr")
    assert "已维持" in text and "不计入返利" in text
    (push,) = await pushes(runtime)
    assert push[0] == "alice" and "经渠道经理确认维持" in push[1]
    assert "不能再申诉" in await say(deps, "申诉 1 理由")


async def test_redelivered_confirmation_records_one_violation(deps, runtime):
    await say(deps, "报单 A100 10箱 24元 张三超市")
    first = await say(deps, "确认", message_id="wx-9")
    again = await say(deps, "确认", message_id="wx-9")
    assert first == again and await statuses(runtime) == [(1, "open")]


async def test_undo_and_correction_in_chat(deps, runtime):
    await say(deps, "报单 A100 10箱 24元 张三超市")
    await say(deps, "确认")
    text = await say(deps, "价格改成26.4")                 # ¥26.40 a case = ¥1.10 a bottle: at floor
    assert "已更正报单 #1" in text and "相关违规 #1 已作废" in text
    text = await say(deps, "价格改成22")
    assert "价格偏离 #2" in text and "16.66%" in text and "3级（严重）" in text
    text = await say(deps, "撤销")
    assert "已撤销报单 #1" in text and "相关违规 #2 已作废" in text
    assert await statuses(runtime) == [(1, "voided"), (2, "voided")]
    assert "您没有违规记录" in await say(deps, "我的违规")


def test_replayed_violations_transcript():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    done = subprocess.run([PARTNERBOT, "replay", str(TRANSCRIPT), "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line) for line in done.stdout.splitlines()]

    def at(who, text, n=0):
        return [s for s in steps if s["who"] == who and s["text"] == text][n]

    def said(step):
        return "\n".join(r["text"] for r in step["replies"])
    confirm = at("alice", "确认")
    assert "价格偏离 #1" in said(confirm) and [p["target"] for p in confirm["pushes"]] == ["mgr"]
    appeal = at("alice", "申诉 1 客户是团购")
    assert [(p["target"], "裁定 1 撤销" in p["text"]) for p in appeal["pushes"]] == [("mgr", True)]
    decided = at("mgr", "裁定 1 撤销 已报批")
    assert [p["target"] for p in decided["pushes"]] == ["alice"] and "申诉已通过" in decided["pushes"][0]["text"]
    conflict = at("bob", "确认")
    assert "窜货 #2" in said(conflict) and "P001" in said(conflict)
    assert [p["target"] for p in conflict["pushes"]] == ["mgr"]
    waiting = at("mgr", "我的违规", 1)
    assert "窜货 #2" in said(waiting) and "价格偏离" not in said(waiting)
    upheld = at("mgr", "裁定 2 维持 属于 P001 的报备客户")
    assert [p["target"] for p in upheld["pushes"]] == ["bob"] and "申诉未通过" in upheld["pushes"][0]["text"]
