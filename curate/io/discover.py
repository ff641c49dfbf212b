"""Find input files and cut them into units: the pieces of input one Dask task reads, streaming.

A unit is a byte range of a plain JSONL or line-per-document text file, a whole compressed file (a gzip or
zstd stream cannot be entered in the middle), a run of Parquet row groups, or a group of small
file-per-document text files. Units are planned in the driver from file sizes and Parquet metadata only,
in a deterministic order, so their ids (and the names of the shards they write) are the same on every run.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from curate.errors import InputError

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
FORMAT_SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}
FORMATS = ("jsonl", "parquet", "text")
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute
    source: str  # path relative to the common root of all inputs, POSIX separators; part of derived ids
    format: str  # jsonl | parquet | text
    compression: str | None  # gzip | zstd | None
    size: int  # bytes on disk, when the run started
    mtime_ns: int  # modification time (ns since the epoch), when the run started: readers check both


@dataclass(frozen=True)
class InputUnit:
    unit_id: str  # "u00042": position in the plan
    files: tuple[InputFile, ...]  # one file, except for grouped file-per-document text files
    start: int = 0  # byte offset (plain line formats) or first row group (Parquet)
    stop: int | None = None  # byte offset or row group after the last one; None = to the end

    @property
    def label(self) -> str:
        f = self.files[0]
        more = f" (+{len(self.files) - 1} files)" if len(self.files) > 1 else ""
        span = "" if self.start == 0 and self.stop is None else f" [{self.start}:{self.stop}]"
        return f"{f.source}{span}{more}"


def split_suffixes(name: str) -> tuple[str | None, str | None]:
    """(format, compression) from a file name such as `a.jsonl.zst`; None where unknown."""
    lower = name.lower()
    compression = None
    for suffix, kind in COMPRESSIONS.items():
        if lower.endswith(suffix):
            compression, lower = kind, lower[: -len(suffix)]
            break
    fmt = FORMAT_SUFFIXES.get(os.path.splitext(lower)[1])
    return fmt, compression


def _expand(spec: str) -> tuple[list[str], bool]:
    """Paths named by one path spec (file, folder or glob), and whether the spec named them explicitly.

    Everything that is not a folder is returned, including broken links: `discover` names those as
    unreadable rather than skip them silently."""
    # A path that exists is that path, even with glob characters in its name (a folder `runs [1]`).
    if _GLOB_CHARS & set(spec) and not os.path.exists(spec):
        return _glob(spec), False
    if os.path.isdir(spec):
        found = []
        for dirpath, dirnames, filenames in os.walk(spec):  # does not enter linked folders: no loops
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            found += [os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith((".", "_"))]
        return found, False
    if os.path.lexists(spec):
        return [spec], True
    raise InputError(
        f"input path '{spec}' does not exist; check the path, or quote a glob such as 'data/*.jsonl'."
    )


def _glob(spec: str) -> list[str]:
    """The non-folder paths a glob matches, sorted, with `**` for any number of folders.

    `**` is walked here: `glob.glob` follows a symlink loop until the path is too long (one file found
    41 times; through two loops, 2**40 paths). This walk follows linked folders too, except into a
    folder that is its own ancestor."""
    if "**" not in spec:  # no recursion, so no loop
        return sorted(p for p in glob.glob(spec) if not os.path.isdir(p))
    parts = spec.replace(os.sep, "/").split("/")
    first = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    root = "/".join(parts[:first]) or ("/" if spec.startswith("/") else ".")
    pattern = tuple(parts[first:])
    skip_hidden = not any(part.startswith(".") for part in pattern)
    found: list[str] = []

    def walk(folder: str, rel: tuple[str, ...], ancestors: frozenset[str]) -> None:
        real = os.path.realpath(folder)
        if real in ancestors:
            return  # a symlink loop
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if skip_hidden and entry.name.startswith("."):
                continue
            if entry.is_dir():
                walk(entry.path, (*rel, entry.name), ancestors | {real})
            elif _glob_match((*rel, entry.name), pattern):
                found.append(entry.path)

    walk(root, (), frozenset())
    return found


def _glob_match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether a relative path matches glob pattern parts as `glob.glob(recursive=True)` matches them:
    `**` is zero or more folders (or, last, everything below), and a wildcard never matches a name
    that starts with a dot."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        if not rest:
            return bool(parts) and not any(p.startswith(".") for p in parts)
        one_more = len(parts) > 1 and not parts[0].startswith(".") and _glob_match(parts[1:], pattern)
        return one_more or _glob_match(parts, rest)
    if not parts or (parts[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], head) and _glob_match(parts[1:], rest)


def _stat_readable(path: str) -> os.stat_result:
    """The file's status, once it is known to be a regular file that can be opened; InputError if not.

    Checked before a run starts: a file that cannot be opened holds records nobody can count, so the
    run would publish a corpus without them."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(
                f"input '{path}' is not a regular file (a pipe or a device); leave it out of the inputs."
            )
        with open(path, "rb"):
            pass
    except OSError as err:
        raise InputError(
            f"cannot read input file '{path}' ({err.strerror}); make it readable, or leave it out of the "
            "inputs."
        ) from None
    return st


def discover(specs: list[str], fmt: str = "auto") -> list[InputFile]:
    """Resolve path specs into input files with their format, in a stable order.

    Files of unknown format inside a folder or glob are skipped (hidden and `_`-prefixed files always are);
    a file named explicitly must have a known format unless `fmt` says which.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown input format '{fmt}'; use one of auto, {', '.join(FORMATS)}.")
    chosen: list[tuple[str, str, str | None]] = []
    seen = set()  # real paths: a file reached through a link, or named twice, is read once
    for spec in specs:
        paths, explicit = _expand(spec)
        for path in paths:
            path = os.path.abspath(path)
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            guessed, compression = split_suffixes(os.path.basename(path))
            kind = guessed if fmt == "auto" else fmt
            if kind is None:
                if explicit:
                    raise InputError(
                        f"cannot tell the format of '{spec}' from its name; set input.format "
                        f"(or --format) to one of {', '.join(FORMATS)}."
                    )
                continue
            chosen.append((path, kind, compression))
    if not chosen:
        raise InputError(
            f"no input files found in {', '.join(repr(s) for s in specs)}; expected .jsonl, .parquet or .txt "
            "files (optionally .gz or .zst)."
        )
    root = os.path.commonpath([os.path.dirname(p) for p, _, _ in chosen])
    files = []
    for p, kind, compression in chosen:
        st = _stat_readable(p)
        source = Path(os.path.relpath(p, root)).as_posix()
        files.append(InputFile(p, source, kind, compression, st.st_size, st.st_mtime_ns))
    return files


UNITS_PER_WORKER = 3  # enough units that no worker idles while another finishes a long one
MIN_UNIT_BYTES = 1 << 20  # below this a unit's task overhead (scheduling, shard files) would dominate


def unit_bytes_for(files: list[InputFile], partition_bytes: int, workers: int) -> int:
    """The unit size to plan with: `partition_bytes` at most, and small enough that the inputs make about
    UNITS_PER_WORKER units per worker, but not below MIN_UNIT_BYTES. A single file under `partition_bytes`
    on a two-worker engine is still cut into several units, so both workers read."""
    if workers <= 1:  # one process works through the units one after the other: no need to cut finer
        return int(partition_bytes)
    total = sum(f.size for f in files)
    wanted = total // (UNITS_PER_WORKER * workers)
    return int(max(1, min(partition_bytes, max(MIN_UNIT_BYTES, wanted))))


def unsplittable(files: list[InputFile], unit_bytes: int) -> list[InputFile]:
    """Compressed line files larger than a unit: each is read as one unit (a gzip or zstd stream cannot be
    entered in the middle), so they may idle workers."""
    return [f for f in files if f.compression and f.format != "parquet" and f.size > unit_bytes]


@dataclass(frozen=True)
class WorkerPlan:
    """How inputs are cut into units for a number of workers (`plan_for_workers`)."""

    unit_bytes: int
    units: list[InputUnit]
    workers: int
    unsplittable: list[InputFile]  # compressed files read as one unit each

    def notes(self) -> list[str]:
        """What to tell the user: compressed files that leave workers without enough units."""
        if not self.unsplittable or len(self.units) >= self.workers * UNITS_PER_WORKER:
            return []
        return [
            f"{len(self.unsplittable)} compressed input files are one unit each (a gzip or zstd stream "
            f"cannot be split), {len(self.units)} units for {self.workers} workers; uncompressed or sharded "
            "input spreads over every worker"
        ]


def plan_for_workers(
    files: list[InputFile], partition_bytes: int, workers: int, text_unit: str = "file"
) -> WorkerPlan:
    """The units of `files` for `workers` workers: `unit_bytes_for`, then `plan_units`."""
    unit_bytes = unit_bytes_for(files, partition_bytes, workers)
    units = plan_units(files, unit_bytes, text_unit)
    return WorkerPlan(unit_bytes, units, workers, unsplittable(files, unit_bytes))


def plan_units(files: list[InputFile], partition_bytes: int, text_unit: str = "file") -> list[InputUnit]:
    """Cut input files into units of about `partition_bytes` each (see the module docstring)."""
    if partition_bytes <= 0:
        raise InputError(f"partition size must be positive, got {partition_bytes} bytes.")
    pieces: list[tuple[tuple[InputFile, ...], int, int | None]] = []
    small_text: list[InputFile] = []
    for f in files:
        if f.format == "text" and text_unit == "file":
            small_text.append(f)
        elif f.format == "parquet":
            pieces += [((f,), a, b) for a, b in _row_group_ranges(f, partition_bytes)]
        elif f.compression is None and f.size > partition_bytes:
            n = -(-f.size // partition_bytes)
            step = -(-f.size // n)
            pieces += [((f,), a, min(a + step, f.size)) for a in range(0, f.size, step)]
        else:
            pieces.append(((f,), 0, None))
    group: list[InputFile] = []
    group_bytes = 0
    for f in small_text:
        if group and group_bytes + f.size > partition_bytes:
            pieces.append((tuple(group), 0, None))
            group, group_bytes = [], 0
        group.append(f)
        group_bytes += f.size
    if group:
        pieces.append((tuple(group), 0, None))
    return [InputUnit(f"u{i:05d}", fs, a, b) for i, (fs, a, b) in enumerate(pieces)]


def _row_group_ranges(f: InputFile, partition_bytes: int) -> list[tuple[int, int | None]]:
    """Runs of row groups of about `partition_bytes` (uncompressed) each.

    A file whose footer cannot be read becomes one unit; its reader reports it as unreadable, by name.
    """
    try:
        meta = pq.ParquetFile(f.path).metadata
    except Exception:
        return [(0, None)]
    ranges, first, acc = [], 0, 0
    for i in range(meta.num_row_groups):
        acc += meta.row_group(i).total_byte_size
        if acc >= partition_bytes:
            ranges.append((first, i + 1))
            first, acc = i + 1, 0
    if first < meta.num_row_groups or not ranges:
        ranges.append((first, None))
    return ranges
