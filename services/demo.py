"""Demo data: the shipped catalog and network, and console users to try every role with
`partnerbot console --as NAME`. Loading is idempotent: a second run changes nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from storage.models import ChatIdentity, Partner, User, UserRegion
from storage.uow import UnitOfWork

from .actors import SYSTEM
from .audit import record
from .imports import ImportSummary, import_table_into, read_table

DATA = Path(__file__).parent / "data"
CATALOG_FILE = DATA / "catalog.csv"
PARTNERS_FILE = DATA / "partners.csv"


@dataclass(frozen=True)
class DemoUser:
    """A demo person: console name, role, partner (member/owner) or region prefixes (manager)."""

    name: str
    role: str
    partner_code: str | None = None
    regions: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """`member of P001`, `manager of 江苏`, `admin`."""
        if self.partner_code:
            return f"{self.role} of {self.partner_code}"
        if self.regions:
            return f"{self.role} of {', '.join(self.regions)}"
        return self.role


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("alice", "member", "P001"),
    DemoUser("boss", "owner", "P001"),
    DemoUser("bob", "member", "P002"),
    DemoUser("carol", "member", "P003"),
    DemoUser("mgr", "manager", regions=("江苏",)),
    DemoUser("zmgr", "manager", regions=("浙江",)),
    DemoUser("root", "admin"),
)


@dataclass(frozen=True)
class DemoSummary:
    skus: ImportSummary
    partners: ImportSummary
    users_created: int


async def load_demo(uow: UnitOfWork, *, users: bool = True) -> DemoSummary:
    """Imports the demo catalog and partners and (unless `users=False`, as replays want) binds the
    demo console users, in one transaction."""
    async with uow:
        skus = await import_table_into(uow, kind="skus", table=read_table(CATALOG_FILE), actor=SYSTEM)
        partners = await import_table_into(uow, kind="partners", table=read_table(PARTNERS_FILE), actor=SYSTEM)
        created = await _ensure_users(uow) if users else 0
        await uow.commit()
    return DemoSummary(skus=skus, partners=partners, users_created=created)


async def _ensure_users(uow: UnitOfWork) -> int:
    """Creates each demo user whose console identity is missing or unbound; leaves bound ones alone."""
    session = uow.session
    partner_ids = dict((await session.execute(select(Partner.code, Partner.id))).all())
    names = [u.name for u in DEMO_USERS]
    identities = {i.external_id: i for i in (await session.scalars(
        select(ChatIdentity).where(ChatIdentity.channel == "console", ChatIdentity.external_id.in_(names)))).all()}
    created = 0
    for demo in DEMO_USERS:
        identity = identities.get(demo.name)
        if identity is not None and identity.user_id is not None:
            continue
        user = User(name=demo.name, role=demo.role, partner_id=partner_ids.get(demo.partner_code),
                    created_at=uow.now(), regions=[UserRegion(region=r) for r in demo.regions])
        uow.add(user)
        await uow.flush()
        if identity is None:
            identity = ChatIdentity(channel="console", external_id=demo.name, chat_id=demo.name,
                                    display_name=demo.name, created_at=uow.now())
            uow.add(identity)
        identity.user_id = user.id
        record(uow, actor=SYSTEM, action="user.create", entity="user", entity_id=user.id, before=None,
               after={"name": demo.name, "role": demo.role, "partner": demo.partner_code,
                      "regions": list(demo.regions), "identity": f"console:{demo.name}"})
        created += 1
    return created
