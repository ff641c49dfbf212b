"""Perplexity: the fast scorer equals the model, models round-trip through files, CCNet buckets, the
training command, and article text beats whole pages on the scrapinghub benchmark."""

from __future__ import annotations

import gzip
import json
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.cli import main
from curate.errors import ConfigError, UserError
from curate.pipeline.spec import pipeline_from_mapping
from curate.quality import byte_lm
from curate.quality.perplexity import Perplexity, PerplexityParams
from curate.sweep.ngram import ByteNgramLM, encode_documents
from tests.conftest import PROSE, REPO, write_jsonl

MODELS = {k: ByteNgramLM(k).fit(encode_documents(PROSE * 3)) for k in (1, 2, 3, 4, 5, 6)}


def frame(texts):
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "t"})


# (dense table budget, chunk): full tables for every order; tables up to order 2, hash tables above;
# hash tables from order 2 up; each with chunks of a few bytes, so windows cross chunk boundaries
SCORER_SHAPES = [(byte_lm.DENSE_TABLE_BYTES, byte_lm.CHUNK), (40_000, 7), (0, 5)]
SCORERS = {(k, shape): byte_lm.Scorer(m, *shape) for k, m in MODELS.items() for shape in SCORER_SHAPES}


def test_the_scorer_shapes_are_the_ones_meant():
    assert all(len(SCORERS[k, SCORER_SHAPES[0]].full) == k for k in MODELS)  # dense to the top
    assert len(SCORERS[6, SCORER_SHAPES[1]].full) == 2 and set(SCORERS[6, SCORER_SHAPES[1]].hashed) == {
        3,
        4,
        5,
        6,
    }
    assert len(SCORERS[6, SCORER_SHAPES[2]].full) == 1 and set(SCORERS[6, SCORER_SHAPES[2]].hashed) == {
        2,
        3,
        4,
        5,
        6,
    }


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    texts=st.lists(st.text(max_size=120), min_size=1, max_size=5),
    order=st.sampled_from(sorted(MODELS)),
    shape=st.sampled_from(SCORER_SHAPES),
)
def test_the_scorer_gives_the_models_own_probabilities(texts, order, shape):
    """Full tables, hash tables and chunks (byte_lm.Scorer) against ByteNgramLM.log_probs, each document
    alone."""
    model = MODELS[order]
    texts = [*texts, PROSE[order % len(PROSE)][: 10 * order]]  # with n-grams seen in training
    got = byte_lm.perplexities(SCORERS[order, shape], texts)
    for text, value in zip(texts, got):
        data = text.encode("utf-8", "replace").replace(b"\x00", b"")
        if not data:
            assert np.isnan(value)
            continue
        expected = np.exp(-model.log_probs(np.frombuffer(data, np.uint8)).mean())
        assert value == pytest.approx(expected, rel=1e-9)


def test_a_documents_perplexity_does_not_depend_on_its_batch():
    scorer = byte_lm.Scorer(MODELS[4])
    alone = [byte_lm.perplexities(scorer, [t])[0] for t in PROSE]
    assert byte_lm.perplexities(scorer, PROSE[::-1]).tolist() == pytest.approx(alone[::-1], rel=1e-12)


def test_a_saved_model_scores_as_the_trained_one(tmp_path):
    path = tmp_path / "m.npz"
    card = byte_lm.save(MODELS[5], path, {"name": "toy-lm-v1"})
    assert card["ngrams"] == len(MODELS[5].orders[-1].keys) and byte_lm.card_path(path).is_file()
    texts = ["The river carries sediment to the sea.", "zzzz qqqq", PROSE[2]]
    before = byte_lm.perplexities(byte_lm.Scorer(MODELS[5]), texts)
    after = byte_lm.perplexities(byte_lm.Scorer(byte_lm.read(path)), texts)
    assert after.tolist() == pytest.approx(before.tolist(), rel=1e-12)
    assert before[0] < before[1]  # prose is likelier than noise


def test_buckets_thresholds_and_removal_reasons(tmp_path):
    path = tmp_path / "m.npz"
    byte_lm.save(MODELS[4], path, {"name": "toy-lm-v1", "cutoffs": {"head_max": 3.0, "tail_min": 8.0}})
    texts = [
        PROSE[0],
        "The committee met on Tuesday and agreed on the river library budget.",
        "xq zv kj wp",
        "",
    ]
    scored = Perplexity(PerplexityParams(model=str(path))).apply(frame(texts))
    ppl, buckets = scored.kept["perplexity"].to_numpy(), scored.kept["perplexity_bucket"].tolist()
    assert scored.removed.empty and ppl[0] < ppl[1] < ppl[2] and np.isnan(ppl[3])
    assert buckets == ["head" if p <= 3 else "middle" if p <= 8 else "tail" for p in ppl[:3]] + [
        "tail"
    ]  # no text, no perplexity: the tail
    kept = Perplexity(PerplexityParams(model=str(path), keep=["head", "middle"], max_perplexity=2.0))
    out = kept.apply(frame(texts))
    reasons = dict(zip(out.removed["id"], out.removed["reason"]))
    assert reasons["d2"] == "perplexity_tail" and reasons["d3"] == "perplexity_tail"
    assert all(r in ("perplexity_above_max", "perplexity_tail") for r in reasons.values())
    assert out.removed["detail"].str.startswith("perplexity=").all()


def test_config_mistakes_are_one_sentence(tmp_path):
    with pytest.raises(UserError, match=r"unknown language model 'curate-prose-lm-v2'\. Did you mean"):
        Perplexity(PerplexityParams(model="curate-prose-lm-v2"))
    with pytest.raises(ConfigError, match=r"head_max .* is above tail_min"):
        pipeline_from_mapping(
            {"name": "t", "input": {"paths": ["x"]},
             "stages": [{"stage": "perplexity", "head_max": 9, "tail_min": 3}]}
        )  # fmt: skip


def test_train_lm_writes_a_model_the_stage_reads(tmp_path, shared_data):
    lines = (shared_data / "reference/tinyshakespeare_input.txt").read_text(encoding="utf-8").split("\n\n")
    write_jsonl(tmp_path / "ref" / "a.jsonl", [{"text": t} for t in lines[:3000]])
    write_jsonl(tmp_path / "cal" / "c.jsonl", [{"text": t} for t in lines[3000:3400]])
    out = tmp_path / "models" / "bard-lm-v1.npz"
    result = CliRunner().invoke(
        main,
        [
            "train-lm",
            str(tmp_path / "ref"),
            "-o",
            str(out),
            "--order",
            "3",
            "--calibrate",
            str(tmp_path / "cal"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout[result.stdout.index("{") :])
    assert (
        card["name"] == "bard-lm-v1"
        and card["data"]["documents"] == 3000
        and card["holdout"]["documents"] == 150
    )
    assert (
        1.0 < card["holdout"]["bits_per_byte"] < 4.0
        and card["cutoffs"]["head_max"] < card["cutoffs"]["tail_min"]
    )
    stage = Perplexity(PerplexityParams(model=str(out)))
    scored = stage.apply(frame(lines[3400:3500] + PROSE)).kept
    assert scored["perplexity"][:100].median() < scored["perplexity"][100:].median()  # Shakespeare vs. modern
    bad = CliRunner().invoke(main, ["train-lm", str(tmp_path / "ref"), "-o", str(tmp_path / "m.bin")])
    assert bad.exit_code == 2 and "must end in .npz" in bad.output


def test_article_text_is_likelier_than_its_whole_page(shared_data):
    """The acceptance test: the shipped model, the scrapinghub article-extraction benchmark's pages (all
    visible text, as quality_models/build_training_data.py extracts it) against their gold articles."""
    sys.path.insert(0, str(REPO / "quality_models"))
    from build_training_data import visible_text

    bench = shared_data / "web/scrapinghub_article_benchmark"
    truth = json.loads((bench / "ground-truth.json").read_text())
    articles, pages = [], []
    for key, gold in sorted(truth.items()):
        with gzip.open(bench / "html" / f"{key}.html.gz", "rb") as f:
            pages.append(visible_text(f.read().decode("utf-8", "replace")))
        articles.append(gold["articleBody"])
    stage = Perplexity(PerplexityParams())
    article = stage.apply(frame(articles)).kept["perplexity"].to_numpy()
    page = stage.apply(frame(pages)).kept["perplexity"].to_numpy()
    assert len(articles) == 181
    assert (article < page).mean() >= 0.90, f"article below page for {(article < page).mean():.3f} of pages"


def test_the_shipped_model_is_listed_and_small():
    path, card = byte_lm.resolve("curate-prose-lm-v1")
    assert path.stat().st_size < 3_000_000 and card["data"]["paths"] == ["build/lm-data/reference.jsonl"]
    assert "eval" not in json.dumps(card["data"]) and "eval" not in json.dumps(card["cutoffs"]["calibration"])
    assert "curate-prose-lm-v1" in CliRunner().invoke(main, ["models"]).output
