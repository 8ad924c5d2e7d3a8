"""Issue 7's acceptance: a replayed quarter of sales (tests/transcripts/quarter/) — a price policy
that changes mid-quarter, sales below floor (one left open, one appealed and cleared), a sale into
another partner's claimed customer (appealed, upheld), an undone sale — gives the exact payouts,
deviations and flags in `返利` and in the exports, with every flag pushed to the region's managers.

The figures, by hand (A100/A200 are group 水, B100/B200 group 饮料; P001 is tier A in 江苏-南京):
  Q4-WATER, amount, retroactive 0:0% 2000:2% 5000:3%. P001 counts #1 ¥1,500 + #3 ¥500 (the new
  floor ¥1.00 from 11-01) + #5 ¥1,080 + #8 ¥240 (exactly at floor) + #9 ¥880 (below floor, cleared)
  = ¥4,200 → 2% → ¥84.00; #2 (below the old floor ¥1.10, open) and #10 (undone) do not count.
  On 11-15: ¥3,080 after 46 of 92 days → projected ¥6,160 → 3% → ¥184.80.
  Q4-DRINK, qty, marginal 0:1% 500:2% 1000:3%, cap ¥20, tier A only. P001 counts #6 600 bottles
  (¥1,800); #7 (窜货 into P002's customer, upheld) does not. ¥1,800 × (500×1% + 100×2%) ÷ 600 = ¥21.00,
  capped at ¥20.00.
  P002: #4 ¥3,000 to its own claimed customer (not a flag) → Q4-WATER 2% → ¥60.00.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUARTER = ROOT / "tests" / "transcripts" / "quarter"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PARTNERBOT_DATABASE_URL"] = db_url
    done = subprocess.run([PARTNERBOT, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_replayed_quarter_gives_exact_payouts_deviations_and_flags(db_url, tmp_path):
    _cli(db_url, "import", "skus", str(ROOT / "services" / "data" / "catalog.csv"))
    _cli(db_url, "import", "partners", str(ROOT / "services" / "data" / "partners.csv"))
    steps = [json.loads(line) for line in _cli(db_url, "replay", str(QUARTER / "quarter.txt"), "--json")
             .stdout.splitlines()]
    said = {}
    for step in steps:
        if step["who"] and step["replies"]:
            said.setdefault((step["who"], step["text"]), []).append("\n".join(r["text"] for r in step["replies"]))

    mid, end, bob, mgr = (said[("alice", "返利")][0], said[("alice", "返利")][1], said[("bob", "返利")][0],
                          said[("mgr", "返利 P001")][0])
    assert "累计销售额 ¥3,080.00" in mid and "¥3,080.00 × 2% = ¥61.60" in mid
    assert "预计全期 ¥6,160.00（按本期已过 46 天" in mid and "预计返利：¥6,160.00 × 3% = ¥184.80" in mid
    assert "累计销售额 ¥4,200.00" in end and "¥4,200.00 × 2% = ¥84.00" in end
    assert "还差 ¥800.00" in end and "¥5,000.00 × 3% = ¥150.00" in end
    assert "累计销量 600（销售额 ¥1,800.00）" in end
    assert "¥1,800.00 × (500×1% + 100×2%) ÷ 600 = ¥21.00，封顶 ¥20.00" in end
    assert "Q4-DRINK" not in bob and "¥3,000.00 × 2% = ¥60.00" in bob
    assert mgr == end                                           # the manager sees what the partner sees

    pushes = [(p["target"], p["text"]) for s in steps for p in s["pushes"]]
    to_mgr = [text for target, text in pushes if target == "mgr"]
    assert sum("违规提醒" in t for t in to_mgr) == 3            # two deviations and the 窜货, each pushed
    assert sum("申诉" in t and "申诉理由" in t for t in to_mgr) == 2
    assert any("窜货" in t and "苏州恒达商贸有限公司" in t for t in to_mgr)
    assert [t[:9] for target, t in pushes if target == "alice"] == ["❌ 您的申诉未通过", "✅ 您的申诉已通过"]

    _cli(db_url, "export", "rebates", "--to", "2026-12-31", "-o", str(tmp_path / "rebates.csv"))
    rebates = {(r["partner"], r["scheme"]): r for r in _rows(tmp_path / "rebates.csv")}
    water, drink, bob_water = rebates["P001", "Q4-WATER"], rebates["P001", "Q4-DRINK"], rebates["P002", "Q4-WATER"]
    assert (water["total"], water["payout"], water["next_threshold"], water["gap"], water["next_payout"]) == \
        ("4200.00", "84.00", "5000.00", "800.00", "150.00")
    assert (water["projected_total"], water["projected_payout"]) == ("4200.00", "84.00")
    assert (drink["total"], drink["payout"], drink["projected_payout"]) == ("600", "20.00", "20.00")
    assert (bob_water["total"], bob_water["payout"]) == ("3000.00", "60.00")
    assert ("P002", "Q4-DRINK") not in rebates                 # tier B is not in the scheme

    _cli(db_url, "export", "violations", "-o", str(tmp_path / "violations.csv"))
    violations = [(r["sale_id"], r["partner"], r["sku"], r["sold_on"], r["unit_price"], r["floor_price"],
                   r["gap_pct"], r["level"], r["status"]) for r in _rows(tmp_path / "violations.csv")]
    assert violations == [
        ("2", "P001", "A100", "2026-10-20", "1.04", "1.10", "5.30", "2", "open"),
        ("7", "P001", "", "2026-12-03", "", "", "", "1", "upheld"),
        ("9", "P001", "A100", "2026-12-15", "0.92", "1.00", "8.33", "2", "cleared"),
    ]

    _cli(db_url, "export", "sales", "-o", str(tmp_path / "sales.csv"))
    flags = {r["id"]: (r["status"], r["flags"]) for r in _rows(tmp_path / "sales.csv")}
    assert flags["10"][0] == "undone" and flags["1"] == ("confirmed", "")
    assert "below_floor" in flags["2"][1] and flags["7"][1] and "below_floor" in flags["9"][1]
