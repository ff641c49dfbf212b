"""Under a worker memory limit a corpus several times the workers' memory completes, and a limit that
cannot work fails fast with one sentence (real local clusters, through the command line)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from curate.demo import stdlib_documents
from curate.runs.ledger import Ledger
from tests.runs import cli_process

MiB = 1 << 20


def web_like_corpus(folder: Path, total_mb: float, files: int = 8, seed: int = 0) -> int:
    """JSONL of long documents (about 13 KB: 40-120 paragraphs of the standard library's documentation,
    drawn at random); one in 20 is one of a few repeated texts. Returns how many documents exact dedup
    must remove (the repeats beyond the first of each text)."""
    rng = random.Random(seed)
    paragraphs = [
        p.strip() for d in stdlib_documents() for p in d["text"].split("\n\n") if len(p.split()) >= 8
    ]
    pool = [json.dumps("\n\n".join(rng.sample(paragraphs, rng.randint(40, 120)))) for _ in range(400)]
    folder.mkdir(parents=True, exist_ok=True)
    per_file, n, repeats = int(total_mb * MiB / files), 0, []
    for f in range(files):
        with open(folder / f"part-{f}.jsonl", "w") as out:
            written = 0
            while written < per_file:
                if n % 20 == 19:
                    text = pool[n % 7]
                    repeats.append(text)
                else:  # a unique first line makes every other document distinct
                    text = json.dumps(f"Document {n}.\n\n")[:-1] + pool[n % 400][1:]
                line = f'{{"id": "d{n}", "text": {text}}}\n'
                out.write(line)
                written += len(line)
                n += 1
    return len(repeats) - len(set(repeats))


def config(tmp_path: Path, data: Path, limit: str, workers: int = 1, partition_mb: float = 64) -> Path:
    path = tmp_path / "memory.yaml"
    path.write_text(
        f"name: memory\ninput:\n  paths: [{data}]\n  id_key: id\n  partition_mb: {partition_mb}\n"
        "stages:\n  - stage: length_filter\n    min_words: 20\n"
        "  - stage: exact_dedup\n    unicode_form: none\n    collapse_whitespace: false\n"
        f"engine:\n  workers: {workers}\n  memory_limit: {limit}\n"
    )
    return path


def test_a_corpus_three_times_the_workers_memory_completes_within_the_limit(tmp_path):
    limit_mb = 256
    duplicates = web_like_corpus(tmp_path / "data", 3 * limit_mb)  # one worker: 3x its memory
    ws = tmp_path / "ws"
    proc = cli_process.start("run", config(tmp_path, tmp_path / "data", f"{limit_mb}MiB"), "-w", ws, "-q")
    _out, err = cli_process.finish(proc, 150)
    assert proc.returncode == 0, err
    assert "batches of at most" in err and f"engine.memory_limit ({limit_mb} MiB per worker)" in err

    [run] = Ledger(ws / "ledger.duckdb").runs()
    assert run["state"] == "finished" and run["balanced"]
    assert run["counts"]["removed"] == {"exact_duplicate": duplicates}
    units = [json.loads(p.read_text()) for p in cli_process.markers(ws)]
    on_workers = [u for u in units if u["pid"] != proc.pid]
    assert len(on_workers) >= 0.75 * len(units)  # the driver only works while the cluster starts
    assert len({u["pid"] for u in on_workers}) == 1  # and the worker was never restarted
    # Dask restarts a worker at 95% of its limit: every unit ran within it (sampled between batches)
    assert max(u["rss_mb"] for u in on_workers) < 0.95 * limit_mb


def test_an_impossibly_small_memory_limit_fails_fast_with_one_sentence(tmp_path):
    web_like_corpus(tmp_path / "data", 24)
    ws = tmp_path / "ws"
    cfg = config(tmp_path, tmp_path / "data", "100MiB", partition_mb=0.5)  # 48 units: the workers get some
    started = time.monotonic()
    proc = cli_process.start("run", cfg, "-w", ws, "-q")
    _out, err = cli_process.finish(proc, 120)
    assert proc.returncode == 1, err
    assert time.monotonic() - started < 60
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if line.startswith("curate: error: ")]
    assert "engine.memory_limit: 100 MiB per worker" in error and "raise engine.memory_limit" in error
    assert err.strip().splitlines()[-1] == error
    [run] = Ledger(ws / "ledger.duckdb").runs()
    assert run["state"] == "failed"
    assert "KilledWorker" in (Path(ws / "runs" / run["run_id"] / "error.txt")).read_text()
