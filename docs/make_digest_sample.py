"""Renders docs/daily-digest.png: the 江苏 digest of the replayed day in tests/transcripts/digest/.

    .venv/bin/python docs/make_digest_sample.py

Plays the transcript (up to the digest) into a throwaway SQLite database, builds the 江苏 digest
for 2026-11-18 and writes its chart; prints the text managers get with it.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.bootstrap import build_runtime  # noqa: E402
from bot.console import Replay  # noqa: E402
from services import demo, digest, digest_chart, digest_text  # noqa: E402
from services.config import Settings  # noqa: E402
from storage.uow import FixedClock  # noqa: E402

TRANSCRIPT = ROOT / "tests" / "transcripts" / "digest" / "digest.txt"
OUT = ROOT / "docs" / "daily-digest.png"


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database={"url": f"sqlite:///{tmp}/sample.db"})
        runtime = await build_runtime(settings, clock=FixedClock(), upgrade=True)
        try:
            await demo.load_demo(runtime.uow(), users=False)  # the demo catalog and partners, as `replay` has
            lines = [x for x in TRANSCRIPT.read_text(encoding="utf-8").splitlines() if not x.startswith("!job")]
            async for _ in Replay(runtime, base_dir=TRANSCRIPT.parent).play(lines):
                pass
            [jiangsu] = await digest.build(runtime.uow(), day=date(2026, 11, 18), regions=["江苏"])
            OUT.write_bytes(digest_chart.render_png(jiangsu))
            print(digest_text.render(jiangsu))
            print(f"\nwrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes)")
        finally:
            await runtime.dispose()


if __name__ == "__main__":
    asyncio.run(main())
