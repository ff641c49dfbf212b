"""Training data for a quality classifier: documents, their training units, the held-out split, balancing.

A *document* is what a reader gives (a record, a text file, a line of a text file with `text_unit: line`).
A *unit* is what the classifier learns from and is evaluated on: the whole document (`file`), its
paragraphs (blocks between blank lines) or its lines; a unit shorter than `min_unit_words` joins the next
one of the same document, so a one-line chapter heading or a short reply is not an example on its own.
Training cuts each unit into windows of `chunk_words` words (one fastText example each); held-out units are
scored whole, as a scorer sees a document.

The held-out split is by *group* (the source document, or a metadata field such as the page that a
positive and a negative view share), stratified: each class keeps a share of its groups out, at least two
when it has four or more, so a class of five books is not judged by one. Balancing works on what is
trained on — the windows — not on documents: ten books give thousands of windows, ten web pages a few.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from curate.errors import InputError, UserError
from curate.io.discover import InputFile, discover, plan_units, split_suffixes
from curate.io.readers import ReadOptions, read_unit
from curate.quality import fasttext_util

POSITIVE, NEGATIVE = "hq", "lq"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass
class Doc:
    label: str  # POSITIVE or NEGATIVE
    text: str
    group: str  # documents of one group stay on one side of the held-out split
    unit: str  # file | paragraph | line: how this document is cut into units


@dataclass
class Unit:
    label: str
    text: str
    group: str
    doc: int  # index of its document in the list the units were cut from


def read_docs(
    paths: list[str],
    label: str,
    text_key: str,
    group_key: str | None,
    fmt: str = "auto",
    text_unit: str = "file",
    fallback_encoding: str | None = None,
) -> tuple[list[Doc], dict]:
    """Every readable document of the inputs, to be cut into `text_unit`s (file, paragraph or line), and
    counts of what was read and skipped."""
    files = discover_inputs(paths, fmt)
    read_lines = text_unit == "line"  # a text file is a document per line, as in pipelines
    docs, bad = [], Counter()
    for unit in plan_units(files, 64 << 20, "line" if read_lines else "file"):
        opts = ReadOptions(
            text_key=text_key, text_unit="line" if read_lines else "file", fallback_encoding=fallback_encoding
        )
        for batch in read_unit(unit, opts):
            bad.update(batch.quarantine.column("reason").to_pylist())
            for doc_id, text, meta in zip(
                *(batch.docs.column(c).to_pylist() for c in ("id", "text", "meta"))
            ):
                group = json.loads(meta).get(group_key) if (group_key and meta) else None
                group = f"{label}:{doc_id}" if group is None else str(group)
                docs.append(Doc(label, text, group, text_unit))
    info = {
        "paths": paths, "files": len(files), "docs": len(docs),
        "skipped_bad_records": sum(bad.values()), "skipped_reasons": dict(bad),
    }  # fmt: skip
    return docs, info


def discover_inputs(paths: list[str], fmt: str) -> list[InputFile]:
    """`discover`, where a file named explicitly whose format its name does not tell (`corpus.cor`) is
    refused with this command's option, not a pipeline's `input.format`."""
    if fmt == "auto":
        for path in paths:
            if os.path.isfile(path) and split_suffixes(os.path.basename(path))[0] is None:
                raise InputError(
                    f"cannot tell the format of '{path}' from its name; pass --format jsonl, parquet or text."
                )
    return discover(paths, fmt)


def word_count(text: str) -> int:
    return len(text.split())


def split_units(text: str, unit: str, min_words: int) -> list[str]:
    """The units of one document's text (see the module docstring); none for a blank text."""
    if unit == "file":
        pieces = [text]
    elif unit == "paragraph":
        pieces = _PARAGRAPH_BREAK.split(text)
    else:
        pieces = text.splitlines()
    units: list[str] = []
    pending: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        pending.append(piece)
        if word_count(" ".join(pending)) >= min_words:
            units.append("\n".join(pending))
            pending = []
    if pending:  # a short tail joins the last unit, or is the only one
        if units:
            units[-1] += "\n" + "\n".join(pending)
        else:
            units.append("\n".join(pending))
    return units


def units_of(docs: list[Doc], min_words: int) -> list[Unit]:
    return [
        Unit(d.label, text, d.group, i)
        for i, d in enumerate(docs)
        for text in split_units(d.text, d.unit, min_words)
    ]


def held_out_groups(docs: list[Doc], share: float, seed: int) -> set[str]:
    """The groups held out: for each class, `share` of its groups (at least two when it has four or more,
    at least one when it has two), taken in a seeded hash order; a group holding both classes counts for
    both. Raises when a class has too few groups to both train and hold out."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        labels_of[d.group].add(d.label)
    per_class = Counter(lab for labs in labels_of.values() for lab in labs)
    for lab, name in ((POSITIVE, "positive"), (NEGATIVE, "negative")):
        if per_class[lab] < 2:
            raise UserError(
                f"only {per_class[lab]} {name} document{'s' * (per_class[lab] != 1)} (after filters): at "
                "least two are needed, one to train on and one to hold out; give more files, or cut a "
                "file-per-document input into documents with --text-unit line."
            )
    target = {lab: min(n - 1, max(round(share * n), 2 if n >= 4 else 1)) for lab, n in per_class.items()}
    held: set[str] = set()
    taken: Counter = Counter()
    for group in sorted(labels_of, key=lambda g: hashlib.md5(f"{seed}:{g}".encode()).hexdigest()):
        labs = labels_of[group]
        if any(taken[lab] < target[lab] for lab in labs) and all(
            taken[lab] < per_class[lab] - 1 for lab in labs
        ):
            held.add(group)
            taken.update(labs)
    return held


def windows(text: str, chunk_words: int | None, lowercase: bool, max_chars: int | None) -> list[str]:
    """One unit folded to a line and cut into windows of `chunk_words` words; a short tail (under a quarter
    of a window) is dropped unless it is the whole unit."""
    words = fasttext_util.prepare(text, lowercase, max_chars).split(" ")
    step = chunk_words or len(words)
    return [
        " ".join(words[i : i + step])
        for i in range(0, len(words), step)
        if i == 0 or len(words) - i >= step // 4
    ]


@dataclass
class Example:
    label: str
    text: str  # one line, ready for fastText
    doc: int  # index of its source document


def balanced_examples(
    units: list[Unit],
    chunk_words: int | None,
    lowercase: bool,
    max_chars: int | None,
    balance: bool,
    seed: int,
) -> tuple[list[Example], dict[str, int]]:
    """The training examples (windows of the units), shuffled; with `balance` the larger class is
    down-sampled to the size of the smaller, so both classes weigh the same in training. Also returns
    the examples available per class before balancing."""  # fmt: skip
    by_label: dict[str, list[Example]] = {POSITIVE: [], NEGATIVE: []}
    for u in units:
        by_label[u.label] += [
            Example(u.label, w, u.doc) for w in windows(u.text, chunk_words, lowercase, max_chars)
        ]
    available = {lab: len(v) for lab, v in by_label.items()}
    cap = min(available.values()) if balance else None
    rng = random.Random(seed)
    chosen: list[Example] = []
    for lab in (POSITIVE, NEGATIVE):
        examples = by_label[lab]
        chosen += rng.sample(examples, cap) if cap is not None and cap < len(examples) else examples
    rng.shuffle(chosen)
    return chosen, available
