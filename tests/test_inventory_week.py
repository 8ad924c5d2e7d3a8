"""Issue 5's acceptance: a replayed week of stocktakes, shipments (one ref imported twice) and
sales gives exact on-hand figures in 库存 and the export, and pushes only on transitions."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

WEEK = Path(__file__).parent / "transcripts" / "week" / "week.txt"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def run(env, *args, **kw):
    done = subprocess.run([PARTNERBOT, *args], capture_output=True, text=True, env=env, timeout=120, **kw)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_replayed_week_gives_exact_stock_and_alerts_only_on_transitions(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = f"sqlite:///{tmp_path}/week.db"
    run(env, "import", "skus", str(Path(__file__).parents[1] / "services" / "data" / "catalog.csv"))
    run(env, "import", "partners", str(Path(__file__).parents[1] / "services" / "data" / "partners.csv"))
    steps = [json.loads(line) for line in run(env, "replay", str(WEEK), "--json").splitlines()]
    by_text = {(s["who"], s["text"]): s for s in steps}

    def pushes(who, text):
        return [(p["target"], p["text"]) for p in by_text[(who, text)]["pushes"]]

    def reply(who, text):
        return "\n".join(r["text"] for r in by_text[(who, text)]["replies"])

    confirms = [s for s in steps if s["text"] == "确认"]

    def said(step):
        return [(p["target"], p["text"]) for p in step["pushes"]]
    # stocktake: B100 10箱 < 20箱 safety → low (partner + manager); A100 25箱 is fine
    assert [t for t, _ in said(confirms[0])] == ["alice", "mgr"] and "B100" in confirms[0]["pushes"][0]["text"]
    # ship1 brings B100 back to 20箱: recovery, once each
    assert [t for t, x in pushes(None, "!import shipments ship1.csv") if "B100" in x and "恢复" in x] == ["alice", "mgr"]
    # sale of 40箱 from 45箱 → 5箱: A100 low
    assert [t for t, x in said(confirms[1]) if "A100" in x and "库存低" in x] == ["alice", "mgr"]
    # 2 more boxes: still low, nothing said
    assert confirms[2]["pushes"] == []
    assert "A100 冰泉矿泉水550ml：3箱" in reply("alice", "库存") and "B100 青柠苏打水：20箱" in reply("alice", "库存")
    # 3 more: out
    assert [t for t, x in said(confirms[3]) if "断货" in x] == ["alice", "mgr"]
    assert "还没有库存数据" in reply("bob", "库存")
    # ship2: SH-1001 again is unchanged, SH-1003 brings A100 to 30箱: recovery
    assert "1 created" in reply(None, "!import shipments ship2.csv") and "1 unchanged" in reply(None, "!import shipments ship2.csv")
    assert [t for t, x in pushes(None, "!import shipments ship2.csv") if "恢复" in x] == ["alice", "mgr"]
    # the sweep finds nothing new
    assert pushes(None, "!job low_stock") == []
    assert "30箱" in reply("alice", "库存 A100") and "到货" in reply("alice", "库存 A100")
    assert "P001" in reply("mgr", "库存 P001") and "30箱" in reply("mgr", "库存 P001")
    out = tmp_path / "inventory.csv"
    run(env, "export", "inventory", "-o", str(out))
    rows = {(r["partner"], r["sku"]): r for r in csv.DictReader(out.open(encoding="utf-8-sig"))}
    assert rows[("P001", "A100")]["on_hand"] == "720" and rows[("P001", "A100")]["status"] == "ok"
    assert rows[("P001", "B100")]["on_hand"] == "300" and rows[("P001", "B100")]["status"] == "ok"
