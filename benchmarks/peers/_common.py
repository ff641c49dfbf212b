"""Helpers shared by the peer runners: shard reading, phase timing, peak memory, union-find, results.

Runs in the separate peer environment (/work/benchenv, see benchmarks/requirements-peers.txt);
stdlib + psutil (+ orjson when installed). Importing this module also puts `benchmarks/` on
`sys.path`, so a runner can `import shingles` (the shingle definition shared with curate).

Units: seconds are wall-clock seconds from `time.perf_counter`; MB is 10**6 bytes (text size) and
RSS MB is 2**20 bytes (memory), as psutil and `ru_maxrss` report memory in binary units; CPU
seconds are user + system seconds summed over the process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

BENCHMARKS_DIR = Path(__file__).resolve().parents[1]
if str(BENCHMARKS_DIR) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS_DIR))

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is in requirements-peers.txt
    _loads = json.loads


def shard_paths(input_dir: Path) -> list[Path]:
    """Return the corpus shards `docs-*.jsonl` of `input_dir`, sorted by name."""
    paths = sorted(Path(input_dir).glob("docs-*.jsonl"))
    if not paths:
        raise SystemExit(f"no docs-*.jsonl shards in {input_dir}")
    return paths


def iter_shard(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (id, text) for every record of one JSONL shard."""
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                rec = _loads(line)
                yield rec["id"], rec["text"]


def corpus_size(input_dir: Path) -> tuple[int, float]:
    """Return (documents, MB of UTF-8 text) of the corpus, from its summary.json if present.

    Falls back to counting the shards (done outside any timed phase by the callers).
    """
    summary = Path(input_dir) / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text("utf-8"))
        return int(s["docs"]), float(s["mb_text"])
    docs, size = 0, 0
    for path in shard_paths(input_dir):
        for _, text in iter_shard(path):
            docs += 1
            size += len(text.encode("utf-8"))
    return docs, size / 1e6


class PhaseTimer:
    """Accumulate wall-clock seconds per named phase: `with timer.phase("query"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body of the `with` block and add it to phase `name`."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def add(self, name: str, seconds: float) -> None:
        """Add `seconds` to phase `name`."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def rounded(self, digits: int = 3) -> dict[str, float]:
        """Return the phases with rounded seconds, in insertion order."""
        return {k: round(v, digits) for k, v in self.seconds.items()}


class PeakRss:
    """Sample memory and CPU of this process and all its descendants in a background thread.

    `peak_mb` is the largest summed RSS seen (MiB); sampling every `interval` seconds can miss a
    spike shorter than that. `cpu_seconds` is user + system CPU summed over every process seen
    (the last < `interval` seconds of a short-lived child can be missed). `rusage_mb()` adds the
    kernel's own high-water marks: `ru_maxrss` of this process and of the largest waited-for child
    (not a sum over children). The 1-minute load average at start and end shows whether other
    work was competing for the 2 cores.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> user + system seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._proc = psutil.Process()
        self.loadavg_start = os.getloadavg()[0]
        self.loadavg_end = self.loadavg_start

    def _sample(self) -> int:
        total = 0
        procs = [self._proc]
        with contextlib.suppress(psutil.Error):
            procs += self._proc.children(recursive=True)
        for p in procs:
            with contextlib.suppress(psutil.Error), p.oneshot():
                total += p.memory_info().rss
                times = p.cpu_times()
                key = (p.pid, p.create_time())
                self._cpu[key] = max(self._cpu.get(key, 0.0), times.user + times.system)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())
        self.loadavg_end = os.getloadavg()[0]

    @property
    def peak_mb(self) -> float:
        """Peak summed RSS of the process tree in MiB (sampled)."""
        return self.peak_bytes / 2**20

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the whole process tree (sampled, see the class docstring)."""
        return sum(self._cpu.values())

    @staticmethod
    def rusage_mb() -> dict[str, float]:
        """`ru_maxrss` (KiB on Linux) of this process and of its largest waited-for child, in MiB."""
        return {
            "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_max": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }


class UnionFind:
    """Union-find over string ids whose root is always the smallest id (string order) of its set."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        """Return the root (smallest id) of `x`'s set, compressing the path."""
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        """Merge the sets of `a` and `b`; the smaller root id becomes the root."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.parent.setdefault(ra, ra)

    def removed(self) -> list[str]:
        """Every id that is not the root of its set (keep the smallest id per cluster), sorted."""
        return sorted(x for x in self.parent if self.find(x) != x)


def common_arguments(
    description: str, lsh_defaults: tuple[int | None, int | None] = (16, 8)
) -> argparse.ArgumentParser:
    """Return the argument parser every runner shares (input, result, LSH parameters, workers)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--input", required=True, type=Path, help="directory of docs-*.jsonl shards")
    ap.add_argument("--result", required=True, type=Path, help="JSON result file to write")
    ap.add_argument(
        "--removed-ids",
        type=Path,
        default=None,
        help="text file of removed ids, one a line (default: RESULT with .removed.txt)",
    )
    ap.add_argument("--threshold", type=float, default=0.8, help="target Jaccard threshold")
    ap.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (signature length)")
    ap.add_argument("--ngram", type=int, default=5, help="words per shingle")
    ap.add_argument("--bands", type=int, default=lsh_defaults[0], help="LSH bands")
    ap.add_argument("--rows", type=int, default=lsh_defaults[1], help="LSH rows (hashes) per band")
    ap.add_argument("--workers", type=int, default=2, help="worker processes/threads")
    return ap


def removed_ids_path(args: argparse.Namespace) -> Path:
    """Where the runner writes its removed ids (text, one id a line)."""
    return args.removed_ids or args.result.with_suffix(".removed.txt")


def write_removed(path: Path, ids: list[str]) -> None:
    """Write `ids` sorted, one a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in sorted(ids)), encoding="utf-8")


def write_result(
    path: Path,
    *,
    tool: str,
    input_dir: Path,
    seconds_total: float,
    phases: dict[str, float],
    rss: PeakRss,
    removed_file: Path,
    removed_count: int,
    params: dict,
    extra: dict | None = None,
) -> dict:
    """Write the runner's JSON result (schema in benchmarks/PEERS_NOTES.md) and return it."""
    docs, mb = corpus_size(input_dir)
    result = {
        "tool": tool,
        "docs": docs,
        "mb": round(mb, 3),
        "seconds_total": round(seconds_total, 3),
        "seconds_per_phase": phases,
        "docs_per_s": round(docs / seconds_total, 1),
        "mb_per_s": round(mb / seconds_total, 3),
        "peak_rss_mb": round(rss.peak_mb, 1),
        "peak_rss_mb_rusage": {k: round(v, 1) for k, v in rss.rusage_mb().items()},
        "cpu_seconds_total": round(rss.cpu_seconds, 2),
        "loadavg_1min": {"start": round(rss.loadavg_start, 2), "end": round(rss.loadavg_end, 2)},
        "removed_ids_file": str(removed_file),
        "removed": removed_count,
        "params": params,
        "input": str(input_dir),
        "python": sys.version.split()[0],
    }
    if extra:
        result.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def implied_threshold(bands: int, rows: int) -> float:
    """The LSH S-curve's steepest point (1/b)^(1/r): the Jaccard at which banding 'switches'."""
    return (1.0 / bands) ** (1.0 / rows)
