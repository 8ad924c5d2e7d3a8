"""Finding SKUs in chat text: by code (any case, full-width), name, alias, full pinyin
(homophone typos like 苏达水) and pinyin initials, and fuzzily. A name that fits several SKUs
(`冰泉`) is reported with all of them, so the caller asks instead of guessing."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Protocol

from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process


class SkuLike(Protocol):
    code: str
    name: str
    aliases: tuple[str, ...]
    unit: str
    pack_unit: str
    pack_size: int
    guide_price_fen: int


@dataclass(frozen=True)
class SkuRef:
    code: str
    name: str
    unit: str
    pack_unit: str
    pack_size: int
    guide_price_fen: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    codes: tuple[str, ...]   # one code: found; several: ambiguous


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_ascii_word(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9.\-]+", text))


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> tuple[str, str]:
    syllables = lazy_pinyin(text, errors="ignore")
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables), "".join(initials)


class SkuMatcher:
    """An index over a catalog; build once per catalog version and reuse."""

    def __init__(self, skus: Iterable[SkuLike]):
        self.skus: dict[str, SkuRef] = {}
        phrases: dict[str, set[str]] = {}
        for s in skus:
            ref = SkuRef(s.code.upper(), s.name, s.unit, s.pack_unit, int(s.pack_size), int(s.guide_price_fen),
                         tuple(s.aliases))
            self.skus[ref.code] = ref
            for phrase in (s.code, s.name, *s.aliases):
                key = fold(phrase).strip()
                if key:
                    phrases.setdefault(key, set()).add(ref.code)
        self.phrases = {k: tuple(sorted(v)) for k, v in phrases.items()}
        parts = []
        for key in sorted(self.phrases, key=len, reverse=True):
            esc = re.escape(key)
            parts.append(rf"(?<![a-z0-9]){esc}(?![a-z0-9])" if _is_ascii_word(key) else esc)
        self._regex = re.compile("|".join(parts)) if parts else None
        self._pinyin: dict[str, set[str]] = {}
        self._initials: dict[str, set[str]] = {}
        for key, codes in self.phrases.items():
            if re.search(r"[\u4e00-\u9fff]", key):
                full, initials = _pinyin(re.sub(r"[^\u4e00-\u9fff]", "", key))
                self._pinyin.setdefault(full, set()).update(codes)
                if len(initials) >= 2:
                    self._initials.setdefault(initials, set()).update(codes)
        self._cjk_phrases = [k for k in self.phrases if re.search(r"[\u4e00-\u9fff]", k)]

    def get(self, code: str) -> SkuRef | None:
        return self.skus.get(code.upper())

    def find(self, text: str) -> list[Mention]:
        """Exact mentions of codes, names and aliases (longest first, non-overlapping)."""
        if self._regex is None:
            return []
        low = fold(text)
        return [Mention(m.start(), m.end(), self.phrases[m.group(0)]) for m in self._regex.finditer(low)]

    def resolve(self, token: str) -> tuple[str, ...]:
        """The SKUs a leftover word may mean: pinyin, initials, part of a name, or a close spelling."""
        key = fold(token).strip()
        if not key:
            return ()
        if key in self.phrases:
            return self.phrases[key]
        cjk = re.sub(r"[^\u4e00-\u9fff]", "", key)
        if cjk and len(cjk) == len(key) and len(cjk) >= 2:
            full, _ = _pinyin(cjk)
            if full in self._pinyin:
                return tuple(sorted(self._pinyin[full]))
            inside = {c for phrase, codes in self.phrases.items() if cjk in phrase for c in codes}
            if inside:
                return tuple(sorted(inside))
            if len(cjk) >= 3:
                best = process.extract(cjk, self._cjk_phrases, scorer=fuzz.ratio, score_cutoff=80, limit=5)
                found = {c for phrase, _score, _i in best for c in self.phrases[phrase]}
                return tuple(sorted(found))
            return ()
        if re.fullmatch(r"[a-z]{2,8}", key) and key in self._initials:
            return tuple(sorted(self._initials[key]))
        return ()

    def candidates(self, token: str, limit: int = 5) -> list[SkuRef]:
        """SKUs to offer when a word fits several or none: closest names first."""
        codes = self.resolve(token)
        if codes:
            return [self.skus[c] for c in codes][:limit]
        names = {fold(s.name): s for s in self.skus.values()}
        best = process.extract(fold(token), list(names), scorer=fuzz.partial_ratio, limit=limit, score_cutoff=50)
        return [names[n] for n, _s, _i in best]
