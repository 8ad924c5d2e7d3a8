"""Quiet hours, global and per target (`[app] quiet_hours_by_target`), and merged bursts — by the
outbox's own clock and by the replay clock through `partnerbot replay`."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.bootstrap import Runtime
from services import identities, outbox
from services.config import Settings
from storage.db import make_engine
from storage.uow import FixedClock

from test_replay import by_line, replay

HOOK = "wecom_robot:http://127.0.0.1:9/cgi-bin/webhook/send?key=SECRET"
BY_TARGET = {"江苏": "23:30-07:00", "江苏-南京": "", "user:mgr": "21:00-09:00", "telegram:-100ZJ": "",
             "console:carol": "20:00-06:00"}


def at(iso: str) -> datetime:
    return datetime.fromisoformat(f"{iso}+08:00")


def test_a_target_takes_its_region_then_its_user_then_its_address_then_the_global_hours():
    s = Settings(app={"quiet_hours": "22:00-08:00", "quiet_hours_by_target": BY_TARGET})
    spec = outbox.quiet_hours_for
    assert spec(s, channel="wecom_robot", target="x", region="江苏-苏州") == "23:30-07:00"
    assert spec(s, channel="wecom_robot", target="x", region="江苏-南京-鼓楼") == ""   # the longest key wins
    assert spec(s, channel="wecom_robot", target="x", region="江苏省外") == "22:00-08:00"  # not a segment of 江苏
    assert spec(s, channel="telegram", target="-100ZJ", region="浙江") == ""        # no region key: the address
    assert spec(s, channel="console", target="m", user_name="mgr") == "21:00-09:00"
    assert spec(s, channel="console", target="carol", user_name="carol") == "20:00-06:00"
    assert spec(s, channel="console", target="dave", user_name="dave") == "22:00-08:00"
    assert spec(Settings(app={"quiet_hours": ""}), channel="console", target="dave") == ""


async def test_each_target_waits_for_its_own_quiet_hours_and_urgent_ones_for_none(db_url):
    settings = Settings(database={"url": db_url},
                        app={"quiet_hours": "22:00-08:00", "quiet_hours_by_target": BY_TARGET},
                        groups={"江苏": HOOK, "浙江": "telegram:-100ZJ"})
    now = at("2026-11-18T23:40:00")
    rt = Runtime(settings=settings, engine=make_engine(db_url), clock=FixedClock(now))
    try:
        await identities.bind_directly(rt.uow(), channel="console", external_id="mgr", role="manager",
                                       regions=("安徽",))
        async with rt.uow() as uow:
            suzhou, = await outbox.notify_region(uow, region="江苏-苏州", text="低库存 苏州")
            nanjing, = await outbox.notify_region(uow, region="江苏-南京", text="低库存 南京")
            hangzhou, = await outbox.notify_region(uow, region="浙江-杭州", text="低库存 杭州")
            anhui, = await outbox.notify_region(uow, region="安徽-合肥", text="低库存 合肥")  # no group: its manager
            urgent, = await outbox.notify_region(uow, region="江苏-苏州", text="紧急", urgent=True)
            await uow.commit()
    finally:
        await rt.dispose()
    assert suzhou.not_before == at("2026-11-19T07:00:00")      # 江苏's own hours
    assert nanjing.not_before == now                           # 江苏-南京 is never quiet
    assert hangzhou.not_before == now                          # the 浙江 group by its address
    assert anhui.target == "mgr" and anhui.not_before == at("2026-11-19T09:00:00")   # user:mgr
    assert urgent.not_before == now and urgent.next_attempt_at == now


async def test_a_persons_quiet_hours_follow_the_user_then_the_chat_address(db_url):
    settings = Settings(database={"url": db_url},
                        app={"quiet_hours": "22:00-08:00", "quiet_hours_by_target": BY_TARGET})
    now = at("2026-11-18T22:30:00")
    rt = Runtime(settings=settings, engine=make_engine(db_url), clock=FixedClock(now))
    try:
        ids = {}
        for name in ("mgr", "carol", "dave"):
            actor = await identities.bind_directly(rt.uow(), channel="console", external_id=name, role="admin")
            ids[name] = actor.user_id
        async with rt.uow() as uow:
            rows = {name: await outbox.notify_user(uow, user_id=uid, text="审批提醒") for name, uid in ids.items()}
            late = await outbox.notify_user(uow, user_id=ids["dave"], text="紧急", urgent=True)
            await uow.commit()
    finally:
        await rt.dispose()
    assert rows["mgr"].not_before == at("2026-11-19T09:00:00")     # user:mgr
    assert rows["carol"].not_before == at("2026-11-19T06:00:00")   # console:carol, her chat
    assert rows["dave"].not_before == at("2026-11-19T08:00:00")    # the global hours
    assert late.not_before == now


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.txt"
    path.write_text(body, encoding="utf-8")
    return path


def _config(tmp_path: Path, extra: str = "") -> dict[str, str]:
    config = tmp_path / "c.toml"
    config.write_text(f'[groups]\n"江苏" = "{HOOK}"\n{extra}', encoding="utf-8")
    return {"PARTNERBOT_CONFIG": str(config)}


def _pushes(step: dict, target: str) -> list[str]:
    return [p["text"] for p in step["pushes"] if p["target"] == target]


def test_a_burst_to_one_group_is_one_push_and_a_late_one_waits_for_eight(tmp_path):
    script = _script(tmp_path, "!now 2026-11-18T10:00+08:00\n!bind alice P001 member\n!bind mgr 江苏 manager\n"
                               "alice> 盘点 A100 1箱 B100 1箱\nalice> 确认\n"
                               "!now 2026-11-18T23:00+08:00\nalice> 盘点 A100 0箱 B100 0箱\nalice> 确认\n"
                               "!now 2026-11-19T07:59+08:00\nalice> 帮助\n"
                               "!now 2026-11-19T08:00+08:00\n")
    done = replay(script, "--json", env_extra=_config(tmp_path))
    assert done.returncode == 0, done.stderr
    steps = by_line(done.stdout)
    burst, = _pushes(steps[5], "江苏")             # two low positions, one message to the group
    assert "A100" in burst and "B100" in burst and burst.count("库存低") == 2
    mine, = _pushes(steps[5], "alice")
    assert mine.count("库存低") == 2
    assert [steps[n]["pushes"] for n in (6, 7, 8, 9, 10)] == [[]] * 5   # 23:00 … 07:59: quiet
    morning, = _pushes(steps[11], "江苏")          # the replay clock passes 08:00
    assert morning.count("已断货") == 2 and len(steps[11]["pushes"]) == 2
    assert "SECRET" not in done.stdout


def test_a_group_and_a_person_with_their_own_quiet_hours_in_a_replay(tmp_path):
    extra = '[app.quiet_hours_by_target]\n"江苏" = ""\n"user:alice" = "21:00-07:00"\n'
    script = _script(tmp_path, "!now 2026-11-18T10:00+08:00\n!bind alice P001 member\n!bind mgr 江苏 manager\n"
                               "!now 2026-11-18T23:00+08:00\nalice> 盘点 A100 1箱\nalice> 确认\n"
                               "!now 2026-11-19T07:00+08:00\n")
    done = replay(script, "--json", env_extra=_config(tmp_path, extra))
    assert done.returncode == 0, done.stderr
    steps = by_line(done.stdout)
    assert len(_pushes(steps[6], "江苏")) == 1 and _pushes(steps[6], "alice") == []  # 江苏 is never quiet
    assert len(_pushes(steps[7], "alice")) == 1        # alice's own hours end at 07:00, not 08:00
