"""A platform's access token (WeChat's stable_token, WeCom's gettoken): one token for every worker,
kept in the database.

The token lives in `cache_entry` under its key (`wechat:token:<appid>`, `wecom:token:<corp>:<agent>`)
with its expiry. A worker uses it from
memory until shortly before it expires, then from the database; only when the database has no
usable token does one worker fetch a new one, holding a short lease row (`<key>:lock`, taken by insert-or-compare-and-set, so it works the same on SQLite and
PostgreSQL and holds no transaction open across the HTTP call). The others wait for the new token
to appear instead of stampeding the endpoint.

A token the platform calls invalid (WeChat 40001/42001/40014, WeCom 40014/42001/42009) is replaced with
a forced refresh, but only if it is still the stored one: when another worker already replaced it, its
token is used as it is (WeChat limits forced refreshes to 20 a day, 30 s apart). The token is stored encrypted with a key derived
from the app secret (every worker has it; a database dump or a driver's debug log does not give
a working token). The token and the secret are never logged.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import CacheEntry
from storage.uow import UnitOfWork

log = logging.getLogger("partnerbot.platforms")

REFRESH_MARGIN = timedelta(seconds=240)  # < 5 min: by then stable_token hands out the next token
LOCK_TTL = timedelta(seconds=30)         # longer than one stable_token call may take
WAIT_SECONDS = 20.0                      # how long a worker waits for another's refresh
POLL_SECONDS = 0.1

Fetch = Callable[[bool], Awaitable[tuple[str, int]]]  # force_refresh -> (token, expires_in seconds)


class TokenUnavailable(Exception):
    """No access token could be had (the reason never contains the secret or a token)."""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class TokenStore:
    """The shared access token stored under `key`; `fetch(force_refresh)` asks the platform for one."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], *, key: str, secret: str, fetch: Fetch,
                 label: str):
        self._uow = uow_factory
        self._fetch = fetch
        self._box = Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"{key}:{secret}".encode()).digest()))
        self.key = key
        self.label = label
        self._lock_key = self.key + ":lock"
        self._memory: _Token | None = None

    async def get(self) -> str:
        """A token good for a while yet."""
        if self._fresh(self._memory):
            return self._memory.value
        stored = await self._read()
        if self._fresh(stored):
            self._memory = stored
            return stored.value
        return await self._refresh(stale=None)

    async def replace(self, bad: str) -> str:
        """A token other than `bad` (which WeChat refused): another worker's, or a forced refresh."""
        self._memory = None
        stored = await self._read()
        if self._fresh(stored) and stored.value != bad:
            self._memory = stored
            return stored.value
        return await self._refresh(stale=bad)

    def _fresh(self, token: _Token | None) -> bool:
        return token is not None and self._uow().now() < token.expires_at - REFRESH_MARGIN

    def _usable(self, token: _Token | None, stale: str | None) -> bool:
        return self._fresh(token) and (stale is None or token.value != stale)

    async def _refresh(self, *, stale: str | None) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        me = uuid.uuid4().hex
        while True:
            if await self._take_lock(me):
                try:
                    stored = await self._read()  # someone may have finished just before we got the lease
                    if self._usable(stored, stale):
                        self._memory = stored
                        return stored.value
                    value, expires_in = await self._fetch(stale is not None)
                    self._memory = await self._write(value, expires_in)
                    log.info("%s access token refreshed%s; valid %ss", self.label, " (forced)" if stale else "",
                             expires_in)
                    return value
                finally:
                    await self._release_lock(me)
            await asyncio.sleep(POLL_SECONDS)
            stored = await self._read()
            if self._usable(stored, stale):
                self._memory = stored
                return stored.value
            if time.monotonic() > deadline:
                raise TokenUnavailable("另一个进程正在刷新 access_token，等待超时")

    async def _read(self) -> _Token | None:
        async with self._uow().reading() as ro:
            row = (await ro.session.execute(select(CacheEntry.value, CacheEntry.expires_at)
                                            .where(CacheEntry.key == self.key))).first()
        if row is None:
            return None
        try:
            return _Token(self._box.decrypt(row.value.encode()).decode(), row.expires_at)
        except InvalidToken:  # stored under another secret: as good as none
            return None

    async def _write(self, value: str, expires_in: int) -> _Token:
        uow = self._uow()
        async with uow:
            token = _Token(value, uow.now() + timedelta(seconds=expires_in))
            sealed = self._box.encrypt(value.encode()).decode()
            stmt = _insert(uow).values(key=self.key, value=sealed, expires_at=token.expires_at)
            await uow.session.execute(stmt.on_conflict_do_update(
                index_elements=[CacheEntry.key], set_={"value": sealed, "expires_at": token.expires_at}))
            await uow.commit()
        return token

    async def _take_lock(self, me: str) -> bool:
        """Takes the refresh lease: a new row, or an expired one taken over (compare-and-set)."""
        uow = self._uow()
        async with uow:
            now = uow.now()
            until = now + LOCK_TTL
            got = (await uow.session.execute(
                _insert(uow).values(key=self._lock_key, value=me, expires_at=until)
                .on_conflict_do_nothing().returning(CacheEntry.key))).scalar_one_or_none() is not None
            if not got:
                taken = await uow.session.execute(
                    update(CacheEntry).where(CacheEntry.key == self._lock_key, CacheEntry.expires_at < now)
                    .values(value=me, expires_at=until))
                got = taken.rowcount == 1
            await uow.commit()
        return got

    async def _release_lock(self, me: str) -> None:
        uow = self._uow()
        try:
            async with uow:
                await uow.session.execute(
                    delete(CacheEntry).where(CacheEntry.key == self._lock_key, CacheEntry.value == me))
                await uow.commit()
        except Exception as exc:  # noqa: BLE001 - the lease runs out by itself
            log.warning("%s token lease not released (%s); it expires in %ss", self.label, type(exc).__name__,
                        int(LOCK_TTL.total_seconds()))


def _insert(uow: UnitOfWork):
    dialect = uow.session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CacheEntry)

