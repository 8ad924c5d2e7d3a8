"""Audit log: every change a person makes, with who, when, channel, before and after."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from storage.models import AuditLog
from storage.uow import UnitOfWork

from .actors import Actor


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def snapshot(obj, *fields: str) -> dict:
    """The named attributes of a row, JSON-ready, for `before`/`after`."""
    return {f: _plain(getattr(obj, f)) for f in fields}


def record(uow: UnitOfWork, *, actor: Actor, action: str, entity: str, entity_id: Any = "",
           before: dict | None = None, after: dict | None = None) -> None:
    """Adds an audit row to the unit of work's transaction (committed with the change)."""
    uow.add(AuditLog(at=uow.now(), user_id=actor.user_id, channel=actor.channel, action=action,
                     entity=entity, entity_id=str(entity_id), before=_plain(before), after=_plain(after)))
