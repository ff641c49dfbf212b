"""The shingle definition shared by the near-duplicate benchmark, its peer runners and curate.

This is curate's default shingling for MinHash-LSH dedup. The ground truth of the benchmark
(`dedup_corpus.py`) is the exact Jaccard similarity of these shingle sets, so every tool that is
scored against it should either use this module or say how its own shingling differs.

Definition:

1. normalize: ``unicodedata.normalize("NFKC", text).lower()``, then every character whose Unicode
   category starts with ``"P"`` (punctuation) is replaced by a space, then the text is split on
   whitespace with ``str.split()``;
2. shingles: the set of space-joined word 5-grams (``" ".join(words[i:i + 5])``). A document with
   fewer than 5 words but at least 1 has exactly one shingle, its whole normalized word sequence
   joined by spaces; an empty document has no shingles.

The punctuation table is built once from the running interpreter's `unicodedata` (Python 3.11:
Unicode 14.0), so two processes on the same Python version agree exactly.

Stdlib only, so it runs in curate's environment and in the separate peer environment alike.
"""

from __future__ import annotations

import sys
import unicodedata

DEFAULT_NGRAM = 5
"""Words per shingle (curate's default)."""


def _build_punctuation_table() -> dict[int, str]:
    """Map every code point whose Unicode category starts with "P" to a space (for `str.translate`)."""
    return {cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")}


PUNCTUATION_TO_SPACE: dict[int, str] = _build_punctuation_table()
"""`str.translate` table: punctuation code point -> " " (about 800 entries)."""


def normalize_words(text: str) -> list[str]:
    """Return the normalized words of `text`: NFKC, lower case, punctuation -> space, `str.split()`."""
    return unicodedata.normalize("NFKC", text).lower().translate(PUNCTUATION_TO_SPACE).split()


def shingles_from_words(words: list[str], ngram: int = DEFAULT_NGRAM) -> set[str]:
    """Return the set of space-joined word `ngram`-grams of `words` (see the module docstring).

    Fewer than `ngram` words but at least one gives one shingle (all the words); no words gives an
    empty set.
    """
    if len(words) < ngram:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)}


def shingle_set(text: str, ngram: int = DEFAULT_NGRAM) -> set[str]:
    """Return the shingle set of `text`: `shingles_from_words(normalize_words(text), ngram)`."""
    return shingles_from_words(normalize_words(text), ngram)


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity |a & b| / |a | b| of two shingle sets; 0.0 if both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0
