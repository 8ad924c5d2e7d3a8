"""Shared bits: the corpus location, percentiles, the sample catalog as parser SKUs."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "corpus"
CATALOG = ROOT / "services" / "data" / "catalog.csv"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def catalog_refs():
    from handlers.parsing import SkuRef

    rows = list(csv.DictReader(CATALOG.open(encoding="utf-8")))
    return [SkuRef(r["code"], r["name"], r["unit"], r["pack_unit"], int(r["pack_size"]),
                   int(Decimal(r["guide_price"]) * 100), tuple(a for a in r["aliases"].split(";") if a)) for r in rows]
