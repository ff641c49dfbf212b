"""MinHash signatures of whole batches, equal to `datasketch.MinHash` with the same hash function.

curate matches datasketch ≥ 2.0's default permutation scheme, "affine32": the 32-bit input hash h is
pre-mixed with the MurmurHash3 finalizer and permuted as a_k * fmix32(h) + b_k (mod 2^32), with (a, b)
drawn from `np.random.RandomState(seed)` exactly as datasketch draws them (`affine32_permutations`; a test
checks them against a datasketch MinHash, so they cannot drift unnoticed). Two input hashes are supported:

- "poly64" (default): curate's vectorized shingle hash (see `shingles.py`); datasketch gives the same
  signatures with `hashfunc=shingles.make_hashfunc32(spec)`.
- "sha1": datasketch's own default hash (`sha1_hash32` of the UTF-8 shingle); slower (a Python call per
  shingle), for users who need signatures interchangeable with a plain datasketch setup.

A document without shingles (no words) gets the empty signature (all 2^32 - 1), as in datasketch; LSH
leaves such documents out, since their signatures carry no information.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from curate.dedup.shingles import ShingleSpec, shingle_hashes, shingles

if TYPE_CHECKING:
    from datasketch import MinHash

# datasketch is imported only where its own code is called (the sha1 hash, comparisons): its package
# imports scipy (~0.4 s), which the driver would pay before the first signature.

EMPTY = np.uint32(0xFFFFFFFF)
_LITTLE_ENDIAN = sys.byteorder == "little"  # the low 32 bits of a uint64 are then its first uint32
HASHES = ("poly64", "sha1")


def fmix32_np(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), each (num_perm,) uint32: datasketch's "affine32" draws (`MinHash._init_permutations`),
    a odd, so that h -> a*h + b (mod 2^32) is a bijection."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@dataclass
class Signatures:
    values: np.ndarray  # (n_docs, num_perm) uint32
    n_shingles: np.ndarray  # (n_docs,) int64: shingles per document, with repeats
    shingle_hashes: np.ndarray | None = None  # 64-bit hashes, grouped by document (only when asked)
    offsets: np.ndarray | None = None  # (n_docs + 1,) into shingle_hashes


class MinHasher:
    def __init__(
        self, num_perm: int = 128, seed: int = 1, spec: ShingleSpec | None = None, hash: str = "poly64"
    ):
        if num_perm < 1:
            raise ValueError(f"num_perm must be at least 1, got {num_perm}.")
        if hash not in HASHES:
            raise ValueError(f"hash must be one of {', '.join(HASHES)}, got {hash!r}.")
        self.num_perm, self.seed, self.hash = num_perm, seed, hash
        self.spec = spec or ShingleSpec()
        self.a, self.b = affine32_permutations(num_perm, seed)

    def _hashes32(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self.hash == "poly64":
            h64, offsets = shingle_hashes(texts, self.spec)
            if _LITTLE_ENDIAN:  # the low halves, without a 64-bit pass
                low32 = np.ascontiguousarray(h64).view(np.uint32)[::2]
            else:
                low32 = h64 & np.uint64(0xFFFFFFFF)
            return low32.astype(np.uint32), offsets, h64
        from datasketch.hashfunc import sha1_hash32

        per_doc = [[sha1_hash32(s.encode("utf-8")) for s in shingles(t, self.spec)] for t in texts]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in per_doc], out=offsets[1:])
        flat = np.fromiter((h for x in per_doc for h in x), dtype=np.uint32, count=int(offsets[-1]))
        return flat, offsets, None

    def signatures(self, texts: list[str], keep_shingles: bool = False) -> Signatures:
        """Signatures of a batch of texts; with `keep_shingles`, also their 64-bit shingle hashes."""
        h32, offsets, h64 = self._hashes32(texts)
        counts = np.diff(offsets)
        out = np.full((len(texts), self.num_perm), EMPTY, dtype=np.uint32)
        nonempty = np.flatnonzero(counts > 0)
        if len(nonempty):
            mixed = fmix32_np(h32)
            starts = offsets[nonempty]
            permuted = np.empty_like(mixed)
            for k in range(self.num_perm):  # one pass per permutation: (n_shingles,) at a time
                np.multiply(mixed, self.a[k], out=permuted)
                permuted += self.b[k]
                out[nonempty, k] = np.minimum.reduceat(permuted, starts)
        keep = keep_shingles and h64 is not None
        return Signatures(out, counts, h64 if keep else None, offsets if keep else None)

    def datasketch_minhash(self, text: str) -> MinHash:
        """The same signature computed by datasketch itself (for tests and comparisons)."""
        from datasketch import MinHash
        from datasketch.hashfunc import sha1_hash32

        from curate.dedup.shingles import make_hashfunc32

        hashfunc = make_hashfunc32(self.spec) if self.hash == "poly64" else sha1_hash32
        m = MinHash(num_perm=self.num_perm, seed=self.seed, hashfunc=hashfunc, scheme="affine32")
        m.update_batch([s.encode("utf-8") for s in shingles(text, self.spec)])
        return m
