"""Who is asking, and what they may see. Scoping is enforced here, in services."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, or_

from storage.models import Partner

from .errors import NotAllowed


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: str                    # member | owner | manager | admin | system
    partner_id: int | None = None
    partner_code: str | None = None
    regions: tuple[str, ...] = ()
    channel: str = ""
    identity_id: int | None = None
    locale: str = "zh-CN"

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "system")

    @property
    def is_partner_side(self) -> bool:
        return self.role in ("member", "owner")


SYSTEM = Actor(user_id=None, name="system", role="system", channel="system")


def region_covers(prefix: str, region: str) -> bool:
    """`江苏` covers `江苏` and `江苏-南京`, not `江苏省外`; segments are split by `-`."""
    return region == prefix or region.startswith(prefix + "-")


def can_see_partner(actor: Actor, partner: Partner) -> bool:
    if actor.is_admin:
        return True
    if actor.is_partner_side:
        return partner.id == actor.partner_id
    if actor.role == "manager":
        return any(region_covers(p, partner.region) for p in actor.regions)
    return False


def require_partner(actor: Actor, partner: Partner) -> None:
    if not can_see_partner(actor, partner):
        raise NotAllowed(what="partner", partner=partner.code)


def require_role(actor: Actor, *roles: str) -> None:
    if not (actor.is_admin or actor.role in roles):
        raise NotAllowed(what="role", need=roles)


def scope_partners(stmt: Select, actor: Actor) -> Select:
    """Restricts a select that involves `Partner` to the partners the actor may see."""
    if actor.is_admin:
        return stmt
    if actor.is_partner_side:
        return stmt.where(Partner.id == actor.partner_id)
    if actor.role == "manager" and actor.regions:
        conds = [or_(Partner.region == p, Partner.region.startswith(p + "-", autoescape=True))
                 for p in actor.regions]
        return stmt.where(or_(*conds))
    return stmt.where(false())
