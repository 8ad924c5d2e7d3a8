"""报备 conversations through handlers.all.handle: read-back and confirm, conflicts pushed to the
manager with buttons, decisions by command or button text, extension, release, scope, replay."""
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
from services import demo, identities
from storage.models import CustomerClaim, Outbox

_ids = itertools.count()
USCC_A = "91320100MA1N2B3C40"
TRANSCRIPT = Path(__file__).parent / "transcripts" / "claims.txt"
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
                         message_id=message_id or f"c{next(_ids)}")
    replies = await handle(deps, msg)
    return "\n".join(r.text for r in replies), replies


async def pushes(runtime):
    async with runtime.uow() as uow:
        rows = (await uow.session.scalars(select(Outbox).order_by(Outbox.id))).all()
        out = [(r.target, r.text, tuple(r.payload.get("buttons", ()))) for r in rows]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return out


async def claim_rows(runtime):
    async with runtime.uow() as uow:
        return [(c.id, c.status, c.customer) for c in
                (await uow.session.scalars(select(CustomerClaim).order_by(CustomerClaim.id))).all()]


async def claim(deps, text, who):
    await say(deps, text, who)
    return (await say(deps, "确认", who))[0]


async def test_claim_is_read_back_and_approved_on_confirm(deps, runtime):
    text, replies = await say(deps, f"报备 南京好邻居商贸有限公司 139 1234 5678 {USCC_A}")
    assert "请确认" in text and "南京好邻居商贸有限公司" in text and "13912345678" in text and USCC_A in text
    assert replies[0].buttons == ("确认", "取消")
    assert await claim_rows(runtime) == []
    text, _ = await say(deps, "确认")
    assert "报备成功 #1" in text and "90 天" in text and "2027-02-16" in text
    assert await claim_rows(runtime) == [(1, "approved", "南京好邻居商贸有限公司")]
    text, _ = await say(deps, "我的报备")
    assert "#1 南京好邻居商贸有限公司" in text and "2027-02-16" in text


async def test_cancel_writes_nothing_and_a_missing_name_is_asked(deps, runtime):
    await say(deps, "报备 南京好邻居商贸有限公司")
    assert "已取消" in (await say(deps, "取消"))[0]
    text, _ = await say(deps, "报备")
    assert "客户名称" in text
    text, replies = await say(deps, "杭州西湖茶叶有限公司 0571-88886666")
    assert "请确认" in text and "057188886666" in text and replies[0].buttons == ("确认", "取消")
    await say(deps, "确认")
    assert [s for _, s, _ in await claim_rows(runtime)] == ["approved"]


async def test_invalid_credit_code_is_explained_before_anything_is_written(deps, runtime):
    text, _ = await say(deps, f"报备 南京好邻居商贸有限公司 {USCC_A[:-1]}1")
    assert "校验位" in text
    assert await claim_rows(runtime) == []


async def test_conflict_goes_to_the_manager_who_rejects_by_button_and_reason(deps, runtime):
    await claim(deps, "报备 南京好邻居商贸有限公司", "alice")
    await pushes(runtime)
    text = await claim(deps, "报备 好邻居商贸(南京)有限公司", "bob")
    assert "与 P001 的报备「南京好邻居商贸有限公司」冲突" in text and "已提交渠道经理审批" in text
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and "公司名称相近" in push[1] and push[2] == ("通过 #2", "驳回 #2", "退回 #2")
    text, _ = await say(deps, "我的报备", "mgr")
    assert "#2 P002「好邻居商贸(南京)有限公司」" in text and "#1 P001" in text
    text, _ = await say(deps, "审批 2 通过", "zmgr")
    assert "区域的渠道经理" in text
    text, _ = await say(deps, "通过 #2", "alice")
    assert "区域的渠道经理" in text
    text, _ = await say(deps, "驳回 #2", "mgr")
    assert "理由" in text
    text, _ = await say(deps, "客户已由 P001 跟进", "mgr")
    assert "已驳回" in text
    (push,) = await pushes(runtime)
    assert push[0] == "bob" and "未通过" in push[1] and "客户已由 P001 跟进" in push[1]
    assert (await claim_rows(runtime))[1][1] == "rejected"
    text, _ = await say(deps, "通过 #2", "mgr")
    assert "已驳回" in text and "无需再审批" in text


async def test_manager_approves_or_returns_with_the_command(deps, runtime):
    await claim(deps, f"报备 南京好邻居商贸有限公司 {USCC_A}", "alice")
    await claim(deps, f"报备 好邻居便利店 {USCC_A}", "bob")
    await pushes(runtime)
    text, _ = await say(deps, "审批 2 退回 请补充门店地址", "mgr")
    assert "已退回" in text
    (push,) = await pushes(runtime)
    assert push[0] == "bob" and "请修改后重新报备" in push[1] and "请补充门店地址" in push[1]
    await claim(deps, f"报备 好邻居便利店（新街口店） {USCC_A}", "bob")
    assert [t for t, _, _ in await pushes(runtime)] == ["mgr"]
    text, _ = await say(deps, "通过 #3 不同门店", "mgr")
    assert "已通过" in text and "保护期至" in text and "P001 的报备 #1 保持不变" in text
    (push,) = await pushes(runtime)
    assert push[0] == "bob" and "已通过审批" in push[1]
    assert [s for _, s, _ in await claim_rows(runtime)] == ["approved", "returned", "approved"]


async def test_extension_by_button_and_release(deps, runtime):
    await claim(deps, "报备 南京好邻居商贸有限公司", "alice")
    text, _ = await say(deps, "延期 1")
    assert "已提交" in text and "延期申请" in text
    (push,) = await pushes(runtime)
    assert push[0] == "mgr" and push[2] == ("同意延期 #1", "拒绝延期 #1")
    text, _ = await say(deps, "延期 1")
    assert "已经申请过延期" in text
    text, _ = await say(deps, "同意延期 #1", "mgr")
    assert "已延期至 2027-05-17" in text
    (push,) = await pushes(runtime)
    assert push[0] == "alice" and "2027-05-17" in push[1]
    text, _ = await say(deps, "释放 1", "bob")
    assert "本公司" in text
    text, _ = await say(deps, "释放 1")
    assert "已释放" in text
    text = await claim(deps, "报备 南京好邻居商贸有限公司", "bob")
    assert "报备成功" in text


async def test_redelivered_confirmation_makes_one_claim(deps, runtime):
    await say(deps, "报备 南京好邻居商贸有限公司")
    first, _ = await say(deps, "确认", message_id="wx-7")
    again, _ = await say(deps, "确认", message_id="wx-7")
    assert first == again and len(await claim_rows(runtime)) == 1


async def test_english_commands_work_too(deps, runtime):
    await claim(deps, "claim Lucky Mart Co., Ltd. 13912345678", "alice")
    await claim(deps, "claim Lucky Mart 13912345678", "bob")
    text, _ = await say(deps, "approve #2", "mgr")
    assert "已通过" in text


def test_replayed_claims_transcript():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    done = subprocess.run([PARTNERBOT, "replay", str(TRANSCRIPT), "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line) for line in done.stdout.splitlines()]

    def at(who, text, n=0):
        return [s for s in steps if s["who"] == who and s["text"] == text][n]

    def said(step):
        return "\n".join(r["text"] for r in step["replies"])
    assert "报备成功 #1" in said(at("alice", "确认"))
    conflict = at("bob", "确认")
    assert "与 P001 的报备「南京好邻居商贸有限公司」冲突" in said(conflict)
    assert [(p["target"], "审批 2 驳回" in p["text"]) for p in conflict["pushes"]] == [("mgr", True)]
    assert "区域的渠道经理" in said(at("zmgr", "审批 2 通过"))
    assert [p["target"] for p in at("mgr", "通过 #2 分属不同门店")["pushes"]] == ["bob"]
    assert "联系电话相同" in at("bob", "确认", 1)["pushes"][0]["text"]
    assert "电话是 P003 客户的" in at("mgr", "电话是 P003 客户的")["pushes"][0]["text"]
    jobs = [s for s in steps if s["text"] == "!job claim_expiry"]
    assert [len(s["pushes"]) for s in jobs] == [2, 0, 1, 1]
    assert "还有 7 天" in jobs[0]["pushes"][0]["text"] and "明天" in jobs[2]["pushes"][0]["text"]
    assert "已于 2027-02-16 到期" in jobs[3]["pushes"][0]["text"] and jobs[3]["pushes"][0]["target"] == "bob"
    assert "2027-05-17" in said(at("mgr", "同意延期 #1"))
