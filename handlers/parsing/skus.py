"""Finding SKUs in chat text: by code (any case, full-width, with or without its hyphen), name,
alias, full pinyin (homophone typos like 苏达水), pinyin initials (qnsds), and fuzzily. A word that
fits several SKUs (`冰泉`) is reported with all of them, so the caller asks instead of guessing."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Protocol

from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from . import lexicon, segment
from .units import unit_regex

CJK = re.compile(r"[\u4e00-\u9fff]")
NON_CJK = re.compile(r"[^\u4e00-\u9fff]")
# A size or model part of a name (`550ml`, `1.5L`, `X1`, `Pro`): what people leave out.
SPEC = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ml|l|g|kg|cl|oz|毫升|升|克|千克|斤)|[a-z]+\d*[a-z\d]*)\s*$")


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
    codes: tuple[str, ...]   # one code: found; several: ambiguous; none: an unknown word
    token: str = ""


def fold(text: str) -> str:
    """NFKC and lower case, keeping every character's position."""
    text = unicodedata.normalize("NFKC", text)
    low = text.lower()
    return low if len(low) == len(text) else "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@lru_cache(maxsize=8192)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin syllables of the Chinese characters in `text`."""
    return tuple(lazy_pinyin(NON_CJK.sub("", text), errors="ignore"))


@lru_cache(maxsize=8192)
def initials(text: str) -> str:
    return "".join(lazy_pinyin(NON_CJK.sub("", text), style=Style.FIRST_LETTER, errors="ignore"))


def _phrase_regex(key: str) -> str:
    """A phrase as a regex: words of letters/digits stand alone; `冰泉矿泉水550ml` also matches `… 550ml`."""
    out, prev = [], ""
    for ch in key:
        if ch == " ":
            out.append(r"\s*")
        else:
            if prev and prev != " " and (bool(CJK.match(prev)) != bool(CJK.match(ch))):
                out.append(r"\s*")
            out.append(re.escape(ch))
        prev = ch
    body = "".join(out)
    head = r"(?<![a-z0-9])" if key[0].isascii() and key[0].isalnum() else ""
    tail = r"(?:(?![a-z0-9])|(?=[x×*]\s*\d))" if key[-1].isascii() and key[-1].isalnum() else ""  # `A100x5箱`
    return head + body + tail


def _sub_sequence(short: tuple, long: tuple) -> bool:
    n = len(short)
    return any(long[i:i + n] == short for i in range(len(long) - n + 1))


class SkuMatcher:
    """An index over a catalog; build once per catalog version and reuse."""

    def __init__(self, skus: Iterable[SkuLike]):
        self.skus: dict[str, SkuRef] = {}
        phrases: dict[str, set[str]] = {}
        cores: dict[str, set[str]] = {}
        for s in skus:
            aliases = (s.aliases,) if isinstance(s.aliases, str) else tuple(s.aliases or ())
            ref = SkuRef(s.code.strip().upper(), s.name, s.unit, s.pack_unit, int(s.pack_size),
                         int(s.guide_price_fen), aliases)
            self.skus[ref.code] = ref
            code = fold(ref.code)
            for phrase in {code, re.sub(r"[\s\-_./]", "", code), fold(s.name), *map(fold, aliases)}:
                key = re.sub(r"\s+", " ", phrase).strip()
                if key and (len(key) >= 2 or key == code):
                    phrases.setdefault(key, set()).add(ref.code)
            core = SPEC.sub("", fold(s.name)).strip()
            if len(CJK.findall(core)) >= 2:
                cores.setdefault(core, set()).add(ref.code)
        self._add_glossary(phrases, cores)
        segment.add_words(phrases)  # the catalog's names and aliases are words to jieba too
        self.phrases = {k: tuple(sorted(v)) for k, v in phrases.items()}
        self.cores = {k: tuple(sorted(v)) for k, v in cores.items() if k not in self.phrases}
        every = {**self.cores, **self.phrases}
        self._lookup = every
        self._squeezed = {}
        for k, codes in every.items():
            self._squeezed.setdefault(k.replace(" ", ""), set()).update(codes)
        self._squeezed = {k: tuple(sorted(v)) for k, v in self._squeezed.items()}
        keys = sorted(every, key=len, reverse=True)
        self._regex = re.compile("|".join(_phrase_regex(k) for k in keys)) if keys else None
        codes_folded = {fold(c) for c in self.skus}
        self._ascii_names = [k for k in every if k.isascii() and k not in codes_folded and len(k) >= 4
                             and re.search(r"[a-z]{3}", k)]
        self._syl = [(syllables(k), codes) for k, codes in every.items() if len(CJK.findall(k)) >= 2]
        self._full = {}
        self._initials: dict[str, set[str]] = {}
        for k, codes in every.items():
            if len(CJK.findall(k)) >= 2:
                self._full.setdefault("".join(syllables(k)), set()).update(codes)
                ini = initials(k)
                if len(ini) >= 3:
                    self._initials.setdefault(ini, set()).update(codes)
        self._cjk_phrases = [k for k in every if CJK.search(k)]
        self._names = {ref.code: [k for k, c in every.items() if ref.code in c] for ref in self.skus.values()}
        units = {w for s in self.skus.values() for w in (s.unit, s.pack_unit)}
        self.unit_words: tuple[str, ...] = tuple(sorted(u for u in units if u))
        self.units_re = unit_regex(self.unit_words)

    @staticmethod
    def _add_glossary(phrases: dict[str, set[str]], cores: dict[str, set[str]]) -> None:
        """English product words (lexicon.toml [glossary]) for the SKUs whose names hold the Chinese
        word: the whole name or alias first, else every SKU with it inside a name (`water` → 水 is
        too wide and stays out unless one SKU has it)."""
        names = {**cores, **phrases}
        for english, chinese in lexicon.load().get("glossary", {}).items():
            key = fold(english)
            if key in phrases:
                continue
            codes = names.get(chinese) or {c for k, cs in names.items() if chinese in k for c in cs}
            if codes and (len(chinese) >= 2 or len(codes) == 1):
                for form in {key, key + "s"} if key[-1] != "s" else {key}:
                    phrases.setdefault(form, set()).update(codes)

    def get(self, code: str) -> SkuRef | None:
        return self.skus.get((code or "").strip().upper())

    def find(self, text: str) -> list[Mention]:
        """Exact mentions of codes, names and aliases (longest first, non-overlapping)."""
        if self._regex is None:
            return []
        out = []
        for m in self._regex.finditer(fold(text)):
            codes = self._squeezed[re.sub(r"\s+", "", m.group(0))]
            out.append(Mention(m.start(), m.end(), codes, text[m.start():m.end()]))
        return out

    @lru_cache(maxsize=4096)
    def resolve(self, token: str) -> tuple[str, ...]:
        """The SKUs a leftover word may mean: pinyin, initials, part of a name, or a close spelling."""
        key = re.sub(r"\s+", " ", fold(token)).strip(" -_.,")
        if not key:
            return ()
        if key in self._lookup:
            return self._lookup[key]
        if re.sub(r"[\s\-_./]", "", key) in self._lookup:
            return self._lookup[re.sub(r"[\s\-_./]", "", key)]
        cjk = NON_CJK.sub("", key)
        if cjk and len(cjk) >= 2 and len(cjk) >= len(key.replace(" ", "")) - 5:
            rest = CJK.sub(" ", key).split()
            codes = self._resolve_cjk(cjk)
            return self.narrow(codes, " ".join(rest)) if rest else codes
        if re.fullmatch(r"[a-z]{2,8}", key) and key in self._initials:
            return tuple(sorted(self._initials[key]))
        if re.fullmatch(r"[a-z][a-z0-9 '\-]{3,}", key):
            best = process.extract(key, self._ascii_names, scorer=fuzz.ratio,
                                   score_cutoff=85, limit=3)
            return tuple(sorted({c for k, _s, _i in best for c in self._lookup[k]}))
        return ()

    def narrow(self, codes: tuple[str, ...], hint: str) -> tuple[str, ...]:
        """Of several SKUs, those whose names hold `hint` (`550`, `1.5L`, `pro`); all of them if none does."""
        parts = [p for p in re.split(r"\s+", fold(hint)) if p]
        if len(codes) < 2 or not parts:
            return codes

        kept = tuple(c for c in codes if all(self.holds(c, p) for p in parts))
        return kept or codes

    def holds(self, code: str, part: str) -> bool:
        """Whether a name or alias of `code` holds `part` (`330` in 可口可乐330ml)."""
        part = fold(part).replace(" ", "")
        core = re.sub(r"(?:ml|l|毫升|升|g|kg|克)$", "", part)
        if not core:
            return False
        pattern = re.compile(rf"(?<![\d.]){re.escape(core)}(?![\d.])" if core[0].isdigit() else re.escape(part))
        own = {fold(code), re.sub(r"[\s\-_./]", "", fold(code))}
        return any(pattern.search(n.replace(" ", "")) for n in self._names.get(code, ()) if n not in own)

    def _resolve_cjk(self, cjk: str) -> tuple[str, ...]:
        syl = syllables(cjk)
        full = "".join(syl)
        if full in self._full:
            return tuple(sorted(self._full[full]))
        inside = {c for phrase, codes in self._lookup.items() if cjk in phrase for c in codes}
        if inside:
            return tuple(sorted(inside))
        homophone = {c for s, codes in self._syl if _sub_sequence(syl, s) for c in codes}
        if homophone:
            return tuple(sorted(homophone))
        if len(cjk) >= 3:
            best = process.extract(cjk, self._cjk_phrases, scorer=fuzz.ratio, score_cutoff=80, limit=5)
            if best:
                top = best[0][1]
                return tuple(sorted({c for k, s, _i in best if s >= top - 1 for c in self._lookup[k]}))
            best = process.extract(full, list(self._full), scorer=fuzz.ratio, score_cutoff=88, limit=3)
            if best:
                top = best[0][1]
                return tuple(sorted({c for k, s, _i in best if s >= top - 1 for c in self._full[k]}))
        return ()

    def candidates(self, token: str, limit: int = 5) -> list[SkuRef]:
        """SKUs to offer when a word fits several or none: closest names (by characters or pinyin) first."""
        codes = self.resolve(token or "")
        if codes:
            return [self.skus[c] for c in codes][:limit]
        key = fold(token or "").strip()
        if not key:
            return []
        pin = "".join(syllables(key))
        scored = []
        for code, names in self._names.items():
            score = max((fuzz.partial_ratio(key, n) for n in names), default=0)
            if pin:
                score = max(score, max((fuzz.ratio(pin, "".join(syllables(n))) for n in names if CJK.search(n)),
                                       default=0))
            scored.append((score, code))
        scored.sort(key=lambda sc: (-sc[0], sc[1]))
        return [self.skus[c] for s, c in scored if s >= 45][:limit]
