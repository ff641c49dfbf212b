"""Build the near-duplicate-detection benchmark corpus and its exact ground truth.

THE NEAR-DUPLICATES IN THIS CORPUS ARE GENERATED. The originals are real text written by people
(from `shared/data`, never from its `eval/` folder); a seeded random subset of them is copied and
perturbed by this script (word substitutions, insertions, deletions, real web boilerplate added at
the start/end, mixtures of these, and a few exact copies). Every generated copy says so in its
record: `dup_of` is the id of the original it was made from and `edit` is
`{"kind", "strength", "target_jaccard"}`. Originals have `dup_of = null` and `edit = null`.
Naturally occurring near-duplicates among the real documents (repeated licence headers, partly
translated pages, a plagiarism corpus, C4's exact repeats, ...) are left in and are part of the
ground truth too.

Documents
---------
- `--n-docs` counts the REAL documents (originals); `--dup-fraction` x `--n-docs` generated
  copies are added on top (defaults: 100,000 real + 10,000 generated = 110,000 documents).
- Long reference texts (Gutenberg books, Tiny Shakespeare, Python and Linux reST docs, the
  Debian handbook, Wikipedia wikitext, inaugural and State of the Union addresses) are split into
  documents of whole paragraph groups. Target lengths are drawn log-uniformly over a 4x range;
  the range is scaled so that the corpus reaches `--n-docs`. There are only about 11 M words of
  real text here, so at 100,000 documents the chunks are short (target lengths about 24..94
  words; the median document has 80 words, the web documents give the long tail). Chunk
  boundaries are seeded by `--seed` and the text's own hash, so identical source texts give
  identical chunks.
- Debian handbook: per page, en-US plus at most 3 other locales (seeded choice) whose text is
  really in the stated language. All 26 locales share code blocks and untranslated paragraphs,
  whose clusters of up to 26 copies would otherwise swamp the ground truth's natural pairs.
- Web documents are kept whole: WebText, C4 samples, trafilatura `text_main` and `text_full`,
  CCNet/RedPajama/C4 samples and a WET file, the scrapinghub article bodies, the Lee news corpus,
  and the Clough & Stevenson short answers.
- Documents with fewer than 10 whitespace-separated words are dropped.

Edit kinds and strength (`edit.strength`)
-----------------------------------------
- `exact`: identical text, strength 0.
- `substitute` / `insert` / `delete`: that fraction of the original's words (whitespace tokens)
  is replaced by / preceded by / removed, with random words drawn from the corpus.
- `mixed`: the fraction is split equally between substitutions, insertions and deletions.
- `boilerplate`: real web boilerplate is added at the start (the end of a real page header: the
  trafilatura `text_full` before its `text_main` begins), the end (the start of a real page
  footer) or both; strength = added (normalized) words / original words.
Each copy draws a target Jaccard uniformly from [0.45, 0.98] and the strength is derived from it
with a simple model (J = s / (2 - s) with s = (1 - p)^5 surviving shingles); the original it is
made from is drawn among those long enough for at least one whole edit at that strength (so
high-similarity copies come from long documents), and 1, 2 or 3 copies are made of it (75/18/7 %),
the extra ones with their own kind and target. The real Jaccard of copies vs originals thus
spreads over about 0.5..1.0; the exact value is measured, not assumed (see the summary).

Ground truth
------------
Shingles are `benchmarks/shingles.py` (curate's default: NFKC, lower case, Unicode punctuation ->
space, `str.split()`, word 5-grams). `truth.parquet` holds EVERY pair of documents whose exact
Jaccard of shingle sets is >= 0.5 (columns id_a < id_b, jaccard). It is found exactly, without a
quadratic loop, by the AllPairs prefix filter: shingles are mapped to integer ids with a dict (no
hash collisions), ordered rarest first, and two sets with J >= t must share a token among the
first |A| - ceil(t |A|) + 1 tokens of each; every candidate pair that passes the size filter is
then verified by exact set intersection. `truth_removed.parquet` (id, cluster_root) lists the true
removals at J >= 0.8: connected components over pairs with J >= 0.8, the smallest id (string
order) of each component is kept and the others are removed.

Outputs in `--out DIR` (which must be outside the repository):
`docs-00000.jsonl` ... (one JSON record a line: id, text, source, dup_of, edit),
`truth.parquet`, `truth_removed.parquet`, `summary.json`. MB means 10**6 bytes of UTF-8 text.

Needs numpy and pyarrow (curate's dev venv or the peer venv both have them):
    python benchmarks/dedup_corpus.py --out /work/benchdata/dedup100k --seed 0 \
        --n-docs 100000 --dup-fraction 0.1 --shards 8
"""

from __future__ import annotations

import argparse
import bz2
import collections
import glob
import gzip
import hashlib
import itertools
import json
import math
import os
import random
import re
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shingles import normalize_words, shingle_set  # the one shingle definition, shared with peers

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

MIN_DOC_WORDS = 10
"""Documents (and chunks) with fewer whitespace-separated words than this are dropped."""
CHUNK_RANGE_RATIO = 4.0
"""max/min of the log-uniform chunk-length distribution (words)."""
MIN_TARGET_MEAN_WORDS, MAX_TARGET_MEAN_WORDS = 30.0, 400.0
"""Bounds on the mean chunk length (words) the sizing loop may choose."""
TRUTH_MIN_JACCARD = 0.5
"""Every pair with exact Jaccard >= this is in truth.parquet."""
REMOVAL_JACCARD = 0.8
"""Threshold of the expected removed set (truth_removed.parquet)."""
EDIT_KIND_WEIGHTS = {
    "exact": 0.04,
    "substitute": 0.26,
    "insert": 0.16,
    "delete": 0.16,
    "boilerplate": 0.18,
    "mixed": 0.20,
}
"""Share of generated copies per edit kind."""
COPIES_PER_ORIGINAL = ((1, 0.75), (2, 0.18), (3, 0.07))
"""(copies, probability): how many generated copies one chosen original gets."""
TARGET_JACCARD_RANGE = (0.45, 0.98)
"""Uniform range of the target Jaccard a non-exact copy is edited towards."""
MIN_COPY_WORDS = 20
"""Only originals with at least this many words are copied."""
HANDBOOK_LOCALES_PER_PAGE = 4
"""Debian handbook: en-US plus at most this many minus one other (agreeing) locales per page."""


@dataclass
class RawDoc:
    """One real source text before chunking: `chunk` says whether it is split into documents."""

    source: str
    text: str
    chunk: bool


@dataclass
class Boilerplate:
    """Real web boilerplate: page headers (text before the main content) and footers (after it)."""

    heads: list[str]
    tails: list[str]


@dataclass
class Doc:
    """One corpus document: `dup_of` and `edit` are None for real (original) documents."""

    text: str
    source: str
    dup_of: int | None = None  # index of the original in the originals list, for copies
    edit: dict | None = None


# ----------------------------------------------------------------------------- reading sources


def _decode(raw: bytes) -> str:
    """Decode UTF-8, falling back to cp1252 (two Gutenberg files are Latin-1), newlines -> \\n."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _jsonl(path: Path) -> list[dict]:
    """Read a JSONL file (gzip if the name ends in .gz) into a list of dicts."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _wikipedia_pages(path: Path) -> list[str]:
    """Return the wikitext of main-namespace, non-redirect pages of a MediaWiki XML dump."""
    pages = []
    with bz2.open(path, "rb") as f:
        for _, elem in ET.iterparse(f, events=("end",)):
            if elem.tag.endswith("}page"):
                ns = elem.find("{*}ns")
                redirect = elem.find("{*}redirect")
                text = elem.find("{*}revision/{*}text")
                if ns is not None and ns.text == "0" and redirect is None and text is not None and text.text:
                    pages.append(text.text)
                elem.clear()
    return pages


def _wet_records(path: Path) -> list[str]:
    """Return the text of the `conversion` records of a WET file."""
    with gzip.open(path, "rb") as f:
        raw = f.read().decode("utf-8", errors="replace")
    texts = []
    for record in raw.split("WARC/1.0\r\n")[1:]:
        head, _, body = record.partition("\r\n\r\n")
        if "WARC-Type: conversion" in head:
            texts.append(body.strip())
    return texts


def _handbook_pages(path: Path, seed: int) -> list[str]:
    """Debian handbook texts: per page, en-US plus up to 3 other locales really in their language.

    Untranslated locales are verbatim copies of the English pages and all locales share code
    blocks, so taking every locale would make clusters of up to 26 copies (see module docstring).
    """
    by_page: dict[str, list[dict]] = collections.defaultdict(list)
    for r in _jsonl(path):
        if r["lang"] == "en-US" or r["dir_lang_agrees"]:
            by_page[r["id"].split("/", 1)[1]].append(r)
    rng = random.Random(f"{seed}:handbook")
    texts = []
    for page in sorted(by_page):
        english = [r for r in by_page[page] if r["lang"] == "en-US"]
        others = sorted((r for r in by_page[page] if r["lang"] != "en-US"), key=lambda r: r["lang"])
        picked = english + rng.sample(others, min(len(others), HANDBOOK_LOCALES_PER_PAGE - len(english)))
        texts.extend(r["text"] for r in picked)
    return texts


def load_sources(data_dir: Path, seed: int) -> tuple[list[RawDoc], Boilerplate]:
    """Read every real text used by the benchmark; return (raw docs, real boilerplate pool)."""
    d = data_dir
    docs: list[RawDoc] = []

    def add(source: str, texts, chunk: bool) -> None:
        docs.extend(RawDoc(source, _decode(t) if isinstance(t, bytes) else t, chunk) for t in texts if t)

    for path in sorted(glob.glob(str(d / "reference/gutenberg_nltk/*.txt"))):
        add("gutenberg", [Path(path).read_bytes()], chunk=True)
    add("tinyshakespeare", [(d / "reference/tinyshakespeare_input.txt").read_bytes()], chunk=True)
    add(
        "python-docs",
        [r["text"] for r in _jsonl(d / "reference/docs_debian/python3.11-doc_rst_sources.jsonl.gz")],
        True,
    )
    add(
        "linux-docs",
        [r["text"] for r in _jsonl(d / "reference/docs_debian/linux-doc-6.1_rst.jsonl.gz")],
        True,
    )
    add("debian-handbook", _handbook_pages(d / "langid/debian-handbook_11_multilingual.jsonl.gz", seed), True)
    (wiki,) = glob.glob(str(d / "reference/wikipedia_gensim_sample/*.bz2"))
    add("wikipedia", _wikipedia_pages(Path(wiki)), chunk=True)
    for zip_name, source in (("inaugural.zip", "inaugural"), ("state_union.zip", "state-union")):
        with zipfile.ZipFile(d / "reference/nltk_corpora" / zip_name) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".txt"))
            add(source, [zf.read(n) for n in names], chunk=True)

    lee = (d / "reference/wikipedia_gensim_sample/lee_background.cor").read_bytes()
    add("lee-news", _decode(lee).split("\n"), chunk=False)
    add(
        "webtext",
        [r["text"] for r in _jsonl(d / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")],
        False,
    )
    add("c4-recdp", [r["text"] for r in _jsonl(d / "web/recdp_tiny_c4/tiny_c4_sample.jsonl")], False)
    trafilatura = _jsonl(d / "web/trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz")
    add("trafilatura-main", [r.get("text_main") for r in trafilatura], chunk=False)
    add("trafilatura-full", [r.get("text_full") for r in trafilatura], chunk=False)
    cc = d / "web/cc_small_samples"
    for name in (
        "datajuicer_redpajama-c4-refined.jsonl",
        "datajuicer_redpajama-cc-2023-06-refined.jsonl",
        "dolma_cc_en_head-0091.jsonl",
        "dolma_cc_en_head-0174.jsonl",
        "dolma_provided_documents_000.json.gz",
        "olmo_c4-sample.01.json.gz",
        "olmo_c4-sample.02.json.gz",
        "olmo_c4-sample.03.json.gz",
    ):
        add("cc-samples", [r.get("text") for r in _jsonl(cc / name)], chunk=False)
    add("cc-samples", _wet_records(cc / "cc_whirlwind.warc.wet.gz"), chunk=False)
    articles = json.loads((d / "web/scrapinghub_article_benchmark/ground-truth.json").read_text("utf-8"))
    add("scrapinghub-articles", [articles[k].get("articleBody") for k in sorted(articles)], chunk=False)
    clough = sorted(glob.glob(str(d / "neardup/clough_stevenson_short_answers/*.txt")))
    add("clough-stevenson", [Path(p).read_bytes() for p in clough], chunk=False)

    assert not any("/eval/" in p for p in clough), "never read shared/data/eval"
    return docs, _boilerplate_pool(trafilatura)


def _boilerplate_pool(pages: list[dict]) -> Boilerplate:
    """Real page headers and footers: `text_full` before the main content starts and after it ends.

    trafilatura's `text_full` is the whole page text on one line; the first and the last line of
    `text_main` are located in it (first 50 / last 50 characters, whitespace-collapsed).
    """
    heads, tails = [], []
    for r in pages:
        full, main = r.get("text_full") or "", r.get("text_main") or ""
        lines = [" ".join(line.split()) for line in main.split("\n") if len(line.split()) >= 4]
        if not lines or not full:
            continue
        start = full.find(lines[0][:50])
        end_key = lines[-1][-50:]
        end = full.rfind(end_key)
        if start > 0:
            heads.append(full[:start].strip())
        if end >= 0:
            tails.append(full[end + len(end_key) :].strip())
    return Boilerplate(
        heads=[h for h in heads if len(normalize_words(h)) >= 5],
        tails=[t for t in tails if len(normalize_words(t)) >= 5],
    )


# ----------------------------------------------------------------------------- chunking


def _blocks(text: str, max_words: int) -> list[tuple[str, int]]:
    """Split `text` into paragraphs (blank-line separated) of at most `max_words` words each.

    A longer paragraph is cut at line breaks, and a line that is still too long at word
    boundaries. Returns (block text, word count) pairs.
    """
    out: list[tuple[str, int]] = []
    for para in re.split(r"\n[ \t]*\n", text):
        n = len(para.split())
        if n == 0:
            continue
        if n <= max_words:
            out.append((para.strip("\n"), n))
            continue
        cur: list[str] = []
        cur_n = 0
        for line in para.split("\n"):
            words = line.split()
            while len(words) > max_words:  # a single over-long line: cut at word boundaries
                out.append((" ".join(words[:max_words]), max_words))
                words = words[max_words:]
            line = " ".join(words) if len(line.split()) != len(words) else line
            if cur_n + len(words) > max_words and cur:
                out.append(("\n".join(cur), cur_n))
                cur, cur_n = [], 0
            if words:
                cur.append(line)
                cur_n += len(words)
        if cur:
            out.append(("\n".join(cur), cur_n))
    return out


def chunk_text(text: str, seed: int, min_words: float, max_words: float) -> list[str]:
    """Split `text` into documents of whole paragraph groups with log-uniform target lengths.

    The random generator is seeded by `seed` and the text's SHA-1, so identical texts are chunked
    identically. Lengths are in whitespace-separated words.
    """
    digest = hashlib.sha1(text.encode("utf-8", errors="replace")).hexdigest()[:16]
    rng = random.Random(f"{seed}:{digest}")
    lo, hi = math.log(min_words), math.log(max_words)
    chunks: list[str] = []
    cur: list[str] = []
    cur_n = 0
    target = math.exp(rng.uniform(lo, hi))
    for block, n in _blocks(text, int(max_words)):
        cur.append(block)
        cur_n += n
        if cur_n >= target:
            chunks.append("\n\n".join(cur))
            cur, cur_n = [], 0
            target = math.exp(rng.uniform(lo, hi))
    if cur:
        if cur_n >= MIN_DOC_WORDS or not chunks:
            chunks.append("\n\n".join(cur))
        else:
            chunks[-1] += "\n\n" + "\n\n".join(cur)
    return chunks


def build_originals(raw: list[RawDoc], n_originals: int, seed: int) -> tuple[list[Doc], dict]:
    """Chunk the long texts so that there are at least `n_originals` real documents, then sample.

    The mean target chunk length is solved for: total chunkable words / chunks needed, corrected
    for the overshoot of paragraph grouping by a few retries. Returns (documents, sizing info).
    """
    whole = [Doc(r.text.strip(), r.source) for r in raw if not r.chunk]
    whole = [d for d in whole if len(d.text.split()) >= MIN_DOC_WORDS]
    long_texts = [r for r in raw if r.chunk]
    chunk_words = sum(len(r.text.split()) for r in long_texts)
    need = max(n_originals - len(whole), 1)
    mean = min(max(chunk_words / need, MIN_TARGET_MEAN_WORDS), MAX_TARGET_MEAN_WORDS)
    for _attempt in range(8):
        # mean of a log-uniform on [lo, r*lo] is lo*(r-1)/ln(r)
        lo = mean * math.log(CHUNK_RANGE_RATIO) / (CHUNK_RANGE_RATIO - 1)
        hi = lo * CHUNK_RANGE_RATIO
        chunks = [
            Doc(c, r.source)
            for r in long_texts
            for c in chunk_text(r.text, seed, lo, hi)
            if len(c.split()) >= MIN_DOC_WORDS
        ]
        if len(chunks) + len(whole) >= n_originals or mean <= MIN_TARGET_MEAN_WORDS:
            break
        mean = max(mean * (len(chunks) / need) * 0.97, MIN_TARGET_MEAN_WORDS)
    docs = whole + chunks
    if len(docs) < n_originals:
        raise SystemExit(f"only {len(docs)} real documents available; ask for fewer with --n-docs")
    rng = random.Random(f"{seed}:sample")
    picked = sorted(rng.sample(range(len(docs)), n_originals))
    info = {
        "chunk_target_words_min": round(lo, 1),
        "chunk_target_words_max": round(hi, 1),
        "real_docs_available": len(docs),
        "whole_docs_available": len(whole),
        "chunks_available": len(chunks),
    }
    return [docs[i] for i in picked], info


# ----------------------------------------------------------------------------- generated copies


def _edit_fraction(target_jaccard: float, ngram: int = 5) -> float:
    """Fraction p of words to edit so that about (1-p)^ngram of the shingles survive.

    With s surviving shingles (as a fraction) and as many new ones, J = s / (2 - s).
    """
    survive = 2 * target_jaccard / (1 + target_jaccard)
    return 1.0 - survive ** (1.0 / ngram)


def _tokens(text: str) -> tuple[str, list[str]]:
    """Split `text` into (leading whitespace, tokens), each token a word plus its trailing space."""
    lead = text[: len(text) - len(text.lstrip())]
    return lead, re.findall(r"\S+\s*", text)


def _word(rng: random.Random, pool: list[str], avoid: str = "") -> str:
    """Draw a random corpus word different from `avoid`."""
    for _ in range(8):
        w = pool[rng.randrange(len(pool))]
        if w != avoid:
            return w
    return w + "x"


def _substitute(tokens: list[str], k: int, rng: random.Random, pool: list[str]) -> list[str]:
    """Replace the word part of `k` distinct random tokens, keeping their trailing whitespace."""
    out = list(tokens)
    for i in rng.sample(range(len(out)), min(k, len(out))):
        word = out[i].rstrip()
        out[i] = _word(rng, pool, word) + out[i][len(word) :]
    return out


def _insert(tokens: list[str], k: int, rng: random.Random, pool: list[str]) -> list[str]:
    """Insert `k` random words at random positions."""
    out = list(tokens)
    for _ in range(k):
        out.insert(rng.randrange(len(out) + 1), _word(rng, pool) + " ")
    return out


def _delete(tokens: list[str], k: int, rng: random.Random) -> list[str]:
    """Delete `k` distinct random tokens, keeping at least one."""
    k = min(k, len(tokens) - 1)
    gone = set(rng.sample(range(len(tokens)), k))
    return [t for i, t in enumerate(tokens) if i not in gone]


def _boilerplate(n_words: int, rng: random.Random, pool: Boilerplate, at_start: bool) -> str:
    """Return real boilerplate of exactly `n_words` normalized words (shingle normalization).

    At the start of a document: the end of a random page header (more headers are prepended if
    one is too short); at the end: the beginning of a random page footer (more appended).
    """
    segments = pool.heads if at_start else pool.tails
    tokens: list[str] = []
    counts: list[int] = []
    while sum(counts) < n_words:
        seg = segments[rng.randrange(len(segments))].split()
        seg_counts = [len(normalize_words(t)) for t in seg]
        tokens, counts = (
            (seg + tokens, seg_counts + counts) if at_start else (tokens + seg, counts + seg_counts)
        )
    if at_start:  # keep the tail of the header, next to the content
        tokens, counts = tokens[::-1], counts[::-1]
    kept, total = [], 0
    for tok, c in zip(tokens, counts, strict=True):
        if total + c > n_words:
            break
        kept.append(tok)
        total += c
    return " ".join(kept[::-1] if at_start else kept)


def _boilerplate_words(n_words: int, target: float) -> int:
    """Boilerplate words to add to an `n_words`-word document for Jaccard `target`.

    The n - 4 original shingles survive and about as many new ones as added words appear.
    """
    return round(max(n_words - 4, 1) * (1 / target - 1))


def min_words_for(kind: str, target: float) -> int:
    """The fewest words an original needs so that one whole edit is not stronger than `target`."""
    if kind == "exact":
        return MIN_COPY_WORDS
    if kind == "boilerplate":
        return max(MIN_COPY_WORDS, math.ceil(4 + 1 / (1 / target - 1)))
    return max(MIN_COPY_WORDS, math.ceil(1 / _edit_fraction(target)))


def make_copy(
    original: str, kind: str, target: float, rng: random.Random, words: list[str], pool: Boilerplate
) -> tuple[str, dict]:
    """Make one generated near-duplicate of `original` aimed at Jaccard `target`; return (text, edit)."""
    if kind == "exact":
        return original, {"kind": "exact", "strength": 0.0, "target_jaccard": 1.0}
    lead, tokens = _tokens(original)
    n = len(tokens)
    if kind == "boilerplate":
        add = max(1, _boilerplate_words(n, target))
        where = rng.choice(("start", "end", "both"))
        head = add if where == "start" else (0 if where == "end" else add // 2)
        tail = add - head
        parts = [_boilerplate(head, rng, pool, at_start=True)] if head else []
        parts.append(original.strip())
        if tail:
            parts.append(_boilerplate(tail, rng, pool, at_start=False))
        edit = {"kind": "boilerplate", "strength": round(add / n, 4), "where": where}
        return "\n".join(parts), edit | {"target_jaccard": round(target, 4)}
    k = max(1, round(_edit_fraction(target) * n))
    if kind == "substitute":
        tokens = _substitute(tokens, k, rng, words)
    elif kind == "insert":
        tokens = _insert(tokens, k, rng, words)
    elif kind == "delete":
        tokens = _delete(tokens, k, rng)
    elif kind == "mixed":  # k edits split over substitute, insert, delete (in that order)
        k_sub, k_ins, k_del = (k // 3 + (1 if r < k % 3 else 0) for r in range(3))
        tokens = _delete(_insert(_substitute(tokens, k_sub, rng, words), k_ins, rng, words), k_del, rng)
    else:
        raise ValueError(kind)
    edit = {"kind": kind, "strength": round(k / n, 4), "target_jaccard": round(target, 4)}
    return lead + "".join(tokens), edit


def _draw_edit(rng: random.Random) -> tuple[str, float]:
    """Draw an edit kind (EDIT_KIND_WEIGHTS) and a target Jaccard (TARGET_JACCARD_RANGE)."""
    kinds, weights = zip(*EDIT_KIND_WEIGHTS.items(), strict=True)
    kind = rng.choices(kinds, weights)[0]
    return kind, (1.0 if kind == "exact" else rng.uniform(*TARGET_JACCARD_RANGE))


def add_copies(originals: list[Doc], n_copies: int, seed: int, pool: Boilerplate) -> list[Doc]:
    """Return `n_copies` generated near-duplicates of a seeded random subset of `originals`.

    For each family the first copy's (kind, target) is drawn first and the original is drawn among
    the unused ones with at least `min_words_for(kind, target)` words; further copies of the same
    original draw their own (kind, target) and get at least one edit.
    """
    rng = random.Random(f"{seed}:copies")
    words: list[str] = []
    while len(words) < 300_000:  # a pool of real words in their corpus frequency, no bare punctuation
        doc_words = originals[rng.randrange(len(originals))].text.split()[:400]
        words.extend(w for w in doc_words if normalize_words(w))
    counts, probs = zip(*COPIES_PER_ORIGINAL, strict=True)
    n_words = np.array([len(d.text.split()) for d in originals])
    by_length = np.argsort(n_words, kind="stable")
    sorted_words = n_words[by_length]
    used: set[int] = set()
    copies: list[Doc] = []
    redraws = 0
    while len(copies) < n_copies:
        kind, target = _draw_edit(rng)
        first = int(np.searchsorted(sorted_words, min_words_for(kind, target)))
        i = -1
        for _ in range(50 if first < len(sorted_words) else 0):
            i = int(by_length[rng.randrange(first, len(sorted_words))])
            if i not in used:
                break
            i = -1
        if i < 0:  # no unused original is long enough for this target: draw another
            redraws += 1
            if redraws > 100 * n_copies:
                raise SystemExit("not enough unused originals to copy; lower --dup-fraction")
            continue
        used.add(i)
        for c in range(rng.choices(counts, probs)[0]):
            if len(copies) == n_copies:
                break
            if c > 0:
                kind, target = _draw_edit(rng)
            text, edit = make_copy(originals[i].text, kind, target, rng, words, pool)
            copies.append(Doc(text, originals[i].source, dup_of=i, edit=edit))
    return copies


# ----------------------------------------------------------------------------- exact ground truth


def shingle_id_sets(texts: list[str]) -> list[np.ndarray]:
    """Map each text's shingle set to a sorted array of exact integer shingle ids (dict-based)."""
    vocab: dict[str, int] = {}
    out = []
    for text in texts:
        s = shingle_set(text)
        arr = np.fromiter((vocab.setdefault(x, len(vocab)) for x in s), dtype=np.int64, count=len(s))
        arr.sort()
        out.append(arr)
    return out


def all_pairs(sets: list[np.ndarray], threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Find every pair (a < b) with exact Jaccard >= `threshold` by prefix filtering + verification.

    Returns (a, b, jaccard, stats) arrays. Exact: no pair with J >= threshold can be missed (see
    the module docstring) and every reported pair is verified by set intersection.
    """
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    concat = np.concatenate([s for s in sets if len(s)])
    df = np.bincount(concat)
    rank = np.empty_like(df)
    rank[np.argsort(df, kind="stable")] = np.arange(len(df))  # rarest shingle first
    prefix_tokens, prefix_docs = [], []
    for doc, s in enumerate(sets):
        n = len(s)
        if n == 0:
            continue
        plen = n - math.ceil(threshold * n - 1e-9) + 1
        prefix = np.sort(rank[s])[:plen]
        prefix_tokens.append(prefix)
        prefix_docs.append(np.full(len(prefix), doc, dtype=np.int64))
    tokens = np.concatenate(prefix_tokens)
    docs = np.concatenate(prefix_docs)
    order = np.argsort(tokens, kind="stable")
    tokens, docs = tokens[order], docs[order]
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])
    ends = np.r_[starts[1:], len(tokens)]
    multi = np.flatnonzero(ends - starts >= 2)
    n_docs = len(sets)
    codes: list[np.ndarray] = []
    largest_group = 0
    for g in multi:
        members = docs[starts[g] : ends[g]]
        largest_group = max(largest_group, len(members))
        ia, ib = np.triu_indices(len(members), k=1)
        a, b = members[ia], members[ib]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        codes.append(lo * n_docs + hi)
    cand = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    a, b = cand // n_docs, cand % n_docs
    small, big = np.minimum(sizes[a], sizes[b]), np.maximum(sizes[a], sizes[b])
    keep = small >= threshold * big - 1e-9  # size filter: J <= small / big
    a, b = a[keep], b[keep]
    inter = np.fromiter(
        (
            np.intersect1d(sets[x], sets[y], assume_unique=True).size
            for x, y in zip(a.tolist(), b.tolist(), strict=True)
        ),
        dtype=np.int64,
        count=len(a),
    )
    union = sizes[a] + sizes[b] - inter
    jac = inter / union
    ok = jac >= threshold - 1e-12
    stats = {
        "prefix_postings": len(tokens),
        "largest_prefix_group": int(largest_group),
        "candidate_pairs": len(cand),
        "verified_pairs": len(a),
    }
    return a[ok], b[ok], jac[ok], stats


def removal_clusters(ids: list[str], a: np.ndarray, b: np.ndarray) -> dict[str, str]:
    """Connected components over the pairs (a, b); return {removed id: kept root id (smallest)}."""
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            if ids[rx] < ids[ry]:
                parent[ry] = rx
            else:
                parent[rx] = ry
    touched = sorted(set(a.tolist()) | set(b.tolist()))
    return {ids[x]: ids[find(x)] for x in touched if find(x) != x}


def _histogram(values: np.ndarray, edges: list[float]) -> dict[str, int]:
    """Count values per [lo, hi) bin, with the last bin [lo, 1.0) and 1.0 counted separately."""
    out = {}
    for lo, hi in itertools.pairwise(edges):
        out[f"[{lo:.2f},{hi:.2f})"] = int(((values >= lo) & (values < hi)).sum())
    out["1.0"] = int((values >= 1.0).sum())
    return out


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build the corpus, the ground truth and the summary; print the summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output directory (outside the repository)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--n-docs", type=int, default=100_000, help="real documents (originals); copies come on top"
    )
    ap.add_argument(
        "--dup-fraction",
        type=float,
        default=0.1,
        help="generated copies per real document (0.1: 10,000 copies for 100,000 docs)",
    )
    ap.add_argument("--shards", type=int, default=8, help="number of JSONL shards")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the shared/data folder")
    args = ap.parse_args(argv)

    out = args.out.resolve()
    if out == REPO_ROOT or REPO_ROOT in out.parents:
        ap.error(f"--out must be outside the repository ({REPO_ROOT}): generated data is not committed")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    raw, boilerplate = load_sources(args.data_dir, args.seed)
    n_copies = round(args.n_docs * args.dup_fraction)
    originals, sizing = build_originals(raw, args.n_docs, args.seed)
    copies = add_copies(originals, n_copies, args.seed, boilerplate)
    timings["build_docs_s"] = time.perf_counter() - t0

    # shuffle originals and copies together, then give ids in that order (ids reveal nothing)
    docs = originals + copies
    order = random.Random(f"{args.seed}:ids").sample(range(len(docs)), len(docs))
    width = max(6, len(str(len(docs) - 1)))
    id_of = {}
    for new, old in enumerate(order):
        id_of[old] = f"doc-{new:0{width}d}"
    ids_in_order = [id_of[old] for old in order]
    docs_in_order = [docs[old] for old in order]

    t = time.perf_counter()
    per_shard = math.ceil(len(docs) / args.shards)
    for old in glob.glob(str(out / "docs-*.jsonl")):
        os.remove(old)
    for s in range(args.shards):
        with open(out / f"docs-{s:05d}.jsonl", "w", encoding="utf-8") as f:
            for i in range(s * per_shard, min((s + 1) * per_shard, len(docs))):
                d = docs_in_order[i]
                rec = {
                    "id": ids_in_order[i],
                    "text": d.text,
                    "source": d.source,
                    "dup_of": id_of[d.dup_of] if d.dup_of is not None else None,
                    "edit": d.edit,
                }
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    timings["write_shards_s"] = time.perf_counter() - t

    t = time.perf_counter()
    sets = shingle_id_sets([d.text for d in docs_in_order])
    timings["shingle_s"] = time.perf_counter() - t
    t = time.perf_counter()
    a, b, jac, pair_stats = all_pairs(sets, TRUTH_MIN_JACCARD)
    timings["all_pairs_s"] = time.perf_counter() - t

    # ids are zero-padded in index order and a < b, so id_a < id_b and the rows are sorted
    assert ids_in_order == sorted(ids_in_order) and bool(np.all(a < b))
    truth = pa.table(
        {
            "id_a": pa.array([ids_in_order[i] for i in a.tolist()], pa.string()),
            "id_b": pa.array([ids_in_order[i] for i in b.tolist()], pa.string()),
            "jaccard": pa.array(jac, pa.float64()),
        }
    )
    pq.write_table(truth, out / "truth.parquet")

    strong = jac >= REMOVAL_JACCARD - 1e-12
    removed = removal_clusters(ids_in_order, a[strong], b[strong])
    pq.write_table(
        pa.table(
            {
                "id": pa.array(sorted(removed), pa.string()),
                "cluster_root": pa.array([removed[k] for k in sorted(removed)], pa.string()),
            }
        ),
        out / "truth_removed.parquet",
    )

    # --- summary
    family = {}  # doc index (in order) -> index of the original it belongs to
    pos_of_old = {old: new for new, old in enumerate(order)}
    for new, old in enumerate(order):
        d = docs[old]
        family[new] = pos_of_old[d.dup_of] if d.dup_of is not None else new
    fam = np.array([family[i] for i in range(len(docs))])
    generated_pair = fam[a] == fam[b]
    copy_j: dict[str, list[float]] = collections.defaultdict(list)
    for new, old in enumerate(order):
        d = docs[old]
        if d.dup_of is not None:
            x, y = sets[new], sets[pos_of_old[d.dup_of]]
            inter = np.intersect1d(x, y, assume_unique=True).size
            copy_j[d.edit["kind"]].append(inter / (len(x) + len(y) - inter))
    edges = [0.5 + 0.05 * i for i in range(11)]
    copy_edges = [0.0, 0.3, 0.4, *edges]
    all_copy_j = np.array([v for vs in copy_j.values() for v in vs])
    text_bytes = [len(d.text.encode("utf-8")) for d in docs_in_order]
    source_docs = collections.Counter(d.source for d in docs_in_order)
    source_mb = collections.Counter()
    for d, nb in zip(docs_in_order, text_bytes, strict=True):
        source_mb[d.source] += nb / 1e6
    words = np.array([len(d.text.split()) for d in docs_in_order])
    timings["total_s"] = time.perf_counter() - t0
    summary = {
        "what": "near-duplicate benchmark corpus; near-duplicates are GENERATED (see dedup_corpus.py)",
        "seed": args.seed,
        "docs": len(docs),
        "originals": len(originals),
        "generated_copies": len(copies),
        "mb_text": round(sum(text_bytes) / 1e6, 3),
        "shards": args.shards,
        "words_per_doc": {
            "mean": round(float(words.mean()), 1),
            "p10": int(np.percentile(words, 10)),
            "median": int(np.median(words)),
            "p90": int(np.percentile(words, 90)),
            "max": int(words.max()),
        },
        "sizing": sizing,
        "docs_per_source": dict(sorted(source_docs.items())),
        "mb_per_source": {k: round(v, 3) for k, v in sorted(source_mb.items())},
        "docs_without_shingles": int(sum(1 for s in sets if len(s) == 0)),
        "pairs_j_ge_0.5": len(jac),
        "pairs_j_ge_0.8": int(strong.sum()),
        "pairs_j_ge_0.5_generated_family": int(generated_pair.sum()),
        "pairs_j_ge_0.5_natural": int((~generated_pair).sum()),
        "pairs_j_ge_0.8_natural": int((~generated_pair & strong).sum()),
        "true_removed_at_0.8": len(removed),
        "true_clusters_at_0.8": len(set(removed.values())),
        "histogram_j_all_pairs": _histogram(jac, edges),
        "histogram_j_copy_vs_original": _histogram(all_copy_j, copy_edges),
        "copy_vs_original_j_by_kind": {
            k: {
                "n": len(v),
                "min": round(min(v), 3),
                "median": round(float(np.median(v)), 3),
                "max": round(max(v), 3),
                "share_ge_0.8": round(float(np.mean(np.array(v) >= 0.8)), 3),
            }
            for k, v in sorted(copy_j.items())
        },
        "all_pairs_search": pair_stats,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "python": sys.version.split()[0],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
