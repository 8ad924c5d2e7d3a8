"""The parser's vocabulary, loaded once from `data/lexicon.toml`: grammar words by class and the
phrasings of each intent. Keeping them as data means a new synonym is a line, not a regex."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("data") / "lexicon.toml"


@lru_cache(maxsize=1)
def load() -> dict:
    with PATH.open("rb") as fh:
        return tomllib.load(fh)


def words(kind: str) -> frozenset[str]:
    """The grammar words of one class (`filler`, `verb`, `particle`, `soft`, `marker`)."""
    return frozenset(load()["words"][kind])


def phrases(intent: str) -> tuple[str, ...]:
    """An intent's phrasings, longest first."""
    return tuple(sorted(load()["intents"][intent], key=len, reverse=True))


COMMANDS: dict[str, str] = dict(load()["commands"])
FILLER = words("filler")
VERB = words("verb")
PARTICLE = words("particle")
SOFT = words("soft")
MARKER = words("marker")
NAME_START = words("name_start")
GRAMMAR = FILLER | VERB | PARTICLE | MARKER
