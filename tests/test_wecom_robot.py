"""WeCom group robots: real posts to a fake webhook on loopback through the dispatcher, on a fake clock."""
from __future__ import annotations

import base64
import io
import os
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from bot.bootstrap import Runtime
from bot.platforms import wecom_robot
from fake_wecom import FakeWecom
from services import dispatcher, outbox
from services.config import Settings
from storage.db import make_engine
from storage.models import Outbox

KEY = "robot-key-1"


@pytest.fixture(scope="module")
def fake():
    with FakeWecom(robot_keys=(KEY, "robot-key-2")) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_fake(fake):
    fake.reset()


@pytest.fixture
async def make(db_url, clock, fake):
    """Runtimes whose [groups] send 江苏 to the fake robot, each with its robot sender."""
    stack = AsyncExitStack()
    made = []

    async def build(**sections):
        sections.setdefault("groups", {"江苏": f"wecom_robot:{fake.webhook(KEY)}"})
        rt = Runtime(settings=Settings(database={"url": db_url}, app={"quiet_hours": ""}, **sections),
                     engine=make_engine(db_url), clock=clock)
        made.append(rt)
        return rt, await wecom_robot.open_sender(rt, stack)
    yield build
    await stack.aclose()
    for rt in made:
        await rt.dispose()


@pytest.fixture
async def robot(make):
    return await make()


async def alert(rt, text="🔴 P001 南京冰泉商贸 · A100 库存不足", *, urgent=True, **kw) -> int:
    async with rt.uow() as uow:
        (row,) = await outbox.notify_region(uow, region="江苏-南京", text=text, urgent=urgent, **kw)
        await uow.commit()
    return row.id


async def drain(rt, sender) -> dispatcher.DrainResult:
    return await dispatcher.drain(rt.uow, {"wecom_robot": sender}, worker="w1")


async def row(rt, row_id) -> Outbox:
    async with rt.uow() as uow:
        found = await uow.session.get(Outbox, row_id)
        uow.session.expunge_all()
        return found


def png(width: int, height: int, *, noise: bool = False) -> bytes:
    image = (Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noise
             else Image.new("RGB", (width, height), (200, 30, 30)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- what is posted ---------------------------------------------------------------------------

async def test_region_alert_is_posted_as_text_to_its_robot(robot, fake):
    rt, sender = robot
    row_id = await alert(rt)
    assert (await drain(rt, sender)).sent == 1
    assert fake.robot_posts == [(KEY, {"msgtype": "text", "text": {"content": "🔴 P001 南京冰泉商贸 · A100 库存不足"}})]
    assert (await row(rt, row_id)).status == "sent"


async def test_titled_text_goes_as_markdown_and_buttons_become_replies(robot, fake):
    rt, sender = robot
    await alert(rt, "客户报备待审批 #12\n南京好邻居商贸有限公司\n撞单：P002 的报备 #7", buttons=("通过 #12", "驳回 #12"))
    await drain(rt, sender)
    ((_, post),) = fake.robot_posts
    assert post == {"msgtype": "markdown", "markdown": {"content":
                    "**客户报备待审批 #12**\n南京好邻居商贸有限公司\n撞单：P002 的报备 #7\n"
                    "请私聊助手回复：「通过 #12」 / 「驳回 #12」"}}


async def test_text_with_markdown_characters_stays_text_and_long_text_is_split(robot, fake):
    rt, sender = robot
    lines = [f"- 第{i}项：A100 冰泉矿泉水550ml 库存不足，建议补货 20箱" for i in range(60)]
    await alert(rt, "库存日报\n" + "\n".join(lines))
    await drain(rt, sender)
    posts = [p for _, p in fake.robot_posts]
    assert len(posts) >= 2 and {p["msgtype"] for p in posts} == {"text"}
    assert all(len(p["text"]["content"].encode()) <= 2048 for p in posts)
    assert "\n".join(p["text"]["content"] for p in posts) == "库存日报\n" + "\n".join(lines)


async def test_image_goes_as_base64_with_its_md5_after_the_text(robot, fake):
    rt, sender = robot
    image = png(40, 30)
    await alert(rt, "江苏 日报", image_b64=base64.b64encode(image).decode())
    assert (await drain(rt, sender)).sent == 1
    (_, text), (_, picture) = fake.robot_posts  # the fake checked the md5 against the decoded bytes
    assert text["msgtype"] == "text" and picture["msgtype"] == "image"
    assert base64.b64decode(picture["image"]["base64"]) == image


async def test_image_over_two_megabytes_is_scaled_down(robot, fake):
    rt, sender = robot
    big = png(1000, 1000, noise=True)
    assert len(big) > 2 * 1024 * 1024
    await alert(rt, "图表", image_b64=base64.b64encode(big).decode())
    assert (await drain(rt, sender)).sent == 1
    sent = base64.b64decode(fake.robot_posts[-1][1]["image"]["base64"])
    assert len(sent) <= 2 * 1024 * 1024
    assert Image.open(io.BytesIO(sent)).size[0] < 1000


async def test_image_that_cannot_be_reduced_is_refused_with_the_reason(robot, fake):
    rt, sender = robot
    row_id = await alert(rt, "图表", image_b64=base64.b64encode(os.urandom(3 * 1024 * 1024)).decode())
    assert (await drain(rt, sender)).dead == 1
    dead = await row(rt, row_id)
    assert "over the 2 MB a WeCom robot accepts" in dead.last_error and fake.robot_posts == []


async def test_key_is_masked_in_reasons_and_logs(make, fake, caplog):
    caplog.set_level("DEBUG", logger="bot")
    caplog.set_level("INFO", logger="httpx")
    rt, sender = await make(groups={"江苏": f"wecom_robot:{fake.webhook('secret-key-9')}"})
    row_id = await alert(rt)
    assert (await drain(rt, sender)).dead == 1
    dead = await row(rt, row_id)
    assert dead.last_error.startswith("rejected by wecom_robot: robot of 江苏: invalid webhook url")
    assert "secret-key-9" not in dead.last_error and "secret-key-9" not in caplog.text
    assert "key=***" in caplog.text


async def test_unreachable_robot_is_retried_and_a_bad_address_is_not(make, fake):
    rt, sender = await make(groups={"江苏": "wecom_robot:http://127.0.0.1:9/cgi-bin/webhook/send?key=k",
                                    "浙江": "wecom_robot:https://example.invalid/no-key"})
    down = await alert(rt)
    async with rt.uow() as uow:
        (bad,) = await outbox.notify_region(uow, region="浙江-杭州", text="x", urgent=True)
        await uow.commit()
    result = await drain(rt, sender)
    assert (result.failed, result.dead) == (1, 1)
    waiting, dead = await row(rt, down), await row(rt, bad.id)
    assert waiting.status == "pending" and waiting.last_error == "robot of 江苏: unreachable (ConnectError)"
    assert dead.status == "dead" and "not a robot webhook address" in dead.last_error


async def test_no_robot_sender_without_a_robot_in_the_configuration(db_url, clock):
    runtime = Runtime(settings=Settings(database={"url": db_url}, groups={"浙江": "telegram:-100123"}),
                      engine=make_engine(db_url), clock=clock)
    try:
        async with AsyncExitStack() as stack:
            assert await wecom_robot.open_sender(runtime, stack) is None  # the console sink stands in
            head_office = runtime.settings.model_copy(update={"pricing": runtime.settings.pricing.model_copy(
                update={"head_office": "wecom_robot:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})})
            runtime.settings = head_office
            assert await wecom_robot.open_sender(runtime, stack) is not None
    finally:
        await runtime.dispose()


# --- rate limits ------------------------------------------------------------------------------

async def test_45009_backs_off_a_minute_then_delivers_once(robot, fake, clock):
    rt, sender = robot
    fake.fail("webhook/send", 45009, "api freq out of limit")
    first = await alert(rt, "第一条")
    result = await drain(rt, sender)
    assert (result.sent, result.failed) == (0, 1)
    waiting = await row(rt, first)
    assert waiting.status == "pending" and "45009" in waiting.last_error
    assert waiting.next_attempt_at >= clock.now() + timedelta(seconds=60)

    calls = fake.robot_calls
    await alert(rt, "第二条")
    await drain(rt, sender)  # the robot is resting: nothing is posted to it meanwhile
    assert fake.robot_calls == calls and fake.robot_posts == []

    clock.advance(seconds=70)
    await drain(rt, sender)
    assert [p["text"]["content"] for _, p in fake.robot_posts] == ["第一条", "第二条"]
    for _ in range(3):
        clock.advance(minutes=5)
        await dispatcher.drain(rt.uow, {"wecom_robot": sender}, worker="w1", flush=True)
    assert len(fake.robot_posts) == 2


async def test_at_most_twenty_a_minute_per_robot_through_the_dispatcher(robot, fake, clock):
    rt, sender = robot
    for i in range(25):
        await alert(rt, f"告警 {i}")
    first = await drain(rt, sender)
    assert (first.sent, first.deferred) == (20, 5) and len(fake.robot_posts) == 20
    clock.advance(seconds=30)
    assert (await drain(rt, sender)).sent == 0
    clock.advance(seconds=31)
    assert (await drain(rt, sender)).sent == 5
    assert [p["text"]["content"] for _, p in fake.robot_posts] == [f"告警 {i}" for i in range(25)]


async def test_robot_keeps_twenty_a_minute_even_when_configured_rates_allow_more(make, fake, clock):
    rt, sender = await make(dispatcher={"rate_per_minute": 100, "channel_rate_per_minute": {}})
    image = base64.b64encode(png(10, 10)).decode()
    for i in range(19):
        await alert(rt, f"告警 {i}")
    await alert(rt, "带图", image_b64=image)  # two posts: the text is the 20th, the image must wait
    for i in range(19, 24):
        await alert(rt, f"告警 {i}")
    posted_at = []

    for _ in range(4):
        before = len(fake.robot_posts)
        await drain(rt, sender)
        posted_at += [clock.now()] * (len(fake.robot_posts) - before)
        clock.advance(seconds=35)
    assert len(fake.robot_posts) == 26
    for i, at in enumerate(posted_at):  # never more than 20 posts in any minute
        assert sum(1 for other in posted_at[i:] if other < at + timedelta(minutes=1)) <= 20
    texts = [p.get("text", {}).get("content", "image") for _, p in fake.robot_posts]
    assert texts.count("带图") == 1 and texts.count("image") == 1  # the text was not posted again
    async with rt.uow() as uow:
        statuses = set(await uow.session.scalars(select(Outbox.status)))
    assert statuses == {"sent"}
