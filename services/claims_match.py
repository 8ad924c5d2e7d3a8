"""Conflicts a claim would meet: live claims (pending, or approved and not expired) with the same USCC,
the same phone, or a company name that conflicts (services/company_names.py).

Fast by blocking: every claim stores, when written, its parsed name parts in columns and hashed name
keys in `claim_key`: its brand (`n:`), the brand's pinyin (`p:`) and, for brands of four or more
characters, each one-character deletion (`d:`), for every reading of the name (昆山天福便利: 天福 and
昆山天福). Brands within one typo meet on a key: a probe looks up its brand among brands and deletions
(a character added or the same), its deletions among brands (a character dropped) and, from five
characters, among deletions (one changed or two swapped). So a lookup fetches a few candidates by
indexed equality and `conflict_score` decides: no scan, whatever the number of claims.

The region column holds each reading's region, `|`-separated (`320583|`), and a claim's keys carry
the one province all its readings lie in, or 0: a name that may be read without a place is looked up
from every province.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import ARRAY, Integer, any_, cast, func, or_, select, union_all
from sqlalchemy.dialects import postgresql

from storage.models import CLAIM_LIVE, ClaimKey, ClaimLock, CustomerClaim, Partner
from storage.uow import UnitOfWork

from . import company_names as names
from . import phones
from .errors import InvalidInput
from .uscc import validate as validate_uscc

REASON_RANK = {"uscc": 0, "phone": 1, "name": 2}
LOCK_BUCKETS = 1 << 20   # lock rows are buckets of keys: the table stays bounded, a clash only waits
MIN_DELETION_BRAND = 4   # deletions of a 3-character brand are 2 characters: too short to be a typo
PARTS = ("name_key", "brand_key", "region_key", "industry_key")
REGION_SEPARATOR = "|"


@dataclass(frozen=True)
class Conflict:
    claim_id: int
    customer: str
    partner: str
    reason: str     # uscc | phone | name
    score: float


def key_hash(key: str) -> int:
    """A signed 64-bit hash of a key text, stable across processes and databases (CRC-32 and
    Adler-32 side by side: cheap, and a rare clash only adds a candidate that the check drops)."""
    data = key.encode()
    return (zlib.crc32(data) << 32 | zlib.adler32(data)) - (1 << 63)


def _deletions(brand: str) -> set[str]:
    return {brand[:i] + brand[i + 1:] for i in range(len(brand))} if len(brand) >= MIN_DELETION_BRAND else set()


def _brands(name: names.CompanyName) -> dict[str, bool]:
    """Each reading's brand → whether typos count for it (not for a place word read as brand)."""
    if len(name.readings) == 1:
        return {name.brand: True} if name.brand else {}
    out: dict[str, bool] = {}
    for r in name.readings:
        if r.brand:
            out[r.brand] = out.get(r.brand, False) or not r.alternative
    return out


def _sound(brand: str) -> tuple[str, ...]:
    return ("p:" + names.pinyin(brand),) if names.HAN.search(brand) else ()


def name_keys(name: names.CompanyName) -> list[str]:
    """The keys a claim stores: brand, pinyin of a Chinese brand, one-character deletions (of every
    reading; deletions only where typos count)."""
    keys: set[str] = set()
    for brand, typos in _brands(name).items():
        keys.update(("n:" + brand, *_sound(brand), *("d:" + d for d in (_deletions(brand) if typos else ()))))
    return sorted(keys)


def probe_keys(name: names.CompanyName) -> list[str]:
    """The keys a probe looks up: every stored key of a brand within one typo of one of its own, and
    those of the brands a slip reading can meet (names.slip_reading)."""
    keys: set[str] = set(_slip_keys(name))
    for brand, typos in _brands(name).items():
        keys.update(("n:" + brand, *_sound(brand)))
        if not typos:
            continue
        dels = _deletions(brand)
        keys.update("n:" + d for d in dels)
        if len(brand) >= 3:
            keys.add("d:" + brand)
        if len(brand) > MIN_DELETION_BRAND:
            keys.update("d:" + d for d in dels)
    return sorted(keys)


def _slip_keys(name: names.CompanyName) -> set[str]:
    """The brand a slip reading leaves (清荷餐钦 → 清荷), and the probe's own brand with one character
    of each two-character trade it states (清荷 + 餐饮 → 清荷餐, 清荷饮): a deletion the stored 清荷餐钦 has."""
    if not name.brand:
        return set()
    slipped = names.slip_reading(name.readings[0])
    out = {"n:" + slipped.brand} if slipped else set()
    for reading in name.readings:
        for word in reading.industry.split(names.SEPARATOR):
            if len(word) == 2 and reading.brand and names.HAN.search(word):
                out.update(("d:" + reading.brand + word[0], "d:" + reading.brand + word[1]))
    return out


def _lock_strings(name: names.CompanyName) -> set[str]:
    """Keys without their kind: two brands within one typo share one (the shorter, or a deletion;
    a slip reading's brand and the brand it slips from share the shorter)."""
    slipped = names.slip_reading(name.readings[0]) if name.brand else None
    out: set[str] = {slipped.brand} if slipped else set()
    for brand, typos in _brands(name).items():
        out.update((brand, *_sound(brand), *(_deletions(brand) if typos else ())))
    return out


def region_key(name: names.CompanyName) -> str:
    """Each reading's region key, `|`-separated (one reading: just its key, as before readings)."""
    return REGION_SEPARATOR.join(r.region.key() for r in name.readings) if name.readings else ""


def stored_readings(region_key_: str) -> tuple[names.Region, ...]:
    """The regions a stored region column names, one per reading."""
    return tuple(names.Region.from_key(k) for k in region_key_.split(REGION_SEPARATOR))


def _clean_phone(phone: str | None) -> str | None:
    return phones.normalize_or_none(phone)


def _clean_uscc(code: str | None) -> str | None:
    if not code or not code.strip():
        return None
    try:
        return validate_uscc(code)
    except InvalidInput:
        return None


def name_parts(customer: str | names.CompanyName) -> tuple[tuple[str, str, str, str], tuple[int, ...]]:
    """(name_key, brand_key, region_key, industry_key) of a customer name and its hashed name keys."""
    parsed = customer if isinstance(customer, names.CompanyName) else names.parse(customer)
    regions = region_key(parsed)
    if len(regions) > 100:  # too long to store whole: the first reading's region alone, its province none
        regions = parsed.region.key() + REGION_SEPARATOR
    parts = (parsed.folded[:200], parsed.brand[:100], regions, parsed.industry[:100])
    return parts, tuple(sorted({key_hash(k) for k in name_keys(parsed)}))


def claim_keys(customer: str | names.CompanyName, phone: str | None = None, uscc: str | None = None) -> dict:
    """What a writer stores with a claim and locks: parsed name parts, normalised phone and USCC
    (None when absent or invalid), the hashed name keys (`lookup`) and lock keys (`locks`)."""
    parsed = customer if isinstance(customer, names.CompanyName) else names.parse(customer)
    parts, lookup = name_parts(parsed)
    return {**dict(zip(PARTS, parts)), "phone": _clean_phone(phone), "uscc": _clean_uscc(uscc), "lookup": lookup,
            "locks": tuple(sorted({key_hash(k) for k in _lock_strings(parsed)}))}


def key_columns(keys: dict) -> dict:
    """CustomerClaim constructor arguments from `claim_keys` (phone and USCC are the writer's own)."""
    province = province_of(keys["region_key"])
    return {**{k: keys[k] for k in PARTS},
            "lookup_keys": [ClaimKey(key=k, province=province) for k in keys["lookup"]]}


def index_rows(claim_id: int, keys: dict) -> list[dict]:
    """`claim_key` rows of one claim, for bulk writers that insert with Core rather than the ORM."""
    province = province_of(keys["region_key"])
    return [{"key": k, "province": province, "claim_id": claim_id} for k in keys["lookup"]]


def stored_index(customer: str) -> tuple[tuple[str, str, str, str], int, tuple[int, ...]]:
    """What a stored claim keeps for lookups — its name parts, province and keys — as the composition
    root hands it to migrations that rewrite them (storage never imports these rules)."""
    parts, lookup = name_parts(customer)
    return parts, province_of(parts[2]), lookup


def province_of(region_key_: str) -> int:
    """The province code of a stored region as a number: the one every reading lies in, 0 when a
    reading names none or they differ."""
    found = {r.province for r in stored_readings(region_key_)}
    return int(found.pop() or 0) if len(found) == 1 else 0


def probe_provinces(name: names.CompanyName) -> tuple[int, ...] | None:
    """The provinces whose keys a probe reads (with 0, the claims naming none), or None for all:
    claims elsewhere cannot conflict by name, so the index skips them."""
    found: set[int] = set()
    for reading in name.readings:
        if not reading.region.provinces:
            return None
        found.update(int(p) for p in reading.region.provinces)
    return (0, *sorted(found)) if found else None


def lock_ids(keys: dict) -> list[int]:
    """The lock buckets of a claim: two claims that could conflict share at least one."""
    ids = {k % LOCK_BUCKETS for k in keys["locks"]}
    if keys.get("phone"):
        ids.add(key_hash("t:" + keys["phone"]) % LOCK_BUCKETS)
    if keys.get("uscc"):
        ids.add(key_hash("u:" + keys["uscc"]) % LOCK_BUCKETS)
    return sorted(ids)


async def lock_keys(uow: UnitOfWork, keys: dict) -> None:
    """Serializes writers of one customer inside the open unit of work: on PostgreSQL the key buckets'
    `claim_lock` rows are created if new and locked `FOR UPDATE` in sorted order (SQLite already
    runs one writer at a time, BEGIN IMMEDIATE)."""
    session = uow.session
    if session.bind.dialect.name != "postgresql":
        return
    ids = lock_ids(keys)
    if not ids:
        return
    await session.execute(postgresql.insert(ClaimLock).values([{"key": i} for i in ids]).on_conflict_do_nothing())
    await session.execute(select(ClaimLock.key).where(ClaimLock.key.in_(ids)).order_by(ClaimLock.key)
                          .with_for_update())


def _candidates(dialect: str, ids, now, exclude_partner_id: int | None, exclude_claim_id: int | None):
    """The live claims among the ids the subquery `ids` finds, with what the check needs."""
    if dialect == "postgresql":  # an array the planner cannot misjudge: index lookups, never a scan
        found = ids.subquery()
        where = CustomerClaim.id == any_(cast(select(func.array_agg(found.c.id)).scalar_subquery(),
                                              ARRAY(Integer)))
    else:
        where = CustomerClaim.id.in_(ids)
    stmt = (select(CustomerClaim.id, Partner.code, CustomerClaim.customer, CustomerClaim.phone, CustomerClaim.uscc,
                   CustomerClaim.brand_key, CustomerClaim.region_key, CustomerClaim.industry_key)
            .join(Partner, Partner.id == CustomerClaim.partner_id)
            .where(where,
                   # `status || ''`: no index on status may drive the plan (SQLite would scan them all)
                   CustomerClaim.status.concat("").in_(CLAIM_LIVE),
                   or_(CustomerClaim.expires_at.is_(None), CustomerClaim.expires_at > now)))
    if exclude_partner_id is not None:
        stmt = stmt.where(CustomerClaim.partner_id != exclude_partner_id)
    if exclude_claim_id is not None:
        stmt = stmt.where(CustomerClaim.id != exclude_claim_id)
    return stmt


async def find_conflicts(uow: UnitOfWork, *, customer: str, phone: str | None = None, uscc: str | None = None,
                         exclude_partner_id: int | None = None, exclude_claim_id: int | None = None
                         ) -> list[Conflict]:
    """Live claims this customer would conflict with, one per claim by its strongest reason
    (uscc > phone > name), highest score first; an invalid phone or USCC is simply not used."""
    probe = names.parse(customer)
    keys = {"phone": _clean_phone(phone), "uscc": _clean_uscc(uscc)}
    lookup = sorted({key_hash(k) for k in probe_keys(probe)})
    sources = []
    if lookup:
        by_key = select(ClaimKey.claim_id.label("id")).where(ClaimKey.key.in_(lookup))
        provinces = probe_provinces(probe)
        if provinces is not None:
            by_key = by_key.where(ClaimKey.province.in_(provinces))
        sources.append(by_key)
    if keys["phone"]:
        sources.append(select(CustomerClaim.id).where(CustomerClaim.phone == keys["phone"]))
    if keys["uscc"]:
        sources.append(select(CustomerClaim.id).where(CustomerClaim.uscc == keys["uscc"]))
    if not sources:
        return []
    ids = sources[0] if len(sources) == 1 else union_all(*sources)
    async with uow.reading() as ro:
        conn = await ro.session.connection()
        stmt = _candidates(conn.dialect.name, ids, ro.now(), exclude_partner_id, exclude_claim_id)
        conflicts = _check(probe, keys, (await conn.execute(stmt)).all())
    return sorted(conflicts, key=lambda c: (-c.score, REASON_RANK[c.reason], c.claim_id))


def _check(probe: names.CompanyName, keys: dict, rows) -> list[Conflict]:
    """The candidates that conflict, each by its strongest reason."""
    out = []
    for claim_id, partner, name, c_phone, c_uscc, brand, region, industry in rows:
        if keys["uscc"] and c_uscc == keys["uscc"]:
            out.append(Conflict(claim_id, name, partner, "uscc", 1.0))
        elif keys["phone"] and c_phone == keys["phone"]:
            out.append(Conflict(claim_id, name, partner, "phone", 1.0))
        elif (score := _name_score(probe, name, brand, region, industry)) is not None:
            out.append(Conflict(claim_id, name, partner, "name", score))
    return out


_parse_stored = lru_cache(maxsize=1 << 14)(names.parse)  # the few stored names read more than one way


def _name_score(probe: names.CompanyName, customer: str, brand: str, region: str, industry: str) -> float | None:
    """The name conflict score against a stored claim: its stored parts are its first reading; a claim
    stored with several readings is split again for the others (cached)."""
    regions = stored_readings(region)
    score = names.conflict_score_parts(probe, names.Reading(brand, regions[0], industry, ""))
    if len(regions) > 1:
        for other in _parse_stored(customer).readings[1:]:
            more = names.conflict_score_parts(probe, other, first=False)
            score = more if score is None or (more is not None and more > score) else score
    return score
