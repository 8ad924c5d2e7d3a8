"""Words of the text no number, date or SKU took, by jieba with a user dictionary: the catalog's
names and aliases and the lexicon's grammar words, so `给百乐都补了` segments as 给 / 百乐 / 都 / 补了
and a name is never cut inside a word. Runs of letters and digits (`7-Eleven`, `Ole'`) stay whole;
jieba segments only the Chinese."""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Iterable

import jieba

from . import lexicon

jieba.setLogLevel(logging.WARNING)
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.\-]*")
_FREQ = 200_000  # above any dictionary word, so grammar words always win a tie in the DAG

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_added: set[str] = set()


def tokenizer() -> jieba.Tokenizer:
    """The process's tokenizer, built once with the lexicon's words."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                tk = jieba.Tokenizer()
                tk.initialize()
                for word in lexicon.GRAMMAR | lexicon.SOFT:
                    if _HAN.fullmatch(word):
                        tk.add_word(word, _FREQ)
                _tokenizer = tk
    return _tokenizer


def add_words(names: Iterable[str]) -> None:
    """Adds catalog names and aliases (once each), so a product word is one token."""
    tk = tokenizer()
    with _lock:
        for name in names:
            for han in _HAN.findall(name or ""):
                if len(han) >= 2 and han not in _added:
                    tk.add_word(han, 50_000)
                    _added.add(han)
        _cut.cache_clear()  # new words may cut a run differently


@lru_cache(maxsize=8192)
def _cut(han: str) -> tuple[str, ...]:
    """jieba's words of a Chinese run (cached: names and phrases recur across a partner's messages)."""
    return tuple(tokenizer().cut(han, HMM=False))


def tokens(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, word) for text[start:end]: Chinese by jieba, letters and digits as runs;
    spaces and other characters are left out."""
    out = []
    pos = start
    while pos < end:
        han = _HAN.match(text, pos, end)
        if han:
            at = pos
            for word in _cut(han.group(0)):
                out.append((at, at + len(word), word))
                at += len(word)
            pos = han.end()
            continue
        latin = _LATIN.match(text, pos, end)
        if latin:
            word = re.sub(r"(?<=\d)\.$|-+$", "", latin.group(0))
            out.append((pos, pos + len(word), word))
            pos += max(len(word), 1)
            continue
        pos += 1
    return out
