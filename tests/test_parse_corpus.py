"""The public parse corpus passes whole through `partnerbot parse --catalog … --batch`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
OWN = Path(__file__).resolve().parent / "data"   # a copy, for clones without shared/ beside them
CORPUS = SHARED if (SHARED / "score_parse.py").exists() else OWN
CATALOG = SHARED / "catalog.csv" if CORPUS is SHARED else OWN / "parser_catalog.csv"
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def test_public_parse_corpus_passes_whole():
    done = subprocess.run([sys.executable, str(CORPUS / "score_parse.py"), str(CORPUS / "parse_public.jsonl"), "--",
                           PARTNERBOT, "parse", "--catalog", str(CATALOG), "--batch"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("0 failed")
