"""The pruning sweep on real data: 6 fractions x 3 pool sizes x 3 seeds, byte 5-gram proxy, both budgets.

1. Pool: English-and-German web text from ../shared/data/web (WebText, the tiny C4 sample, the CC / C4 /
   RedPajama / Dolma samples, and the whole visible text of the trafilatura test pages), scored with
   `curate score` (heuristic signals, language ID, the shipped quality classifier).
2. Evaluation sets the classifier never saw: the pool's held-out slice, passages of the 14 Project
   Gutenberg books (5,000 characters each, spread over all books) and the Lee corpus of ABC news articles.
3. `curate sweep benchmarks/sweep/web_sweep.yaml`; the summary table (CSV) and plots go to
   benchmarks/sweep/ with the time taken.

    python benchmarks/sweep_web.py --workspace /work/benchdata/sweep-ws
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"


def write_jsonl(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"{path.stem}-{i}", "text": t}, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_inputs(folder: Path) -> None:
    web = DATA / "web"
    pool = [d["text"] for d in read_jsonl(web / "webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")]
    pool += [d["text"] for d in read_jsonl(web / "recdp_tiny_c4/tiny_c4_sample.jsonl")]
    for path in sorted((web / "cc_small_samples").glob("*.json*")):
        if path.suffix in (".jsonl", ".gz") and "warc" not in path.name:
            pool += [d["text"] for d in read_jsonl(path)]
    pool += [
        d["text_full"]
        for d in read_jsonl(web / "trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz")
    ]
    write_jsonl(folder / "pool" / "web.jsonl", [t for t in pool if t and t.strip()])
    rng = random.Random(0)
    passages = []
    for book in sorted((DATA / "reference/gutenberg_nltk").glob("*.txt")):
        text = book.read_text(encoding="utf-8", errors="replace")
        chunks = [text[i : i + 5000] for i in range(5000, len(text) - 5000, 5000)]  # skip the front matter
        passages += rng.sample(chunks, min(len(chunks), 20))
    rng.shuffle(passages)
    write_jsonl(folder / "eval" / "gutenberg_prose.jsonl", passages)
    lee = (
        (DATA / "reference/wikipedia_gensim_sample/lee_background.cor")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    write_jsonl(folder / "eval" / "lee_news.jsonl", [x for x in lee if x.strip()])


def curate(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/curate-sweep-web"))
    args = ap.parse_args()
    ws = args.workspace.resolve()
    shutil.rmtree(ws, ignore_errors=True)
    build_inputs(ws / "inputs")
    t0 = time.perf_counter()
    curate("score", str(ws / "inputs" / "pool"), "--output", str(ws / "scored"), "-q")
    t_score = time.perf_counter() - t0
    sets = json.dumps(
        [
            {"name": "gutenberg_prose", "paths": [str(ws / "inputs/eval/gutenberg_prose.jsonl")]},
            {"name": "lee_news", "paths": [str(ws / "inputs/eval/lee_news.jsonl")]},
        ]
    )
    t1 = time.perf_counter()
    summary = curate(
        "sweep",
        str(HERE / "sweep" / "web_sweep.yaml"),
        "--workspace",
        str(ws),
        "-q",
        "--pool",
        str(ws / "scored" / "latest" / "output"),
        "--set",
        f"eval.sets={sets}",
    )
    t_sweep = time.perf_counter() - t1
    print(summary)
    folder = next((ws / "sweeps").glob("web-sweep-*"))
    import pandas as pd

    table = pd.read_parquet(folder / "summary.parquet")
    table.round(4).to_csv(HERE / "sweep" / "web_sweep_summary.csv", index=False)
    for name in (
        "loss_vs_kept-ngram-gutenberg_prose",
        "loss_vs_kept-ngram-pool_holdout",
        "loss_vs_f_fixed_compute-ngram-gutenberg_prose",
        "q_vs_f",
    ):
        shutil.copy(folder / "plots" / f"{name}.png", HERE / "sweep" / f"{name}.png")
    cells = len(
        pd.read_parquet(folder / "results.parquet").drop_duplicates(
            ["seed", "pool_size", "fraction", "model", "budget"]
        )
    )
    print(
        f"scoring the pool: {t_score:.0f} s; sweep: {cells} cells in {t_sweep:.0f} s "
        f"({(t_score + t_sweep) / 60:.1f} minutes in all)"
    )


if __name__ == "__main__":
    main()
