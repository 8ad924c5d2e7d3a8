"""Imports of skus and partners (DESIGN §8.6): CSV and XLSX, Chinese headers, all rows or
none with every bad row named, idempotent upserts with audit, scoping; money; the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from services import catalog, imports
from services.actors import SYSTEM, Actor
from services.catalog import SkuInfo, format_qty
from services.errors import InvalidInput, NotAllowed, NotFound
from services.money import fen_to_yuan_str, yuan_to_fen
from storage.models import AuditLog, Partner, Sku, SkuAlias

ADMIN = Actor(user_id=None, name="root", role="admin", channel="console")
SKU_HEADER = "code,name,aliases,unit,pack_unit,pack_size,guide_price,floor_price,safety_stock,group"
SKUS = SKU_HEADER + """
A100,冰泉矿泉水550ml,冰泉小瓶;小瓶水,瓶,箱,24,1.25,1.10,480,水
B100,青柠苏打水,苏打水；青柠苏打,瓶,箱,15,3.00,2.70,300,饮料
D10,家用净水器X1,净水器、X1净水器,台,台,1,"¥1,999.00",1699,5,净水
"""
PARTNERS = """code,name,tier,region,parent
P001,南京冰泉商贸有限公司,A,江苏-南京,
P002,苏州源泉贸易有限公司,B,江苏-苏州,P001
P003,杭州清流供应链有限公司,B,浙江-杭州,
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def count(uow, model) -> int:
    async with uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def run_import(uow, tmp_path, kind, text, *, name="f.csv", actor=ADMIN, progress=None):
    return await imports.import_file(uow, kind=kind, path=write(tmp_path, name, text), actor=actor,
                                     progress=progress)


# money ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,fen", [
    ("1.25", 125), ("¥1,999.00", 199900), ("1999", 199900), ("１２．５", 1250), ("￥５６０", 56000),
    ("28元", 2800), ("1.250", 125), (" 0.05 ", 5), ("0", 0), ("RMB 3.5", 350), ("12,345,678.9", 1234567890),
    (Decimal("3.5"), 350), (7, 700),
])
def test_yuan_to_fen_reads_amounts_exactly(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text,why", [
    ("-1", "负数"), ("1.255", "两位小数"), ("abc", "不是数字"), ("", "为空"), ("1,99", "不是数字"),
    ("1e3", "不是数字"), ("NaN", "不是数字"), (Decimal("NaN"), "不是数字"), (Decimal("-0.01"), "负数"),
    ("１．２３４", "两位小数"),
])
def test_yuan_to_fen_rejects_what_is_not_an_amount(text, why):
    with pytest.raises(InvalidInput) as exc:
        yuan_to_fen(text)
    assert why in exc.value.facts["reason"]


def test_yuan_to_fen_refuses_float():
    with pytest.raises(TypeError):
        yuan_to_fen(1.25)


def test_fen_to_yuan_str():
    assert fen_to_yuan_str(56000) == "¥560.00"
    assert fen_to_yuan_str(5) == "¥0.05"
    assert fen_to_yuan_str(0) == "¥0.00"
    assert fen_to_yuan_str(-500) == "-¥5.00"
    assert fen_to_yuan_str(199900, grouping=True) == "¥1,999.00"


def test_format_qty_in_packs_and_loose_units():
    water = SkuInfo(1, "A100", "水", "瓶", "箱", 24, 125, 110, 480, "水")
    purifier = SkuInfo(2, "D10", "净水器", "台", "台", 1, 199900, 169900, 5, "净水")
    assert format_qty(77, water) == "3箱5瓶"
    assert format_qty(480, water) == "20箱"
    assert format_qty(5, water) == "5瓶"
    assert format_qty(0, water) == "0瓶"
    assert format_qty(-29, water) == "-1箱5瓶"
    assert format_qty(5, purifier) == "5台"


def test_cell_readers_for_dates_and_choices():
    columns = {k: imports.Column(k, k) for k in ("d", "c")}
    modes = {"retroactive": "retroactive", "全额累进": "retroactive", "marginal": "marginal"}
    for text in ("2026-11-18", "2026/11/18", "20261118", "2026年11月18日", "2026-11-18T09:00:00"):
        assert imports.Cells({"d": text}, columns).date("d") == date(2026, 11, 18)
    assert imports.Cells({"c": "Marginal"}, columns).choice("c", modes) == "marginal"
    bad = imports.Cells({"d": "2026-02-30", "c": "flat"}, columns)
    assert bad.date("d") is None and bad.choice("c", modes) is None
    assert "不是日期" in bad.problems[0] and "marginal、retroactive" in bad.problems[1]


# skus ----------------------------------------------------------------------------------------

async def test_csv_import_creates_skus_with_fen_prices_and_aliases(uow, tmp_path):
    summary = await run_import(uow, tmp_path, "skus", SKUS)
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    skus = {s.code: s for s in await catalog.list_skus(uow)}
    assert skus["A100"] == SkuInfo(skus["A100"].id, "A100", "冰泉矿泉水550ml", "瓶", "箱", 24, 125, 110, 480, "水",
                                   ("冰泉小瓶", "小瓶水"))
    assert skus["B100"].aliases == ("苏打水", "青柠苏打")
    assert skus["D10"].guide_price_fen == 199900 and skus["D10"].aliases == ("净水器", "X1净水器")
    assert (await catalog.get_sku_by_code(uow, code="a100")).code == "A100"
    with pytest.raises(NotFound):
        await catalog.get_sku_by_code(uow, code="Z9")


async def test_xlsx_import_with_chinese_headers(uow, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["*SKU编码", "品名", "别名", "基本单位", "箱单位", "每箱数量", "指导价(元)", "最低价", "Safety Stock", "品类"])
    sheet.append(["A100", "冰泉矿泉水550ml", "小瓶水", "瓶", "箱", 24, 1.25, 1.1, 480, "水"])
    sheet.append([])
    sheet.append(["C300", "乌龙茶500ml", None, "瓶", "箱", 15.0, 3.5, 3.1, None, "茶饮"])
    path = tmp_path / "目录.xlsx"
    book.save(path)
    summary = await imports.import_file(uow, kind="skus", path=path, actor=ADMIN)
    assert summary.created == 2
    oolong = await catalog.get_sku_by_code(uow, code="C300")
    assert (oolong.pack_size, oolong.guide_price_fen, oolong.floor_price_fen, oolong.safety_stock) == (15, 350, 310, 0)
    assert oolong.aliases == ()
    assert (await catalog.get_sku_by_code(uow, code="A100")).floor_price_fen == 110


async def test_gb18030_csv_with_chinese_headers(uow, tmp_path):
    text = "编码,名称,单位,包装单位,箱规,指导价,底价\nE05,滤芯套装,套,箱,10,199,169\n"
    path = write(tmp_path, "gbk.csv", text, "gb18030")
    summary = await imports.import_file(uow, kind="skus", path=path, actor=ADMIN)
    assert summary.created == 1
    sku = await catalog.get_sku_by_code(uow, code="E05")
    assert (sku.name, sku.pack_unit, sku.pack_size, sku.group) == ("滤芯套装", "箱", 10, "")


async def test_every_bad_row_is_named_and_nothing_is_written(uow, tmp_path):
    text = SKU_HEADER + """
A100,冰泉矿泉水550ml,小瓶水,瓶,箱,24,1.25,1.10,480,水
A200,大瓶水,,瓶,箱,0,abc,2.60,240,水
B100,苏打水,,瓶,箱,15,3.00,3.50,300,饮料
A100,重复,,瓶,箱,24,1.25,1.10,480,水
C300,乌龙茶,小瓶水,瓶,箱,15,3.50,3.10,300,茶饮
D10,净水器,,台,台,6,1999,1699,5,净水
,无编码,,台,台,1,1,1,1,
E05,滤芯套装,,套,箱,10,199,169,-1,净水
"""
    with pytest.raises(imports.ImportFailed) as exc:
        await run_import(uow, tmp_path, "skus", text)
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9]
    assert "箱规(pack_size)" in errors[3] and "指导价(guide_price)「abc」" in errors[3]
    assert "高于指导价" in errors[4]
    assert "与第2行重复" in errors[5]
    assert "小瓶水" in errors[6] and "第2行" in errors[6]
    assert "包装单位" in errors[7]
    assert "编码(code)不能为空" in errors[8]
    assert "安全库存(safety_stock)" in errors[9]
    assert str(exc.value.errors[0]).startswith("第3行: ")
    assert await count(uow, Sku) == 0 and await count(uow, AuditLog) == 0


async def test_header_problems_are_named(uow, tmp_path):
    with pytest.raises(imports.ImportFailed) as exc:
        await run_import(uow, tmp_path, "skus", "code,name,colour,unit,guide_price\nA1,x,red,瓶,1\n")
    reasons = [e.reason for e in exc.value.errors]
    assert all(e.line == 1 for e in exc.value.errors)
    assert any("colour" in r for r in reasons)
    assert any("底价(floor_price)" in r and "缺少" in r for r in reasons)


async def test_unsupported_or_missing_files_are_refused(uow, tmp_path):
    with pytest.raises(InvalidInput, match="xls"):
        await imports.import_file(uow, kind="skus", path=write(tmp_path, "old.xls", "x"), actor=ADMIN)
    with pytest.raises(InvalidInput, match="无法读取"):
        await imports.import_file(uow, kind="skus", path=write(tmp_path, "broken.xlsx", "not a zip"), actor=ADMIN)
    with pytest.raises(InvalidInput, match="找不到文件"):
        await imports.import_file(uow, kind="skus", path=tmp_path / "none.csv", actor=ADMIN)
    with pytest.raises(imports.UnknownImportKind, match="partners, .*skus"):
        await imports.import_file(uow, kind="bananas", path=tmp_path / "none.csv", actor=ADMIN)


async def test_reimport_is_idempotent_and_changes_are_audited(uow, tmp_path):
    await run_import(uow, tmp_path, "skus", SKUS)
    assert await count(uow, AuditLog) == 3
    again = await run_import(uow, tmp_path, "skus", SKUS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert await count(uow, AuditLog) == 3

    changed = SKUS.replace("1.25,1.10", "1.30,1.10").replace("苏打水；青柠苏打", "苏打水")
    summary = await run_import(uow, tmp_path, "skus", changed)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 2, 1)
    async with uow:
        rows = (await uow.session.scalars(select(AuditLog).where(AuditLog.action == "sku.update")
                                          .order_by(AuditLog.id))).all()
        changes = [(r.before, r.after, r.channel, r.entity) for r in rows]
    assert [c[:2] for c in changes] == [
        ({"code": "A100", "guide_price_fen": 125}, {"code": "A100", "guide_price_fen": 130}),
        ({"code": "B100", "aliases": ["苏打水", "青柠苏打"]}, {"code": "B100", "aliases": ["苏打水"]}),
    ]
    assert changes[0][2:] == ("console", "sku")
    assert await count(uow, SkuAlias) == 5


async def test_absent_optional_columns_keep_stored_values(uow, tmp_path):
    await run_import(uow, tmp_path, "skus", SKUS)
    short = "code,name,unit,guide_price,floor_price\nA100,冰泉矿泉水550ml,瓶,1.25,1.10\n"
    summary = await run_import(uow, tmp_path, "skus", short)
    assert summary.unchanged == 1
    sku = await catalog.get_sku_by_code(uow, code="A100")
    assert (sku.pack_size, sku.safety_stock, sku.aliases) == (24, 480, ("冰泉小瓶", "小瓶水"))


async def test_alias_may_move_between_skus_but_not_be_shared(uow, tmp_path):
    await run_import(uow, tmp_path, "skus", SKUS)
    moved = SKUS.replace("冰泉小瓶;小瓶水", "冰泉小瓶").replace("苏打水；青柠苏打", "苏打水;小瓶水")
    assert (await run_import(uow, tmp_path, "skus", moved)).updated == 2
    assert (await catalog.get_sku_by_code(uow, code="B100")).aliases == ("苏打水", "小瓶水")
    taken = "code,name,aliases,unit,guide_price,floor_price\nE05,滤芯,苏打水,套,1,1\nE06,滤芯2,D10,套,1,1\n"
    with pytest.raises(imports.ImportFailed) as exc:
        await run_import(uow, tmp_path, "skus", taken)
    assert [e.line for e in exc.value.errors] == [2, 3]
    assert "B100" in exc.value.errors[0].reason and "D10" in exc.value.errors[1].reason


async def test_only_admins_import(uow, tmp_path):
    for role in ("member", "owner", "manager"):
        actor = Actor(user_id=1, name="x", role=role, partner_id=1, regions=("江苏",))
        with pytest.raises(NotAllowed):
            await run_import(uow, tmp_path, "skus", SKUS, actor=actor)
    assert await count(uow, Sku) == 0
    assert (await run_import(uow, tmp_path, "skus", SKUS, actor=SYSTEM)).created == 3


async def test_progress_reaches_the_total(uow, tmp_path):
    seen = []
    await run_import(uow, tmp_path, "skus", SKUS, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# partners ------------------------------------------------------------------------------------

async def test_partners_import_with_parents_in_file_and_database(uow, tmp_path):
    text = "经销商编码,经销商名称,级别,大区,上级编码\nP002,苏州源泉,B,江苏 — 苏州,P001\nP001,南京冰泉,A,江苏-南京,\n"
    assert (await run_import(uow, tmp_path, "partners", text)).created == 2
    more = "code,name,region,parent\nP004,无锡分销,江苏-无锡,P002\n"
    assert (await run_import(uow, tmp_path, "partners", more)).created == 1
    partners = {p.code: p for p in await catalog.list_partners(uow, actor=ADMIN)}
    assert partners["P002"].region == "江苏-苏州" and partners["P002"].parent_code == "P001"
    assert partners["P004"].parent_code == "P002" and partners["P004"].tier == ""
    again = await run_import(uow, tmp_path, "partners", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


async def test_partner_problems_are_named(uow, tmp_path):
    await run_import(uow, tmp_path, "partners", PARTNERS)
    text = ("code,name,tier,region,parent\nP001,南京冰泉,A,江苏-南京,P002\nP005,无上级,A,江苏,P999\n"
            "P006,自己,A,江苏,P006\nP007,,A,-南京,\nP008,坏行之下,A,江苏,P007\n")
    with pytest.raises(imports.ImportFailed) as exc:
        await run_import(uow, tmp_path, "partners", text)
    errors = {e.line: e.reason for e in exc.value.errors}
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert "成环" in errors[2] and "P999" in errors[3] and "不能是自己" in errors[4]
    assert "名称(name)" in errors[5] and "江苏-南京" in errors[5]
    assert "P007" in errors[6] and "有错误" in errors[6]
    assert (await catalog.get_partner(uow, actor=ADMIN, code="P001")).parent_code is None


async def test_partner_changes_are_audited_with_parent(uow, tmp_path):
    await run_import(uow, tmp_path, "partners", PARTNERS)
    await run_import(uow, tmp_path, "partners", PARTNERS.replace("江苏-苏州,P001", "江苏-无锡,P003"))
    async with uow:
        row = await uow.session.scalar(select(AuditLog).where(AuditLog.action == "partner.update"))
        created = await uow.session.scalar(select(AuditLog).where(AuditLog.entity_id == str(row.entity_id),
                                                                  AuditLog.action == "partner.create"))
        assert row.before == {"code": "P002", "region": "江苏-苏州", "parent": "P001"}
        assert row.after == {"code": "P002", "region": "江苏-无锡", "parent": "P003"}
        assert created.after["parent"] == "P001"


async def test_partner_reads_are_scoped(uow, tmp_path):
    await run_import(uow, tmp_path, "partners", PARTNERS)
    async with uow:
        ids = dict((await uow.session.execute(select(Partner.code, Partner.id))).all())
    member = Actor(user_id=1, name="alice", role="member", partner_id=ids["P001"], partner_code="P001")
    manager = Actor(user_id=2, name="mgr", role="manager", regions=("江苏",))
    assert [p.code for p in await catalog.list_partners(uow, actor=member)] == ["P001"]
    assert [p.code for p in await catalog.list_partners(uow, actor=manager)] == ["P001", "P002"]
    assert len(await catalog.list_partners(uow, actor=ADMIN)) == 3
    assert (await catalog.get_partner(uow, actor=manager, code="p002")).name == "苏州源泉贸易有限公司"
    with pytest.raises(NotAllowed):
        await catalog.get_partner(uow, actor=manager, code="P003")
    with pytest.raises(NotAllowed):
        await catalog.get_partner(uow, actor=member, code="P002")
    with pytest.raises(NotFound):
        await catalog.get_partner(uow, actor=ADMIN, code="P404")


async def test_readers_work_inside_an_open_unit_of_work(uow, tmp_path):
    await run_import(uow, tmp_path, "skus", SKUS)
    async with uow:
        assert len(await catalog.list_skus(uow)) == 3


# command line --------------------------------------------------------------------------------

def cli(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    exe = Path(sys.executable).with_name("partnerbot")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def test_cli_import_good_file(db_url, uow, tmp_path):
    result = cli(db_url, "import", "skus", str(write(tmp_path, "catalog.csv", SKUS)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 created" in result.stdout and len(result.stdout.strip().splitlines()) == 1
    assert await count(uow, Sku) == 3


async def test_cli_import_bad_file_names_rows_and_writes_nothing(db_url, uow, tmp_path):
    bad = SKUS.replace("1.25,1.10", "1.25,x").replace("B100,", "A100,")
    result = cli(db_url, "import", "skus", str(write(tmp_path, "bad.csv", bad)), cwd=tmp_path)
    assert result.returncode == 1
    assert "第2行: " in result.stderr and "底价(floor_price)「x」" in result.stderr
    assert "第3行: " in result.stderr and "重复" in result.stderr
    assert "nothing was imported" in " ".join(result.stderr.split())
    assert await count(uow, Sku) == 0


async def test_cli_refuses_unknown_kind_and_missing_file(db_url, tmp_path):
    result = cli(db_url, "import", "bananas", "x.csv", cwd=tmp_path)
    assert result.returncode == 2 and "bananas" in result.stderr and "skus" in result.stderr
    result = cli(db_url, "import", "skus", "missing.csv", cwd=tmp_path)
    assert result.returncode != 0 and "missing.csv" in result.stderr
