"""Parser throughput on the public corpus, repeated, on one core (goal ≥ 2,000 messages/s).

Baseline in the same run: NFKC-normalising and regex-tokenising the same messages, the least
any parser must do, so the ratio says how much the understanding costs on top of reading."""
from __future__ import annotations

import json
import re
import time
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from .common import SHARED, catalog_refs

GOAL = 2000.0
ROUNDS = 40


def main() -> None:
    from handlers.parsing import SkuMatcher, parse_message

    cases = [json.loads(line) for line in (SHARED / "parse_public.jsonl").open(encoding="utf-8") if line.strip()]
    tz = ZoneInfo("Asia/Shanghai")
    work = [(c["text"], datetime.fromisoformat(c["now"]).astimezone(tz).date()) for c in cases]
    matcher = SkuMatcher(catalog_refs())
    for text, today in work:  # warm caches (pinyin, regexes)
        parse_message(text, matcher, today)
    n = len(work) * ROUNDS
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        for text, today in work:
            parse_message(text, matcher, today)
    parse_s = time.perf_counter() - t0
    token = re.compile(r"\w+|[^\w\s]")
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        for text, _today in work:
            token.findall(unicodedata.normalize("NFKC", text))
    base_s = time.perf_counter() - t0
    rate = n / parse_s
    print(f"messages: {n} ({len(work)} corpus lines × {ROUNDS})")
    print(f"parser:   {rate:,.0f} msg/s   ({parse_s / n * 1e6:,.0f} µs/msg)")
    print(f"baseline: {n / base_s:,.0f} msg/s   (NFKC + regex tokenise only)")
    print(f"ratio:    parser/goal = {rate / GOAL:.2f}×   parser/baseline = {base_s / parse_s:.3f}")
    print(f"goal ≥ {GOAL:,.0f} msg/s: {'met' if rate >= GOAL else 'NOT met'}")
