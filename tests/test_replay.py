"""The console channel's replay (DESIGN §8.5), through the real `partnerbot` command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def replay(path: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env.update(env_extra or {})
    return subprocess.run([PARTNERBOT, "replay", str(path), *args], capture_output=True, text=True, env=env,
                          timeout=120)


def by_line(out: str) -> dict[int, dict]:
    return {o["line"]: o for o in map(json.loads, out.splitlines())}


def test_replay_scopes_each_partner_to_its_own_data():
    done = replay(HERE / "transcripts" / "foundation.txt", "--json")
    assert done.returncode == 0, done.stderr
    steps = by_line(done.stdout)
    text = {n: "\n".join(r["text"] for r in s["replies"]) for n, s in steps.items()}
    assert "绑定" in text[9]                      # unbound stranger told to bind
    assert "邀请码不正确" in text[10]              # wrong code refused politely
    assert "没有权限" in text[11]                  # member's /partner list refused
    assert "P001" in text[12] and "P002" in text[12] and "P003" not in text[12]
    assert "alice" in text[13] and "bob" not in text[13]
    assert "bob" in text[14] and "alice" not in text[14]
    pushes = steps[15]["pushes"]
    assert {p["target"] for p in pushes} == {"alice", "boss", "mgr"}
    assert all(p["channel"] == "console" and "周五盘点，请提前准备" in p["text"] for p in pushes)
    assert steps[2]["who"] is None and steps[9]["who"] == "stranger"


def test_replay_text_output_echoes_and_indents(tmp_path):
    script = tmp_path / "t.txt"
    script.write_text("!now 2026-11-18T09:00+08:00\n!bind root - admin\nroot> /jobs list\nroot> /jobs help\n",
                      encoding="utf-8")
    done = replay(script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "!now 2026-11-18T09:00+08:00"
    assert "root> /jobs list" in lines and any("outbox_purge" in line for line in lines)


def test_group_alerts_show_the_region_not_the_webhook_and_quiet_hours_hold(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[groups]\n"江苏" = "wecom_robot:http://127.0.0.1:9/cgi-bin/webhook/send?key=SECRET"\n',
                      encoding="utf-8")
    script = tmp_path / "t.txt"
    script.write_text("!now 2026-11-18T23:00+08:00\n!bind root - admin\n!bind alice P001 member\n"
                      "root> /broadcast 江苏 夜间通知\n!now 2026-11-19T08:01+08:00\nroot> 帮助\n", encoding="utf-8")
    done = replay(script, "--json", env_extra={"PARTNERBOT_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    steps = by_line(done.stdout)
    assert steps[4]["pushes"] == []                       # 23:00 is quiet
    assert [p["target"] for p in steps[5]["pushes"]] == ["alice"]   # delivered once the clock passes 08:00
    assert "SECRET" not in done.stdout


def test_bad_transcript_line_is_named(tmp_path):
    script = tmp_path / "t.txt"
    script.write_text("!now 2026-11-18T09:00+08:00\n!frobnicate\n", encoding="utf-8")
    done = replay(script)
    assert done.returncode != 0 and "line 2" in done.stderr


def test_cli_invite_code_binds_in_console_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = f"sqlite:///{tmp_path}/pb.db"
    run = lambda *a, **kw: subprocess.run([PARTNERBOT, *a], capture_output=True, text=True, env=env, timeout=60, **kw)
    assert run("demo").returncode == 0
    issued = run("invite", "--partner", "P002", "--role", "member", "--name", "张三")
    assert issued.returncode == 0, issued.stderr
    code = issued.stdout.strip()
    assert len(code) == 8
    chat = run("console", "--as", "zhang", input=f"绑定 {code}\n帮助\n")
    assert "绑定成功" in chat.stdout and "P002" in chat.stdout and "报单" in chat.stdout
    again = run("console", "--as", "li", input=f"绑定 {code}\n")
    assert "已经被使用" in again.stdout
    bad = run("invite", "--partner", "P999", "--role", "member")
    assert bad.returncode != 0 and "P999" in bad.stderr
