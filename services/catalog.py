"""Read side of the catalog and the network: SKUs and partners as plain frozen dataclasses,
and quantities shown in packs and loose units (`3箱5瓶`).

Each reader works inside an open unit of work, or opens a read-only one when the caller
has none."""
from __future__ import annotations

import unicodedata
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Partner, Sku
from storage.uow import UnitOfWork

from .actors import Actor, can_see_partner, scope_partners
from .errors import NotAllowed, NotFound


@dataclass(frozen=True)
class SkuInfo:
    id: int
    code: str
    name: str
    unit: str
    pack_unit: str
    pack_size: int
    guide_price_fen: int
    floor_price_fen: int
    safety_stock: int
    group: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerInfo:
    id: int
    code: str
    name: str
    tier: str
    region: str
    parent_code: str | None = None
    active: bool = True


class HasUnits(Protocol):
    unit: str
    pack_unit: str
    pack_size: int


@asynccontextmanager
async def _session(uow: UnitOfWork) -> AsyncIterator[AsyncSession]:
    """The caller's open session, or a read-only unit of work of our own."""
    if uow.session is not None:
        yield uow.session
        return
    async with uow.reading() as reader:
        yield reader.session


def _sku_info(sku: Sku) -> SkuInfo:
    """The plain view of a Sku row."""
    return SkuInfo(id=sku.id, code=sku.code, name=sku.name, unit=sku.unit, pack_unit=sku.pack_unit,
                   pack_size=sku.pack_size, guide_price_fen=sku.guide_price_fen,
                   floor_price_fen=sku.floor_price_fen, safety_stock=sku.safety_stock, group=sku.group_name,
                   aliases=tuple(a.alias for a in sorted(sku.aliases, key=lambda a: a.id)))


async def list_skus(uow: UnitOfWork, *, include_inactive: bool = False) -> list[SkuInfo]:
    """Every active SKU (or all of them), by code, with its aliases."""
    stmt = select(Sku).order_by(Sku.code)
    if not include_inactive:
        stmt = stmt.where(Sku.active.is_(True))
    async with _session(uow) as session:
        return [_sku_info(s) for s in (await session.scalars(stmt)).all()]


async def sku_row(session: AsyncSession, code: str) -> Sku:
    """The SKU row with this code (exact, else ignoring width and case); raises NotFound."""
    folded = unicodedata.normalize("NFKC", code).strip()
    sku = await session.scalar(select(Sku).where(Sku.code == folded))
    if sku is None:
        found = (await session.scalars(select(Sku).where(func.upper(Sku.code) == folded.upper()))).all()
        sku = found[0] if len(found) == 1 else None
    if sku is None:
        raise NotFound(what="sku", key=code)
    return sku


async def get_sku_by_code(uow: UnitOfWork, *, code: str) -> SkuInfo:
    """The SKU with this code (exact, else ignoring width and case); raises NotFound."""
    async with _session(uow) as session:
        return _sku_info(await sku_row(session, code))


def format_qty(qty: int, sku: HasUnits) -> str:
    """A base-unit quantity in packs and loose units: `3箱5瓶`, `20箱`, `5瓶`, `5台`."""
    if sku.pack_size <= 1 or sku.pack_unit == sku.unit:
        return f"{qty}{sku.unit}"
    sign = "-" if qty < 0 else ""
    packs, loose = divmod(abs(qty), sku.pack_size)
    if not packs:
        return f"{sign}{loose}{sku.unit}"
    return f"{sign}{packs}{sku.pack_unit}" + (f"{loose}{sku.unit}" if loose else "")


def _partner_select():
    """Partners with their parent's code."""
    parent = aliased(Partner)
    return select(Partner, parent.code).outerjoin(parent, Partner.parent_id == parent.id)


def _partner_info(partner: Partner, parent_code: str | None) -> PartnerInfo:
    """The plain view of a Partner row."""
    return PartnerInfo(id=partner.id, code=partner.code, name=partner.name, tier=partner.tier,
                       region=partner.region, parent_code=parent_code, active=partner.active)


async def list_partners(uow: UnitOfWork, *, actor: Actor, include_inactive: bool = False) -> list[PartnerInfo]:
    """The partners the actor may see (all, its own, or its regions'), by code."""
    stmt = scope_partners(_partner_select(), actor).order_by(Partner.code)
    if not include_inactive:
        stmt = stmt.where(Partner.active.is_(True))
    async with _session(uow) as session:
        return [_partner_info(p, parent) for p, parent in (await session.execute(stmt)).all()]


async def get_partner(uow: UnitOfWork, *, actor: Actor, code: str) -> PartnerInfo:
    """One partner by code; NotFound when there is none, NotAllowed when outside the actor's scope."""
    folded = unicodedata.normalize("NFKC", code).strip()
    async with _session(uow) as session:
        row = (await session.execute(_partner_select().where(Partner.code == folded))).first()
        if row is None:
            rows = (await session.execute(
                _partner_select().where(func.upper(Partner.code) == folded.upper()))).all()
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise NotFound(what="partner", key=code)
        partner, parent = row
        if not can_see_partner(actor, partner):
            raise NotAllowed(what="partner", partner=partner.code)
        return _partner_info(partner, parent)
