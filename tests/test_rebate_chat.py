"""返利 through handlers.all.handle (the console path): progress with the arithmetic and the
projection, sales reported and undone from chat, quantity schemes in packs, ended schemes, no
scheme, managers naming a partner, /rebate list|show|help, help; the rebate_nudge job once only."""
from __future__ import annotations

import itertools
from datetime import date, datetime

import pytest
from sqlalchemy import delete, select

from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from scheduler import jobs
from services import demo, identities, imports
from services.actors import Actor
from storage.models import Outbox, Partner, Sale, SaleLine, Sku

_ids = itertools.count()
ADMIN = Actor(user_id=None, name="root", role="admin", channel="console")
HEAD = "code,name,period_start,period_end,basis,mode,sku_group,tiers,partner_tiers,cap\n"
Q4W = "Q4W,四季度水返利,2026-10-01,2026-12-31,amount,retroactive,水,0:0%;50000:2%;150000:3.5%;200000:4%,A;B,\n"
Q4M = "Q4M,四季度超额返利,2026-10-01,2026-12-31,amount,marginal,水,0:0%;50000:2%;150000:3.5%,A,\n"


@pytest.fixture
async def deps(runtime, clock):
    MATCHERS.invalidate()
    clock.set(datetime.fromisoformat("2026-11-18T10:00+08:00"))
    await demo.load_demo(runtime.uow(), users=False)
    for who, role, partner, regions in (("alice", "member", "P001", ()), ("bob", "member", "P002", ()),
                                        ("mgr", "manager", None, ("江苏",)), ("root", "admin", None, ())):
        await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                       partner_code=partner, regions=regions)
    yield Deps(uow=runtime.uow, settings=runtime.settings)
    MATCHERS.invalidate()


async def schemes(runtime, tmp_path, *rows: str) -> None:
    path = tmp_path / f"schemes{next(_ids)}.csv"
    path.write_text(HEAD + "".join(rows), encoding="utf-8")
    await imports.import_file(runtime.uow(), kind="rebate_schemes", path=path, actor=ADMIN)


async def sell(runtime, partner: str, on: str, sku: str, qty: int, amount_fen: int) -> None:
    async with runtime.uow() as uow:
        pid = await uow.session.scalar(select(Partner.id).where(Partner.code == partner))
        sid = await uow.session.scalar(select(Sku.id).where(Sku.code == sku))
        uow.add(Sale(partner_id=pid, customer="张三超市", sold_on=date.fromisoformat(on), flags=[],
                     lines=[SaleLine(sku_id=sid, qty=qty, amount_fen=amount_fen)]))
        await uow.commit()


async def say(deps, text, who="alice"):
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"r{next(_ids)}")
    return "\n".join(r.text for r in await handle(deps, msg))


async def pushes(runtime) -> list[tuple[str, str]]:
    async with runtime.uow() as uow:
        rows = [(r.target, r.text) for r in await uow.session.scalars(select(Outbox).order_by(Outbox.id))]
        await uow.session.execute(delete(Outbox))
        await uow.commit()
    return rows


async def test_rebate_shows_tier_payout_arithmetic_next_tier_and_projection(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, Q4W, Q4M)
    await sell(runtime, "P001", "2026-11-01", "A100", 24_000, 18_200_000)
    text = await say(deps, "返利")
    for line in ("📊 P001 南京冰泉商贸有限公司 返利进度（截至 2026-11-18）",
                 "【四季度水返利】Q4W",
                 "2026-10-01~2026-12-31 · 销售额 · 全额累进 · 分组 水",
                 "累计销售额 ¥182,000.00",
                 "当前档：满 ¥150,000.00 全额返 3.5%",
                 "已得返利：¥182,000.00 × 3.5% = ¥6,370.00",
                 "距下一档 ¥200,000.00（4%）还差 ¥18,000.00，达到可得：¥200,000.00 × 4% = ¥8,000.00",
                 "预计全期 ¥341,714.29（按本期已过 49 天的日均 ¥3,714.29 推算 92 天）",
                 "预计返利：¥341,714.29 × 4% = ¥13,668.57",
                 "【四季度超额返利】Q4M",
                 "当前档：超过 ¥150,000.00 的部分返 3.5%",
                 "已得返利：¥50,000.00×0% + ¥100,000.00×2% + ¥32,000.00×3.5% = ¥3,120.00",
                 "已达最高档"):
        assert line in text.splitlines(), line
    assert await say(deps, "rebate") == text
    assert await say(deps, "我的返利进度怎么样了") == text


async def test_sales_reported_in_chat_count_and_an_undo_takes_them_out(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, Q4W)
    await sell(runtime, "P001", "2026-11-01", "A100", 12_000, 4_900_000)
    assert "累计销售额 ¥49,000.00" in await say(deps, "返利")
    await say(deps, "报单 A100 20箱 30元 张三超市")
    assert "已记录报单" in await say(deps, "确认")
    text = await say(deps, "返利")
    assert "累计销售额 ¥49,600.00" in text and "还差 ¥400.00" in text
    await say(deps, "撤销")
    assert "累计销售额 ¥49,000.00" in await say(deps, "返利")


async def test_quantity_scheme_reads_in_packs(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, "TEA,乌龙茶达量,2026-10-01,2026-12-31,qty,retroactive,茶饮,0:0%;150:1%;1500:2%,,\n")
    await sell(runtime, "P001", "2026-11-02", "C300", 900, 315_000)    # 60箱 of 15瓶
    text = await say(deps, "返利")
    assert "累计销量 60箱（销售额 ¥3,150.00）" in text
    assert "当前档：满 10箱 全额返 1%" in text
    assert "已得返利：销量 900瓶 适用 1%：¥3,150.00 × 1% = ¥31.50" in text
    assert "距下一档 100箱（2%）还差 40箱，按当前均价达到可得：销量 1,500瓶 适用 2%：¥5,250.00 × 2% = ¥105.00" in text
    assert "日均 18.4瓶" in text         # 900 ÷ 49 days


async def test_no_scheme_and_ended_schemes(deps, runtime, tmp_path, clock):
    assert "目前没有适用的返利方案" in await say(deps, "返利", "bob")
    await schemes(runtime, tmp_path, Q4M)                         # tier A only: bob's P002 is B
    assert "目前没有适用的返利方案" in await say(deps, "返利", "bob")
    await schemes(runtime, tmp_path, "Q3W,三季度水返利,2026-07-01,2026-09-30,amount,retroactive,水,0:0%;50000:2%,,\n",
                  "Q2W,二季度水返利,2026-04-01,2026-06-30,amount,retroactive,水,0:0%;50000:2%,,\n")
    await sell(runtime, "P002", "2026-09-15", "A100", 24_000, 6_000_000)
    clock.set(datetime.fromisoformat("2026-10-20T10:00+08:00"))
    text = await say(deps, "返利", "bob")
    assert "【三季度水返利】Q3W · 已结束" in text and "本期已于 2026-09-30 结束，以上为全期结果" in text
    assert "已得返利：¥60,000.00 × 2% = ¥1,200.00" in text and "Q2W" not in text and "预计" not in text


async def test_managers_name_a_partner_of_their_regions(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, Q4W)
    assert "请指定经销商，例如：返利 P001（可查：P001、P002）" in await say(deps, "返利", "mgr")
    assert "P002 苏州源泉贸易有限公司 返利进度" in await say(deps, "返利 p002", "mgr")
    assert "没有权限" in await say(deps, "返利 P003", "mgr")
    assert "没有找到经销商「P999」" in await say(deps, "返利 P999", "mgr")
    assert "没有权限" in await say(deps, "返利 P002", "alice")
    assert "P003 杭州清流供应链有限公司 返利进度" in await say(deps, "rebate P003", "root")


async def test_rebate_slash_commands(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, Q4W, "CAPQ,达量,2026-10-01,2026-12-31,qty,marginal,,0:0%;1000:2.25%,B,5000\n")
    listing = await say(deps, "/rebate list", "root")
    assert "Q4W 四季度水返利 · 2026-10-01~2026-12-31 · 销售额 · 全额累进 · 分组 水 · 4 档 · A;B" in listing
    assert "CAPQ 达量" in listing and "封顶 ¥5,000.00" in listing and "全部等级" not in listing
    shown = await say(deps, "/rebate show capq", "mgr")
    for line in ("CAPQ 达量", "周期：2026-10-01 至 2026-12-31（92 天）", "基准：销量　方式：超额累进", "商品分组：全部商品",
                 "适用等级：B", "封顶：¥5,000.00", "· 超过 1,000 的部分返 2.25%"):
        assert line in shown.splitlines(), line
    assert "没有找到返利方案「NOPE」" in await say(deps, "/rebate show NOPE", "root")
    assert "/rebate show 方案编码" in await say(deps, "/rebate help", "root")
    assert "没有权限" in await say(deps, "/rebate list", "alice")
    assert "返利" in await say(deps, "帮助", "alice") and "返利 P001" in await say(deps, "帮助", "mgr")


async def test_nudge_job_tells_partners_near_the_next_tier_once(deps, runtime, tmp_path, clock):
    await schemes(runtime, tmp_path, Q4W)
    await sell(runtime, "P001", "2026-11-01", "A100", 12_000, 4_600_000)     # ¥46,000: ¥4,000 short of ¥50,000
    await sell(runtime, "P002", "2026-11-01", "A100", 12_000, 3_000_000)     # ¥30,000: too far
    clock.set(datetime.fromisoformat("2026-12-16T10:00+08:00"))              # 16 days left: not yet
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 0 schemes closing, 0 nudged"
    clock.set(datetime.fromisoformat("2026-12-17T10:00+08:00"))              # the last 15 days
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 1 schemes closing, 1 nudged"
    (push,) = await pushes(runtime)
    assert push[0] == "alice"
    assert push[1] == ("📈 返利冲档提醒：「四季度水返利」还剩 15 天（至 2026-12-31）。目前累计 ¥46,000.00，"
                       "再卖 ¥4,000.00 即达 ¥50,000.00 档（2%），返利可从 ¥0.00 增至 ¥1,000.00。发「返利」查看明细。")
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 1 schemes closing, 0 nudged"
    await sell(runtime, "P001", "2026-12-17", "A100", 24_000, 9_400_000)     # ¥140,000: near ¥150,000
    await sell(runtime, "P002", "2026-12-17", "A100", 12_000, 1_500_000)     # ¥45,000: near ¥50,000
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 1 schemes closing, 2 nudged"
    texts = dict(await pushes(runtime))
    assert "再卖 ¥10,000.00 即达 ¥150,000.00 档（3.5%），返利可从 ¥2,800.00 增至 ¥5,250.00" in texts["alice"]
    assert "再卖 ¥5,000.00 即达 ¥50,000.00 档（2%）" in texts["bob"]
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 1 schemes closing, 0 nudged"
    assert await pushes(runtime) == []
    clock.set(datetime.fromisoformat("2027-01-01T10:00+08:00"))              # over: nothing
    assert await jobs.run_job(runtime, "rebate_nudge") == "rebate_nudge: 0 schemes closing, 0 nudged"


async def test_a_sale_below_floor_counts_only_once_its_appeal_clears_it(deps, runtime, tmp_path):
    await schemes(runtime, tmp_path, Q4W)
    await say(deps, "报单 A100 200箱 30元 张三超市")
    await say(deps, "确认")
    await say(deps, "报单 A100 100箱 24元 李四超市")            # ¥1.00 a bottle, floor ¥1.10: flagged
    await say(deps, "确认")
    assert "累计销售额 ¥6,000.00" in await say(deps, "返利")
    await say(deps, "申诉 1 客户是团购，总部特批价")
    assert "累计销售额 ¥6,000.00" in await say(deps, "返利")   # appealed: still out
    await say(deps, "裁定 1 撤销 已核实特批", "mgr")
    assert "累计销售额 ¥8,400.00" in await say(deps, "返利")   # cleared: counts again
