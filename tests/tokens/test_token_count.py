"""Token counts: equal to the tokenizer's own encode, offline, and totalled by the run."""

from __future__ import annotations

import gzip
import inspect
import json
import socket

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.engine import Engine
from curate.errors import UserError
from curate.pipeline.runner import Runner
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.summary import render_status, run_status
from curate.runs.workspace import Workspace
from curate.tokens import tokenizer
from curate.tokens.stage import TokenCount, TokenCountParams
from tests.conftest import PROSE, write_jsonl


def frame(texts):
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "t"})


def test_the_pattern_and_special_tokens_are_tiktokens_own():
    from tiktoken_ext import openai_public

    source = inspect.getsource(openai_public.cl100k_base)
    assert tokenizer.CL100K_PATTERN in source and tokenizer.CL100K_SHA256 in source
    for token, rank in tokenizer.CL100K_SPECIAL.items():
        assert f"{rank}" in source and token in inspect.getsource(openai_public)


def test_cl100k_loads_without_the_network_or_tiktokens_cache(monkeypatch, tmp_path):
    import tiktoken.load

    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)  # tiktoken's downloader
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)  # and its cache
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer.load.cache_clear()
    tok = tokenizer.load("cl100k_base")
    assert tok.encode("hello world") == [15339, 1917]  # GPT-4's ids for these two words
    assert tok.count(["hello world", "", "<|endoftext|>"]).tolist() == [2, 0, 7]  # special text is text
    assert not (tmp_path / "cache").exists()


def test_counts_equal_encode_on_real_documents(shared_data):
    path = shared_data / "web/trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text_full"] for _, line in zip(range(300), f)]  # German and English pages
    tok = tokenizer.load("cl100k_base")
    out = TokenCount(TokenCountParams()).apply(frame(texts)).kept
    assert out["n_tokens"].tolist() == [len(tok.encode(t)) for t in texts]
    assert out["n_tokens"].sum() > 100_000


@settings(max_examples=100, deadline=None, derandomize=True)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_batched_counts_equal_encode_on_any_text(texts):
    tok = tokenizer.load("cl100k_base")
    assert tok.count(texts, threads=2).tolist() == [len(tok.encode(t)) for t in texts]


def test_a_tokenizer_json_counts_through_hugging_face_tokenizers(tmp_path, shared_data):
    hf = pytest.importorskip("tokenizers", reason="the optional hf-tokenizers extra")
    text = (shared_data / "reference/tinyshakespeare_input.txt").read_text(encoding="utf-8")
    model = hf.Tokenizer(hf.models.BPE(unk_token="[UNK]"))
    model.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.train_from_iterator(
        text.split("\n\n"), hf.trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"])
    )
    path = tmp_path / "tokenizer.json"
    model.save(str(path))
    texts = text.split("\n\n")[:200]
    out = TokenCount(TokenCountParams(tokenizer=str(path))).apply(frame(texts)).kept
    assert out["n_tokens"].tolist() == [len(model.encode(t).ids) for t in texts]


def test_bad_tokenizers_are_one_sentence(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown tokenizer 'gpt5'"):
        TokenCount(TokenCountParams(tokenizer="gpt5"))
    with pytest.raises(UserError, match=r"tokenizer file .* not found"):
        TokenCount(TokenCountParams(tokenizer=str(tmp_path / "missing.json")))
    damaged = tmp_path / "cl100k_base.tiktoken"
    damaged.write_bytes(tokenizer.cl100k_file().read_bytes()[:-10])
    monkeypatch.setattr(tokenizer, "cl100k_file", lambda: damaged)
    tokenizer.load.cache_clear()
    with pytest.raises(UserError, match="not the published one"):
        tokenizer.load("cl100k_base")
    tokenizer.load.cache_clear()


def test_the_run_totals_the_kept_documents_tokens(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": t} for t in PROSE] + [{"text": "too short"}])
    pipeline = pipeline_from_mapping(
        {
            "name": "t",
            "input": {"paths": [str(tmp_path / "in")]},
            "stages": [{"stage": "token_count"}, {"stage": "length_filter", "min_words": 5}],
        }
    )
    ws = Workspace(tmp_path / "ws")
    result = Runner(pipeline, ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    kept = pq.read_table(sorted((result.run_dir / "output").glob("*.parquet"))).to_pandas()
    status = run_status(ws)
    tok = tokenizer.load("cl100k_base")
    assert status["output"]["tokens"] == kept["n_tokens"].sum() == sum(len(tok.encode(t)) for t in PROSE)
    assert status["output"]["text_bytes"] == sum(len(t.encode()) for t in PROSE)
    assert status["metrics"]["token_count"]["tokens"] > status["output"]["tokens"]  # "too short" counted
    assert f"{status['output']['tokens']:,} tokens (cl100k_base)" in render_status(status)


def test_sweep_manifests_carry_the_pools_token_counts(tmp_path):
    from tests.sweep.conftest import clean_documents, run_sweep, write_config

    docs = list(clean_documents())[:60]
    counts = tokenizer.load("cl100k_base").count(docs)
    write_jsonl(
        tmp_path / "pool" / "a.jsonl",
        [
            {"id": f"d{i}", "text": d, "score": i / 60, "n_tokens": int(n)}
            for i, (d, n) in enumerate(zip(docs, counts))
        ],
    )
    cfg = write_config(
        tmp_path, name="tokens", pool={"paths": [str(tmp_path / "pool")], "id_key": "id", "score": "score"},
        fractions=[1.0, 0.5], pool_sizes=[1.0], seeds=[0], budgets=["fixed_data"],
        models={"ngram": {"order": 2}}, controls={"matched": False}, plots=False,
    )  # fmt: skip
    result = run_sweep(cfg, tmp_path / "ws")
    by_id = dict(zip((f"d{i}" for i in range(60)), counts.tolist()))
    manifests = sorted(result.folder.glob("subsets/*/manifest.json"))
    assert manifests
    for path in manifests:
        manifest = json.loads(path.read_text())
        kept = pq.read_table(sorted(path.parent.glob("*.parquet"))).column("id").to_pylist()
        assert manifest["tokenizer_tokens"] == sum(by_id[i] for i in kept)
    # the fit input: one pass over each subset trains on all of its tokens, in either unit
    results = pd.read_parquet(result.folder / "results.parquet")
    assert results["train_tokenizer_tokens"].tolist() == results["kept_tokenizer_tokens"].tolist()
    assert sorted(set(results["kept_tokenizer_tokens"])) == sorted(
        {json.loads(p.read_text())["tokenizer_tokens"] for p in manifests}
    )
