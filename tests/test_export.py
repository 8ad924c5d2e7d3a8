"""`partnerbot export`: sales lines to .csv (UTF-8 with BOM) and .xlsx with exact values, date
filters, scoping, and bad kinds, extensions and dates refused with a non-zero exit."""
from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.bootstrap import build_runtime
from services import exports
from services.actors import SYSTEM, Actor
from services.config import Settings
from services.errors import InvalidInput, NotAllowed
from storage.models import Partner, Sale, SaleLine, Sku

HEADER = ["id", "partner", "sku", "qty", "unit", "amount", "customer", "sold_on", "status", "flags"]
EXPECTED = [
    ["1", "P001", "A100", "480", "瓶", "560.00", "张三超市", "2026-11-16", "confirmed", ""],
    ["1", "P001", "B200", "1", "罐", "0.05", "张三超市", "2026-11-16", "confirmed", ""],
    ["2", "P002", "A100", "24", "瓶", "26.40", "'=1+1 杭州便利", "2026-11-18", "undone", "below_floor;claim"],
    ["3", "P001", "A100", "5", "瓶", "0.00", "李四商店", "2026-11-20", "confirmed", ""],
]
PARTNERBOT = Path(sys.executable).parent / "partnerbot"


async def seed(uow) -> None:
    """Two partners, two SKUs, three sales (one undone, with flags) written with the ORM."""
    async with uow:
        p1 = Partner(code="P001", name="南京冰泉商贸有限公司", tier="A", region="江苏-南京")
        p2 = Partner(code="P002", name="杭州清流供应链有限公司", tier="B", region="浙江-杭州")
        a100 = Sku(code="A100", name="冰泉矿泉水550ml", unit="瓶", pack_unit="箱", pack_size=24,
                   guide_price_fen=125, floor_price_fen=110)
        b200 = Sku(code="B200", name="橙味气泡水", unit="罐", pack_unit="箱", pack_size=24,
                   guide_price_fen=200, floor_price_fen=180)
        for row in (p1, p2, a100, b200):
            uow.add(row)
        await uow.flush()
        uow.add(Sale(id=1, partner_id=p1.id, customer="张三超市", sold_on=date(2026, 11, 16), flags=[],
                     lines=[SaleLine(sku_id=a100.id, qty=480, amount_fen=56000),
                            SaleLine(sku_id=b200.id, qty=1, amount_fen=5)]))
        uow.add(Sale(id=2, partner_id=p2.id, customer="=1+1 杭州便利", sold_on=date(2026, 11, 18), status="undone",
                     flags=["below_floor", "claim"], lines=[SaleLine(sku_id=a100.id, qty=24, amount_fen=2640)]))
        uow.add(Sale(id=3, partner_id=p1.id, customer="李四商店", sold_on=date(2026, 11, 20), flags=[],
                     lines=[SaleLine(sku_id=a100.id, qty=5, amount_fen=0)]))
        await uow.commit()


def read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.reader(data.decode("utf-8-sig").splitlines()))


@pytest.fixture
async def seeded(runtime):
    await seed(runtime.uow())
    return runtime


async def test_sales_csv_has_one_row_per_line_with_exact_amounts(seeded, tmp_path):
    out = tmp_path / "sales.csv"
    summary = await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM)
    assert summary.rows == 4
    assert read_csv(out) == [HEADER, *EXPECTED]


async def test_sales_xlsx_has_numbers_dates_and_a_bold_frozen_header(seeded, tmp_path):
    out = tmp_path / "sales.xlsx"
    await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM)
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1])
    got = [[Decimal(str(v)).quantize(Decimal("0.01")) if i == 5 else
             v.date().isoformat() if isinstance(v, datetime) else v for i, v in enumerate(row)] for row in rows[1:]]
    assert got == [[1, "P001", "A100", 480, "瓶", Decimal("560.00"), "张三超市", "2026-11-16", "confirmed", None],
                   [1, "P001", "B200", 1, "罐", Decimal("0.05"), "张三超市", "2026-11-16", "confirmed", None],
                   [2, "P002", "A100", 24, "瓶", Decimal("26.40"), "=1+1 杭州便利", "2026-11-18", "undone",
                    "below_floor;claim"],
                   [3, "P001", "A100", 5, "瓶", Decimal("0.00"), "李四商店", "2026-11-20", "confirmed", None]]
    amount = sheet["F2"]
    assert amount.data_type == "n" and amount.number_format == "0.00" and sheet["G4"].data_type == "s"


async def test_date_filters_are_inclusive(seeded, tmp_path):
    out = tmp_path / "sales.csv"
    await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM,
                              date_from=date(2026, 11, 16), date_to=date(2026, 11, 18))
    assert read_csv(out) == [HEADER, *EXPECTED[:3]]
    await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM, date_from=date(2026, 11, 19))
    assert read_csv(out) == [HEADER, EXPECTED[3]]
    with pytest.raises(InvalidInput, match="晚于"):
        await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM,
                                  date_from=date(2026, 11, 19), date_to=date(2026, 11, 1))


async def test_export_is_scoped_to_the_actor(seeded, tmp_path):
    out = tmp_path / "sales.csv"
    manager = Actor(user_id=None, name="mgr", role="manager", regions=("浙江",))
    await exports.export_file(seeded.uow(), kind="sales", path=out, actor=manager)
    assert read_csv(out) == [HEADER, EXPECTED[2]]
    member = Actor(user_id=None, name="alice", role="member", partner_id=1, partner_code="P001")
    with pytest.raises(NotAllowed):
        await exports.export_file(seeded.uow(), kind="sales", path=tmp_path / "m.csv", actor=member)
    assert not (tmp_path / "m.csv").exists()


async def test_rows_stream_in_batches_with_progress(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 1)
    seen: list[tuple[int, int]] = []
    out = tmp_path / "sales.xlsx"
    await exports.export_file(seeded.uow(), kind="sales", path=out, actor=SYSTEM,
                              progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 4) and seen[-1] == (4, 4) and len(seen) >= 5
    assert len(list(load_workbook(out).active.iter_rows())) == 5


async def test_a_failing_export_leaves_no_file(seeded, tmp_path, monkeypatch):
    async def broken(uow, query):
        yield (1,)
        raise RuntimeError("boom")

    monkeypatch.setitem(exports.EXPORT_KINDS, "broken", exports.ExportKind("broken", ("id",), broken))
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("broken.csv", "broken.xlsx"):
        with pytest.raises(RuntimeError):
            await exports.export_file(seeded.uow(), kind="broken", path=folder / name, actor=SYSTEM)
    assert list(folder.iterdir()) == []


async def test_unknown_kind_and_extension_are_domain_errors(seeded, tmp_path):
    with pytest.raises(exports.UnknownExportKind, match="sales"):
        await exports.export_file(seeded.uow(), kind="nope", path=tmp_path / "x.csv", actor=SYSTEM)
    with pytest.raises(InvalidInput, match=r"\.csv 或 \.xlsx"):
        await exports.export_file(seeded.uow(), kind="sales", path=tmp_path / "x.txt", actor=SYSTEM)


# --- the command line, in a subprocess on a temporary SQLite file ----------------------------

@pytest.fixture(scope="module")
def cli_db(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite file holding the seeded sales, and an environment pointing at it."""
    path = tmp_path_factory.mktemp("cli") / "export.db"
    url = f"sqlite:///{path}"

    async def build():
        rt = await build_runtime(Settings(database={"url": url}), upgrade=True)
        try:
            await seed(rt.uow())
        finally:
            await rt.dispose()
    asyncio.run(build())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    return env | {"PARTNERBOT_DATABASE_URL": url}


def cli(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(PARTNERBOT), "export", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_exports_csv_and_xlsx(cli_db, tmp_path):
    done = cli(cli_db, "sales", "--from", "2026-11-17", "-o", "s.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 2 sales rows" in done.stdout
    assert read_csv(tmp_path / "s.csv") == [HEADER, *EXPECTED[2:]]
    done = cli(cli_db, "sales", "--to", "2026-11-16", "--output", str(tmp_path / "s.xlsx"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list(load_workbook(tmp_path / "s.xlsx").active.iter_rows())) == 3


@pytest.mark.parametrize("args, words", [
    (("nope", "-o", "x.csv"), ["unknown export kind", "sales"]),
    (("sales", "-o", "x.txt"), [".txt", ".csv or .xlsx"]),
    (("sales", "--from", "2026-13-01", "-o", "x.csv"), ["--from", "2026-13-01"]),
    (("sales", "--to", "yesterday", "-o", "x.csv"), ["--to", "yesterday"]),
    (("sales", "--from", "2026-11-20", "--to", "2026-11-01", "-o", "x.csv"), ["--from", "after"]),
    (("sales", "-o", "missing/x.csv"), ["folder not found"]),
])
def test_cli_refuses_bad_input_with_exit_2(cli_db, tmp_path, args, words):
    done = cli(cli_db, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    for word in words:
        assert word in done.stderr
    assert list(tmp_path.iterdir()) == []
