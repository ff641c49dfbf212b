"""Shingles, signatures and LSH: equal to datasketch, and statistically right."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from curate.dedup.components import connected_components
from curate.dedup.lsh import band_keys, candidate_probability, half_point, optimal_bands_rows
from curate.dedup.minhash import EMPTY, MinHasher, affine32_permutations
from curate.dedup.shingles import ShingleSpec, shingle_hash64, shingle_hashes, shingles, words

VOCAB = [
    "alpha",
    "Beta",
    "gamma",
    "délta",
    "ε",
    "zeta!",
    "eta,",
    "théta",
    "IOTA",
    "kappa",
    "—",
    "“quoted”",
    "ﬁne",
    "x",
    "y2",
    "naïve",
    "日本語",
    "emoji🙂",
    "tab\there",
    "new\nline",
]


def random_docs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    docs = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(0, 60))) for _ in range(n)]
    return [*docs, "", "   ", "!!! ...", "one", "two words"]


@pytest.mark.parametrize(
    "spec",
    [
        ShingleSpec(),
        ShingleSpec(ngram=3, lowercase=False),
        ShingleSpec(ngram=1),
        ShingleSpec(unit="char", ngram=4),
        ShingleSpec(strip_punctuation=False),
    ],
)
def test_vectorized_shingle_hashes_equal_the_reference(spec):
    docs = random_docs(150, seed=1)
    h, offsets = shingle_hashes(docs, spec)
    for i, doc in enumerate(docs):
        expected = [shingle_hash64(s, spec) for s in shingles(doc, spec)]
        assert h[offsets[i] : offsets[i + 1]].tolist() == expected, doc


def test_normalization_and_short_documents():
    spec = ShingleSpec(ngram=3)
    assert words("Hello, WORLD—it’s “ﬁne”!", spec) == ["hello", "world", "it", "s", "fine"]
    assert shingles("Only two", spec) == ["only two"]
    assert shingles(" ... ", spec) == []


@pytest.mark.parametrize("hash_name", ["poly64", "sha1"])
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42)])
def test_signatures_equal_datasketch(hash_name, num_perm, seed):
    hasher = MinHasher(num_perm=num_perm, seed=seed, hash=hash_name)
    docs = random_docs(120, seed=seed)
    sig = hasher.signatures(docs)
    for i, doc in enumerate(docs):
        assert np.array_equal(sig.values[i], hasher.datasketch_minhash(doc).hashvalues), doc
    empty = sig.n_shingles == 0
    assert empty.sum() >= 3 and (sig.values[empty] == EMPTY).all()


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (256, 0), (7, 2**31 + 5)])
def test_permutations_are_datasketchs(num_perm, seed):
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = affine32_permutations(num_perm, seed)
    assert mine[0].dtype == mine[1].dtype == np.uint32
    assert np.array_equal(mine[0], a) and np.array_equal(mine[1], b)


def test_char_shingle_signatures_equal_datasketch():
    hasher = MinHasher(num_perm=32, seed=3, spec=ShingleSpec(unit="char", ngram=5))
    docs = random_docs(40, seed=9)
    sig = hasher.signatures(docs)
    for i, doc in enumerate(docs):
        assert np.array_equal(sig.values[i], hasher.datasketch_minhash(doc).hashvalues)


def overlapping_pair(n: int, jaccard: float, offset: int) -> tuple[str, str, float]:
    """Two documents of n distinct unigram shingles sharing k of them: J = k / (2n - k)."""
    k = round(2 * n * jaccard / (1 + jaccard))
    a = [f"w{offset + i}" for i in range(n)]
    b = a[:k] + [f"v{offset + i}" for i in range(n - k)]
    return " ".join(a), " ".join(b), k / (2 * n - k)


def test_estimated_jaccard_is_within_tolerance_over_a_sweep_of_similarities():
    hasher = MinHasher(num_perm=256, seed=5, spec=ShingleSpec(ngram=1))
    for target in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        pairs = [overlapping_pair(300, target, 1000 * i) for i in range(30)]
        sig = hasher.signatures([t for a, b, _ in pairs for t in (a, b)]).values
        estimates = (sig[0::2] == sig[1::2]).mean(axis=1)
        truth = np.array([j for _, _, j in pairs])
        sd = np.sqrt(truth * (1 - truth) / 256)
        assert abs(estimates.mean() - truth.mean()) < 3 * sd.mean() / np.sqrt(len(pairs)) + 0.005, target
        assert (np.abs(estimates - truth) <= 3 * sd + 1e-9).mean() >= 0.9, target


@pytest.mark.parametrize(
    ("threshold", "num_perm", "fp_weight"),
    [(0.5, 128, 0.5), (0.8, 128, 0.5), (0.9, 256, 0.5), (0.7, 64, 0.5), (0.8, 128, 0.05), (0.35, 100, 0.2)],
)
def test_bands_and_rows_follow_datasketchs_rule(threshold, num_perm, fp_weight):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(fp_weight, 1 - fp_weight))
    assert optimal_bands_rows(threshold, num_perm, fp_weight, 1 - fp_weight) == (lsh.b, lsh.r)


def test_s_curve_numbers():
    assert half_point(14, 8) == pytest.approx(0.685, abs=1e-3)  # FineWeb's setting
    assert candidate_probability(half_point(16, 8), 16, 8) == pytest.approx(0.5)
    assert candidate_probability(0.8, 16, 8) == pytest.approx(0.947, abs=1e-3)


def test_band_keys_are_equal_exactly_when_the_rows_are():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(50, 32), dtype=np.uint64).astype(np.uint32)
    sig[1] = sig[0]
    sig[2, :4] = sig[0, :4]  # shares band 0 only (4 rows per band)
    keys = band_keys(sig, 8, 4)
    assert (keys[0] == keys[1]).all()
    assert keys[0, 0] == keys[2, 0] and (keys[0, 1:] != keys[2, 1:]).all()
    assert len(np.unique(keys[3:, 0])) == 47


def union_find(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_components_equal_union_find(seed):
    rng = random.Random(seed)
    edges = [(rng.randrange(300), rng.randrange(300)) for _ in range(250)]
    edges += [(1000 + i, 1001 + i) for i in range(300)]  # a long path
    edges = [(a, b) for a, b in edges if a != b]
    con = duckdb.connect()
    con.execute("CREATE TABLE e(a BIGINT, b BIGINT)")
    con.executemany("INSERT INTO e VALUES (?, ?)", edges)
    connected_components(con, "e", "cc")
    assert dict(con.execute("SELECT node, root FROM cc").fetchall()) == union_find(edges)


def test_the_shipped_separator_table_is_unicode_punctuation_and_space():
    import unicodedata

    from curate.dedup.shingles import SEPARATORS_FILE, derive_separator_table, separator_table

    with np.load(SEPARATORS_FILE) as data:
        shipped_version = str(data["unicode_version"])
    table = separator_table(True)
    assert table[ord(" ")] and table[ord("—")] and table[ord("“")] and table[ord("\n")]
    assert not table[ord("a")] and not table[ord("$")] and not table[ord("日")]
    assert separator_table(False).sum() < table.sum()
    if unicodedata.unidata_version != shipped_version:
        pytest.skip(f"this Python has Unicode {unicodedata.unidata_version}; the table is {shipped_version}")
    assert np.array_equal(derive_separator_table(True), table)
    assert np.array_equal(derive_separator_table(False), separator_table(False))


@pytest.mark.parametrize("n_docs", [1, 7, 40_000])  # 40,000: past the radix-sort (int16) range
def test_unique_per_document_equals_np_unique_per_document(n_docs):
    from curate.dedup.near import unique_per_document

    rng = np.random.default_rng(n_docs)
    lengths = rng.integers(0, 6, n_docs)  # empty documents too
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    hashes = rng.integers(0, 4, offsets[-1]).astype(np.uint64) << np.uint64(61)  # many repeats
    h, new = unique_per_document(hashes, offsets)
    for d in range(n_docs):
        want = np.unique(hashes[offsets[d] : offsets[d + 1]])
        assert np.array_equal(h[new[d] : new[d + 1]], want)
