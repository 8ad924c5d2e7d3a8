"""What a handler step gets: dependencies, the message, who sent it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from services.actors import Actor
from services.config import Settings
from services.identities import Identity
from storage.uow import UnitOfWork

from . import texts
from .messages import InboundMessage


class JobControl(Protocol):
    async def lines(self) -> list[str]: ...
    async def run(self, name: str) -> str: ...
    def start(self, name: str, actor: Actor) -> None: ...
    async def set_paused(self, uow: UnitOfWork, name: str, paused: bool, actor: Actor) -> None: ...


@dataclass(frozen=True)
class Deps:
    """Built once by the composition root and shared by every message."""

    uow: Callable[[], UnitOfWork]
    settings: Settings
    jobs: JobControl | None = None


@dataclass(frozen=True)
class Ctx:
    deps: Deps
    msg: InboundMessage
    identity: Identity
    actor: Actor | None
    message_uow: UnitOfWork | None = None  # the message's open unit of work, joined by services

    @property
    def locale(self) -> str:
        return self.actor.locale if self.actor else self.deps.settings.app.locale

    def uow(self) -> UnitOfWork:
        return self.message_uow if self.message_uow is not None else self.deps.uow()

    def t(self, key: str, **kw) -> str:
        return texts.t(key, self.locale, **kw)
