"""Our own corpus (tests/corpus/): accuracy of the parser and the claim check, per kind and per half.

    .venv/bin/python -m bench corpus

Messages and probes were written by personas (voice input, an older owner, a young clerk with emoji
and English, Hong Kong / Taiwan users, a manager's shorthand), each against a catalog. Every case
falls in the development half or the held-out half by a hash of its text, fixed once; the held-out
half is only scored, never read while tuning. The suite (tests/test_corpus.py) fails below the
thresholds printed here."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"
PARSE_GOAL = 0.95
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def half(text: str) -> str:
    """`dev` or `held_out`, by the text's hash (stable across runs and machines)."""
    return "held_out" if hashlib.sha1(text.encode("utf-8")).digest()[0] % 2 else "dev"


def load_catalog(name: str):
    from handlers.parsing import SkuMatcher, SkuRef
    with (CORPUS / f"catalog_{name}.csv").open(encoding="utf-8") as fh:
        return SkuMatcher([SkuRef(r["code"], r["name"], r["unit"], r["pack_unit"], int(r["pack_size"]),
                                  int(Decimal(r["guide_price"]) * 100), tuple(a for a in r["aliases"].split(";") if a))
                           for r in csv.DictReader(fh)])


def parse_cases() -> list[dict]:
    cases = []
    for path in sorted((CORPUS / "parse").glob("*.jsonl")):
        for number, line in enumerate(path.open(encoding="utf-8"), start=1):
            if line.strip():
                case = json.loads(line)
                case["where"] = f"{path.name}:{number}"
                cases.append(case)
    return cases


def _fold(text):
    if text is None:
        return None
    from handlers.parsing.fold import simplified
    return _PUNCT.sub("", simplified(unicodedata.normalize("NFKC", str(text))).lower()) or None


def wrong_fields(expect: dict, got: dict) -> list[str]:
    """The fields that differ, compared as score_parse.py does (customers folded, items as sets)."""
    wrong = []
    for key, want in expect.items():
        have = got.get(key)
        if key == "items":
            fields = sorted({f for item in want for f in item})
            rows = lambda items: sorted((tuple((f, i.get(f)) for f in fields) for i in items or []), key=repr)  # noqa: E731
            if rows(want) != rows(have):
                wrong.append(key)
        elif key == "missing":
            if sorted(want) != sorted(have or []):
                wrong.append(key)
        elif key == "customer":
            if _fold(want) != _fold(have):
                wrong.append(key)
        elif want != have:
            wrong.append(key)
    return wrong


def score_parse(cases: list[dict] | None = None) -> dict:
    """{"dev"|"held_out": (passed, total), "kinds": {kind: [passed, total]}, "failures": [...]}."""
    from handlers.parsing import parse_message
    tz = ZoneInfo("Asia/Shanghai")
    matchers: dict[str, object] = {}
    out = {"dev": [0, 0], "held_out": [0, 0], "kinds": defaultdict(lambda: [0, 0]), "failures": []}
    for case in cases if cases is not None else parse_cases():
        name = case.get("catalog", "water")
        matcher = matchers.get(name) or matchers.setdefault(name, load_catalog(name))
        today = datetime.fromisoformat(case["now"]).astimezone(tz).date()
        got = parse_message(case["text"], matcher, today)
        wrong = wrong_fields(case["expect"], got)
        part = half(case["text"])
        out[part][1] += 1
        out[part][0] += not wrong
        for kind in case.get("kinds", []) or ["untagged"]:
            out["kinds"][kind][1] += 1
            out["kinds"][kind][0] += not wrong
        if wrong:
            out["failures"].append({**case, "half": part, "got": got, "wrong": wrong})
    return out


def _ratio(pair) -> str:
    passed, total = pair
    return f"{passed}/{total} = {passed / total:.1%}" if total else "0/0"


def main() -> None:
    result = score_parse()
    print(f"parse corpus ({sum(result['dev'][1:]) + result['held_out'][1]} messages), goal ≥ {PARSE_GOAL:.0%} per half")
    print(f"  development half: {_ratio(result['dev'])}")
    print(f"  held-out half:    {_ratio(result['held_out'])}")
    print("  per kind:")
    for kind, pair in sorted(result["kinds"].items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0])):
        print(f"    {kind:<24} {_ratio(pair)}")
    try:
        from .claims_corpus import main as claims_main
    except ImportError:
        return
    claims_main()


if __name__ == "__main__":
    main()
