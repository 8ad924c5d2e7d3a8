"""Command words (DESIGN §8.2) → intents. The free-text parser of later issues refines this."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .parsing import lexicon
from .parsing.fold import simplified
from .parsing.intent import yes_no

# Longest words first so `我的报备` wins over `报备`.
COMMAND_WORDS: dict[str, str] = lexicon.COMMANDS
_WORDS = sorted(COMMAND_WORDS, key=len, reverse=True)


@dataclass(frozen=True)
class Parsed:
    intent: str
    rest: str = ""
    fields: dict = field(default_factory=dict)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), trimmed, inner whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()


def command_word(text: str) -> Parsed | None:
    """The command word a message starts with, and what follows it."""
    norm = normalize(text)
    answer = yes_no(simplified(norm))
    if answer is not None:  # `好的`, `嗯嗯可以`, `👍`, `算了先不报了`: every read-back takes everyday words
        return Parsed(answer, "")
    low = simplified(norm).lower()  # 報單, 庫存: the same command words
    for word in _WORDS:
        if low.startswith(word):
            rest = norm[len(word):]
            if word.isascii() and rest and rest[0].isalnum():
                continue  # `stocks`, `helpful`: not the command word
            return Parsed(COMMAND_WORDS[word], rest.lstrip(" :：,，"))
    return None


def slash(text: str) -> tuple[str, list[str]] | None:
    """`/partner add P9 …` → ("partner", ["add", "P9", …])."""
    raw = (text or "").strip()
    if not normalize(raw[:1]) == "/":
        return None
    parts = raw[1:].split()
    if not parts:
        return None
    return normalize(parts[0]).lower(), parts[1:]


def parse(text: str) -> Parsed:
    """The intent of a message; `bind` carries its code in upper case."""
    found = command_word(text)
    if found is None:
        return Parsed("unknown", normalize(text))
    if found.intent == "bind":
        code = found.rest.split()[0].upper() if found.rest.split() else None
        return Parsed("bind", found.rest, {"code": code})
    return found
