"""Pools for the sweep tests, built from real prose every Python installation has."""

from __future__ import annotations

import functools
import json
import random

import pytest

from curate.demo import pydoc_topics, stdlib_documents
from curate.engine import Engine
from curate.quality import heuristics
from curate.sweep.load import load_sweep
from curate.sweep.run import SweepRunner

GOPHER = ("gopher_quality", "gopher_repetition")


@functools.cache
def paragraphs() -> list[str]:
    """Paragraphs of the standard library's docstrings and of the pydoc help topics (15+ words)."""
    docs = list(stdlib_documents()) + list(pydoc_topics())
    paras = [p.strip() for d in docs for p in d["text"].split("\n\n")]
    return [p for p in paras if len(p.split()) >= 15]


@functools.cache
def clean_documents() -> tuple[str, ...]:
    """Documents of 60+ words (consecutive paragraphs) that pass every Gopher rule: clean by the judgment
    Q (i) uses, so the share of corrupted bytes is what Q (i) measures."""
    docs, current = [], []
    for p in paragraphs():
        current.append(p)
        if sum(len(x.split()) for x in current) >= 60:
            docs.append("\n\n".join(current))
            current = []
    rules = [r for r in heuristics.RULES if r.group in GOPHER]
    failed = heuristics.evaluate_rules(heuristics.compute_signals_batch(docs, GOPHER), rules)
    return tuple(d for d, f in zip(docs, failed) if f is None)


def random_tokens(text: str, rng: random.Random) -> str:
    """The same word lengths, random letters: no stop words, no structure (fails the Gopher rules)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(len(w))) for w in text.split())


def scrambled_words(text: str, rng: random.Random) -> str:
    """Every word's letters in a random order: English letters and word lengths, no English words."""
    out = []
    for word in text.split():
        letters = list(word)
        rng.shuffle(letters)
        out.append("".join(letters))
    return " ".join(out)


def write_config(root, **data) -> object:
    """The sweep config `data`, written as YAML (JSON is YAML) and loaded as `curate sweep` loads it."""
    path = root / "sweep-config.yaml"
    path.write_text(json.dumps(data))
    return load_sweep(path)


def run_sweep(cfg, workspace):
    return SweepRunner(cfg, workspace, Engine(workers=0, progress=False), log=lambda m: None).run()


@pytest.fixture
def sweep_runner():
    return run_sweep
