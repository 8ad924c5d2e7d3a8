"""Demo data: the shipped catalog and network, console users for every role, idempotent."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from services import catalog
from services.actors import SYSTEM
from services.demo import DEMO_USERS, load_demo
from storage.models import AuditLog, ChatIdentity, Partner, User

async def snapshot(uow) -> dict:
    async with uow:
        s = uow.session
        users = (await s.execute(select(ChatIdentity.external_id, ChatIdentity.chat_id, User.name, User.role,
                                        Partner.code).join(User, ChatIdentity.user_id == User.id)
                                 .outerjoin(Partner, User.partner_id == Partner.id)
                                 .where(ChatIdentity.channel == "console"))).all()
        regions = {u.name: sorted(r.region for r in u.regions) for u in (await s.scalars(select(User))).all()}
        audits = await s.scalar(select(func.count(AuditLog.id)))
    return {"users": sorted(users), "regions": regions, "audits": audits,
            "skus": await catalog.list_skus(uow), "partners": await catalog.list_partners(uow, actor=SYSTEM)}


async def test_demo_loads_catalog_network_and_console_users(uow):
    summary = await load_demo(uow)
    assert (summary.skus.created, summary.partners.created, summary.users_created) == (8, 3, 7)
    state = await snapshot(uow)
    assert [p.code for p in state["partners"]] == ["P001", "P002", "P003"]
    assert {s.code for s in state["skus"]} >= {"A100", "D10", "E05"}
    assert state["users"] == sorted([
        ("alice", "alice", "alice", "member", "P001"), ("boss", "boss", "boss", "owner", "P001"),
        ("bob", "bob", "bob", "member", "P002"), ("carol", "carol", "carol", "member", "P003"),
        ("mgr", "mgr", "mgr", "manager", None), ("zmgr", "zmgr", "zmgr", "manager", None),
        ("root", "root", "root", "admin", None),
    ])
    assert state["regions"]["mgr"] == ["江苏"] and state["regions"]["zmgr"] == ["浙江"]
    assert state["regions"]["alice"] == []


async def test_demo_twice_changes_nothing(uow):
    await load_demo(uow)
    before = await snapshot(uow)
    again = await load_demo(uow)
    assert (again.skus.created, again.skus.updated, again.skus.unchanged) == (0, 0, 8)
    assert (again.partners.created, again.partners.updated, again.partners.unchanged) == (0, 0, 3)
    assert again.users_created == 0
    assert await snapshot(uow) == before


async def test_demo_binds_an_existing_unbound_console_identity(uow, clock):
    async with uow:
        uow.add(ChatIdentity(channel="console", external_id="alice", chat_id="alice", created_at=clock.now()))
        await uow.commit()
    assert (await load_demo(uow)).users_created == 7
    async with uow:
        identities = (await uow.session.scalars(select(ChatIdentity).where(ChatIdentity.external_id == "alice"))).all()
        assert len(identities) == 1 and identities[0].user_id is not None


def test_demo_users_cover_every_role():
    assert {u.role for u in DEMO_USERS} == {"member", "owner", "manager", "admin"}
    assert {u.name: u.description for u in DEMO_USERS}["mgr"] == "manager of 江苏"
    assert {u.name: u.description for u in DEMO_USERS}["alice"] == "member of P001"


async def test_cli_demo_is_idempotent(db_url, uow, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    exe = str(Path(sys.executable).with_name("partnerbot"))
    first = subprocess.run([exe, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "users 7 created" in first.stdout and "--as alice" in first.stdout
    second = subprocess.run([exe, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "users 0 created" in second.stdout
    async with uow:
        assert await uow.session.scalar(select(func.count(User.id))) == 7
