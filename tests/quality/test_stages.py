"""Quality stages end to end: signals, language ID, a classifier trained in the test, the filter."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pandas as pd
import pytest

from curate.errors import ConfigError, UserError
from curate.pipeline.spec import build_stages
from curate.quality import heuristics
from curate.quality.metrics import roc_auc
from curate.quality.registry import resolve
from curate.quality.stages import HeuristicSignals, LangId, QualityFilter, column_of
from curate.quality.train import TrainParams, train_classifier
from tests.conftest import write_jsonl

GOOD = [
    "The committee reviewed the annual report and agreed that the library should extend its opening hours.",
    "Researchers measured the temperature of the lake every morning for three years to study the seasons.",
    "She explained that the bridge had been designed to carry trains as well as cars and bicycles.",
    "After the storm, volunteers helped the farmers repair fences and bring the animals back to the barns.",
    "The museum opened a new gallery that shows how printing changed the way people shared their ideas.",
    "In the spring the river rises quickly, so the town built a wall along the bank to protect the houses.",
]
BAD = [
    "click here buy now cheap pills best price free shipping limited offer click here",
    "login | register | cart (0) | home | shop | contact us | privacy policy | terms",
    "CASINO BONUS 100% FREE SPINS WIN BIG NOW!!! CASINO BONUS FREE SPINS",
    "home >> products >> sale >> item 4521 >> add to cart >> checkout >> login",
    "hot singles in your area click now free chat no credit card needed click",
    "cookies policy accept all cookies manage preferences subscribe newsletter sign up",
]


def frame(texts, **columns) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "t", "meta": None, **columns}
    )


def variations(sentences, n, seed, k=3):
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, k)) for _ in range(n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on a few dozen labelled lines built here (four bad sentences to three good
    ones, so that the classes overlap in length and the model must learn words)."""
    tmp = tmp_path_factory.mktemp("clf")
    write_jsonl(tmp / "pos" / "p.jsonl", [{"text": t} for t in variations(GOOD, 60, 1)])
    write_jsonl(tmp / "neg" / "n.jsonl", [{"text": t} for t in variations(BAD, 60, 2, k=4)], [b"{broken"])
    model = tmp / "models" / "toy-quality-v1.ftz"
    params = TrainParams(
        dim=16, epoch=25, min_count=1, bucket=20_000, quantize=False, holdout=0.2, seed=3, chunk_words=None
    )
    card = train_classifier([str(tmp / "pos")], [str(tmp / "neg")], str(model), params, log=lambda m: None)
    return model, card


def test_training_writes_a_model_and_its_card(trained):
    model, card = trained
    assert model.is_file() and model.with_suffix(".json").is_file()
    assert card["name"] == "toy-quality-v1" and card["labels"] == {"positive": "hq", "negative": "lq"}
    assert card["data"]["negative"]["skipped_bad_records"] == 1
    assert card["data"]["holdout"] == {"hq": 12, "lq": 12}  # a fifth of each class, by a seeded hash
    assert card["data"]["train_examples_by_class"] == {"hq": 48, "lq": 48}  # balanced
    assert card["holdout"]["roc_auc"] > 0.9 and card["hyperparameters"]["word_ngrams"] == 2
    assert card["holdout"]["roc_auc_interval"][0] > 0.5 and card["holdout"]["weak"] is None
    assert 0 < card["holdout"]["threshold"] < 1
    assert json.loads(model.with_suffix(".json").read_text()) == card


def test_the_classifier_stage_scores_held_out_text(trained):
    model, _ = trained
    stage = build_stages([{"stage": "quality_classifier", "model": str(model)}])[0]
    texts = variations(GOOD, 10, 7) + variations(BAD, 10, 8)
    out = stage.apply(frame(texts)).kept
    scores = out["quality_score"].to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all() and set(out["quality_model"]) == {"toy-quality-v1"}
    assert roc_auc(np.array([1] * 10 + [0] * 10), scores) > 0.9


def test_unknown_or_card_less_models_are_refused(tmp_path, trained):
    with pytest.raises(UserError, match="unknown quality model 'nope'"):
        resolve("nope")
    bare = tmp_path / "bare.bin"
    bare.write_bytes(trained[0].read_bytes())
    with pytest.raises(UserError, match="has no model card"):
        resolve(str(bare))


def test_heuristic_signals_stage_matches_the_signal_functions():
    texts = [" ".join(GOOD) * 3, " ".join(BAD), "tiny"]
    out = HeuristicSignals().apply(frame(texts)).kept
    expected = heuristics.compute_signals_batch(texts, list(heuristics.SIGNAL_GROUPS))
    for signal, values in expected.items():
        assert np.allclose(out[column_of(signal)].to_numpy(), values), signal
    assert "gopher_word_count" in out.columns and not any("." in c for c in out.columns)


def test_langid_recognizes_languages():
    texts = [
        "The weather is lovely today and we are going to walk along the river.",
        "Il fait très beau aujourd'hui et nous allons nous promener le long de la rivière.",
        "Heute ist das Wetter schön und wir gehen am Fluss spazieren.",
    ]
    out = LangId().apply(frame(texts)).kept
    assert out["lang"].tolist() == ["en", "fr", "de"]
    assert (out["lang_score"] > 0.8).all()


def scored_frame():
    return frame(
        ["a", "b", "c", "d"],
        gopher_word_count=[200.0, 10.0, 500.0, 300.0],
        gopher_stop_word_count=[5.0, 5.0, 5.0, np.nan],
        lang=["en", "en", "de", "en"],
        lang_score=[0.9, 0.99, 0.95, 0.5],
        quality_score=[0.8, 0.9, 0.7, 0.1],
    )


def test_filter_removes_by_the_first_failing_rule_and_counts_every_flag():
    stage = build_stages(
        [
            {
                "stage": "quality_filter",
                "heuristics": [],
                "rules": [{"column": "gopher_word_count", "op": ">=", "value": 50, "name": "short"}],
                "languages": ["en"],
                "min_language_score": 0.65,
                "min_quality": 0.5,
            }
        ]
    )[0]
    result = stage.apply(scored_frame())
    assert result.kept["id"].tolist() == ["d0"]
    removed = result.removed.set_index("id")
    assert removed.loc["d1", "reason"] == "short" and removed.loc["d1", "detail"] == "gopher_word_count=10.0"
    assert (
        removed.loc["d2", "reason"] == "language_not_allowed" and removed.loc["d2", "detail"] == "lang='de'"
    )
    assert removed.loc["d3", "reason"] == "language_low_confidence"
    assert result.counters == {
        "flagged:language_not_allowed": 1,
        "flagged:language_low_confidence": 1,
        "flagged:quality_below_threshold": 1,
        "flagged:short": 1,
    }


def test_published_rules_with_overrides_and_disabled_rules():
    df = HeuristicSignals().apply(frame([" ".join(GOOD) * 2, " ".join(GOOD[:2])])).kept
    default = QualityFilter(
        build_stages([{"stage": "quality_filter", "heuristics": ["gopher_quality"]}])[0].params
    )
    result = default.apply(df)
    assert result.kept["id"].tolist() == ["d0"] and result.removed["reason"].tolist() == ["gopher.min_words"]
    relaxed = build_stages(
        [
            {
                "stage": "quality_filter",
                "heuristics": ["gopher_quality"],
                "thresholds": {"gopher.min_words": 10},
            }
        ]
    )[0]
    assert relaxed.apply(df).kept["id"].tolist() == ["d0", "d1"]
    off = build_stages(
        [{"stage": "quality_filter", "heuristics": ["gopher_quality"], "disable": ["gopher.min_words"]}]
    )[0]
    assert off.apply(df).kept["id"].tolist() == ["d0", "d1"]


def test_filter_config_errors_name_the_fix():
    with pytest.raises(
        ConfigError, match=r"unknown heuristic rule 'gopher\.min_word'.*Did you mean 'gopher\.min_words'"
    ):
        build_stages([{"stage": "quality_filter", "thresholds": {"gopher.min_word": 3}}])
    with pytest.raises(ConfigError, match=r"heuristics\[0\]: 'gopher' is not one of"):
        build_stages([{"stage": "quality_filter", "heuristics": ["gopher"]}])
    stage = build_stages([{"stage": "quality_filter", "min_quality": 0.5}])[0]
    with pytest.raises(KeyError, match="needs columns \\['quality_score'\\]"):
        stage.apply(frame(["x"]))


def test_english_is_recognized_on_the_confirmed_english_handbook_pages(shared_data):
    path = shared_data / "langid" / "debian-handbook_11_multilingual.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    english = [d["text"] for d in docs if d["lang"].startswith("en") and str(d["dir_lang_agrees"]) == "True"]
    assert len(english) >= 30
    out = LangId().apply(frame(english)).kept
    assert (out["lang"] == "en").mean() >= 0.98


def test_document_quality_combines_classifier_and_rules():
    df = HeuristicSignals().apply(frame([" ".join(GOOD) * 2, "tiny text"], quality_score=[0.8, 0.6])).kept
    only_clf = build_stages([{"stage": "document_quality"}])[0].apply(df).kept
    assert only_clf["q"].tolist() == [0.8, 0.6]
    mixed = (
        build_stages(
            [
                {
                    "stage": "document_quality",
                    "classifier_weight": 1.0,
                    "heuristics": ["gopher_quality"],
                    "heuristics_weight": 1.0,
                }
            ]
        )[0]
        .apply(df)
        .kept
    )
    n_rules = sum(r.group == "gopher_quality" for r in heuristics.RULES)
    assert mixed["q"].iloc[0] == pytest.approx((0.8 + 1.0) / 2)  # passes every gopher rule
    assert mixed["q"].iloc[1] < (0.6 + (n_rules - 1) / n_rules) / 2 + 1e-9  # fails at least min_words
    with pytest.raises(ConfigError, match="q needs a classifier column"):
        build_stages([{"stage": "document_quality", "classifier_column": None}])


@pytest.mark.parametrize(
    ("name", "min_auc", "min_above_length"),
    [("curate-web-quality-v1", 0.78, 0.015), ("curate-web-quality-v2", 0.81, 0.045)],
)
def test_the_shipped_model_ranks_dclm_human_labels(shared_data, name, min_auc, min_above_length):
    """The shipped classifiers on human quality labels they were never trained on (evaluation only), against
    document length alone (0.763 on these labels). The cards record v1 0.785 (+0.021 over length) and v2
    0.813 (+0.050); the models are deterministic, so the bars sit just under those."""
    path = shared_data / "eval" / "dclm_human_quality_labels" / "majority_data.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    stage = build_stages([{"stage": "quality_classifier", "model": name}])[0]
    scores = stage.apply(frame([r["text"] for r in rows])).kept["quality_score"].to_numpy()
    labels = np.array([int(r["label"]) == 1 for r in rows])
    length = roc_auc(labels, np.array([len(r["text"].split()) for r in rows]))
    assert len(rows) == 499 and length == pytest.approx(0.763, abs=0.001)
    assert roc_auc(labels, scores) >= min_auc and roc_auc(labels, scores) - length >= min_above_length
