"""The managers' daily digest (日报, issue 9 part 4): exact figures against a replayed day
(tests/transcripts/digest/), each region's managers get only theirs, with a chart image whose
Chinese text the font really has.

The day, by hand (2026-11-18; the day before 11-17):
  江苏 — P001 南京冰泉: #2 A100 20箱 ¥560.00, #3 B100 5箱 ¥225.00, #4 A100 2箱 ¥48.00 (¥24.00/箱 < floor
  ¥26.40/箱: 9.09 % below, level 2) = ¥833.00 in 3 sales; 11-17 #1 ¥300.00 → +¥533.00.
  P002 苏州源泉: #5 B100 4箱 ¥180.00 to P001's claimed customer (窜货, region) → +¥180.00.
  Total ¥1,013.00 · 4 sales, +¥713.00. Top SKUs: A100 22箱 ¥608.00, B100 9箱 ¥405.00.
  Stock now: P002 B100 4箱 − 4箱 = 0 (out); P001 A100 40 − 10 − 22 = 8箱 < 20箱 (low).
  P002's claim of the same customer waits for a manager.
  浙江 — P003 杭州清流: #6 C300 10箱 ¥600.00.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image

from bot.bootstrap import Runtime
from bot.senders import RecordingSink, recording_senders
from scheduler import jobs
from services import digest, digest_chart, digest_text, dispatcher, identities
from services.config import Settings
from storage.db import make_engine
from storage.models import Partner, Sale, SaleLine, Sku
from storage.uow import FixedClock

ROOT = Path(__file__).resolve().parents[1]
TRANSCRIPT = ROOT / "tests" / "transcripts" / "digest" / "digest.txt"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")

JIANGSU = """📊 江苏 日报 · 11月18日（周三）
销售 ¥1,013.00 · 4 单（较前日 +¥713.00）
· P001 南京冰泉商贸有限公司 ¥833.00 · 3 单（+¥533.00）
· P002 苏州源泉贸易有限公司 ¥180.00 · 1 单（+¥180.00）
热销：A100 冰泉矿泉水550ml 22箱 ¥608.00；B100 青柠苏打水 9箱 ¥405.00
乱价 1 笔（2级 1）：待处理 1
窜货 1 笔：待处理 1
库存：断货 1，偏低 1 — P002 B100 青柠苏打水 断货（安全 20箱）；P001 A100 冰泉矿泉水550ml 8箱（安全 20箱）
待您审批：1 件报备（回复「我的报备」查看）"""

ZHEJIANG = """📊 浙江 日报 · 11月18日（周三）
销售 ¥600.00 · 1 单（较前日 +¥600.00）
· P003 杭州清流供应链有限公司 ¥600.00 · 1 单（+¥600.00）
热销：C300 乌龙茶500ml 10箱 ¥600.00"""


def _cli(db_url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    done = subprocess.run([PARTNERBOT, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_replayed_day_gives_exact_digest_to_each_regions_managers_with_a_chart(db_url):
    _cli(db_url, "import", "skus", str(ROOT / "services" / "data" / "catalog.csv"))
    _cli(db_url, "import", "partners", str(ROOT / "services" / "data" / "partners.csv"))
    steps = [json.loads(line) for line in _cli(db_url, "replay", str(TRANSCRIPT), "--json").splitlines()]
    job = steps[-1]
    assert job["text"] == "!job daily_digest"
    assert [r["text"] for r in job["replies"]] == ["daily_digest: 2 regions, 2 messages"]
    by_target = {p["target"]: p for p in job["pushes"]}
    assert sorted(by_target) == ["mgr", "zmgr"]
    assert by_target["mgr"]["text"] == JIANGSU
    assert by_target["zmgr"]["text"] == ZHEJIANG  # 浙江's managers see nothing of 江苏
    for push in by_target.values():
        assert push["channel"] == "console" and push["image"].startswith("image/png, ")


def _day(**changes) -> digest.RegionDigest:
    base = digest.RegionDigest(
        region="江苏", day=date(2026, 11, 18),
        partners=(digest.PartnerDay("P001", "南京冰泉商贸有限公司", 83300, 3, 30000, 1),
                  digest.PartnerDay("P002", "苏州源泉贸易有限公司", 18000, 1, 0, 0),
                  digest.PartnerDay("P009", "无锡惠山区饮品经营部", 0, 0, 12050, 2)),
        skus=(digest.SkuDay("A100", "冰泉矿泉水550ml", "瓶", "箱", 24, 528, 60800),
              digest.SkuDay("B100", "青柠苏打水", "瓶", "箱", 15, 135, 40500)),
        deviations=digest.FlagCount(1, ((2, 1),), 1, 0), conflicts=digest.FlagCount(1, ((1, 1),), 0, 1),
        low=1, out=1, worst_stock=(), pending_claims=1, extension_requests=0)
    return replace(base, **changes)


def test_chart_font_comes_from_mplfonts_and_has_every_glyph_drawn():
    path = digest_chart.cjk_font()
    assert Path(path).parent == digest_chart._font_dir() and Path(path).name in digest_chart.FONT_FILES
    fig = digest_chart.draw(_day())
    drawn = digest_chart.drawn_text(fig)
    for text in ("江苏 日报 · 11月18日", "P001 南京冰泉", "P009 无锡惠山区…", "22箱", "¥833", "热销", "窜货 1"):
        assert text in drawn
    have = set(digest_chart.charmap(path))  # the font file the chart actually uses
    assert [ch for ch in drawn if not ch.isspace() and ord(ch) not in have] == []


def test_chart_is_a_png_of_800_by_500_under_200_kb():
    png = digest_chart.render_png(_day())
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and image.size == digest_chart.SIZE_PX == (800, 500)
    assert len(png) < 200 * 1024


def test_a_character_the_font_lacks_is_refused_not_drawn_as_a_box():
    assert digest_chart.missing_glyphs("江苏 ¥1,013", digest_chart.cjk_font()) == ""
    assert digest_chart.missing_glyphs("𠀀𠀀", digest_chart.cjk_font()) == "𠀀"
    odd = _day(partners=(digest.PartnerDay("P001", "𠀀记商行", 100, 1, 0, 0),))
    with pytest.raises(digest_chart.MissingGlyphs, match="𠀀"):
        digest_chart.render_png(odd)


async def test_chart_is_drawn_off_the_event_loop():
    png = await digest_chart.render(_day())
    assert png.startswith(b"\x89PNG")


def test_text_of_a_day_with_no_sales_says_so_briefly():
    quiet = _day(partners=(digest.PartnerDay("P001", "南京冰泉商贸有限公司", 0, 0, 30000, 1),), skus=(),
                 deviations=digest.FlagCount(), conflicts=digest.FlagCount(), low=0, out=0, pending_claims=0)
    assert digest_text.render(quiet) == "📊 江苏 日报 · 11月18日（周三）\n昨日无报单（前日 ¥300.00）。"


def test_top_level_regions_leave_out_the_covered_ones():
    assert digest.top_level(["江苏-南京", "江苏", "浙江", " ", "江苏省外"]) == ["江苏", "江苏省外", "浙江"]


async def _runtime(db_url: str, **settings) -> Runtime:
    clock = FixedClock(datetime.fromisoformat("2026-11-19T08:30:00+08:00"))
    s = Settings(database={"url": db_url}, app={"quiet_hours": "22:00-08:00"}, **settings)
    return Runtime(settings=s, engine=make_engine(db_url), clock=clock)


async def _deliver(rt: Runtime) -> list[dict]:
    sink = RecordingSink()
    await dispatcher.drain(rt.uow, recording_senders(sink), worker="test", flush=True)
    return sink.records


async def test_empty_day_still_tells_the_manager_without_a_chart(db_url):
    rt = await _runtime(db_url)
    try:
        await identities.bind_directly(rt.uow(), channel="console", external_id="mgr", role="manager",
                                       regions=("江苏",))
        assert await jobs.run_job(rt, "daily_digest") == "daily_digest: 1 regions, 1 messages, 1 without sales"
        [record] = await _deliver(rt)
        assert record["target"] == "mgr" and record["text"] == "📊 江苏 日报 · 11月18日（周三）\n昨日无报单。"
        assert "image" not in record
    finally:
        await rt.dispose()


async def _sale_in_zhejiang(rt: Runtime) -> None:
    """P003 (浙江-杭州) sold C300 10箱 for ¥600.00 on 11-18."""
    async with rt.uow() as uow:
        partner = Partner(code="P003", name="杭州清流供应链有限公司", tier="B", region="浙江-杭州")
        sku = Sku(code="C300", name="乌龙茶500ml", unit="瓶", pack_unit="箱", pack_size=15)
        uow.session.add_all([partner, sku])
        await uow.session.flush()
        uow.add(Sale(partner_id=partner.id, customer="西湖超市", sold_on=date(2026, 11, 18), status="confirmed",
                     flags=[], created_at=uow.now(), lines=[SaleLine(sku_id=sku.id, qty=150, amount_fen=60000)]))
        await uow.commit()


async def test_a_regions_group_gets_the_digest_and_its_image_instead_of_each_manager(db_url):
    rt = await _runtime(db_url, groups={"浙江": "telegram:-1001234567890"})
    try:
        await identities.bind_directly(rt.uow(), channel="console", external_id="zmgr", role="manager",
                                       regions=("浙江",))
        await _sale_in_zhejiang(rt)
        assert await jobs.run_job(rt, "daily_digest") == "daily_digest: 1 regions, 1 messages"
        [record] = await _deliver(rt)
        assert (record["channel"], record["target"]) == ("telegram", "浙江")
        assert record["text"].startswith("📊 浙江 日报 · 11月18日（周三）\n销售 ¥600.00 · 1 单")
        assert record["image"].startswith("image/png, ")
    finally:
        await rt.dispose()


async def test_digest_run_in_quiet_hours_waits_for_the_morning(db_url):
    rt = await _runtime(db_url)
    try:
        await identities.bind_directly(rt.uow(), channel="console", external_id="zmgr", role="manager",
                                       regions=("浙江",))
        await _sale_in_zhejiang(rt)
        rt.clock.set(datetime.fromisoformat("2026-11-19T07:00:00+08:00"))
        await jobs.run_job(rt, "daily_digest")
        assert await _deliver(rt) == []
        rt.clock.set(datetime.fromisoformat("2026-11-19T08:00:01+08:00"))
        [record] = await _deliver(rt)
        assert record["target"] == "zmgr" and "¥600.00" in record["text"] and "image" in record
    finally:
        await rt.dispose()
