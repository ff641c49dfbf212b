"""Per-source books: a template over-merge that deletes one source is flagged, and holds the run before it
publishes under --max-source-loss (exit 6); resuming with a higher limit publishes the same run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.config import build
from curate.errors import ConfigError, SourceLossExceeded
from curate.runs.sources import SourceCounter, SourcesConfig, check_sources, source_labels
from curate.schema import QUARANTINE_SCHEMA
from tests.conftest import write_jsonl
from tests.runs.test_scheduled import WORDS

CONFIG = {
    "name": "safety",
    "stages": [
        {"stage": "exact_dedup"},
        {"stage": "minhash_dedup"},
        {"stage": "length_filter", "min_words": 5},
    ],
}


def prose(rng: random.Random, words: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def template_pages(n: int) -> list[dict]:
    """Pages of one template: 200 words, one of them the page's own (pairwise Jaccard ~0.9)."""
    frame = prose(random.Random(1), 200).split()
    pages = []
    for i in range(n):
        words = list(frame)
        words[100] = f"product{i}x"
        pages.append({"text": " ".join(words)})
    return pages


def corpus(root: Path) -> None:
    rng = random.Random(2)
    news = [{"text": prose(rng)} for _ in range(30)]
    copies = [{"text": news[k]["text"].replace(" ", "  ", 1) + " extra"} for k in (0, 1)]  # near copies
    write_jsonl(root / "news" / "a.jsonl", news + copies, raw_lines=[b'{"text": "broken'])
    write_jsonl(root / "templated" / "pages.jsonl", template_pages(30))


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run(config: Path, ws: Path, *extra) -> tuple[int, dict | None, str]:
    result = invoke("run", config, "-w", ws, "--workers", "0", "-q", "--json", *extra)
    text = result.stdout
    return result.exit_code, (json.loads(text) if text.lstrip().startswith("{") else None), result.output


def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    data, ws = tmp_path / "data", tmp_path / "ws"
    config = tmp_path / "safety.yaml"
    config.write_text(json.dumps({**CONFIG, "input": {"paths": [str(data)]}}))
    return config, data, ws


def test_a_template_cluster_that_deletes_one_source_is_flagged_with_the_books_of_every_source(tmp_path):
    config, data, ws = setup(tmp_path)
    corpus(data)
    code, status, output = run(config, ws)
    assert code == 0 and status["state"] == "finished"
    sources = status["sources"]
    assert sources["counts"]["templated"] == {
        "input": 30,
        "documents": 30,
        "kept": 1,
        "removed": {"near_duplicate": 29},
        "quarantined": {},
        "loss": 0.966667,
    }
    assert sources["counts"]["news"] == {
        "input": 33,
        "documents": 32,
        "kept": 30,
        "removed": {"near_duplicate": 2},
        "quarantined": {"malformed_json": 1},
        "loss": 0.0625,
    }
    assert sources["flagged"] == ["templated"] and sources["exceeded"] == []
    assert sources["by"] == "the top file or folder of the input path" and sources["flag_loss"] == 0.95
    assert "source 'templated' lost 96.7% of its 30 documents (near_duplicate 29)" in output  # a warning
    # the books per source add up to the run's books
    c = status["counts"]
    assert sum(b["input"] for b in sources["counts"].values()) == c["input"] == 63
    assert sum(b["kept"] for b in sources["counts"].values()) == c["kept"]
    text = invoke("status", "-w", ws).stdout
    assert "sources      2 by the top file or folder of the input path; 1 flagged (loss above 0.95)" in text
    assert "FLAGGED templated" in text


def test_max_source_loss_holds_the_run_before_it_publishes_and_resume_publishes_it(tmp_path):
    config, data, ws = setup(tmp_path)
    rng = random.Random(5)
    write_jsonl(data / "news" / "a.jsonl", [{"text": prose(rng)} for _ in range(20)])
    code, first, _ = run(config, ws, "--max-source-loss", "0.5")
    assert code == 0 and first["state"] == "finished"
    index = ws / "state" / "minhash_dedup"
    assert len(list(index.glob("index-*/*/docs.parquet"))) == 1

    write_jsonl(data / "templated" / "pages.jsonl", template_pages(30))  # the next night: a template
    code, held, output = run(config, ws, "--max-source-loss", "0.5")
    assert code == SourceLossExceeded.exit_code == 6
    assert "held before publishing: source 'templated' lost 96.7% of its 30 documents" in output
    assert "above the limit 0.5" in output and f"--resume {held['run_id']} --max-source-loss 1" in output
    assert held["state"] == "held" and held["sources"]["exceeded"] == ["templated"]
    assert held["counts"]["removed"] == {"near_duplicate": 29} and held["balanced"] is True
    # nothing published: latest, the lineage and the dedup index are as they were
    assert (ws / "latest").resolve() == Path(first["run_dir"]).resolve()
    assert held["lineage"]["runs"] == [first["run_id"]]
    assert len(list(index.glob("index-*/*/docs.parquet"))) == 1
    assert "HELD    templated" in invoke("status", "-w", ws, "--run", held["run_id"]).stdout

    code, again, _ = run(config, ws, "--resume", "last", "--max-source-loss", "0.5")  # held again
    assert code == 6 and again["run_id"] == held["run_id"]
    code, done, output = run(config, ws, "--resume", "last", "--max-source-loss", "1")
    assert code == 0 and done["run_id"] == held["run_id"] and done["state"] == "finished"
    assert "already done, skipped" in output
    assert done["sources"]["flagged"] == ["templated"] and done["sources"]["exceeded"] == []
    assert (ws / "latest").resolve() == Path(done["run_dir"]).resolve()
    assert done["lineage"]["runs"] == [first["run_id"], held["run_id"]]
    assert len(list(index.glob("index-*/*/docs.parquet"))) == 2


def test_a_source_can_be_a_record_field_and_quarantined_records_keep_theirs():
    cfg = SourcesConfig(key="origin")
    docs = pa.table(
        {
            "id": ["1", "2", "3", "4"],
            "source": ["x/a.jsonl"] * 4,
            "meta": ['{"origin": "wiki"}', '{"origin": "web"}', "{}", '{"origin": 7}'],
        }
    )
    assert source_labels(docs, cfg) == ["wiki", "web", "(none)", "7"]
    bad = pa.table(
        {
            "id": ["x/a.jsonl#1", "x/a.jsonl#2"],
            "source": ["x/a.jsonl"] * 2,
            "offset": [1, 2],
            "reason": ["empty_text", "malformed_json"],
            "detail": [None, None],
            "raw": [b'{"origin": "wiki", "text": ""}', b'{"origin": "wi'],
        },
        schema=QUARANTINE_SCHEMA,
    )
    counter = SourceCounter(cfg)
    counter.count_input(docs, bad)
    assert counter.books["wiki"] == {"input": 2, "kept": 0, "removed": {}, "quarantined": {"empty_text": 1}}
    assert counter.books["(none)"]["quarantined"] == {"malformed_json": 1}
    # without a key: the first path_parts parts of the input path
    paths = pa.table({"source": ["a/b/c.jsonl", "top.jsonl", "a/d.jsonl"]})
    assert source_labels(paths, SourcesConfig()) == ["a", "top.jsonl", "a"]
    assert source_labels(paths, SourcesConfig(path_parts=2)) == ["a/b", "top.jsonl", "a/d.jsonl"]


def test_loss_counts_chosen_reasons_and_small_sources_are_never_flagged():
    def unit(input_, kept, removed, quarantined=None):
        return {"input": input_, "kept": kept, "removed": removed, "quarantined": quarantined or {}}

    reports = {
        "p0": [
            {
                "sources": {
                    "big": unit(100, 0, {"too_few_words": 60}, {"empty_text": 10}),
                    "tiny": unit(3, 0, {}),
                }
            }
        ],
        "p1": [
            {
                "sources": {
                    "big": unit(0, 10, {"near_duplicate": 20}),
                    "tiny": unit(0, 0, {"near_duplicate": 3}),
                }
            }
        ],
    }
    every = check_sources(reports, SourcesConfig(flag_loss=0.5, max_loss=0.85))
    assert every.books["big"]["documents"] == 90 and every.books["big"]["loss"] == round(80 / 90, 6)
    assert every.flagged == ["big"] and every.exceeded == ["big"]  # tiny (3 documents) lost all: not judged
    dedup_only = check_sources(reports, SourcesConfig(flag_loss=0.5, reasons=["near_duplicate"]))
    assert dedup_only.books["big"]["loss"] == round(20 / 90, 6) and dedup_only.flagged == []
    with pytest.raises(ConfigError, match=r"sources\.max_loss: 1\.5 is above the maximum 1"):
        build(SourcesConfig, {"max_loss": 1.5}, "sources")


def test_curate_dedup_keeps_books_by_a_record_field_and_holds_under_max_source_loss(tmp_path):
    rng = random.Random(7)
    news = [{"text": prose(rng), "site": "news.example"} for _ in range(30)]
    shop = [{**page, "site": "shop.example"} for page in template_pages(30)]
    write_jsonl(tmp_path / "crawl.jsonl", news + shop)  # one file: by path, one source losing 46%
    args = ["dedup", tmp_path / "crawl.jsonl", "--workers", "0", "-q", "--max-source-loss", "0.9"]
    by_path = invoke(*args, "--output", tmp_path / "ws1")
    assert by_path.exit_code == 0, by_path.output
    assert "sources      1 by the top file or folder of the input path; 0 flagged" in by_path.stdout

    by_site = invoke(*args, "--output", tmp_path / "ws2", "--source-key", "site")
    assert by_site.exit_code == 6
    assert "held before publishing: source 'shop.example' lost 96.7% of its 30 documents" in by_site.output
    assert not (tmp_path / "ws2" / "latest").exists()
