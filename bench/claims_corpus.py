"""The claim check against our own claim corpus (tests/corpus/claims/), through the §8.4 command
line exactly as score_claims.py drives it: recall on probes that should conflict and the share of
look-alikes left alone, per half (development / held-out, by a hash of the probe's name)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .corpus import CORPUS, half

GOAL = 0.95
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def _run(args: list[str], env: dict, stdin: str | None = None) -> str:
    done = subprocess.run([PARTNERBOT, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"partnerbot {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def score_claims(folder: Path = CORPUS / "claims", *, blind: bool = False) -> dict:
    """{half: {"recall": [hit, should], "clean": [ok, total]}, "failures": [...]}; a blind set (written
    apart from the code and from the other set, never read while tuning) is all held out."""
    probes = [json.loads(x) for x in (folder / "probes.jsonl").open(encoding="utf-8") if x.strip()]
    out = {h: {"recall": [0, 0], "clean": [0, 0]} for h in ("dev", "held_out")}
    out["failures"] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PARTNERBOT_DATABASE_URL=f"sqlite:///{tmp}/claims.db")
        _run(["import", "partners", str(folder / "partners.csv")], env)
        _run(["import", "claims", str(folder / "claims.csv")], env)
        stdin = "".join(json.dumps({k: p[k] for k in ("customer", "phone", "uscc")}, ensure_ascii=False) + "\n"
                        for p in probes)
        answers = [x for x in _run(["claims", "check", "--batch"], env, stdin).splitlines() if x.strip()]
    for probe, line in zip(probes, answers, strict=True):
        got = {c["customer"] for c in json.loads(line).get("conflicts", [])}
        want = set(probe["expect"])
        part = out["held_out" if blind else half(probe["customer"])]
        if want:
            part["recall"][1] += 1
            part["recall"][0] += want <= got
        else:
            part["clean"][1] += 1
            part["clean"][0] += not got
        if got != want:
            out["failures"].append({**probe, "got": sorted(got), "half": "held_out" if blind else half(probe["customer"])})
    return out


def main() -> None:
    print(f"claims corpus, goal ≥ {GOAL:.0%} recall and ≥ {GOAL:.0%} of look-alikes left alone per half")
    _print(score_claims(), ("dev", "held_out"))
    print("blind claims set (tests/corpus/claims_blind/, all held out)")
    _print(score_claims(CORPUS / "claims_blind", blind=True), ("held_out",))


def _print(result: dict, parts) -> None:
    for name in parts:
        (hit, should), (ok, clean) = result[name]["recall"], result[name]["clean"]
        print(f"  {name:<9} recall {hit}/{should} = {hit / should:.1%}   look-alikes left alone {ok}/{clean} = "
              f"{ok / clean:.1%}")


if __name__ == "__main__":
    main()
