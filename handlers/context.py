"""What a handler step gets: dependencies, the message, who sent it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from services.actors import Actor
from services.config import Settings
from services.identities import Identity
from storage.uow import UnitOfWork

from . import texts
from .messages import InboundMessage


@dataclass(frozen=True)
class Deps:
    """Built once by the composition root and shared by every message."""

    uow: Callable[[], UnitOfWork]
    settings: Settings
    run_job: Callable[[str], Awaitable[str]] | None = None
    job_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ctx:
    deps: Deps
    msg: InboundMessage
    identity: Identity
    actor: Actor | None

    @property
    def locale(self) -> str:
        return self.actor.locale if self.actor else self.deps.settings.app.locale

    def uow(self) -> UnitOfWork:
        return self.deps.uow()

    def t(self, key: str, **kw) -> str:
        return texts.t(key, self.locale, **kw)
