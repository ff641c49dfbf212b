"""The pool: any input curate reads, restricted by `where`, checked for in-sample scores and bad ids."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from curate.errors import ConfigError, UserError
from curate.quality import fingerprints as fpr
from curate.quality.registry import resolve
from curate.quality.train import TrainParams, train_classifier
from tests.conftest import write_jsonl
from tests.sweep.conftest import clean_documents, random_tokens, run_sweep, write_config


def small_sweep(root, name: str = "pool-test", **pool):
    """A quick sweep of the pool `pool` (its config keys; the score is in field `score` by default)."""
    return write_config(
        root,
        name=name,
        pool={"score": "score", **pool},
        fractions=[1.0, 0.5],
        pool_sizes=[1.0],
        seeds=[0, 1],
        budgets=["fixed_data"],
        models={"ngram": {"order": 3}},
        plots=False,
    )


@pytest.fixture(scope="module")
def jsonl_pool(tmp_path_factory):
    """A JSONL pool in two languages with a score field, one broken line and one record without text."""
    root = tmp_path_factory.mktemp("jsonl-pool")
    rng = random.Random(3)
    docs = list(clean_documents())[:160]
    records = [
        {"id": f"d{i}", "text": d, "score": rng.random(), "lang": "en" if i % 4 else "xx", "site": i % 3}
        for i, d in enumerate(docs)
    ]
    write_jsonl(root / "pool" / "a.jsonl", records[:80], [b'{"id": "broken", "text": "cut off'])
    write_jsonl(root / "pool" / "b.jsonl", [*records[80:], {"id": "no-text", "score": 1.0}])
    return root


def test_a_jsonl_pool_is_read_with_its_fields_as_columns(jsonl_pool):
    cfg = small_sweep(jsonl_pool, paths=[str(jsonl_pool / "pool")], id_key="id")
    result = run_sweep(cfg, jsonl_pool / "ws")
    pool = result.pool
    assert pool["read"] == 160 and pool["docs"] == 160
    assert pool["quarantined"] == {"malformed_json": 1, "missing_text": 1}  # counted, not fatal
    assert result.pool_composition["lang_mix"]["en"] == pytest.approx(0.75, abs=0.08)
    assert set(result.pool_composition["source_mix"]) == {"a.jsonl", "b.jsonl"}


def test_where_restricts_the_pool_before_ranking(jsonl_pool):
    where = "lang = 'en' AND site <> 1"
    cfg = small_sweep(jsonl_pool, "english-only", paths=[str(jsonl_pool / "pool")], id_key="id", where=where)
    result = run_sweep(cfg, jsonl_pool / "ws")
    expected = sum(1 for i in range(160) if i % 4 and i % 3 != 1)
    assert result.pool["docs"] == expected and result.pool["where"] == "lang = 'en' AND site <> 1"
    assert set(result.pool_composition["lang_mix"]) == {"en"}
    top = json.loads((result.folder / "subsets" / "s0-p1-f0.5-top" / "manifest.json").read_text())
    assert top["source"]["where"] == "lang = 'en' AND site <> 1"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("lang = 'en'; DROP TABLE pool", "must be one predicate"),
        ("no_such_column = 1", "does not apply to the pool"),
    ],
)
def test_a_bad_where_is_refused_in_one_sentence(jsonl_pool, where, message):
    cfg = small_sweep(jsonl_pool, "bad-where", paths=[str(jsonl_pool / "pool")], where=where)
    with pytest.raises(UserError, match=message):
        run_sweep(cfg, jsonl_pool / "ws")


def test_repeated_ids_and_a_missing_score_are_refused(tmp_path):
    docs = list(clean_documents())[:20]
    write_jsonl(
        tmp_path / "pool" / "a.jsonl",
        [{"id": "same" if i < 2 else f"d{i}", "text": d, "score": 0.5} for i, d in enumerate(docs)],
    )
    cfg = small_sweep(tmp_path, paths=[str(tmp_path / "pool")], id_key="id")
    with pytest.raises(UserError, match="1 repeated ids"):
        run_sweep(cfg, tmp_path / "ws")
    cfg = small_sweep(tmp_path, "no-score", paths=[str(tmp_path / "pool")], score="scroe")
    with pytest.raises(UserError, match=r"no 'scroe' column.*Did you mean 'score'"):
        run_sweep(cfg, tmp_path / "ws")


def test_a_sweep_name_cannot_leave_the_workspace(tmp_path):
    for name in ("../../x", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError, match="not a plain name"):
            small_sweep(tmp_path, name, paths=["pool"])


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A quality model trained here on 120 clean documents against random-letter ones."""
    root = tmp_path_factory.mktemp("leak")
    rng = random.Random(5)
    docs = list(clean_documents())
    write_jsonl(root / "pos" / "p.jsonl", [{"text": d} for d in docs[:120]])
    write_jsonl(root / "neg" / "n.jsonl", [{"text": random_tokens(d, rng)} for d in docs[:120]])
    params = TrainParams(
        dim=8, epoch=5, min_count=1, bucket=20_000, quantize=False, holdout=0.2, seed=1, chunk_words=None
    )
    model = root / "models" / "leak-test-v1.bin"
    card = train_classifier([str(root / "pos")], [str(root / "neg")], str(model), params, log=lambda m: None)
    return root, model, card


def test_the_model_card_names_the_fingerprints_of_its_training_documents(trained_model):
    _, model, card = trained_model
    info = card["training_fingerprints"]
    trained = card["data"]["train"]["hq"] + card["data"]["train"]["lq"]
    assert (
        info["documents"] == trained and info["file"] == "leak-test-v1.train-fingerprints.npy"
    )  # all distinct
    values = fpr.load(model, card)
    assert (
        values.dtype == np.uint64
        and len(values) == trained
        and (np.diff(values.astype(np.float64)) > 0).all()
    )
    # A verbatim copy matches, with other whitespace too; an edited copy does not.
    docs = list(clean_documents())[:120]
    hits = fpr.contained(fpr.fingerprints(docs), values)
    assert hits.sum() == card["data"]["train"]["hq"]  # the held-out positives were not trained on
    doc = docs[int(np.flatnonzero(hits)[0])]
    assert fpr.contained(fpr.fingerprints(["  " + doc.replace(" ", "\n") + "\t"]), values)[0]
    assert not fpr.contained(fpr.fingerprints([doc + " (edited)"]), values)[0]


def test_a_pool_of_the_ranking_models_training_documents_is_refused(trained_model):
    """Leakage test: ranked by a model trained on half of it, the pool's scores are in-sample."""
    root, model, card = trained_model
    docs = list(clean_documents())
    rng = random.Random(9)
    pool = [{"id": f"t{i}", "text": d, "score": rng.random()} for i, d in enumerate(docs[:60])]
    pool += [{"id": f"o{i}", "text": d, "score": rng.random()} for i, d in enumerate(docs[200:260])]
    write_jsonl(root / "pool" / "pool.jsonl", pool)
    cfg = small_sweep(root, paths=[str(root / "pool")], ranking_models=[str(model)])
    trained = fpr.load(model, card)
    expected = int(fpr.contained(fpr.fingerprints(docs[:60]), trained).sum())
    assert expected > 30
    share = expected / 120
    with pytest.raises(
        UserError,
        match=rf"{expected} of the pool's 120 documents \({share:.1%}\) are training documents of the "
        r"ranking model 'leak-test-v1'.*--allow-in-sample",
    ):
        run_sweep(cfg, root / "ws")
    allowed = small_sweep(
        root, "allowed", paths=[str(root / "pool")], ranking_models=[str(model)], allow_in_sample=True
    )
    result = run_sweep(allowed, root / "ws")
    assert result.pool["in_sample"]["leak-test-v1"] == {
        "checked": True,
        "documents": expected,
        "share": share,
    }
    # A pool of other documents passes the check with a share of 0.
    where = "meta_id LIKE 'o%'"  # the records' own ids (derived ids are file#offset)
    clean = small_sweep(root, "clean", paths=[str(root / "pool")], ranking_models=[str(model)], where=where)
    assert run_sweep(clean, root / "ws").pool["in_sample"]["leak-test-v1"]["documents"] == 0


@pytest.mark.parametrize("name", ["curate-web-quality-v1", "curate-web-quality-v2"])
def test_the_shipped_model_knows_its_training_documents(tmp_path, shared_data, name):
    """The shipped classifiers were trained on WebText pages of ../shared/data: a pool of them, scored by
    one (its name in the quality_model column), is refused."""
    model = resolve(name)
    trained = fpr.load(model.path, model.card)
    assert trained is not None and len(trained) == model.card["training_fingerprints"]["documents"]
    assert len(trained) > 0.99 * (model.card["data"]["train"]["hq"] + model.card["data"]["train"]["lq"])
    path = shared_data / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()[:300]]
    hits = int(fpr.contained(fpr.fingerprints(texts), trained).sum())
    assert hits > 50
    write_jsonl(
        tmp_path / "pool" / "web.jsonl",
        [{"text": t, "quality_score": 0.5, "quality_model": model.name} for t in texts],
    )
    cfg = small_sweep(tmp_path, paths=[str(tmp_path / "pool")], score="quality_score")
    with pytest.raises(UserError, match=rf"{hits} of the pool's 300 documents .* '{name}'"):
        run_sweep(cfg, tmp_path / "ws")


@pytest.mark.parametrize("name", ["sweep", "demo_sweep"])
def test_the_shipped_sweep_configs_are_valid(name):
    from curate.resources import pipeline_path
    from curate.sweep.load import load_sweep

    cfg = load_sweep(pipeline_path(name), ['pool.paths=["scored"]'])
    assert cfg.controls.matched and cfg.pool.low_quality_column is None  # Q (i) is not the ranking score
    assert "fixed_compute" in cfg.budgets and cfg.compute_shares


def test_a_rescored_pool_is_planned_afresh(tmp_path):
    """Same files, same config, new scores (e.g. another model): the old subsets and cells are stale."""
    docs = list(clean_documents())[:60]
    rng = random.Random(2)

    def write(scores):
        write_jsonl(tmp_path / "pool" / "a.jsonl", [{"text": d, "score": s} for d, s in zip(docs, scores)])

    write([rng.random() for _ in docs])
    cfg = small_sweep(tmp_path, paths=[str(tmp_path / "pool")])
    first = run_sweep(cfg, tmp_path / "ws")
    assert run_sweep(cfg, tmp_path / "ws").cells_reused == first.cells_run  # unchanged: all reused
    write([rng.random() for _ in docs])
    again = run_sweep(cfg, tmp_path / "ws")
    assert again.folder == first.folder and again.cells_reused == 0 and again.cells_run == first.cells_run
    top = again.results[(again.results.selection == "top") & (again.results.fraction == 0.5)]
    old = first.results[(first.results.selection == "top") & (first.results.fraction == 0.5)]
    assert not np.allclose(top.loss_nats_per_token.to_numpy(), old.loss_nats_per_token.to_numpy())
