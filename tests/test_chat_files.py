"""`/export` and `/import` from chat: a download link to an .xlsx export, an upload link whose page
imports a file all-or-none, scoped to the user the link was issued to; links expire."""
from __future__ import annotations

import io
import re

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from bot.web import create_app
from handlers.all import Deps, handle
from handlers.catalog_cache import MATCHERS
from handlers.messages import InboundMessage
from services import demo, identities
from services.config import Settings
from storage.models import Outbox, Shipment

_ids = iter(range(10**6))


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return Settings(database={"url": db_url}, app={"quiet_hours": "", "files_dir": str(tmp_path / "files"),
                                                   "public_base_url": "http://bot.test"})


@pytest.fixture
async def deps(runtime):
    MATCHERS.invalidate()
    await demo.load_demo(runtime.uow(), users=False)
    for who, role, partner, regions in (("root", "admin", None, ()), ("mgr", "manager", None, ("江苏",)),
                                        ("alice", "member", "P001", ())):
        await identities.bind_directly(runtime.uow(), channel="console", external_id=who, role=role,
                                       partner_code=partner, regions=regions)
    yield Deps(uow=runtime.uow, settings=runtime.settings)
    MATCHERS.invalidate()


async def say(deps, text, who="root") -> str:
    msg = InboundMessage(channel="console", user_id=who, chat_id=who, text=text, message_id=f"f{next(_ids)}")
    return "\n".join(r.text for r in await handle(deps, msg))


def link(reply: str) -> str:
    found = re.search(r"http://bot\.test(/\S+)", reply)
    assert found, reply
    return found.group(1)


def client(runtime) -> httpx.AsyncClient:
    app = create_app(runtime=runtime, start_background=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")


async def test_export_answers_a_download_link_to_the_xlsx(deps, runtime):
    await say(deps, "报单 A100 10箱 30元 张三超市", "alice")
    await say(deps, "确认", "alice")
    reply = await say(deps, "/export sales 2026-11-01 2026-11-30")
    assert "已导出 sales 1 行" in reply and "30 分钟内下载" in reply
    async with client(runtime) as c:
        got = await c.get(link(reply))
        assert got.status_code == 200 and "sales-" in got.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(got.content)).active
        rows = list(sheet.values)
        assert rows[0][:3] == ("id", "partner", "sku") and rows[1][1:3] == ("P001", "A100")
        assert (await c.get("/files/not-a-token")).status_code == 404


async def test_a_download_link_expires(deps, runtime, clock):
    reply = await say(deps, "/export inventory")
    clock.advance(minutes=31)
    async with client(runtime) as c:
        got = await c.get(link(reply))
    assert got.status_code == 404 and "已过期" in got.text


async def test_export_is_scoped_and_refused_to_partners(deps, runtime):
    assert "没有权限" in await say(deps, "/export sales", "alice")
    assert "没有「nonsense」这种导出" in await say(deps, "/export nonsense")
    assert "不是日期" in await say(deps, "/export sales 11月")
    assert "/export 类型" in await say(deps, "/export help")
    assert "下载" in await say(deps, "/export claims", "mgr")


async def test_import_link_uploads_all_or_none_and_tells_the_chat(deps, runtime):
    assert "没有权限" in await say(deps, "/import shipments", "alice")
    reply = await say(deps, "/import shipments")
    url = link(reply)
    bad = "partner,sku,qty,unit,shipped_on,ref\nP001,A100,20,箱,2026-11-15,R1\nP001,ZZZ,5,箱,2026-11-15,R2\n"
    good = "partner,sku,qty,unit,shipped_on,ref\nP001,A100,20,箱,2026-11-15,R1\nP002,B100,5,箱,2026-11-15,R2\n"
    async with client(runtime) as c:
        page = await c.get(url)
        assert page.status_code == 200 and "<form" in page.text and "shipments" in page.text
        refused = await c.post(url, files={"file": ("ship.csv", bad.encode(), "text/csv")})
        assert refused.status_code == 422 and "第3行" in refused.text and "未导入任何数据" in refused.text
        assert (await c.post(url, files={"file": ("ship.txt", b"x", "text/plain")})).status_code == 400
        done = await c.post(url, files={"file": ("ship.csv", good.encode(), "text/csv")})
        assert done.status_code == 200 and "新增 2" in done.text
        again = await c.post(url, files={"file": ("ship.csv", good.encode(), "text/csv")})
        assert again.status_code == 404                      # spent by the import that worked
    async with runtime.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Shipment)) == 2
        told = (await uow.session.scalars(select(Outbox.text).where(Outbox.target == "root").order_by(Outbox.id))).all()
    assert told[0].startswith("⚠️ 导入 shipments（ship.csv）未成功：1 行有问题") and "第3行" in told[0]
    assert told[-1] == "✅ 已导入 shipments（ship.csv）：共 2 行：新增 2，更新 0，未变 0。"


async def test_upload_over_the_cap_is_413_but_the_page_allows_more_than_the_api(deps, runtime, settings):
    settings.api.max_body_bytes, settings.api.max_upload_bytes = 1000, 5000
    url = link(await say(deps, "/import skus"))
    async with client(runtime) as c:
        big = await c.post(url, files={"file": ("s.csv", b"x" * 6000, "text/csv")})
        assert big.status_code == 413
        fits = await c.post(url, files={"file": ("s.csv", b"code,name\n" + b"x" * 2000, "text/csv")})
        assert fits.status_code == 422                       # through the cap, refused by the import itself
