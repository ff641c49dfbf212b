"""Benchmark decontamination: exact n-gram matches, the three modes, the index built once per run, and
planted evaluation passages found in real text."""

from __future__ import annotations

import json
import pickle
import random
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.decontam import stage as decontam_stage
from curate.decontam.index import load_index
from curate.decontam.stage import REASON, Decontaminate, DecontaminateParams, EvalSetParams, word_spans
from curate.engine import Engine
from curate.errors import ConfigError
from curate.pipeline.runner import Runner
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.summary import run_status
from curate.runs.workspace import Workspace
from curate.stages.context import PrepareContext
from tests.conftest import PROSE, write_jsonl

EVAL = [
    "Question: which planet in the solar system has the largest number of known moons orbiting it today? "
    "Answer: Saturn, with more than one hundred and forty confirmed moons as of the latest survey.",
    "The treaty was signed in the small harbour town after three weeks of negotiations between the delegates "
    "of the two kingdoms, who agreed to share the fishing grounds.",
    "too short to index",
]
PASSAGE = "which planet in the solar system has the largest number of known moons orbiting it today"


def frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "t"})


@pytest.fixture
def eval_file(tmp_path):
    return write_jsonl(tmp_path / "eval" / "quiz.jsonl", [{"text": t} for t in EVAL])


def make_stage(eval_file, **params) -> Decontaminate:
    return Decontaminate(
        DecontaminateParams(sets=[EvalSetParams(name="quiz", paths=[str(eval_file)])], **params)
    )


def test_copies_are_found_through_case_punctuation_and_whitespace_changes(eval_file):
    docs = [
        f"Intro text here. {PASSAGE} and then more.",
        f"Intro: {PASSAGE.upper().replace(' ', chr(10) + '  ')}!",
        "Intro — Which planet, in the Solar System, has the LARGEST number of known moons (orbiting it)"
        " today?",
        "Which planet in the solar system has the largest number of known",  # 12 words: no 13-gram
        PROSE[0],
    ]
    out = make_stage(eval_file).apply(frame(docs)).kept
    assert out["decontam_ngrams"].tolist() == [4, 4, 4, 0, 0]  # the passage has 16 words: 4 n-grams of 13
    assert [list(s) for s in out["decontam_sets"]] == [["quiz"]] * 3 + [[]] * 2
    # the first match is the document's own text of its first matched 13 words, as it was written
    assert (
        out["decontam_first"].iloc[2]
        == "Which planet, in the Solar System, has the LARGEST number of known moons"
    )
    assert out["decontam_first"].iloc[3] is None


def test_a_longer_copy_counts_every_matched_ngram_and_remove_mode_removes_it(eval_file):
    copy = EVAL[1]  # 28 words: 16 n-grams of 13
    df = frame([f"Preface. {copy} Afterword.", PROSE[1]])
    flagged = make_stage(eval_file).apply(df)
    assert flagged.kept["decontam_ngrams"].tolist() == [16, 0] and flagged.removed.empty
    removed = make_stage(eval_file, mode="remove", min_ngrams=16).apply(df)
    assert removed.removed["reason"].tolist() == [REASON]
    assert removed.removed["detail"].tolist() == ["16 n-grams of quiz"]
    assert make_stage(eval_file, mode="remove", min_ngrams=17).apply(df).removed.empty


def test_redact_cuts_the_matched_spans_out_and_removes_a_document_left_empty(eval_file):
    df = frame([f"Preface words stay. {EVAL[1]} Afterword stays.", EVAL[1], PROSE[2]])
    out = make_stage(eval_file, mode="redact", redaction="[...]").apply(df)
    assert out.kept["text"].tolist() == ["Preface words stay. [...]. Afterword stays.", PROSE[2]]
    assert out.removed["id"].tolist() == ["d1"] and out.removed["reason"].tolist() == [REASON]


def test_a_hash_hit_whose_words_differ_is_not_a_match(eval_file, tmp_path):
    """The index verifies every hash hit against the stored words: change a stored word (same length, so
    the hash in the index still says yes) and the document no longer matches."""
    stage = make_stage(eval_file)
    stage.prepare(PrepareContext(tmp_path / "index", None))
    doc = frame([f"Intro. {PASSAGE}."])
    assert stage.apply(doc).kept["decontam_ngrams"].tolist() == [4]
    words_bin = tmp_path / "index" / "words.bin"  # "moons" is in each of the passage's four 13-grams
    words_bin.write_bytes(words_bin.read_bytes().replace(b"moons", b"mooms"))
    load_index.cache_clear()
    stage2 = make_stage(eval_file)
    stage2.index_dir = str(tmp_path / "index")
    assert stage2._index().contains(decontam_stage.ngram_hashes(PASSAGE.split(), stage2.params.spec())).any()
    assert stage2.apply(doc).kept["decontam_ngrams"].tolist() == [0]


def test_documents_shorter_than_n_are_counted_not_indexed(eval_file, tmp_path):
    metrics = make_stage(eval_file).prepare(PrepareContext(tmp_path / "index", None))
    assert metrics["set_documents:quiz"] == 3 and metrics["set_shorter_than_n:quiz"] == 1
    assert metrics["index_ngrams"] == metrics["set_ngrams:quiz"] == (33 - 12) + (28 - 12)


def test_config_mistakes_are_one_sentence():
    with pytest.raises(ConfigError, match="needs at least one evaluation set"):
        pipeline_from_mapping(
            {"name": "t", "input": {"paths": ["x"]}, "stages": [{"stage": "decontaminate"}]}
        )
    with pytest.raises(ConfigError, match="Did you mean 'ngram'"):
        pipeline_from_mapping(
            {"name": "t", "input": {"paths": ["x"]},
             "stages": [{"stage": "decontaminate", "ngrams": 8, "sets": [{"name": "a", "paths": ["x"]}]}]}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="names must differ"):
        pipeline_from_mapping(
            {"name": "t", "input": {"paths": ["x"]},
             "stages": [{"stage": "decontaminate",
                         "sets": [{"name": "a", "paths": ["x"]}, {"name": "a", "paths": ["y"]}]}]}
        )  # fmt: skip


def test_a_run_builds_the_index_once_and_records_per_set_counts(tmp_path, eval_file, monkeypatch):
    builds = []
    real_build = decontam_stage.build_index
    monkeypatch.setattr(decontam_stage, "build_index", lambda *a: builds.append(a) or real_build(*a))
    records = [{"text": f"{t} Extra words so the line is long enough to keep here."} for t in PROSE * 4]
    records[5]["text"] = f"Notes. {PASSAGE}. End."
    records[17]["text"] = f"More notes: {EVAL[1]}"
    for k in range(3):  # three files, several units each: the workers' tasks share one index
        write_jsonl(tmp_path / "corpus" / f"part-{k}.jsonl", records[k * 8 : (k + 1) * 8])
    pipeline = pipeline_from_mapping(
        {"name": "t", "input": {"paths": [str(tmp_path / "corpus")], "partition_mb": 0.0003},
         "stages": [{"stage": "decontaminate", "mode": "remove",
                     "sets": [{"name": "quiz", "paths": [str(eval_file)]}]}]}
    )  # fmt: skip
    ws = Workspace(tmp_path / "ws")
    Runner(pipeline, ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    status = run_status(ws)
    assert len(builds) == 1 and status["balanced"]
    # tasks carry the stage with the index's folder, not the index: workers map the files themselves
    assert pipeline.stages[0].index_dir and len(pickle.dumps(pipeline.stages[0])) < 4000
    assert status["counts"]["removed"] == {REASON: 2}
    m = status["metrics"]["decontaminate"]
    assert m["matched_documents:quiz"] == 2 and m["matched_documents"] == 2 and m["matched_ngrams"] == 4 + 16
    assert m["set_documents:quiz"] == 3 and m["index_ngrams"] == 21 + 16


# --- property: any passage of at least 13 words, however re-cased, re-punctuated and re-spaced, is found


SPACES = ["  ", "\n", "\t", "\u00a0", " \n "]
MARKS = [",", ".", ";", ":", "!", "?", ")", " -", " —", '"']


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_changed_copy_of_13_or_more_words_is_found(data, tmp_path_factory):
    eval_file = tmp_path_factory.getbasetemp() / "prop-eval.jsonl"
    if not eval_file.exists():
        write_jsonl(eval_file, [{"text": t} for t in EVAL])
    text = EVAL[data.draw(st.sampled_from([0, 1]))]
    spans = word_spans(text, DecontaminateParams(sets=[EvalSetParams(name="q", paths=["q"])]).spec())
    length = data.draw(st.integers(13, len(spans)))
    start = data.draw(st.integers(0, len(spans) - length))
    pieces = []
    for _, a, b in spans[start : start + length]:
        word = text[a:b]
        word = data.draw(st.sampled_from([word, word.upper(), word.lower(), word.title()]))
        word += data.draw(st.sampled_from(["", *MARKS]))
        pieces.append(word + data.draw(st.sampled_from([" ", *SPACES])))
    host = f"{PROSE[3]} {''.join(pieces)} {PROSE[4]}"
    assert _shared_stage(eval_file).apply(frame([host])).kept["decontam_ngrams"].iloc[0] == length - 12


_STAGES: dict = {}


def _shared_stage(eval_file) -> Decontaminate:
    if str(eval_file) not in _STAGES:
        _STAGES[str(eval_file)] = make_stage(eval_file)
    return _STAGES[str(eval_file)]


# --- real data: planted passages and unrelated text ---------------------------------------------------


def _jsonl(path):
    import gzip

    with gzip.open(path, "rt") if str(path).endswith(".gz") else open(path) as f:
        return [json.loads(line) for line in f]


def test_planted_evaluation_passages_are_found_in_real_documents(shared_data, tmp_path):
    """DCLM's human-labelled pages (eval/) as the evaluation set; passages of 13-40 words planted in real
    WebText pages, verbatim or changed in case, punctuation and whitespace; Python documentation pages as
    unrelated text."""
    rng = random.Random(7)
    eval_path = shared_data / "eval/dclm_human_quality_labels/majority_data.jsonl"
    evals = [d["text"] for d in _jsonl(eval_path)]
    hosts = [
        d["text"]
        for d in _jsonl(shared_data / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")
    ]
    unrelated = [
        d["text"] for d in _jsonl(shared_data / "reference/docs_debian/python3.11-doc_rst_sources.jsonl.gz")
    ]
    stage = Decontaminate(DecontaminateParams(sets=[EvalSetParams(name="dclm", paths=[str(eval_path)])]))
    spec = stage.params.spec()
    planted = []
    for i, host in enumerate(hosts[:300]):
        spans = []
        while len(spans) < 40:
            source = rng.choice(evals)
            spans = word_spans(source, spec)
        length = rng.choice([13, 14, 20, 40])
        j = rng.randrange(len(spans) - length + 1)
        piece = source[spans[j][1] : spans[j + length - 1][2]]
        variant = i % 4
        if variant == 1:
            piece = piece.upper() if rng.random() < 0.5 else piece.title()
        elif variant == 2:
            piece = re.sub(
                r"(\w)(\s)", lambda m: m.group(1) + rng.choice([",", ";", ":", " -"]) + m.group(2), piece
            )
        elif variant == 3:
            piece = re.sub(r"\s+", lambda m: rng.choice(["\n", "  ", "\t", "\u00a0"]), piece)
        cut = rng.choice([m.end() for m in re.finditer(r"\s+", host)])
        planted.append(f"{host[:cut]} {piece} {host[cut:]}")
    found = stage.apply(frame(planted)).kept["decontam_ngrams"].to_numpy() > 0
    assert found.mean() >= 0.99, f"recall {found.mean():.3f}"
    flags = stage.apply(frame(unrelated)).kept["decontam_ngrams"].to_numpy() > 0
    assert flags.mean() <= 0.001, f"false flags {flags.sum()} of {len(flags)}"
    assert np.isfinite(found.mean())
