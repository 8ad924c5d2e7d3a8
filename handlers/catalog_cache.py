"""One SKU matcher per process, rebuilt when the catalog changes (or every 30 s, for changes
made by other workers). Building it indexes names, aliases and pinyin, so it is not per message."""
from __future__ import annotations

import asyncio
import time

from services import catalog

from .parsing import SkuMatcher

TTL_SECONDS = 30.0


class MatcherCache:
    def __init__(self):
        self._matcher: SkuMatcher | None = None
        self._built_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._matcher = None

    async def get(self, uow) -> SkuMatcher:
        if self._matcher is not None and time.monotonic() - self._built_at < TTL_SECONDS:
            return self._matcher
        async with self._lock:
            if self._matcher is None or time.monotonic() - self._built_at >= TTL_SECONDS:
                skus = await catalog.list_skus(uow)
                self._matcher = await asyncio.to_thread(SkuMatcher, skus)
                self._built_at = time.monotonic()
        return self._matcher


MATCHERS = MatcherCache()
