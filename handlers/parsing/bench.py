"""Throughput check for the free-text parser (not a timed test): messages per second on one core.

    .venv/bin/python -m handlers.parsing.bench [CORPUS.jsonl] [--rounds N] [--catalog CSV]

Parses every message of the corpus (the public one by default) N times with one matcher, as the
bot does, and prints messages per second. The goal is well over 2,000.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from . import SkuMatcher, SkuRef, parse_message

ROOT = Path(__file__).resolve().parents[2]

SHARED = ROOT.parent / "shared" / "corpus" / "parse_public.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(SHARED))
    ap.add_argument("--catalog", default=str(ROOT / "tests" / "data" / "parser_catalog.csv"))
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    with open(args.catalog, encoding="utf-8") as f:
        skus = [SkuRef(r["code"], r["name"], r["unit"], r["pack_unit"], int(r["pack_size"]),
                       int(Decimal(r["guide_price"]) * 100), tuple(a for a in r["aliases"].split(";") if a))
                for r in csv.DictReader(f)]
    matcher = SkuMatcher(skus)
    cases = [json.loads(x) for x in open(args.corpus, encoding="utf-8") if x.strip()]
    msgs = [(c["text"], datetime.fromisoformat(c["now"]).date() if c.get("now") else date.today()) for c in cases]
    start = time.perf_counter()
    for text, today in msgs:  # the first pass fills the caches, as a running bot has
        parse_message(text, matcher, today)
    print(f"first pass: {len(msgs) / (time.perf_counter() - start):,.0f} messages/s")
    start = time.perf_counter()
    for _ in range(args.rounds):
        for text, today in msgs:
            parse_message(text, matcher, today)
    elapsed = time.perf_counter() - start
    n = args.rounds * len(msgs)
    print(f"{n} messages in {elapsed:.2f} s: {n / elapsed:,.0f} messages/s")


if __name__ == "__main__":
    main()
