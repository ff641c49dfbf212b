"""The pruning sweep on real data, with controls: what does a quality classifier buy over random?

1. Split the web pages of ../shared/data/web in two halves by page (md5 of the page key, the same keys
   `quality_models/build_training_data.py` groups by): half A trains a classifier, half B is the pool. No
   pool document, nor another view of its page, is in the classifier's training data; the sweep's
   in-sample check confirms it (and the benchmark prints the shipped model's share of the pool, which
   was trained on all of it).
2. Classifier `bench-web-quality-v1`: the recipe and data sources of `curate-web-quality-v1`
   (`quality_models/README.md`) on half A, plus the scrapinghub and WARC pages (never in the pool).
3. Pool (half B): WebText documents, the tiny C4 sample, the CC / C4 / RedPajama / Dolma samples and the
   whole visible text of the trafilatura pages (German and English), one file per source, scored with
   `curate score --classifier`.
4. Evaluation sets the classifier never saw and the pool does not hold: 5,000-character passages of the
   Gutenberg books and the Lee corpus of ABC news; and each seed's held-out slice of the pool.
5. Two sweeps, each 6 fractions x 3 pool sizes x SEEDS seeds, random and composition-matched (language x
   source) controls, the byte 5-gram proxy, one pass and fixed compute at 1/4, 1/2 and all of the pool's
   bytes: the whole pool, and the English pages only (`pool.where = "lang = 'en'"`).

The summary tables (CSV), the composition table and the plots go to benchmarks/sweep/.

    python benchmarks/sweep_web.py --workspace /work/benchdata/sweep-ws --seeds 5
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
OUT = HERE / "sweep"


def _training_data_module():
    spec = importlib.util.spec_from_file_location("btd", REPO / "quality_models" / "build_training_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_pool_half(page: str) -> bool:
    return int(hashlib.md5(page.encode()).hexdigest()[:8], 16) % 2 == 1


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pool_documents(btd) -> dict[str, list[dict]]:
    """Every web document of the old benchmark pool, with its page key, by source file."""
    web = DATA / "web"
    out = {"webtext": [], "c4": [], "cc": [], "trafilatura": []}
    for d in read_jsonl(web / "webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl"):
        out["webtext"].append({"page": f"webtext:{d['id']}", "text": d["text"]})
    for i, d in enumerate(read_jsonl(web / "recdp_tiny_c4/tiny_c4_sample.jsonl")):
        out["c4"].append({"page": f"c4:{i}", "text": d["text"]})
    for name in btd.CC_SAMPLES:
        for i, d in enumerate(read_jsonl(web / "cc_small_samples" / name)):
            out["cc"].append({"page": f"cc:{name}:{i}", "text": d["text"]})
    for d in read_jsonl(web / "trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz"):
        out["trafilatura"].append({"page": f"traf:{d['id']}", "text": d.get("text_full") or ""})
    return {k: [d for d in v if d["text"].strip()] for k, v in out.items()}


def build_inputs(folder: Path) -> dict:
    btd = _training_data_module()
    counts = {"pool": {}, "classifier": {}}
    for source, docs in pool_documents(btd).items():
        kept = [{"id": f"{source}-{i}", **d} for i, d in enumerate(docs) if in_pool_half(d["page"])]
        write_jsonl(folder / "pool" / f"{source}.jsonl", kept)
        counts["pool"][source] = len(kept)
    train = {"positive": [], "negative": []}
    for label, source, page, text in btd.documents(DATA):
        never_pooled = page.startswith(("scrapinghub:", "warc:"))  # these pages are not in the pool at all
        if text and text.strip() and (never_pooled or not in_pool_half(page)):
            train[label].append({"text": text, "source": source, "page": page})
            counts["classifier"][f"{label}/{source}"] = counts["classifier"].get(f"{label}/{source}", 0) + 1
    for label, records in train.items():
        write_jsonl(folder / "classifier" / f"{label}.jsonl", records)
    rng = random.Random(0)
    passages = []
    for book in sorted((DATA / "reference/gutenberg_nltk").glob("*.txt")):
        text = book.read_text(encoding="utf-8", errors="replace")
        chunks = [text[i : i + 5000] for i in range(5000, len(text) - 5000, 5000)]  # skip the front matter
        passages += rng.sample(chunks, min(len(chunks), 20))
    rng.shuffle(passages)
    write_jsonl(folder / "eval" / "gutenberg_prose.jsonl", [{"text": t} for t in passages])
    lee = (DATA / "reference/wikipedia_gensim_sample/lee_background.cor").read_text(encoding="utf-8")
    write_jsonl(folder / "eval" / "lee_news.jsonl", [{"text": x} for x in lee.splitlines() if x.strip()])
    return counts


def curate(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout


def shipped_share(pool_folder: Path) -> tuple[int, int]:
    """How many pool documents the shipped classifier was trained on."""
    from curate.quality import fingerprints as fpr
    from curate.quality.registry import resolve

    model = resolve("curate-web-quality-v1")
    texts = [d["text"] for p in sorted(pool_folder.glob("*.jsonl")) for d in read_jsonl(p)]
    trained = fpr.load(model.path, model.card)
    return int(fpr.contained(fpr.fingerprints(texts), trained).sum()), len(texts)


def sweep(ws: Path, model: Path, seeds: int, name: str, where: str | None) -> tuple[dict, float]:
    sets = [
        {"name": "gutenberg_prose", "paths": [str(ws / "inputs/eval/gutenberg_prose.jsonl")]},
        {"name": "lee_news", "paths": [str(ws / "inputs/eval/lee_news.jsonl")]},
    ]
    args = [
        "sweep", str(HERE / "sweep" / "web_sweep.yaml"), "--workspace", str(ws), "-q", "--json",
        "--pool", str(ws / "scored" / "latest" / "output"),
        "--set", f"name={name}", "--set", f"eval.sets={json.dumps(sets)}",
        "--set", f"seeds={json.dumps(list(range(seeds)))}",
        "--set", f"pool.ranking_models={json.dumps([str(model)])}",
    ]  # fmt: skip
    if where:
        args += ["--set", f"pool.where={where}"]
    t0 = time.perf_counter()
    out = json.loads(curate(*args))
    return out, time.perf_counter() - t0


def headline(summary, eval_sets=("gutenberg_prose", "lee_news", "pool_holdout")) -> str:
    """Markdown rows: gain over random and over the matched control per f, pool 1, every budget."""
    import pandas as pd

    s = pd.DataFrame(summary)
    top = s[(s.selection == "top") & (s.pool_size == 1.0) & (s.fraction < 1.0)]
    lines = []
    for (budget, eval_set), g in top.groupby(["budget", "eval_set"], sort=False):
        if eval_set not in eval_sets:
            continue
        for r in g.sort_values("fraction", ascending=False).itertuples():
            lines.append(
                f"| {eval_set} | {budget} | {r.fraction:g} | {r.kept_tokens / 1e6:.2f} M | {r.loss:.4f} | "
                f"{r.gain_random:+.4f} [{r.gain_random_lo:+.4f}, {r.gain_random_hi:+.4f}] | "
                f"{r.gain_matched:+.4f} [{r.gain_matched_lo:+.4f}, {r.gain_matched_hi:+.4f}] | {r.verdict} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/curate-sweep-web"))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    ws = args.workspace.resolve()
    shutil.rmtree(ws, ignore_errors=True)
    counts = build_inputs(ws / "inputs")
    print(json.dumps(counts, indent=1))
    model = ws / "models" / "bench-web-quality-v1.ftz"
    t0 = time.perf_counter()
    curate(
        "train-classifier", "--positive", str(ws / "inputs/classifier/positive.jsonl"),
        "--negative", str(ws / "inputs/classifier/negative.jsonl"), "--output", str(model),
        "--name", "bench-web-quality-v1", "--set", "language=en", "--set", "min_chars=200",
        "--set", "group_key=page", "--set", "chunk_words=128",
    )  # fmt: skip
    card = json.loads(model.with_suffix(".json").read_text())
    print(f"classifier: held-out ROC AUC {card['holdout']['roc_auc']:.3f} on {card['holdout']['docs']} pages")
    curate(
        "score", str(ws / "inputs" / "pool"), "--output", str(ws / "scored"), "-q", "--classifier", str(model)
    )
    t_prep = time.perf_counter() - t0
    hits, total = shipped_share(ws / "inputs" / "pool")
    print(f"the shipped curate-web-quality-v1 was trained on {hits} of these {total} pool documents")
    OUT.mkdir(exist_ok=True)
    import pandas as pd

    for name, where in (("web-sweep", None), ("web-sweep-english", "lang = 'en'")):
        out, seconds = sweep(ws, model, args.seeds, name, where)
        folder = Path(out["folder"])
        pool = out["pool"]
        print(f"\n## {name}: {pool['docs']} documents, {pool['tokens']:,} tokens; {seconds:.0f} s")
        print(f"in-sample: {pool['in_sample']}; Q (i): {pool['low_quality_judge']}")
        print(json.dumps(json.loads((folder / "pool.json").read_text())["composition"], indent=1))
        print(
            "| eval set | budget | f | kept | loss (top f) | gain vs random [CI] | gain vs matched [CI] "
            "| verdict |"
        )
        print("|---|---|---:|---:|---:|---|---|---|")
        print(headline(out["summary"]))
        pd.DataFrame(out["summary"]).round(5).to_csv(OUT / f"{name}_summary.csv", index=False)
        pd.read_parquet(folder / "composition.parquet").round(4).to_csv(
            OUT / f"{name}_composition.csv", index=False
        )
        for plot in (
            "gain_vs_f-ngram-gutenberg_prose",
            "loss_vs_kept-ngram-gutenberg_prose",
            "language_vs_f",
        ):
            if (folder / "plots" / f"{plot}.png").exists():
                shutil.copy(folder / "plots" / f"{plot}.png", OUT / f"{name}-{plot}.png")
    print(f"\npreparing (classifier, scoring): {t_prep:.0f} s")


if __name__ == "__main__":
    main()
