"""`import claims` (DESIGN §8.6): approved history with protection from its date, expired when past,
conflicts inside the file kept, every bad row named and nothing written; the bulk path (worker
processes, indexes rebuilt) gives the same result; and `export claims` writes what is stored."""
from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import claims_match, exports, imports
from services.actors import SYSTEM, Actor
from services.errors import NotAllowed
from services.importing import claims as claim_import
from storage.models import AuditLog, ClaimKey, CustomerClaim, Partner

ADMIN = Actor(user_id=None, name="root", role="admin", channel="console")
PARTNERS = """code,name,tier,region
P001,南京冰泉商贸有限公司,A,江苏-南京
P002,苏州源泉贸易有限公司,B,江苏-苏州
P003,杭州清流供应链有限公司,B,浙江-杭州
"""
CLAIMS = """partner,customer,phone,uscc,claimed_at
P001,南京好邻居商贸有限公司,13912340001,91320100MA1X8K3L2C,2026-11-01
P001,江苏苏果超市有限公司,025-84561234,,2026-11-01
P002,上海盒马网络科技有限公司,,91310000MA1FL5PQ92,2026-11-01
P003,杭州市西湖区小王烟酒店,13757100001,,2026-08-01
P002,"Lucky Mart Co., Ltd.",,,2026-11-17 15:30
P003,南京好邻居商贸有限责任公司,,,2026/11/02
"""


def write(tmp_path: Path, text: str, name: str = "claims.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def load(uow, tmp_path, text: str, *, partners: bool = True) -> imports.ImportSummary:
    if partners:
        await imports.import_file(uow, kind="partners", path=write(tmp_path, PARTNERS, "partners.csv"), actor=ADMIN)
    return await imports.import_file(uow, kind="claims", path=write(tmp_path, text), actor=ADMIN)


async def stored(uow) -> dict[str, CustomerClaim]:
    async with uow:
        claims = {c.customer: c for c in await uow.session.scalars(select(CustomerClaim).order_by(CustomerClaim.id))}
        uow.session.expunge_all()  # readable after the unit of work
        return claims


async def test_claims_import_as_approved_history_protected_from_their_date(uow, tmp_path, settings):
    summary = await load(uow, tmp_path, CLAIMS)
    assert (summary.created, summary.total) == (6, 6)
    claims = await stored(uow)
    first = claims["南京好邻居商贸有限公司"]
    start = datetime(2026, 11, 1, tzinfo=settings.tz)
    assert (first.status, first.claimed_at, first.expires_at) == ("approved", start, start + timedelta(days=90))
    assert (first.phone, first.uscc, first.brand_key, first.region_key) == ("13912340001", "91320100MA1X8K3L2C",
                                                                           "好邻居", "3201")
    assert claims["江苏苏果超市有限公司"].phone == "02584561234"
    assert claims["Lucky Mart Co., Ltd."].claimed_at == datetime(2026, 11, 17, 15, 30, tzinfo=settings.tz)
    assert claims["杭州市西湖区小王烟酒店"].status == "expired"   # 2026-08-01 + 90 days is before 2026-11-18
    async with uow:
        keys = await uow.session.scalar(select(func.count()).select_from(ClaimKey))
        audit = (await uow.session.scalars(select(AuditLog.after).where(AuditLog.action == "claim.import"))).one()
    assert keys == sum(len(claims_match.claim_keys(c.customer)["lookup"]) for c in claims.values())
    assert audit["created"] == 6 and audit["expired"] == 1 and audit["ids"] == [[1, 6]]


async def test_conflicts_inside_the_file_are_kept_and_found_afterwards(uow, tmp_path):
    await load(uow, tmp_path, CLAIMS)
    claims = await stored(uow)
    assert claims["南京好邻居商贸有限责任公司"].status == "approved"   # P003's claim of P001's customer
    got = await claims_match.find_conflicts(uow, customer="好邻居商贸(南京)有限公司")
    assert sorted(c.partner for c in got) == ["P001", "P003"]
    assert [c.reason for c in await claims_match.find_conflicts(uow, customer="x", phone="025-8456-1234")] == ["phone"]
    assert [c.reason for c in await claims_match.find_conflicts(uow, customer="盒马", uscc="91310000MA1FL5PQ92")] \
        == ["uscc"]
    assert await claims_match.find_conflicts(uow, customer="杭州小王烟酒店") == []   # expired protects nothing


async def test_chinese_headers_are_understood(uow, tmp_path):
    text = "经销商,客户名称,手机,信用代码,报备日期\nP001,南京好邻居商贸有限公司,139 1234 0001,,2026年11月1日\n"
    assert (await load(uow, tmp_path, text)).created == 1
    other = "经销商编码,客户,电话,统一社会信用代码,报备时间\nP002,苏果超市,,91320100MA1X8K3L2C,20261101\n"
    assert (await imports.import_file(uow, kind="claims", path=write(tmp_path, other), actor=ADMIN)).created == 1


async def test_every_bad_row_is_named_and_nothing_is_written(uow, tmp_path):
    text = """partner,customer,phone,uscc,claimed_at
P001,南京好邻居商贸有限公司,13912340001,91320100MA1X8K3L2D,2026-11-01
P001,江苏苏果超市有限公司,8456-1234,,2026-11-01
P009,海底捞餐饮股份有限公司,,,2026-11-01
P002,上海盒马网络科技有限公司,,9131000MA1FL5PQ92,2026-11-01
P002,苏州星光便利店,,,2026-12-01
P003,无锡华东商贸有限责任公司,,,someday
P003,好,,,2026-11-01
P003,北京京东世纪贸易有限公司,,91110000802100433B,2026-11-01
"""
    with pytest.raises(imports.ImportFailed) as caught:
        await load(uow, tmp_path, text)
    problems = {e.line: e.reason for e in caught.value.errors}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8]
    assert "校验位不对：应为 C，现在是 D" in problems[2] and "统一社会信用代码(uscc)" in problems[2]
    assert "电话(phone)「8456-1234」不是有效的中国电话号码" in problems[3]
    assert "未知经销商「P009」" in problems[4]
    assert "应为 18 位" in problems[5]
    assert "晚于今天" in problems[6]
    assert "不是日期" in problems[7] and "太短" in problems[8]
    assert await stored(uow) == {}


async def test_an_empty_file_imports_nothing(uow, tmp_path):
    assert (await load(uow, tmp_path, "partner,customer,phone,uscc,claimed_at\n")).created == 0


async def test_only_an_admin_imports_claims(uow, tmp_path):
    await imports.import_file(uow, kind="partners", path=write(tmp_path, PARTNERS, "partners.csv"), actor=ADMIN)
    manager = Actor(user_id=None, name="mgr", role="manager", regions=("江苏",), channel="console")
    with pytest.raises(NotAllowed):
        await imports.import_file(uow, kind="claims", path=write(tmp_path, CLAIMS), actor=manager)
    assert await stored(uow) == {}


def _big_file(path: Path, rows: int) -> list[tuple[str, str, str]]:
    rng = random.Random(4)
    pool = "华鑫盛达金源隆福祥泰丰恒瑞佳美新宏兴昌安康明亿万利德嘉和中天永海龙凯通鸿汇邦信诚尚优品家乐惠"
    out = []
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["partner", "customer", "phone", "uscc", "claimed_at"])
        for i in range(rows):
            name = rng.choice(("南京", "苏州市", "")) + "".join(rng.choices(pool, k=rng.choice((2, 3, 4)))) + \
                rng.choice(("商贸有限公司", "超市", "便利店"))
            phone = f"139{i:08d}" if i % 2 else ""
            row = (f"P00{1 + i % 3}", name, phone)
            w.writerow([*row, "", f"2026-11-{1 + i % 17:02d}"])
            out.append(row)
    return out


async def test_a_big_file_takes_the_bulk_path_with_the_same_result(uow, tmp_path, monkeypatch):
    monkeypatch.setattr(claim_import, "BATCH", 2000)
    monkeypatch.setattr(claim_import, "POOL_FROM", 4000)
    await imports.import_file(uow, kind="partners", path=write(tmp_path, PARTNERS, "partners.csv"), actor=ADMIN)
    await load(uow, tmp_path, CLAIMS, partners=False)
    rows = _big_file(tmp_path / "big.csv", 9000)
    summary = await imports.import_file(uow, kind="claims", path=tmp_path / "big.csv", actor=ADMIN)
    assert summary.created == 9000
    async with uow:
        claims = (await uow.session.execute(select(CustomerClaim.id, CustomerClaim.customer, CustomerClaim.phone,
                                                   CustomerClaim.brand_key, CustomerClaim.region_key)
                                            .where(CustomerClaim.id > 6).order_by(CustomerClaim.id))).all()
        keys = await uow.session.scalar(select(func.count()).select_from(ClaimKey).where(ClaimKey.claim_id > 6))
        codes = dict((await uow.session.execute(select(Partner.id, Partner.code))).all())
    assert [(c.customer, c.phone or "") for c in claims] == [(r[1], r[2]) for r in rows]
    assert [c.id for c in claims] == list(range(7, 9007))
    expected = [claims_match.claim_keys(r[1]) for r in rows]
    assert [(c.brand_key, c.region_key) for c in claims] == [(k["brand_key"], k["region_key"]) for k in expected]
    assert keys == sum(len(k["lookup"]) for k in expected)
    probe = await claims_match.find_conflicts(uow, customer=rows[4321][1], phone=rows[4321][2] or None)
    assert 4321 + 7 in {c.claim_id for c in probe} and codes


async def test_claims_export_writes_what_is_stored(uow, tmp_path):
    await load(uow, tmp_path, CLAIMS)
    async with uow:
        first, second = (await uow.session.scalars(select(CustomerClaim).order_by(CustomerClaim.id).limit(2))).all()
        second.status, second.conflict_with_id, second.conflict_reason = "pending", first.id, "phone"
        await uow.commit()
    out = tmp_path / "claims.csv"
    summary = await exports.export_file(uow, kind="claims", path=out, actor=SYSTEM)
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert summary.rows == 6 and rows[0] == ["partner", "customer", "phone", "uscc", "status", "claimed_at",
                                             "expires_at", "conflict_with", "reason"]
    assert rows[1] == ["P003", "杭州市西湖区小王烟酒店", "13757100001", "", "expired", "2026-08-01 00:00",
                       "2026-10-30 00:00", "", ""]
    assert ["P001", "江苏苏果超市有限公司", "02584561234", "", "pending", "2026-11-01 00:00", "2027-01-30 00:00",
            "P001 南京好邻居商贸有限公司", "phone"] in rows
    late = tmp_path / "late.xlsx"
    assert (await exports.export_file(uow, kind="claims", path=late, actor=SYSTEM,
                                      date_from=datetime(2026, 11, 2).date())).rows == 2
