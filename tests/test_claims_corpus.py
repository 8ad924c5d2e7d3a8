"""The public claims corpus passes whole through `partnerbot import` and `partnerbot claims check
--batch`; a single probe with a bad phone or USCC is still answered."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
OWN = Path(__file__).resolve().parent / "data" / "claims"   # a copy, for clones without shared/ beside them
CORPUS = SHARED if (SHARED / "score_claims.py").exists() else OWN
PARTNERBOT = str(Path(sys.executable).parent / "partnerbot")


def test_public_claims_corpus_passes_whole():
    done = subprocess.run([sys.executable, str(CORPUS / "score_claims.py"), str(CORPUS / "claims_public.csv"),
                           str(CORPUS / "claims_public_probes.jsonl"), "--", PARTNERBOT],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("0 failed")


def test_claims_check_answers_one_probe_and_never_writes(tmp_path):
    env = dict(os.environ, PARTNERBOT_DATABASE_URL=f"sqlite:///{tmp_path}/c.db")

    def cli(*args, stdin=None):
        return subprocess.run([PARTNERBOT, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)

    assert cli("import", "partners", str(CORPUS / "partners.csv")).returncode == 0
    assert cli("import", "claims", str(CORPUS / "claims_public.csv")).returncode == 0
    one = cli("claims", "check", "南京好邻居", "--phone", "123", "--uscc", "XYZ")
    assert one.returncode == 0, one.stderr
    answer = json.loads(one.stdout)
    assert list(answer) == ["conflicts"] and len(answer["conflicts"]) == 1
    assert set(answer["conflicts"][0]) == {"claim_id", "customer", "partner", "reason", "score"}
    assert answer["conflicts"][0]["customer"] == "南京好邻居商贸有限公司" and "not a valid phone" in one.stderr
    phone = json.loads(cli("claims", "check", "--phone", "025 8456 1234").stdout)["conflicts"]
    assert [(c["customer"], c["reason"], c["score"]) for c in phone] == [("江苏苏果超市有限公司", "phone", 1.0)]
    batch = cli("claims", "check", "--batch", stdin='{"customer": null, "phone": null, "uscc": "91110000802100433B"}\n'
                                                   '\n{"customer": "无名小店"}\n')
    assert [json.loads(line)["conflicts"] for line in batch.stdout.splitlines()][1] == []
    assert json.loads(batch.stdout.splitlines()[0])["conflicts"][0]["reason"] == "uscc"
    bad = cli("claims", "check", "--batch", stdin="not json\n")
    assert bad.returncode != 0 and "stdin line 1" in bad.stderr
    assert cli("claims", "check").returncode == 2
    again = cli("export", "claims", "-o", str(tmp_path / "c.csv"))
    assert again.returncode == 0 and "10 claims rows" in again.stdout   # the checks wrote nothing
