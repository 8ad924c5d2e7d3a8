"""Conflicts a claim would meet: live claims (pending, or approved and not expired) with the same USCC,
the same phone, or a company name that conflicts (services/company_names.py).

Fast by blocking: every claim stores, when written, its parsed name parts in columns and hashed name
keys in `claim_key`: the brand, the brand's pinyin, and for brands of four or more characters each
one-character deletion. Two brands within one typo share a key (a dropped or added character: the
shorter one is a deletion of the longer; a changed or swapped one: both share a deletion), so a
lookup fetches a few candidates by indexed equality and `conflict_score` decides. No scan, whatever
the number of claims.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from sqlalchemy import or_, select, union_all
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


def name_keys(name: names.CompanyName) -> list[str]:
    """The blocking keys of a parsed name: brand, pinyin of a Chinese brand, one-character deletions."""
    brand = name.brand
    if not brand:
        return []
    keys = {"n:" + brand}
    if names.HAN.search(brand):
        keys.add("p:" + names.pinyin(brand))
    if len(brand) >= MIN_DELETION_BRAND:
        keys.update("n:" + brand[:i] + brand[i + 1:] for i in range(len(brand)))
    return sorted(keys)


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
    parts = (parsed.folded[:200], parsed.brand[:100], parsed.region.key()[:100], parsed.industry[:100])
    return parts, tuple(sorted({key_hash(k) for k in name_keys(parsed)}))


def claim_keys(customer: str | names.CompanyName, phone: str | None = None, uscc: str | None = None) -> dict:
    """What a writer stores with a claim and locks: parsed name parts, normalised phone and USCC
    (None when absent or invalid), and the hashed name keys (`lookup`)."""
    parts, lookup = name_parts(customer)
    return {**dict(zip(PARTS, parts)), "phone": _clean_phone(phone), "uscc": _clean_uscc(uscc), "lookup": lookup}


def key_columns(keys: dict) -> dict:
    """CustomerClaim constructor arguments from `claim_keys` (phone and USCC are the writer's own)."""
    return {**{k: keys[k] for k in PARTS}, "lookup_keys": [ClaimKey(key=k) for k in keys["lookup"]]}


def index_rows(claim_id: int, keys: dict) -> list[dict]:
    """`claim_key` rows of one claim, for bulk writers that insert with Core rather than the ORM."""
    return [{"key": k, "claim_id": claim_id} for k in keys["lookup"]]


def lock_ids(keys: dict) -> list[int]:
    """The lock buckets of a claim: two claims that could conflict share at least one."""
    ids = {k % LOCK_BUCKETS for k in keys["lookup"]}
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


async def find_conflicts(uow: UnitOfWork, *, customer: str, phone: str | None = None, uscc: str | None = None,
                         exclude_partner_id: int | None = None, exclude_claim_id: int | None = None
                         ) -> list[Conflict]:
    """Live claims this customer would conflict with, one per claim by its strongest reason
    (uscc > phone > name), highest score first; an invalid phone or USCC is simply not used."""
    probe = names.parse(customer)
    keys = claim_keys(probe, phone, uscc)
    sources = []
    if keys["lookup"]:
        sources.append(select(ClaimKey.claim_id.label("id")).where(ClaimKey.key.in_(keys["lookup"])))
    if keys["phone"]:
        sources.append(select(CustomerClaim.id).where(CustomerClaim.phone == keys["phone"]))
    if keys["uscc"]:
        sources.append(select(CustomerClaim.id).where(CustomerClaim.uscc == keys["uscc"]))
    if not sources:
        return []
    ids = sources[0] if len(sources) == 1 else union_all(*sources)
    async with uow.reading() as ro:
        now = ro.now()
        stmt = (select(CustomerClaim.id, CustomerClaim.customer, Partner.code, CustomerClaim.phone, CustomerClaim.uscc,
                       CustomerClaim.brand_key, CustomerClaim.region_key, CustomerClaim.industry_key)
                .join(Partner, Partner.id == CustomerClaim.partner_id)
                .where(CustomerClaim.id.in_(ids),
                       # `status || ''`: no index on status may drive the plan (SQLite would scan them all)
                       CustomerClaim.status.concat("").in_(CLAIM_LIVE),
                       or_(CustomerClaim.expires_at.is_(None), CustomerClaim.expires_at > now)))
        if exclude_partner_id is not None:
            stmt = stmt.where(CustomerClaim.partner_id != exclude_partner_id)
        if exclude_claim_id is not None:
            stmt = stmt.where(CustomerClaim.id != exclude_claim_id)
        rows = (await ro.session.execute(stmt)).all()
    found: dict[int, Conflict] = {}
    for claim_id, name, partner, c_phone, c_uscc, brand, region, industry in rows:
        if claim_id in found:
            continue
        if keys["uscc"] and c_uscc == keys["uscc"]:
            found[claim_id] = Conflict(claim_id, name, partner, "uscc", 1.0)
        elif keys["phone"] and c_phone == keys["phone"]:
            found[claim_id] = Conflict(claim_id, name, partner, "phone", 1.0)
        else:
            score = names.conflict_score_parts(probe, brand, names.Region.from_key(region), industry)
            if score is not None:
                found[claim_id] = Conflict(claim_id, name, partner, "name", score)
    return sorted(found.values(), key=lambda c: (-c.score, REASON_RANK[c.reason], c.claim_id))
