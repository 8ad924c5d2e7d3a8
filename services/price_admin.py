"""Price policies (价格体系) kept by admins: versions of guide and floor price per SKU, optionally per
partner tier and region, each from an effective date. A version is never changed or deleted: a new
price is a new row (audited: who, when, through which channel, the version it follows), so the
history of what applied when is complete. Setting the same prices again for the same scope and
date changes nothing. Which version applies to a sale: services/pricing.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from storage.models import Partner, PricePolicy, Sku, User
from storage.uow import UnitOfWork

from . import audit
from .actors import Actor, region_covers, require_role
from .errors import InvalidInput, NotFound
from .importing.partners import normalize_region
from .money import yuan_to_fen

FIELDS = ("sku_id", "tier", "region", "guide_price_fen", "floor_price_fen", "effective_from")


@dataclass(frozen=True)
class PolicyIn:
    """One version to write: prices in fen per base unit; blank tier/region = every one."""

    sku: str
    guide_fen: int
    floor_fen: int
    effective_from: date
    tier: str = ""
    region: str = ""


@dataclass(frozen=True)
class PolicyInfo:
    id: int | None              # None: the SKU's own default prices (no policy)
    sku: str
    sku_name: str
    unit: str
    tier: str
    region: str
    guide_fen: int
    floor_fen: int
    effective_from: date | None
    state: str = "in_force"     # in_force | scheduled | superseded | default
    created_at: datetime | None = None
    created_by: str | None = None


def price_problem(guide_fen: int | None, floor_fen: int | None) -> str | None:
    """What is wrong with a guide/floor pair, in words, or None."""
    if guide_fen is None or floor_fen is None:
        return None
    if guide_fen <= 0:
        return "指导价必须大于 0 (guide price must be above 0)"
    if floor_fen > guide_fen:
        return "最低价不能高于指导价 (floor above guide price)"
    return None


class Network:
    """Partner tiers and regions, to catch a scope that no partner falls in (a typo)."""

    def __init__(self, tiers: set[str], regions: set[str]):
        self.tiers, self.regions = tiers, regions

    @classmethod
    async def load(cls, uow: UnitOfWork) -> Network:
        rows = (await uow.session.execute(select(Partner.tier, Partner.region).where(Partner.active.is_(True)))).all()
        return cls({t for t, _ in rows if t}, {r for _, r in rows})

    def tier(self, tier: str) -> tuple[str, str | None]:
        """(the stored spelling, problem): tiers match partners' case-insensitively."""
        if not tier or not self.tiers:
            return tier, None
        for known in self.tiers:
            if known.casefold() == tier.casefold():
                return known, None
        return tier, f"没有等级为「{tier}」的经销商，现有等级：{'、'.join(sorted(self.tiers))}"

    def region(self, region: str) -> str | None:
        if not region or not self.regions or any(region_covers(region, r) for r in self.regions):
            return None
        return f"没有经销商在区域「{region}」内（区域写法如 江苏 或 江苏-南京）"


def scope_key(p) -> tuple:
    return (p.sku_id, p.tier, p.region, p.effective_from)


async def latest_versions(uow: UnitOfWork, sku_ids: list[int]) -> dict[tuple, PricePolicy]:
    """The newest row per (sku, tier, region, effective_from) of these SKUs."""
    out: dict[tuple, PricePolicy] = {}
    if sku_ids:
        rows = await uow.session.scalars(select(PricePolicy).where(PricePolicy.sku_id.in_(sku_ids))
                                         .order_by(PricePolicy.id))
        for p in rows:
            out[scope_key(p)] = p
    return out


async def write_versions(uow: UnitOfWork, *, actor: Actor, rows: list[PolicyIn], skus: dict[str, Sku]
                         ) -> list[tuple[PricePolicy, str]]:
    """Writes checked versions inside the open unit of work: (row, created | updated | unchanged) each;
    `updated` is a new version of a scope and date that had other prices."""
    latest = await latest_versions(uow, sorted({s.id for s in skus.values()}))
    out = []
    for r in rows:
        sku = skus[r.sku]
        key = (sku.id, r.tier, r.region, r.effective_from)
        old = latest.get(key)
        if old is not None and (old.guide_price_fen, old.floor_price_fen) == (r.guide_fen, r.floor_fen):
            out.append((old, "unchanged"))
            continue
        row = PricePolicy(sku_id=sku.id, tier=r.tier, region=r.region, guide_price_fen=r.guide_fen,
                          floor_price_fen=r.floor_fen, effective_from=r.effective_from, created_by_id=actor.user_id,
                          created_at=uow.now())
        uow.add(row)
        await uow.flush()
        latest[key] = row
        audit.record(uow, actor=actor, action="price.set", entity="price_policy", entity_id=row.id,
                     before={"id": old.id, **audit.snapshot(old, *FIELDS)} if old else None,
                     after={"sku": sku.code, **audit.snapshot(row, *FIELDS)})
        out.append((row, "updated" if old is not None else "created"))
    return out


async def _sku(uow: UnitOfWork, code: str) -> Sku:
    sku = await uow.session.scalar(select(Sku).where(Sku.code == code.strip().upper()))
    if sku is None:
        sku = await uow.session.scalar(select(Sku).where(Sku.code == code.strip()))
    if sku is None:
        raise NotFound(what="sku", key=code)
    return sku


def today(uow: UnitOfWork) -> date:
    return uow.now().astimezone(uow.settings.tz).date()


def _info(p: PricePolicy, sku: Sku, state: str, creator: str | None = None) -> PolicyInfo:
    return PolicyInfo(p.id, sku.code, sku.name, sku.unit, p.tier, p.region, p.guide_price_fen, p.floor_price_fen,
                      p.effective_from, state, p.created_at, creator)


async def set_policy(uow: UnitOfWork, *, actor: Actor, sku: str, guide: str | Decimal, floor: str | Decimal,
                     tier: str = "", region: str = "", effective_from: date | None = None) -> tuple[PolicyInfo, str]:
    """An admin sets a version (today unless dated); returns it and created | updated | unchanged."""
    require_role(actor, "admin")
    guide_fen, floor_fen = yuan_to_fen(guide), yuan_to_fen(floor)
    problem = price_problem(guide_fen, floor_fen)
    if problem:
        raise InvalidInput(reason=problem)
    async with uow:
        s = await _sku(uow, sku)
        network = await Network.load(uow)
        tier, tier_problem = network.tier(tier.strip())
        region = normalize_region(region)
        problem = tier_problem or network.region(region)
        if problem:
            raise InvalidInput(reason=problem)
        when = effective_from or today(uow)
        ((row, status),) = await write_versions(uow, actor=actor, skus={s.code: s}, rows=[
            PolicyIn(s.code, guide_fen, floor_fen, when, tier, region)])
        result = _info(row, s, "in_force" if when <= today(uow) else "scheduled")
        await uow.commit()
    return result, status


def _states(rows: list[PricePolicy], on: date) -> dict[int, str]:
    """in_force / scheduled / superseded for each version, scope by scope."""
    states: dict[int, str] = {}
    scopes: dict[tuple, list[PricePolicy]] = {}
    for p in sorted(rows, key=lambda p: (p.effective_from, p.id)):
        scopes.setdefault((p.sku_id, p.tier, p.region), []).append(p)
    for versions in scopes.values():
        current = [p for p in versions if p.effective_from <= on]
        last_per_day = {p.effective_from: p.id for p in versions}
        for p in versions:
            if p.effective_from > on:
                states[p.id] = "scheduled" if last_per_day[p.effective_from] == p.id else "superseded"
            else:
                states[p.id] = "in_force" if p is current[-1] else "superseded"
    return states


def _order(p: PolicyInfo) -> tuple:
    return (p.sku, p.id is not None, bool(p.tier) + bool(p.region), p.region, p.tier, p.effective_from or date.min,
            p.id or 0)


async def list_policies(uow: UnitOfWork, *, actor: Actor, sku: str | None = None) -> list[PolicyInfo]:
    """What is in force today per SKU and scope (the SKU's own prices where no general policy is),
    and the versions scheduled for later days."""
    require_role(actor, "manager")
    async with uow.reading() as ro:
        skus = [await _sku(ro, sku)] if sku else list(await ro.session.scalars(
            select(Sku).where(Sku.active.is_(True)).order_by(Sku.code)))
        by_id = {s.id: s for s in skus}
        rows = list(await ro.session.scalars(select(PricePolicy).where(PricePolicy.sku_id.in_(list(by_id)))))
        states = _states(rows, today(ro))
        out = [_info(p, by_id[p.sku_id], states[p.id]) for p in rows if states[p.id] != "superseded"]
        general = {p.sku_id for p in rows if states[p.id] == "in_force" and not p.tier and not p.region}
        out += [PolicyInfo(None, s.code, s.name, s.unit, "", "", s.guide_price_fen, s.floor_price_fen, None,
                           "default") for s in skus if s.id not in general]
    return sorted(out, key=_order)


async def history(uow: UnitOfWork, *, actor: Actor, sku: str) -> list[PolicyInfo]:
    """Every version of a SKU's policies, oldest first, with who wrote it and its state today."""
    require_role(actor, "manager")
    async with uow.reading() as ro:
        s = await _sku(ro, sku)
        rows = (await ro.session.execute(
            select(PricePolicy, User.name).outerjoin(User, User.id == PricePolicy.created_by_id)
            .where(PricePolicy.sku_id == s.id).order_by(PricePolicy.effective_from, PricePolicy.id))).all()
        states = _states([p for p, _ in rows], today(ro))
        return [_info(p, s, states[p.id], name) for p, name in rows]
