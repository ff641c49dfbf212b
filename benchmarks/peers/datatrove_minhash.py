"""Peer runner (b): datatrove's four-stage MinHash dedup with its LocalPipelineExecutor.

Stages, each a `LocalPipelineExecutor(...).run()` timed on its own:

1. `signatures`: JsonlReader over the shards -> MinhashDedupSignature (`--tasks` tasks, 2 by
   default: each task reads every `--tasks`-th shard);
2. `buckets`: MinhashDedupBuckets, one task per band (datatrove requires tasks to be a multiple of
   the number of buckets), `--workers` processes;
3. `cluster`: MinhashDedupCluster, 1 task (datatrove requires it);
4. `filter`: JsonlReader -> MinhashDedupFilter (removed docs go to an exclusion JsonlWriter) ->
   JsonlWriter of the kept docs, `--tasks` tasks.

`MinhashConfig(n_grams=--ngram, num_buckets=--bands, hashes_per_bucket=--rows, seed=1)` with
64-bit xxhash (datatrove's default); datatrove uses bands x rows hashes, so `--num-perm` must be
bands x rows or is reported as unused. datatrove has no similarity threshold: every pair sharing
a band is a duplicate (no verification); the cluster keeps datatrove's own choice of
representative (union by size), not the smallest id.

`--tokenizer` picks how datatrove turns text into words (see `_dt_tokenizers.py`):
- `default`: datatrove's English setup: `simplify_text` (lower case, digits -> 0, its own
  punctuation list -> space, diacritics stripped, NFD) then spaCy's blank English tokenizer;
- `whitespace`: the same `simplify_text`, then `str.split()`;
- `curate`: every datatrove normalization off, then curate's `normalize_words` (the shingles of the
  ground truth, hashed by datatrove).

Removed ids are read back from the exclusion writer's files after the timed stages.

    /work/benchenv/bin/python benchmarks/peers/datatrove_minhash.py --input DIR --result OUT.json \
        --tokenizer default --workers 2
"""

from __future__ import annotations

import glob
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PeakRss,
    PhaseTimer,
    common_arguments,
    implied_threshold,
    removed_ids_path,
    write_removed,
    write_result,
)
from _dt_tokenizers import CurateTokenizer, SplitTokenizer
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig

NO_NORMALIZATION = TextNormConfig(
    lowercase=False,
    norm_whitespace=False,
    remove_punctuation=False,
    norm_unicode_diacritics=False,
    norm_numbers=False,
    norm_weekdays=False,
    norm_monthnames=False,
)


def tokenizer_setup(name: str) -> tuple[object, TextNormConfig, str]:
    """Return (MinhashDedupSignature `language` argument, norm config, description) for `name`."""
    if name == "default":
        return "en", TextNormConfig(), "datatrove simplify_text + spaCy blank 'en' tokenizer"
    if name == "whitespace":
        return SplitTokenizer(), TextNormConfig(), "datatrove simplify_text + str.split()"
    if name == "curate":
        return CurateTokenizer(), NO_NORMALIZATION, "curate normalize_words (shingles.py), datatrove norm off"
    raise ValueError(name)


def run_stage(name: str, executor: LocalPipelineExecutor, timer: PhaseTimer) -> None:
    """Run one datatrove stage under `timer` and fail loudly if a task did not complete."""
    with timer.phase(name):
        executor.run()
    incomplete = executor.get_incomplete_ranks(range(executor.world_size))
    if incomplete:
        raise SystemExit(f"datatrove stage {name!r}: tasks {incomplete} did not complete (see its logs)")


def main(argv: list[str] | None = None) -> int:
    """Run the datatrove peer and write its result and removed ids."""
    ap = common_arguments(__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", choices=("default", "whitespace", "curate"), default="default")
    ap.add_argument("--tasks", type=int, default=2, help="tasks of the signature and filter stages")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="datatrove's working folder (default: next to --result)"
    )
    ap.add_argument("--keep-workdir", action="store_true", help="keep signatures, buckets and outputs")
    args = ap.parse_args(argv)
    removed_file = removed_ids_path(args)
    work = args.workdir or args.result.parent / f"{args.result.stem}.datatrove-work"
    if work.exists():
        shutil.rmtree(work)  # LocalPipelineExecutor skips tasks it finds completed in its logs
    work.mkdir(parents=True)

    language, norm_config, tok_desc = tokenizer_setup(args.tokenizer)
    config = MinhashConfig(
        n_grams=args.ngram,
        num_buckets=args.bands,
        hashes_per_bucket=args.rows,
        seed=1,
        norm_config=norm_config,
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )

    def reader() -> JsonlReader:
        return JsonlReader(str(args.input), glob_pattern="docs-*.jsonl", text_key="text", id_key="id")

    stages = [
        (
            "signatures",
            LocalPipelineExecutor(
                pipeline=[
                    reader(),
                    MinhashDedupSignature(str(work / "signatures"), config, language=language),
                ],
                tasks=args.tasks,
                workers=args.workers,
                logging_dir=str(work / "logs/signatures"),
            ),
        ),
        (
            "buckets",
            LocalPipelineExecutor(
                pipeline=[
                    MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)
                ],
                tasks=args.bands,
                workers=args.workers,
                logging_dir=str(work / "logs/buckets"),
            ),
        ),
        (
            "cluster",
            LocalPipelineExecutor(
                pipeline=[
                    MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config)
                ],
                tasks=1,
                workers=1,
                logging_dir=str(work / "logs/cluster"),
            ),
        ),
        (
            "filter",
            LocalPipelineExecutor(
                pipeline=[
                    reader(),
                    MinhashDedupFilter(
                        str(work / "remove_ids"),
                        exclusion_writer=JsonlWriter(str(work / "removed"), compression=None),
                    ),
                    JsonlWriter(str(work / "output"), compression=None),
                ],
                tasks=args.tasks,
                workers=args.workers,
                logging_dir=str(work / "logs/filter"),
            ),
        ),
    ]

    timer = PhaseTimer()
    with PeakRss() as rss:
        t0 = time.perf_counter()
        for name, executor in stages:
            run_stage(name, executor, timer)
        seconds_total = time.perf_counter() - t0

    removed = []
    for path in sorted(glob.glob(str(work / "removed" / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            removed.extend(json.loads(line)["id"] for line in f if line.strip())
    kept = 0
    for path in sorted(glob.glob(str(work / "output" / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            kept += sum(1 for line in f if line.strip())
    write_removed(removed_file, removed)
    if not args.keep_workdir:
        shutil.rmtree(work)

    result = write_result(
        args.result,
        tool=f"datatrove-minhash[{args.tokenizer},{args.bands}x{args.rows}]",
        input_dir=args.input,
        seconds_total=seconds_total,
        phases=timer.rounded(),
        rss=rss,
        removed_file=removed_file,
        removed_count=len(removed),
        params={
            "threshold": args.threshold,
            "threshold_used": "none: any shared band is a duplicate",
            "num_perm": args.num_perm,
            "num_perm_used": args.bands * args.rows,
            "ngram": args.ngram,
            "bands": args.bands,
            "rows": args.rows,
            "implied_threshold": round(implied_threshold(args.bands, args.rows), 4),
            "tasks": {"signatures": args.tasks, "buckets": args.bands, "cluster": 1, "filter": args.tasks},
            "workers": args.workers,
            "tokenizer": args.tokenizer,
            "tokenizer_desc": tok_desc,
            "hash": "xxhash64, MinhashConfig seed=1",
            "verification": "none",
            "representative": "datatrove union-by-size root (not the smallest id)",
        },
        extra={"kept": kept},
    )
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
