"""Files from and to chat: `/export` writes a file and hands out a download link, `/import` hands
out an upload link. Chat apps carry text well and files badly (a WeChat Official Account cannot
send a spreadsheet at all), so a file travels by a short-lived secret link to this server instead.

A link is a random token; only its SHA-256 is stored (in `cache_entry`, with the link's expiry),
so a database dump reveals no working link. A download link works until it expires; an upload link
works until a file is imported through it (a refused file can be fixed and sent again). Whoever holds a link acts as the user it was issued to, with that user's role and scope
checked again when it is used.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from storage.models import CacheEntry
from storage.uow import UnitOfWork

from . import exports, imports
from .actors import Actor, require_role
from .errors import InvalidInput

PREFIX = "filelink:"


@dataclass(frozen=True)
class Link:
    purpose: str            # download | upload
    kind: str               # the export or import kind
    user_id: int
    path: str = ""          # the file of a download
    filename: str = ""      # as the browser saves it


@dataclass(frozen=True)
class Issued:
    url: str
    minutes: int
    rows: int = 0


def _dump(link: Link) -> str:
    return json.dumps(link.__dict__, ensure_ascii=False, sort_keys=True)


def _key(token: str) -> str:
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


def files_dir(uow: UnitOfWork) -> Path:
    path = Path(uow.settings.app.files_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _issue(uow: UnitOfWork, link: Link) -> tuple[str, int]:
    token = secrets.token_urlsafe(24)
    minutes = uow.settings.app.link_ttl_minutes
    async with uow:
        await uow.session.execute(delete(CacheEntry).where(CacheEntry.key.like(PREFIX + "%"),
                                                            CacheEntry.expires_at <= uow.now()))
        uow.add(CacheEntry(key=_key(token), value=_dump(link),
                           expires_at=uow.now() + timedelta(minutes=minutes)))
        await uow.commit()
    return token, minutes


def _url(uow: UnitOfWork, route: str, token: str) -> str:
    return f"{uow.settings.app.public_base_url.rstrip('/')}/{route}/{token}"


async def export_link(uow: UnitOfWork, *, actor: Actor, kind: str, date_from: date | None = None,
                      date_to: date | None = None) -> Issued:
    """Exports `kind` as the actor may see it to an .xlsx file and returns a link to download it."""
    if actor.user_id is None:
        raise InvalidInput(reason="只有已绑定的用户可以导出")
    stamp = uow.now().astimezone(uow.settings.tz).strftime("%Y%m%d-%H%M")
    filename = f"{kind}-{stamp}.xlsx"
    path = files_dir(uow) / f"{uuid.uuid4().hex}.xlsx"
    summary = await exports.export_file(uow, kind=kind, path=path, actor=actor, date_from=date_from, date_to=date_to)
    token, minutes = await _issue(uow, Link("download", kind, actor.user_id, str(path), filename))
    return Issued(_url(uow, "files", token), minutes, summary.rows)


async def upload_link(uow: UnitOfWork, *, actor: Actor, kind: str) -> Issued:
    """A link to a page where the actor uploads a file of `kind` (admins only)."""
    require_role(actor, "admin")
    if kind not in imports.kind_names():
        raise InvalidInput(reason=f"没有「{kind}」这种导入，可选：{'、'.join(imports.kind_names())}")
    token, minutes = await _issue(uow, Link("upload", kind, actor.user_id or 0))
    return Issued(_url(uow, "upload", token), minutes)


async def lookup(uow: UnitOfWork, token: str, purpose: str) -> Link | None:
    """The live link behind `token` for `purpose`, or None (unknown, expired or used)."""
    async with uow.reading() as ro:
        value = await ro.session.scalar(select(CacheEntry.value).where(CacheEntry.key == _key(token),
                                                                       CacheEntry.expires_at > ro.now()))
    if value is None:
        return None
    link = Link(**json.loads(value))
    return link if link.purpose == purpose else None


async def take_upload(uow: UnitOfWork, token: str) -> Link | None:
    """Holds an upload link for one upload: the link, for exactly one of racing callers, else None."""
    link = await lookup(uow, token, "upload")
    if link is None:
        return None
    busy = Link("upload-busy", link.kind, link.user_id)
    async with uow:
        done = await uow.session.execute(
            update(CacheEntry).where(CacheEntry.key == _key(token), CacheEntry.value == _dump(link))
            .values(value=_dump(busy)))
        await uow.commit()
    return link if done.rowcount == 1 else None


async def finish_upload(uow: UnitOfWork, token: str, link: Link, *, imported: bool) -> None:
    """Spends the link after a good import; frees it for another try after a refused file."""
    async with uow:
        if imported:
            await uow.session.execute(delete(CacheEntry).where(CacheEntry.key == _key(token)))
        else:
            await uow.session.execute(update(CacheEntry).where(CacheEntry.key == _key(token)).values(value=_dump(link)))
        await uow.commit()
