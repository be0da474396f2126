"""How texts are compared: the normalisation (Unicode NFKC, case folded, punctuation and symbols
turned to spaces, whitespace collapsed), the key of exact copies (the normalised text without its
spaces, so "don't", "dont" and "don t" are one) and the shingles near copies are measured on (word
unigrams and bigrams; character unigrams and bigrams for text that is mostly CJK)."""

from __future__ import annotations

import re
import unicodedata

NOT_WORD = re.compile(r"[^\w\s]|_")  # punctuation and symbols, in any script
SPACES = re.compile(r"\s+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
NORMALISATION = ("Unicode NFKC, case folded, punctuation, symbols and whitespace removed (exact copies); "
                 "punctuation and symbols as spaces (the words of near copies)")
SHINGLES = "word unigrams and bigrams (character unigrams and bigrams where most characters are CJK)"


def normalise(text: str) -> str:
    return SPACES.sub(" ", NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold())).strip()


def exact_key(normalised: str) -> str:
    return normalised.replace(" ", "")


def shingles(normalised: str) -> set[str]:
    """The text's shingles: units (words, or characters for CJK text) and each adjacent pair."""
    compact = normalised.replace(" ", "")
    if compact and 2 * len(CJK.findall(compact)) >= len(compact):
        units = list(compact)
    else:
        units = normalised.split()
    return set(units) | {f"{a} {b}" for a, b in zip(units, units[1:], strict=False)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
