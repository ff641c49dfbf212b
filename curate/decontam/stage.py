"""`decontaminate`: find the word n-grams a document shares with evaluation sets, exactly.

Score first: every document gets `decontam_ngrams` (how many of its word n-grams occur in an evaluation
set), `decontam_sets` (the sets they occur in, the set of the first match first) and `decontam_first`
(the document's own text of its first matched n-gram). Then the mode: `flag` keeps everything, `remove`
removes documents with at least `min_ngrams` matches (reason `benchmark_contamination`), `redact` cuts
the matched spans out of the text (a document left without words is removed, with that reason).

Words are normalized as dedup's shingles are (NFKC, lower case, punctuation as a separator; each
configurable), so case, punctuation and whitespace changes do not hide a copy. A batch is screened with
the vectorized shingle hashes; only documents with a candidate hash are re-read word by word, and a
candidate counts only when its words equal the evaluation n-gram's (see `index.py`).
"""

from __future__ import annotations

import functools
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from curate.config import option
from curate.decontam.index import (
    EvalSource,
    NgramIndex,
    build_index,
    fingerprint,
    load_index,
    ngram_hashes,
    read_card,
)
from curate.dedup.shingles import ShingleSpec, separator_regex, shingle_hashes, words
from curate.stages.base import Stage, register
from curate.stages.context import PrepareContext

REASON = "benchmark_contamination"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass
class EvalSetParams:
    name: str = option(help="The set's name, as it appears in decontam_sets and the run's metrics.")
    paths: list[str] = option(
        default_factory=list, help="Files, folders or globs, in any format curate reads."
    )
    format: Literal["auto", "jsonl", "parquet", "text"] = option("auto", help="Input format.")
    text_key: str = option("text", help="Field or column holding the text.")
    text_unit: Literal["file", "line"] = option("file", help="Text files: a document per file or per line.")

    def __post_init__(self):
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"evaluation set name {self.name!r} must be letters, digits, '.', '_' or '-' (e.g. mmlu)."
            )
        if not self.paths:
            raise ValueError(f"evaluation set '{self.name}' has no paths; give its files under `paths`.")


@dataclass
class DecontaminateParams:
    sets: list[EvalSetParams] = option(
        default_factory=list, help="The evaluation sets: [{name, paths, format, text_key, text_unit}]."
    )
    ngram: int = option(13, help="Words per n-gram.", min=1)
    lowercase: bool = option(True, help="Compare words in lower case.")
    unicode_form: Literal["NFKC", "NFC", "none"] = option("NFKC", help="Unicode normalization of words.")
    strip_punctuation: bool = option(True, help="Treat Unicode punctuation as a word separator.")
    mode: Literal["flag", "remove", "redact"] = option(
        "flag", help="flag: columns only; remove: drop matching documents; redact: cut matched spans out."
    )
    min_ngrams: int = option(1, help="remove: documents with at least this many matched n-grams go.", min=1)
    redaction: str = option("", help="redact: the text put in place of each cut span.")

    def __post_init__(self):
        if not self.sets:
            raise ValueError(
                "decontaminate needs at least one evaluation set: sets: [{name: NAME, paths: [FILES]}]."
            )
        names = [s.name for s in self.sets]
        if len(set(names)) < len(names):
            raise ValueError(f"evaluation set names must differ; got {names}.")

    def spec(self) -> ShingleSpec:
        return ShingleSpec(self.ngram, "word", self.lowercase, self.unicode_form, self.strip_punctuation)

    def sources(self, ctx: PrepareContext | None = None) -> list[EvalSource]:
        """The sets to read; with a run's context, relative paths are looked up beside its config first."""
        where = ctx.path if ctx is not None else str
        return [
            EvalSource(s.name, tuple(where(p) for p in s.paths), s.format, s.text_key, s.text_unit)
            for s in self.sets
        ]


@dataclass
class Match:
    ngrams: int  # matched n-grams of the document (positions, repeats counted)
    sets: list[str]  # in order of first match
    first: str  # the document's text of its first matched n-gram
    spans: list[tuple[int, int]]  # merged character spans of the matched n-grams


@functools.lru_cache(maxsize=2)
def _word_regex(strip_punctuation: bool) -> re.Pattern:
    """Runs of characters that are not separators (the complement of dedup's separator class)."""
    return re.compile(
        separator_regex(strip_punctuation).pattern.replace("[", "[^", 1).removesuffix("+") + "+"
    )


def word_spans(text: str, spec: ShingleSpec) -> list[tuple[str, int, int]]:
    """The normalized words of `text` with the character span of the original text each came from.
    Words are cut at separators of the original text and normalized one by one; a non-ASCII run that
    normalizes to several words (NFKC can make separators) gives each the run's span."""
    out = []
    for m in _word_regex(spec.strip_punctuation).finditer(text):
        run = m.group()
        if run.isascii():
            out.append((run.lower() if spec.lowercase else run, m.start(), m.end()))
        else:
            out.extend((w, m.start(), m.end()) for w in words(run, spec))
    return out


def match_document(text: str, index: NgramIndex, spec: ShingleSpec) -> Match | None:
    """The exact matches of one document (None: none), word by word."""
    n = spec.ngram
    spans = word_spans(text, spec)
    ws = [w for w, _, _ in spans]
    hashes = ngram_hashes(ws, spec)
    count, sets, first, cuts = 0, [], None, []
    for j in np.flatnonzero(index.contains(hashes)).tolist():
        found = index.matches(int(hashes[j]), " ".join(ws[j : j + n]).encode("utf-8"))
        if not found:
            continue  # a hash collision: not a match
        count += 1
        sets.extend(index.names[s] for s in found if index.names[s] not in sets)
        start, end = spans[j][1], spans[j + n - 1][2]
        first = text[start:end] if first is None else first
        if cuts and start <= cuts[-1][1]:
            cuts[-1] = (cuts[-1][0], max(cuts[-1][1], end))
        else:
            cuts.append((start, end))
    return Match(count, sets, first, cuts) if count else None


def redact(text: str, spans: list[tuple[int, int]], replacement: str) -> str:
    parts, pos = [], 0
    for start, end in spans:
        parts += [text[pos:start], replacement]
        pos = end
    return "".join([*parts, text[pos:]])


@functools.lru_cache(maxsize=4)
def _index_in_process(sources: tuple[EvalSource, ...], spec: ShingleSpec) -> NgramIndex:
    """Without a run (a test, a notebook): build the index once per process into a temporary folder."""
    folder = tempfile.mkdtemp(prefix="curate-decontam-")
    build_index(list(sources), spec, folder)
    return NgramIndex(folder)


@register
class Decontaminate(Stage):
    """Exact word n-gram overlap with evaluation sets: columns, then flag, remove or redact."""

    name = "decontaminate"
    Params = DecontaminateParams
    summary = "Exact word n-gram overlap with evaluation sets: decontam_* columns; flag, remove or redact."

    def __init__(self, params=None):
        super().__init__(params)
        self.index_dir: str | None = None  # set by prepare(): the index the workers map

    def adds(self) -> dict[str, pa.DataType]:
        return {
            "decontam_ngrams": pa.int64(),
            "decontam_sets": pa.list_(pa.string()),
            "decontam_first": pa.string(),
        }

    def prepare(self, ctx: PrepareContext) -> dict[str, Any]:
        p = self.params
        sources = p.sources(ctx)
        key = fingerprint(sources, p.spec())
        card = read_card(ctx.workdir)
        if card is None or card.get("key") != key:  # a resumed run reuses an index that is still current
            card = build_index(sources, p.spec(), ctx.workdir, key)
        self.index_dir = str(ctx.workdir)
        self.worker_memory = card["lookup_bytes"]
        metrics: dict[str, Any] = {
            "index_ngrams": card["ngrams"],
            "index_bytes": card["total_bytes"],
            "index_lookup_bytes": card["lookup_bytes"],
        }
        for s in card["sets"]:
            metrics[f"set_documents:{s['name']}"] = s["documents"]
            metrics[f"set_ngrams:{s['name']}"] = s["distinct_ngrams"]
            metrics[f"set_shorter_than_n:{s['name']}"] = s["shorter_than_n"]
        return metrics

    def _index(self) -> NgramIndex:
        if self.index_dir is not None:
            return load_index(self.index_dir)
        return _index_in_process(tuple(self.params.sources()), self.params.spec())

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        p, index = self.params, self._index()
        spec = p.spec()
        texts = df["text"].tolist()
        hashes, offsets = shingle_hashes(texts, spec)
        hits = np.concatenate(([0], np.cumsum(index.contains(hashes))))
        per_doc = hits[offsets[1:]] - hits[offsets[:-1]]  # candidate n-grams per document
        counts = np.zeros(len(texts), dtype=np.int64)
        sets: list[list[str]] = [[] for _ in texts]
        first: list[str | None] = [None] * len(texts)
        new_texts = list(texts)
        for d in np.flatnonzero(per_doc).tolist():
            m = match_document(texts[d], index, spec)
            if m is None:
                continue
            counts[d], sets[d], first[d] = m.ngrams, m.sets, m.first
            if p.mode == "redact":
                new_texts[d] = redact(texts[d], m.spans, p.redaction)
        df = df.copy()
        df["decontam_ngrams"] = counts
        df["decontam_sets"] = pd.Series(sets, index=df.index, dtype=object)
        df["decontam_first"] = pd.Series(first, index=df.index, dtype=object)
        if p.mode == "redact":
            df["text"] = pd.Series(new_texts, index=df.index, dtype=object)
        return df

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        """Matched documents (in all and per set) and matched n-grams, summed into the run's metrics."""
        ngrams = df["decontam_ngrams"].to_numpy()
        out = {"matched_documents": int((ngrams > 0).sum()), "matched_ngrams": int(ngrams.sum())}
        for sets in df["decontam_sets"]:
            for s in sets:
                out[f"matched_documents:{s}"] = out.get(f"matched_documents:{s}", 0) + 1
        return out

    def removals(self, df: pd.DataFrame) -> pd.Series | None:
        p = self.params
        if p.mode == "flag":
            return None
        if p.mode == "remove":
            gone = df["decontam_ngrams"].to_numpy() >= p.min_ngrams
        else:  # redact: only a document left without words goes
            matched = df["decontam_ngrams"].to_numpy() > 0
            gone = matched & np.array([not words(t, p.spec()) if m else False
                                       for t, m in zip(df["text"], matched)], dtype=bool)  # fmt: skip
        return pd.Series(np.where(gone, REASON, None), index=df.index, dtype=object)

    def details(self, df: pd.DataFrame, removed: pd.Series) -> pd.Series:
        sub = df[removed.to_numpy()]
        return pd.Series(
            [f"{n} n-grams of {','.join(s)}" for n, s in zip(sub["decontam_ngrams"], sub["decontam_sets"])],
            index=sub.index,
            dtype=object,
        )
