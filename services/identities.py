"""Chat identities, invites and binding: who a message comes from, and what role they hold.

Nobody gets partner data by saying who they are: an identity is bound to a user only by a
single-use, expiring invite code that an admin (or a partner's owner, for its members) issues.
Codes are stored as SHA-256 hashes.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.models import ROLES, ChatIdentity, Invite, Partner, User, UserRegion
from storage.uow import UnitOfWork

from . import audit
from .actors import Actor, can_see_partner
from .errors import AlreadyBound, InvalidInput, InviteInvalid, NotAllowed, NotFound

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CODE_LENGTH = 8
ACTIVITY_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class InviteIssued:
    code: str
    role: str
    partner_code: str | None
    regions: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class Identity:
    id: int
    channel: str
    external_id: str
    chat_id: str


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def _actor_for(user: User, partner: Partner | None, identity: ChatIdentity | None) -> Actor:
    return Actor(user_id=user.id, name=user.name, role=user.role, partner_id=user.partner_id,
                 partner_code=partner.code if partner else None,
                 regions=tuple(r.region for r in user.regions),
                 channel=identity.channel if identity else "", identity_id=identity.id if identity else None,
                 locale=user.locale)


_USER = (User.id, User.name, User.role, User.partner_id, User.locale, User.active)


async def resolve(uow: UnitOfWork, *, channel: str, external_id: str, chat_id: str = "",
                  display_name: str = "") -> tuple[Identity, Actor | None]:
    """Finds or creates the chat identity, notes its activity, and returns its actor (None if unbound).

    One query reads the identity, its user's columns and the partner; a manager's regions are a
    second. The partner stays in the unit of work's session, so services asking for it again
    (`session.get(Partner, …)`) find it there."""
    async with uow:
        row = (await uow.session.execute(
            select(ChatIdentity, *_USER, Partner).outerjoin(User, User.id == ChatIdentity.user_id)
            .outerjoin(Partner, Partner.id == User.partner_id)
            .where(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id))).first()
        ident, user, partner = (row[0], row[1:7], row[7]) if row else (None, None, None)
        now = uow.now()
        if ident is None:
            ident = ChatIdentity(channel=channel, external_id=external_id, chat_id=chat_id or external_id,
                                 display_name=display_name, created_at=now, last_inbound_at=now)
            uow.add(ident)
            await uow.flush()
        elif ident.last_inbound_at is None or now - ident.last_inbound_at > ACTIVITY_RESOLUTION:
            ident.last_inbound_at = now  # the 48-hour reply window needs minutes, not every message
        if chat_id and ident.chat_id != chat_id:
            ident.chat_id = chat_id
        actor = None
        if user is not None and user[0] is not None and user[5]:
            user_id, name, role, partner_id, locale, _ = user
            regions = ()
            if role == "manager":
                regions = tuple(await uow.session.scalars(
                    select(UserRegion.region).where(UserRegion.user_id == user_id).order_by(UserRegion.id)))
            if partner is not None:
                uow.session.info.setdefault("pinned", []).append(partner)
            actor = Actor(user_id=user_id, name=name, role=role, partner_id=partner_id,
                          partner_code=partner.code if partner else None, regions=regions,
                          channel=ident.channel, identity_id=ident.id, locale=locale)
        identity = Identity(ident.id, ident.channel, ident.external_id, ident.chat_id)
        await uow.commit()
    return identity, actor


async def actor_of_user(uow: UnitOfWork, user_id: int) -> Actor:
    user = await uow.session.get(User, user_id)
    if user is None:
        raise NotFound(what="user", key=user_id)
    partner = await uow.session.get(Partner, user.partner_id) if user.partner_id else None
    return _actor_for(user, partner, None)


def _check_role_args(role: str, partner: Partner | None, regions: tuple[str, ...]) -> None:
    if role not in ROLES:
        raise InvalidInput(reason="role", value=role, allowed=ROLES)
    if role in ("member", "owner") and partner is None:
        raise InvalidInput(reason="partner_required", role=role)
    if role == "manager" and not regions:
        raise InvalidInput(reason="regions_required")


async def _partner_by_code(uow: UnitOfWork, code: str) -> Partner:
    partner = await uow.session.scalar(select(Partner).where(Partner.code == code.strip().upper()))
    if partner is None:
        raise NotFound(what="partner", key=code)
    return partner


async def create_invite(uow: UnitOfWork, *, actor: Actor, role: str, partner_code: str | None = None,
                        regions: tuple[str, ...] = (), user_name: str = "") -> InviteIssued:
    """Issues a single-use invite code. Admins invite anyone; owners invite members of their partner."""
    async with uow:
        partner = await _partner_by_code(uow, partner_code) if partner_code else None
        _check_role_args(role, partner, regions)
        if not actor.is_admin:
            if not (actor.role == "owner" and role == "member" and partner and partner.id == actor.partner_id):
                raise NotAllowed(what="invite", role=role)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = uow.now() + timedelta(hours=uow.settings.app.invite_ttl_hours)
        invite = Invite(code_hash=hash_code(code), role=role, partner_id=partner.id if partner else None,
                        regions=";".join(regions), user_name=user_name, created_by_id=actor.user_id,
                        created_at=uow.now(), expires_at=expires)
        uow.add(invite)
        await uow.flush()
        audit.record(uow, actor=actor, action="invite.create", entity="invite", entity_id=invite.id,
                     after={"role": role, "partner": partner_code, "regions": list(regions)})
        await uow.commit()
    return InviteIssued(code, role, partner.code if partner else None, regions, expires)


async def bind(uow: UnitOfWork, *, identity_id: int, code: str) -> Actor:
    """Redeems an invite code for an identity: creates the user and binds the identity to it."""
    async with uow:
        ident = await uow.session.get(ChatIdentity, identity_id)
        if ident.user_id is not None:
            raise AlreadyBound()
        invite = await uow.session.scalar(select(Invite).where(Invite.code_hash == hash_code(code)))
        if invite is None:
            raise InviteInvalid(why="unknown")
        if invite.used_at is not None:
            raise InviteInvalid(why="used")
        if invite.expires_at <= uow.now():
            raise InviteInvalid(why="expired")
        regions = tuple(r for r in invite.regions.split(";") if r)
        user = User(name=invite.user_name or ident.display_name or ident.external_id, role=invite.role,
                    partner_id=invite.partner_id, locale=uow.settings.app.locale, created_at=uow.now(),
                    regions=[UserRegion(region=r) for r in regions])
        uow.add(user)
        await uow.flush()
        ident.user_id = user.id
        invite.used_at, invite.used_by_id = uow.now(), user.id
        partner = await uow.session.get(Partner, user.partner_id) if user.partner_id else None
        actor = _actor_for(user, partner, ident)
        audit.record(uow, actor=actor, action="identity.bind", entity="chat_identity", entity_id=ident.id,
                     before={"user_id": None}, after={"user_id": user.id, "role": user.role})
        await uow.commit()
    return actor


async def bind_directly(uow: UnitOfWork, *, channel: str, external_id: str, role: str,
                        partner_code: str | None = None, regions: tuple[str, ...] = (),
                        name: str = "") -> Actor:
    """Creates a user and binds an identity to it without an invite (replays, demo, admin CLI)."""
    async with uow:
        partner = await _partner_by_code(uow, partner_code) if partner_code else None
        _check_role_args(role, partner, regions)
        ident = await uow.session.scalar(select(ChatIdentity).where(
            ChatIdentity.channel == channel, ChatIdentity.external_id == external_id))
        if ident is None:
            ident = ChatIdentity(channel=channel, external_id=external_id, chat_id=external_id,
                                 created_at=uow.now())
            uow.add(ident)
        user = User(name=name or external_id, role=role, partner_id=partner.id if partner else None,
                    locale=uow.settings.app.locale, created_at=uow.now(),
                    regions=[UserRegion(region=r) for r in regions])
        uow.add(user)
        await uow.flush()
        before = {"user_id": ident.user_id}
        ident.user_id = user.id
        actor = _actor_for(user, partner, ident)
        audit.record(uow, actor=actor, action="identity.bind", entity="chat_identity", entity_id=ident.id,
                     before=before, after={"user_id": user.id, "role": role})
        await uow.commit()
    return actor


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    partner_code: str | None
    regions: tuple[str, ...]
    active: bool
    channels: tuple[str, ...]


async def list_users(uow: UnitOfWork, *, actor: Actor, partner_code: str | None = None) -> list[UserInfo]:
    """Users the actor may see: admins all, owners their partner's, managers those of their regions."""
    if actor.role == "member":
        raise NotAllowed(what="users")
    async with uow.reading() as ro:
        stmt = select(User, Partner).outerjoin(Partner, Partner.id == User.partner_id).order_by(User.id)
        if partner_code:
            stmt = stmt.where(Partner.code == partner_code.upper())
        out = []
        for user, partner in (await ro.session.execute(stmt)).all():
            if not actor.is_admin and (partner is None or not can_see_partner(actor, partner)):
                continue
            chans = (await ro.session.scalars(select(ChatIdentity.channel).where(
                ChatIdentity.user_id == user.id))).all()
            out.append(UserInfo(user.id, user.name, user.role, partner.code if partner else None,
                                tuple(r.region for r in user.regions), user.active, tuple(sorted(set(chans)))))
    return out


async def set_user_active(uow: UnitOfWork, *, actor: Actor, user_id: int, active: bool) -> UserInfo:
    """Disables or re-enables a user (admins only); a disabled user's identities act unbound."""
    if not actor.is_admin:
        raise NotAllowed(what="users")
    async with uow:
        user = await uow.session.get(User, user_id)
        if user is None:
            raise NotFound(what="user", key=user_id)
        before = {"active": user.active}
        user.active = active
        audit.record(uow, actor=actor, action="user.active", entity="user", entity_id=user.id,
                     before=before, after={"active": active})
        partner = await uow.session.get(Partner, user.partner_id) if user.partner_id else None
        info = UserInfo(user.id, user.name, user.role, partner.code if partner else None,
                        tuple(r.region for r in user.regions), active, ())
        await uow.commit()
    return info
