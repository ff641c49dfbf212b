"""The decontamination index: every word n-gram of the evaluation sets, exactly, in files that workers
memory-map.

The driver builds it once per run (`build_index`, from `Decontaminate.prepare`) into the run's work folder;
each worker process maps the files the first time a batch needs them (`load_index`, cached per process),
so the index never travels through the task graph and the workers share its pages through the page cache.

Files (M indexed n-grams, W evaluation words):

    hashes.npy    (M,) uint64, sorted: the 64-bit hash of each n-gram (curate.dedup.shingles, poly64)
    starts.npy    (M,) uint32 (int64 past 2^32 words): the word where that n-gram starts in words.bin
    offsets.npy   (W + 1,) uint32 (int64 past 4 GB): byte offset of each evaluation word in words.bin
    words.bin     the normalized evaluation words, UTF-8, each followed by one space
    card.json     the sets (name, paths, documents, words, n-grams, documents shorter than n), the
                  normalization, sizes and the key that says whether the index is still current

**Exact.** A hash hit is only a candidate: it counts when the n-gram's normalized words equal the stored
words, compared as strings. A hash collision (or a crafted polynomial-hash collision) can never flag a
document. One entry per distinct n-gram per set, so an n-gram found in two sets names both.

Memory: 12 bytes per indexed n-gram are touched by every lookup (hash and start); the words and their
offsets (about 10 more bytes per evaluation word) are read only to verify a hit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curate.dedup.shingles import ShingleSpec, shingle_hashes, words, words_hash
from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit

FORMAT_VERSION = 1
FILES = ("hashes.npy", "starts.npy", "offsets.npy", "words.bin", "card.json")


@dataclass(frozen=True)
class EvalSource:
    """One evaluation set as the index reads it."""

    name: str
    paths: tuple[str, ...]
    format: str = "auto"
    text_key: str = "text"
    text_unit: str = "file"


def read_texts(source: EvalSource) -> Iterator[list[str]]:
    """The texts of an evaluation set, in batches, read like any pipeline input (bad records skipped)."""
    files = discover(list(source.paths), source.format)
    opts = ReadOptions(text_key=source.text_key, text_unit=source.text_unit, fallback_encoding="cp1252")
    for unit in plan_units(files, 64 << 20, source.text_unit):
        for batch in read_unit(unit, opts):
            yield batch.docs.column("text").to_pylist()


def ngram_hashes(ws: list[str], spec: ShingleSpec) -> np.ndarray:
    """(len(ws) - n + 1,) uint64: the hash of each word n-gram of already normalized words (empty when
    there are fewer than n). The vectorized path re-normalizes the joined words, which leaves them as
    they are; should it not (a pathological code point), the pure-Python definition decides."""
    n = spec.ngram
    if len(ws) < n:
        return np.empty(0, dtype=np.uint64)
    hashes, _ = shingle_hashes([" ".join(ws)], spec)
    if len(hashes) != len(ws) - n + 1:
        hashes = np.array([words_hash(ws[j : j + n]) for j in range(len(ws) - n + 1)], dtype=np.uint64)
    return hashes


def fingerprint(sources: list[EvalSource], spec: ShingleSpec) -> str:
    """What the index depends on: the sets, the normalization and each input file's size and mtime."""
    parts = [FORMAT_VERSION, asdict(spec)]
    for s in sources:
        files = discover(list(s.paths), s.format)
        parts.append([asdict(s), [(f.path, f.size, f.mtime_ns) for f in files]])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()[:32]


class _Builder:
    def __init__(self, spec: ShingleSpec):
        self.spec = spec
        self.words: list[str] = []
        self.hashes: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.set_ids: list[np.ndarray] = []

    def add(self, set_id: int, text: str) -> tuple[int, int]:
        """Index one document; (words, n-grams) added ((0, 0) for a document shorter than n)."""
        ws = words(text, self.spec)
        h = ngram_hashes(ws, self.spec)
        if not len(h):
            return 0, 0
        base = len(self.words)
        self.words.extend(ws)
        self.hashes.append(h)
        self.starts.append(np.arange(base, base + len(h), dtype=np.int64))
        self.set_ids.append(np.full(len(h), set_id, dtype=np.int32))
        return len(ws), len(h)

    def ngram(self, start: int) -> str:
        return " ".join(self.words[start : start + self.spec.ngram])

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted hashes and starts, one entry per distinct n-gram text per set."""
        if not self.hashes:
            return np.empty(0, np.uint64), np.empty(0, np.int64)
        h, st, sid = (np.concatenate(a) for a in (self.hashes, self.starts, self.set_ids))
        order = np.lexsort((st, sid, h))
        h, st, sid = h[order], st[order], sid[order]
        same = np.zeros(len(h), dtype=bool)
        same[1:] = (h[1:] == h[:-1]) & (sid[1:] == sid[:-1])
        keep = ~same
        group_first = 0
        for i in np.flatnonzero(same).tolist():  # repeats of a (hash, set): keep only other texts
            if not same[i - 1]:
                group_first = i - 1
            if self.ngram(int(st[i])) != self.ngram(int(st[group_first])):
                keep[i] = True  # a true hash collision inside one set: both stay, told apart by text
        return h[keep], st[keep]


def build_index(sources: list[EvalSource], spec: ShingleSpec, folder: str | Path, key: str = "") -> dict:
    """Read every set, write the index files into `folder` (replacing what is there); return the card.
    `key` (from `fingerprint`) is kept in the card, so a resumed run can tell the index is current."""
    folder = Path(folder)
    builder = _Builder(spec)
    sets, boundaries = [], []
    for set_id, s in enumerate(sources):
        boundaries.append(len(builder.words))
        docs = n_words = n_grams = short = 0
        for texts in read_texts(s):
            for text in texts:
                w, g = builder.add(set_id, text)
                docs, n_words, n_grams, short = docs + 1, n_words + w, n_grams + g, short + (g == 0)
        if docs == 0:
            raise UserError(
                f"evaluation set '{s.name}' has no readable documents in {list(s.paths)}; check its paths "
                "and text_key."
            )
        sets.append(
            {"name": s.name, "paths": list(s.paths), "documents": docs, "words": n_words,
             "ngrams": n_grams, "shorter_than_n": short}
        )  # fmt: skip
    hashes, starts = builder.entries()
    for s, set_id in zip(sets, range(len(sets))):  # distinct n-grams per set, after the repeats are gone
        lo = boundaries[set_id]
        hi = boundaries[set_id + 1] if set_id + 1 < len(boundaries) else len(builder.words)
        s["distinct_ngrams"] = int(((starts >= lo) & (starts < hi)).sum())
    encoded = [w.encode("utf-8") for w in builder.words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) + 1 for b in encoded], out=offsets[1:])
    blob = b"".join(b + b" " for b in encoded)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:  # the card goes last: a folder without it is not an index
        (folder / name).unlink(missing_ok=True)
    np.save(folder / "hashes.npy", hashes)
    np.save(folder / "starts.npy", starts.astype(np.uint32 if len(encoded) < 2**32 else np.int64))
    np.save(folder / "offsets.npy", offsets.astype(np.uint32 if len(blob) < 2**32 else np.int64))
    (folder / "words.bin").write_bytes(blob)
    sizes = {name: os.path.getsize(folder / name) for name in FILES[:4]}
    card = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "spec": asdict(spec),
        "sets": sets,
        "set_word_starts": boundaries,
        "ngrams": len(hashes),
        "bytes": sizes,
        "lookup_bytes": sizes["hashes.npy"] + sizes["starts.npy"],
        "total_bytes": sum(sizes.values()),
    }
    (folder / "card.json").write_text(json.dumps(card, indent=1))
    return card


def read_card(folder: str | Path) -> dict | None:
    path = Path(folder) / "card.json"
    return json.loads(path.read_text()) if path.is_file() else None


class NgramIndex:
    """A loaded (memory-mapped) index: candidate lookups by hash, verification by text."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.card = json.loads((folder / "card.json").read_text())
        self.n = int(self.card["spec"]["ngram"])
        self.names = [s["name"] for s in self.card["sets"]]
        self.set_word_starts = np.asarray(self.card["set_word_starts"], dtype=np.int64)
        self.hashes = np.load(folder / "hashes.npy", mmap_mode="r")
        self.starts = np.load(folder / "starts.npy", mmap_mode="r")
        self.offsets = np.load(folder / "offsets.npy", mmap_mode="r")
        size = os.path.getsize(folder / "words.bin")
        self.words = (
            np.memmap(folder / "words.bin", dtype=np.uint8, mode="r") if size else np.empty(0, np.uint8)
        )

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """(len(queries),) bool: which hashes are indexed. Queries are sorted first, so the binary searches
        walk the mapped array in order."""
        if not len(self.hashes) or not len(queries):
            return np.zeros(len(queries), dtype=bool)
        order = np.argsort(queries, kind="stable")
        q = queries[order]
        pos = np.minimum(np.searchsorted(self.hashes, q), len(self.hashes) - 1)
        found = np.empty(len(q), dtype=bool)
        found[order] = self.hashes[pos] == q
        return found

    def matches(self, h: int, ngram: bytes) -> list[int]:
        """The sets (indices into `names`) holding exactly this n-gram (its normalized words joined by
        single spaces), among the entries with hash `h`."""
        h = np.uint64(h)
        lo, hi = np.searchsorted(self.hashes, h, "left"), np.searchsorted(self.hashes, h, "right")
        found = []
        for e in range(int(lo), int(hi)):
            start = int(self.starts[e])
            a, b = int(self.offsets[start]), int(self.offsets[start + self.n]) - 1
            if self.words[a:b].tobytes() == ngram:
                found.append(int(np.searchsorted(self.set_word_starts, start, "right")) - 1)
        return found


@functools.lru_cache(maxsize=4)
def load_index(folder: str) -> NgramIndex:
    """The index in `folder`, mapped once per process (workers keep it between tasks)."""
    return NgramIndex(folder)
