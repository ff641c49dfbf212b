"""Perplexity: article text against its whole page on the scrapinghub benchmark, and throughput per core
of the `perplexity` stage against the fastText `quality_classifier` stage, on the same documents, in one
process, interleaved.

    python benchmarks/perplexity.py --data ../shared/data [--rounds 5]

Models: the shipped curate-prose-lm-v1 (byte 4-grams of the reference prose, `make lm-model`), the same
model scored through hash tables with backoff (`Scorer(dense_bytes=0)`: the form large models fall back
to), and byte 3- and 5-gram models trained here on the same text (the 5-gram's highest order is too large
for a dense table: hash tables there). Pages: all visible text of the 181 HTML pages
(`quality_models/build_training_data.py`'s extraction) against their gold article bodies. Throughput: CPU
seconds of this process (`time.process_time`), so other work on the machine counts less; the median of
the rounds (a small corpus timed over ~20 MB of passes); batches of 1,000 documents, as a run hands a
stage. Documents: 6,117 real documents, 47 MB (WebText pages, whole trafilatura page texts, Python and
Linux documentation), and the 181 pages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "quality_models"))

from _corpora import real_documents  # noqa: E402
from build_lm_data import documents  # noqa: E402
from build_training_data import visible_text  # noqa: E402

from curate.quality import byte_lm, perplexity  # noqa: E402
from curate.quality.perplexity import Perplexity, PerplexityParams  # noqa: E402
from curate.quality.stages import ClassifierParams, QualityClassifier  # noqa: E402
from curate.quality.train_lm import LmTrainParams, train_lm  # noqa: E402


class WithScorer(Perplexity):
    """The stage with a scorer of another shape (the same model)."""

    def __init__(self, params: PerplexityParams, scorer: byte_lm.Scorer):
        super().__init__(params)
        self.scorer = scorer

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        with patch.object(perplexity, "_scorer", lambda path: self.scorer):
            return super().annotate(df)


def frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})


def scrapinghub(data: Path) -> tuple[list[str], list[str]]:
    bench = data / "web/scrapinghub_article_benchmark"
    articles, pages = [], []
    for key, gold in sorted(json.loads((bench / "ground-truth.json").read_text()).items()):
        with gzip.open(bench / "html" / f"{key}.html.gz", "rb") as f:
            pages.append(visible_text(f.read().decode("utf-8", "replace")))
        articles.append(gold["articleBody"])
    return articles, pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/curate-perplexity-bench"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1000, help="Documents per batch, as a run's batches.")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ref = args.work / "reference.jsonl"
    ref.write_text("".join(json.dumps({"text": t}) + "\n" for _, t in documents(args.data)))
    calibration = str(args.data / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")
    models = {"curate-prose-lm-v1 (order 4)": "curate-prose-lm-v1"}
    for order in (3, 5):
        path = args.work / f"prose-{order}.npz"
        train_lm(
            [str(ref)], str(path), LmTrainParams(order=order), calibrate=[calibration], log=lambda m: None
        )
        models[f"same text, order {order}"] = str(path)
    stages = {name: Perplexity(PerplexityParams(model=m)) for name, m in models.items()}
    shipped = byte_lm.resolve("curate-prose-lm-v1")[0]
    hashed = byte_lm.Scorer(byte_lm.read(shipped), dense_bytes=0)
    stages["curate-prose-lm-v1, hash tables"] = WithScorer(PerplexityParams(), hashed)
    models["curate-prose-lm-v1, hash tables"] = "curate-prose-lm-v1"

    articles, pages = scrapinghub(args.data)
    result: dict = {"pages": len(pages), "acceptance": {}}
    for name, stage in stages.items():
        a = stage.apply(frame(articles)).kept["perplexity"].to_numpy()
        p = stage.apply(frame(pages)).kept["perplexity"].to_numpy()
        result["acceptance"][name] = {
            "article_below_page": float((a < p).mean()),
            "median_article": float(np.median(a)),
            "median_page": float(np.median(p)),
            "file_mb": byte_lm.resolve(models[name])[0].stat().st_size / 1e6,
            "loaded_mb": (getattr(stage, "scorer", None) or perplexity._scorer(stage.path)).nbytes / 1e6,
        }

    corpora = {"6,117 real documents": real_documents(args.data), "181 scrapinghub pages": pages}
    classifier = QualityClassifier(ClassifierParams())
    runners = {"quality_classifier (fastText, curate-web-quality-v2)": classifier, **stages}
    result["throughput"] = {}
    for corpus, texts in corpora.items():
        df = frame(texts)
        mb = sum(len(t.encode()) for t in texts) / 1e6
        for stage in runners.values():
            stage.apply(df.iloc[:5])  # models loaded before the clock
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        batches = [df.iloc[i : i + args.batch] for i in range(0, len(df), args.batch)]
        passes = max(1, round(20 / mb))  # a small corpus is timed over several passes (~20 MB)
        for _ in range(args.rounds):
            for name, stage in runners.items():
                t0 = time.process_time()
                for batch in batches * passes:
                    stage.apply(batch)
                seconds[name].append((time.process_time() - t0) / passes)
        fasttext = float(np.median(next(iter(seconds.values()))))
        result["throughput"][corpus] = {
            name: {
                "mb_per_cpu_second": mb / float(np.median(s)),
                "docs_per_cpu_second": len(texts) / float(np.median(s)),
                "speed_vs_fasttext": fasttext / float(np.median(s)),
                "cpu_seconds": s,
            }
            for name, s in seconds.items()
        }
        result["throughput"][corpus]["mb"] = mb
    (args.work / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
