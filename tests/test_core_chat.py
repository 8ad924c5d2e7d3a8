"""Conversation core: binding by invite, help by role, scoping, dedupe, no stack traces."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers import router
from handlers.all import Deps, handle
from handlers.messages import InboundMessage
from services import identities
from services.actors import SYSTEM
from storage.models import AuditLog, Invite, Partner

_n = 0


def msg(who: str, text: str, message_id: str | None = None) -> InboundMessage:
    global _n
    _n += 1
    return InboundMessage(channel="console", user_id=who, chat_id=who, text=text,
                          message_id=message_id or f"m{_n}")


@pytest.fixture
async def deps(runtime):
    async with runtime.uow() as uow:
        uow.add(Partner(code="P001", name="南京冰泉商贸有限公司", tier="A", region="江苏-南京"))
        uow.add(Partner(code="P002", name="苏州源泉贸易有限公司", tier="B", region="江苏-苏州"))
        uow.add(Partner(code="P003", name="杭州清流供应链有限公司", tier="B", region="浙江-杭州"))
        await uow.commit()
    return Deps(uow=runtime.uow, settings=runtime.settings)


async def say(deps, who, text, message_id=None) -> str:
    replies = await handle(deps, msg(who, text, message_id))
    return "\n".join(r.text for r in replies)


async def test_unbound_identity_is_told_how_to_bind(deps):
    answer = await say(deps, "stranger", "库存")
    assert "绑定" in answer and "邀请码" in answer


async def test_invite_binds_once_and_is_stored_hashed(deps, runtime):
    issued = await identities.create_invite(runtime.uow(), actor=SYSTEM, role="member", partner_code="P001")
    async with runtime.uow() as uow:
        hashes = (await uow.session.scalars(select(Invite.code_hash))).all()
    assert issued.code not in hashes and len(hashes[0]) == 64
    assert "绑定成功" in await say(deps, "alice", f"绑定 {issued.code.lower()}")
    assert "已经绑定" in await say(deps, "alice", f"绑定 {issued.code}")
    assert "已经被使用" in await say(deps, "bob", f"绑定 {issued.code}")


async def test_wrong_and_expired_codes_are_refused_politely(deps, runtime, clock):
    assert "邀请码不正确" in await say(deps, "alice", "绑定 NOPE2345")
    issued = await identities.create_invite(runtime.uow(), actor=SYSTEM, role="member", partner_code="P001")
    clock.advance(hours=runtime.settings.app.invite_ttl_hours + 1)
    assert "已过期" in await say(deps, "alice", f"bind {issued.code}")
    assert "请发送「绑定 邀请码」" in await say(deps, "alice", "绑定")


async def test_help_answers_by_role(deps, runtime):
    await identities.bind_directly(runtime.uow(), channel="console", external_id="alice", role="member",
                                   partner_code="P001")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="root", role="admin")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="mgr", role="manager",
                                   regions=("江苏",))
    assert "报单" in await say(deps, "alice", "帮助")
    assert "/partner" in await say(deps, "root", "help") and "/invite" in await say(deps, "root", "help")
    assert "库存 P001" in await say(deps, "mgr", "帮助")
    assert "绑定" in await say(deps, "nobody", "help")


async def test_member_partner_list_is_refused_and_manager_sees_only_its_regions(deps, runtime):
    await identities.bind_directly(runtime.uow(), channel="console", external_id="alice", role="member",
                                   partner_code="P001")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="mgr", role="manager",
                                   regions=("江苏",))
    await identities.bind_directly(runtime.uow(), channel="console", external_id="root", role="admin")
    assert "没有权限" in await say(deps, "alice", "/partner list")
    listing = await say(deps, "mgr", "/partner list")
    assert "P001" in listing and "P002" in listing and "P003" not in listing
    assert "没有权限" in await say(deps, "mgr", "/partner show P003")
    assert "P003" in await say(deps, "root", "/partner list")


async def test_every_admin_command_answers_help(deps, runtime):
    from handlers.slash import COMMANDS

    await identities.bind_directly(runtime.uow(), channel="console", external_id="root", role="admin")
    for name in COMMANDS:
        answer = await say(deps, "root", f"/{name} help")
        assert f"/{name}" in answer, name


async def test_admin_invites_from_chat_and_owner_only_members_of_own_partner(deps, runtime):
    await identities.bind_directly(runtime.uow(), channel="console", external_id="root", role="admin")
    await identities.bind_directly(runtime.uow(), channel="console", external_id="boss", role="owner",
                                   partner_code="P001")
    answer = await say(deps, "root", "/invite manager 江苏;浙江 李经理")
    code = answer.split("邀请码：")[1].split()[0]
    assert "绑定成功" in await say(deps, "li", f"绑定 {code}")
    assert "邀请码：" in await say(deps, "boss", "/invite member")
    assert "没有权限" in await say(deps, "boss", "/invite member P002")
    assert "没有权限" in await say(deps, "boss", "/invite owner P001")
    async with runtime.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(AuditLog)
                                        .where(AuditLog.action == "invite.create")) == 2


async def test_redelivered_message_gets_the_same_answer_once(deps, runtime):
    issued = await identities.create_invite(runtime.uow(), actor=SYSTEM, role="member", partner_code="P001")
    first = await say(deps, "alice", f"绑定 {issued.code}", message_id="wx-1")
    again = await say(deps, "alice", f"绑定 {issued.code}", message_id="wx-1")
    assert first == again and "绑定成功" in first


async def test_a_crash_never_shows_a_stack_trace(deps, monkeypatch):
    async def boom(ctx, parsed):
        raise ZeroDivisionError("secret internals")
    monkeypatch.setitem(router.INTENTS, "help", boom)
    answer = await say(deps, "alice", "帮助")
    assert "编号" in answer and "ZeroDivision" not in answer and "Traceback" not in answer


async def test_disabled_user_acts_unbound(deps, runtime):
    actor = await identities.bind_directly(runtime.uow(), channel="console", external_id="alice",
                                           role="member", partner_code="P001")
    await identities.set_user_active(runtime.uow(), actor=SYSTEM, user_id=actor.user_id, active=False)
    assert "绑定" in await say(deps, "alice", "库存")
