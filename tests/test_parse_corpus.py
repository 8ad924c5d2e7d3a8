"""The public parse corpus passes whole through `partnerbot parse --catalog … --batch`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


@pytest.mark.skipif(not (SHARED / "score_parse.py").exists(), reason="shared corpus not beside the repo")
def test_public_parse_corpus_passes_whole():
    done = subprocess.run([sys.executable, str(SHARED / "score_parse.py"), str(SHARED / "parse_public.jsonl"), "--",
                           PARTNERBOT, "parse", "--catalog", str(SHARED / "catalog.csv"), "--batch"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("0 failed")
