"""Shingles and their hashes, vectorized over a whole batch of documents.

Normalization (each step configurable): Unicode NFKC, lower case, Unicode punctuation (category P*)
treated as a separator like whitespace. Words are the maximal runs of non-separator characters.
Shingles are word n-grams (default 5) or character n-grams of the words joined by single spaces. A
document with fewer words (or characters) than n has one shingle, all of it; a document with no words has
no shingles.

The shingle hash ("poly64") is a function of the shingle's *string*, so datasketch can compute it too:

    word_hash(w)     = fmix64( sum_j ord(w[j]) * B^(j+1)  +  len(w) )            (mod 2^64)
    shingle_hash(ws) = fmix64( sum_k word_hash(ws[k]) * C^k  +  len(ws) )        word shingles
    shingle_hash(s)  = word_hash(s)                                               character shingles

`shingle_hash32` (the low 32 bits) is the `hashfunc` that makes `datasketch.MinHash` give the same
signatures as curate; the 64-bit value is the set element used for exact Jaccard verification.

The vectorized path encodes a batch as UTF-32 (one numpy element per code point), finds separators with a
lookup table over all code points, computes word hashes from prefix sums of cp[j] * B^(j+1), and shingle
hashes as polynomials of word hashes: no Python loop over words or shingles.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MASK = (1 << 64) - 1
B = 0x9E3779B97F4A7C15  # odd: invertible mod 2^64
C = 0xC2B2AE3D27D4EB4F
B_INV = pow(B, -1, 1 << 64)
_U64 = np.uint64
CHUNK_CHARS = 1 << 20  # code points hashed at once (bounds the prefix arrays to ~30 MB)


@dataclass(frozen=True)
class ShingleSpec:
    ngram: int = 5
    unit: str = "word"  # "word" | "char"
    lowercase: bool = True
    unicode_form: str = "NFKC"  # "NFKC" | "NFC" | "none"
    strip_punctuation: bool = True

    def __post_init__(self):
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}.")
        if self.unit not in ("word", "char"):
            raise ValueError(f"shingle unit must be 'word' or 'char', got {self.unit!r}.")
        if self.unicode_form not in ("NFKC", "NFC", "none"):
            raise ValueError(f"unicode_form must be NFKC, NFC or none, got {self.unicode_form!r}.")


# --- the pure-Python definition (the reference, and datasketch's hashfunc) -----------------------------


def fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    return h ^ (h >> 33)


def word_hash(word: str) -> int:
    h, p = 0, B
    for ch in word:
        h = (h + ord(ch) * p) & MASK
        p = (p * B) & MASK
    return fmix64((h + len(word)) & MASK)


def words_hash(words: list[str]) -> int:
    s, c = 0, 1
    for w in words:
        s = (s + word_hash(w) * c) & MASK
        c = (c * C) & MASK
    return fmix64((s + len(words)) & MASK)


SEPARATORS_FILE = Path(__file__).with_name("separators.npz")


@lru_cache(maxsize=4)
def separator_table(strip_punctuation: bool = True) -> np.ndarray:
    """(0x110000,) bool: True for whitespace and, if asked, Unicode punctuation (category P*).

    The table ships with curate (`separators.npz`, Unicode 14.0 as in Python 3.11), so shingles, and the
    signatures an incremental index keeps, do not change with the Unicode version of the running Python.
    """
    with np.load(SEPARATORS_FILE) as data:
        bits = data["punctuation_or_space" if strip_punctuation else "space"]
    return np.unpackbits(bits)[:0x110000].astype(bool)


def derive_separator_table(strip_punctuation: bool = True) -> np.ndarray:
    """The same table from this Python's `unicodedata` (how `separators.npz` was made; slow: ~1 s)."""
    table = np.zeros(0x110000, dtype=bool)
    for cp in range(0x110000):
        ch = chr(cp)
        table[cp] = ch.isspace() or (strip_punctuation and unicodedata.category(ch)[0] == "P")
    return table


def normalize(text: str, spec: ShingleSpec) -> str:
    if spec.unicode_form != "none" and not text.isascii():
        text = unicodedata.normalize(spec.unicode_form, text)
    return text.lower() if spec.lowercase else text


@lru_cache(maxsize=4)
def separator_regex(strip_punctuation: bool = True) -> re.Pattern:
    """A regex matching runs of separator characters, built from `separator_table`."""
    table = separator_table(strip_punctuation)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], table, [False])).view(np.int8)))
    ranges = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b - 1))}" for a, b in zip(edges[::2], edges[1::2]))
    return re.compile(f"[{ranges}]+")


def words(text: str, spec: ShingleSpec) -> list[str]:
    """The words of a document after normalization."""
    return [w for w in separator_regex(spec.strip_punctuation).split(normalize(text, spec)) if w]


def shingles(text: str, spec: ShingleSpec) -> list[str]:
    """The shingle strings of a document, in order, with repeats (reference implementation)."""
    ws = words(text, spec)
    n = spec.ngram
    if spec.unit == "char":
        joined = " ".join(ws)
        if not joined:
            return []
        return [joined] if len(joined) < n else [joined[i : i + n] for i in range(len(joined) - n + 1)]
    if not ws:
        return []
    if len(ws) < n:
        return [" ".join(ws)]
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def shingle_hash64(shingle: str, spec: ShingleSpec) -> int:
    return word_hash(shingle) if spec.unit == "char" else words_hash(shingle.split(" "))


def make_hashfunc32(spec: ShingleSpec):
    """The `hashfunc` for `datasketch.MinHash(hashfunc=...)` whose signatures equal curate's for `spec`.

    datasketch passes what was given to `update`: the shingle string encoded as UTF-8.
    """
    if spec.unit == "char":
        return lambda b: word_hash(b.decode("utf-8")) & 0xFFFFFFFF
    return lambda b: words_hash(b.decode("utf-8").split(" ")) & 0xFFFFFFFF


# --- the vectorized path ----------------------------------------------------------------------------


def fmix64_np(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(33))
    h *= _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h *= _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


class _Powers:
    """B^(j+1) and B^-j mod 2^64 for j < n, grown on demand and kept per process."""

    def __init__(self):
        self.pow = np.empty(0, dtype=_U64)
        self.inv = np.empty(0, dtype=_U64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > len(self.pow):
            size = max(n, 2 * len(self.pow), 1 << 16)
            self.pow = B * _geometric(B, size)
            self.inv = _geometric(B_INV, size)
        return self.pow[:n], self.inv[:n]


def _geometric(x: int, n: int) -> np.ndarray:
    """x^j mod 2^64 for j < n, by doubling: log2(n) vector multiplies (cumprod's loop is 10x slower)."""
    out = np.empty(n, dtype=_U64)
    out[0], filled, step = 1, 1, x
    while filled < n:
        k = min(filled, n - filled)
        np.multiply(out[:k], _U64(step), out=out[filled : filled + k])
        filled += k
        step = (step * step) & MASK
    return out


_POWERS = _Powers()


def _substring_hashes(cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """word_hash of cp[s:e] for every (s, e), from one prefix sum over the code points."""
    pow_, inv = _POWERS.get(len(cp) + 1)
    prefix = np.zeros(len(cp) + 1, dtype=_U64)
    np.cumsum(cp.astype(_U64) * pow_[: len(cp)], out=prefix[1:])
    h = (prefix[ends] - prefix[starts]) * inv[starts]
    return fmix64_np(h + (ends - starts).astype(_U64))


def _encode(texts: list[str], spec: ShingleSpec) -> tuple[np.ndarray, np.ndarray]:
    """Normalized texts as one code-point array, each followed by a space; and document start offsets."""
    normed = [normalize(t, spec) for t in texts]
    cp = np.frombuffer(" ".join(normed).encode("utf-32-le") + b" \x00\x00\x00", dtype=np.uint32)
    lengths = np.fromiter((len(t) + 1 for t in normed), dtype=np.int64, count=len(normed))
    doc_starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=doc_starts[1:])
    return cp, doc_starts


def _word_spans(cp: np.ndarray, spec: ShingleSpec) -> tuple[np.ndarray, np.ndarray]:
    is_sep = separator_table(spec.strip_punctuation)[cp]
    edges = np.diff(np.concatenate(([True], is_sep, [True])).view(np.int8))
    starts = np.flatnonzero(edges == -1)  # separator -> word
    ends = np.flatnonzero(edges == 1)  # word -> separator
    return starts, ends


def _word_shingles(
    wh: np.ndarray, word_doc: np.ndarray, n_docs: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes from word hashes; returns (hashes, doc id of each hash), grouped by document."""
    words_per_doc = np.bincount(word_doc, minlength=n_docs)
    hashes, owners = [], []
    if len(wh) >= n:
        m = len(wh) - n + 1
        s = np.zeros(m, dtype=_U64)
        c = 1
        for k in range(n):
            s += wh[k : k + m] * _U64(c)
            c = (c * C) & MASK
        full = fmix64_np(s + _U64(n))
        valid = word_doc[:m] == word_doc[n - 1 :]
        hashes.append(full[valid])
        owners.append(word_doc[:m][valid])
    short = np.flatnonzero((words_per_doc > 0) & (words_per_doc < n))
    if len(short):
        first = np.searchsorted(word_doc, short)
        short_h = np.empty(len(short), dtype=_U64)
        for i, (d, f) in enumerate(zip(short.tolist(), first.tolist())):
            k = int(words_per_doc[d])
            s, c = 0, 1
            for w in wh[f : f + k].tolist():
                s = (s + w * c) & MASK
                c = (c * C) & MASK
            short_h[i] = fmix64((s + k) & MASK)
        hashes.append(short_h)
        owners.append(short)
    if not hashes:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    if len(hashes) == 1:  # full shingles only: already in document order
        return hashes[0], owners[0]
    h, o = np.concatenate(hashes), np.concatenate(owners)
    order = np.argsort(o, kind="stable")
    return h[order], o[order]


def _char_shingles(texts: list[str], spec: ShingleSpec) -> tuple[np.ndarray, np.ndarray]:
    joined = [" ".join(words(t, spec)) for t in texts]
    cp = np.frombuffer("".join(joined).encode("utf-32-le"), dtype=np.uint32)
    n = spec.ngram
    starts, ends, owners = [], [], []
    pos = 0
    for d, t in enumerate(joined):
        k = len(t)
        if k:
            s = np.arange(pos, pos + max(k - n + 1, 1), dtype=np.int64)
            starts.append(s)
            ends.append(np.minimum(s + n, pos + k))
            owners.append(np.full(len(s), d, dtype=np.int64))
        pos += k
    if not starts:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    return _substring_hashes(cp, np.concatenate(starts), np.concatenate(ends)), np.concatenate(owners)


def shingle_hashes(texts: list[str], spec: ShingleSpec) -> tuple[np.ndarray, np.ndarray]:
    """64-bit shingle hashes of a batch: (hashes, offsets) with document d's hashes at
    hashes[offsets[d]:offsets[d+1]], in shingle order, with repeats."""
    n_docs = len(texts)
    hashes, owners = [], []
    base = 0
    for chunk in _chunks(texts):
        if spec.unit == "char":
            h, o = _char_shingles(chunk, spec)
        else:
            cp, doc_starts = _encode(chunk, spec)
            ws, we = _word_spans(cp, spec)
            wh = _substring_hashes(cp, ws, we)
            # every document ends with a separator, so no word spans two: count words per document
            first_word = np.searchsorted(ws, doc_starts)
            word_doc = np.repeat(np.arange(len(chunk)), np.diff(first_word))
            h, o = _word_shingles(wh, word_doc, len(chunk), spec.ngram)
        hashes.append(h)
        owners.append(o + base)
        base += len(chunk)
    h = np.concatenate(hashes) if hashes else np.empty(0, dtype=_U64)
    o = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(o, minlength=n_docs), out=offsets[1:])
    return h, offsets


def _chunks(texts: list[str]):
    """Split a batch so that each chunk holds at most CHUNK_CHARS code points (a longer text stands alone)."""
    chunk, size = [], 0
    for t in texts:
        if chunk and size + len(t) > CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(t)
        size += len(t) + 1
    if chunk:
        yield chunk
