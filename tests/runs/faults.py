"""Fault injection: stop `curate run` at random points, resume, and compare with a clean run.

A *driver kill* sends SIGKILL, SIGTERM or SIGINT (to the process group, as a terminal's Ctrl-C does) to
a `curate run` process at a random moment of its run, then checks what that left: the exit code, no
traceback, the run recorded `interrupted` (SIGTERM, SIGINT) or found `failed` by the next command
(SIGKILL). Kills are chained in one workspace (each attempt resumes the last), so later kills land in
later phases; then `--resume last` runs until the run is finished, and its kept, removed and quarantined
records and the ledger's counts must equal a clean run's. A *worker kill* sends SIGKILL to one local
worker process while a run goes on; the run must finish by itself with the clean run's results.

Used by tests/runs/test_fault_injection.py (small) and benchmarks/fault_injection.py (`--kills N`).
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.parquet as pq
from click.testing import CliRunner

from curate.cli import main
from curate.runs.ledger import Ledger
from tests.runs import cli_process

SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
WORDS = (
    "river library budget committee sediment recipe galaxy village winter school valley catalogue "
    "author subject year flour batter astronomer distance variable brightness road route delta sea "
    "mountain thousand measure known closed longer agreed items coming discuss tuesday cups salt milk"
).split()


def build_corpus(folder: Path, files: int = 6, docs: int = 120, seed: int = 0) -> None:
    """JSONL files of random prose with exact copies, near copies, short documents, text needing NFC
    and a few broken records: every stage of `pipeline_config` has something to do."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    for f in range(files):
        lines = []
        for i in range(docs):
            r = rng.random()
            if made and r < 0.08:
                text = rng.choice(made)  # exact copy
            elif made and r < 0.16:
                words = rng.choice(made).split()
                words[rng.randrange(len(words))] = "changed"
                text = " ".join(words)  # near copy
            elif r < 0.22:
                text = " ".join(rng.choices(WORDS, k=4))  # too short
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(40, 160)))
                if r > 0.95:
                    text = "cafe\u0301 " + text  # NFC joins the accent
                made.append(text)
            lines.append(json.dumps({"id": f"f{f}-{i}", "text": text}))
        lines.insert(docs // 2, '{"id": "broken", "text": ')  # malformed_json
        lines.append(json.dumps({"id": f"f{f}-empty", "text": ""}))  # empty_text
        (folder / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")


def pipeline_config(folder: Path, data: Path, workers: int = 0, partition_mb: float = 0.02) -> Path:
    path = folder / "faults.yaml"
    path.write_text(
        f"name: faults\ninput:\n  paths: [{data}]\n  id_key: id\n  partition_mb: {partition_mb}\n"
        "stages:\n  - stage: unicode_normalize\n  - stage: length_filter\n    min_words: 10\n"
        "  - stage: exact_dedup\n  - stage: minhash_dedup\n    threshold: 0.7\n"
        f"engine:\n  workers: {workers}\n"
    )
    return path


@dataclass
class Outcome:
    """What a finished run produced, as sorted lists (a record written twice would show)."""

    kept: list[str]
    removed: list[tuple[str, str, str]]  # (id, stage, reason)
    quarantined: list[tuple[str, int, str]]  # (source, offset, reason)
    counts: dict


def _rows(folder: Path, columns: list[str]) -> list[tuple]:
    rows = []
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path, columns=columns).to_pydict()
        rows += list(zip(*(table[c] for c in columns)))
    return sorted(rows)


def outcome(ws: Path) -> Outcome:
    """The finished run's records, after checking what the ledger must say about every run (once a
    command has looked at the workspace: `curate status` redoes what a kill left of finishing)."""
    looked = CliRunner().invoke(main, ["status", "-w", str(ws)])
    assert looked.exit_code == 0, looked.output
    ledger = Ledger(ws / "ledger.duckdb")
    runs = ledger.runs()
    finished = [r for r in runs if r["state"] == "finished"]
    assert len(finished) == 1, [(r["run_id"], r["state"]) for r in runs]
    assert {r["state"] for r in runs} <= {"finished", "failed", "interrupted"}, runs  # none left running
    run_id = finished[0]["run_id"]
    run_dir = ws / "runs" / run_id
    assert (ws / "latest").resolve() == run_dir.resolve(), "latest does not point at the finished run"
    assert not (run_dir / "work").exists(), "the finished run's work/ was left behind"
    assert finished[0]["balanced"]
    markers = {(p.parent.name, p.stem) for p in run_dir.glob("markers/p*/*.json")}
    rows = {(r["phase"], r["unit_id"]) for r in ledger.table("shards", run_id)}
    assert rows == markers, f"ledger unit rows {sorted(rows ^ markers)} differ from the markers"
    return Outcome(
        kept=[r[0] for r in _rows(run_dir / "output", ["id"])],
        removed=_rows(run_dir / "removed", ["id", "stage", "reason"]),
        quarantined=_rows(run_dir / "quarantine", ["source", "offset", "reason"]),
        counts=finished[0]["counts"],
    )


def clean_run(config: Path, ws: Path) -> tuple[Outcome, float, int]:
    """The reference: (outcome, seconds, completion markers written)."""
    started = time.monotonic()
    proc = cli_process.start("run", config, "-w", ws, "-q")
    _out, err = cli_process.finish(proc, 120)
    assert proc.returncode == 0, err
    return outcome(ws), time.monotonic() - started, _markers(ws)


@dataclass
class Kill:
    signal: str
    delay: float  # seconds after the process started
    command: str  # "run" or "resume"
    returncode: int
    landed: str  # "running": the run was under way; "before": no run yet; "after": it had finished
    problems: list[str] = field(default_factory=list)


def _states(ws: Path) -> dict[str, str]:
    if not (ws / "ledger.duckdb").is_file():
        return {}
    return {r["run_id"]: r["state"] for r in Ledger(ws / "ledger.duckdb").runs()}


def _drivers(ws: Path) -> dict[str, tuple]:
    """Per run: (state, driver pid): a resumed run changes its driver even when its state is the same."""
    if not (ws / "ledger.duckdb").is_file():
        return {}
    ledger = Ledger(ws / "ledger.duckdb")
    return {r["run_id"]: (r["state"], ledger.run_row(r["run_id"])["driver_pid"]) for r in ledger.runs()}


def _next_command(ws: Path) -> list[str] | None:
    """What continues the work: None when a run finished, else --resume last or a new run."""
    states = _states(ws)
    if "finished" in states.values():
        return None
    if any(s != "finished" for s in states.values()):
        return ["--resume", "last"]
    return []


def _markers(ws: Path) -> int:
    return sum(1 for _ in ws.glob("runs/*/markers/**/*.json"))


def kill_driver(config: Path, ws: Path, sig: str, units: int, delay: float) -> Kill:
    """Start the next command of the workspace; once `units` more units (or plans) have finished, wait
    `delay` seconds more and send `sig`; check what it left. Kill points chosen by progress spread over
    every phase of the run (a resumed run skips what is done) and over the start (units = 0)."""
    extra = _next_command(ws)
    assert extra is not None, "the run already finished"
    before, done = _drivers(ws), _markers(ws)
    started = time.monotonic()
    proc = cli_process.start("run", config, "-w", ws, "-q", *extra)
    while units and _markers(ws) < done + units and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    delay = time.monotonic() - started
    if sig == "SIGINT":
        cli_process.interrupt_group(proc)
    else:
        proc.send_signal(SIGNALS[sig])
    _out, err = cli_process.finish(proc, 120)
    after = _drivers(ws)
    # the runs this process opened or resumed (its pid is their driver's); the next command's recovery
    # may also have recorded an earlier killed run `failed` before the signal came: that is start-up
    changed = {r: now[0] for r, now in after.items() if before.get(r) != now and now[1] == proc.pid}
    recovered = {r: now[0] for r, now in after.items() if before.get(r) != now and now[1] != proc.pid}
    if set(recovered.values()) - {"failed"}:
        problems = [f"runs of earlier drivers changed to {recovered} (recovery only records failed)"]
    else:
        problems = []
    if "finished" in changed.values():
        landed = "after"  # the run recorded its end; the signal came while the process finished
    elif not changed:
        landed = "before"  # no run was opened or resumed yet (imports, reading the config)
    else:
        landed = "running"
    kill = Kill(sig, round(delay, 3), "resume" if extra else "run", proc.returncode, landed)
    kill.problems += problems
    expected = {"SIGKILL": -9, "SIGTERM": 143, "SIGINT": 130}[sig]
    dead_by_signal = -SIGNALS[sig]  # the exit of a process the signal ended before curate could
    if landed == "running":
        if proc.returncode != expected:
            kill.problems.append(f"exit {proc.returncode}, expected {expected}: {err[-3000:]}")
        elif sig != "SIGKILL" and set(changed.values()) != {"interrupted"}:
            kill.problems.append(f"the stopped run is recorded {changed}, not interrupted")
    elif landed == "after" and proc.returncode not in (0, expected, dead_by_signal):
        kill.problems.append(f"exit {proc.returncode} after the run finished: {err[-3000:]}")
    if proc.returncode in (130, 143) and "Traceback" in err:
        kill.problems.append(f"a traceback on stderr: {err[-3000:]}")
    return kill


def finish_run(config: Path, ws: Path, attempts: int = 3) -> None:
    for _ in range(attempts):
        extra = _next_command(ws)
        if extra is None:
            return
        proc = cli_process.start("run", config, "-w", ws, "-q", *extra)
        _out, err = cli_process.finish(proc, 180)
        assert proc.returncode == 0, f"`curate run {' '.join(extra)}` after the kills failed: {err[-2000:]}"
    assert _next_command(ws) is None, "the run did not finish"


def driver_chain(config: Path, ws: Path, rng: random.Random, kills: int, markers: int) -> list[Kill]:
    """`kills` driver kills in a row on one workspace, then resumed to the end. `markers`: how many
    completion markers a whole run writes (from the clean run)."""
    done = []
    for _ in range(kills):
        if _next_command(ws) is None:
            break  # the run finished between kills
        left = max(0, markers - _markers(ws))
        units = 0 if rng.random() < 0.2 else rng.randint(0, left)  # a fifth at the start of a command
        sig = rng.choice(list(SIGNALS))
        done.append(kill_driver(config, ws, sig, units, rng.uniform(0.0, 0.5 if units else 1.5)))
    finish_run(config, ws)
    return done


def _workers(driver: psutil.Process) -> list[psutil.Process]:
    """The local worker processes: children of the fork server, a child of the driver."""
    found = []
    for child in driver.children():
        try:
            if "forkserver" in " ".join(child.cmdline()):
                found += child.children()
        except psutil.Error:
            continue
    return found


def kill_a_worker(config: Path, ws: Path, rng: random.Random, markers: int) -> dict:
    """A run on a local cluster; SIGKILL one worker once the workers are up and a random number of
    units (of `markers` in a whole run) has finished. The run must finish by itself (the nanny starts a
    new worker, the task runs again), with units run by worker processes, not only the driver."""
    started = time.monotonic()
    proc = cli_process.start("run", config, "-w", ws, "-q", "--workers", "2")
    driver = psutil.Process(proc.pid)
    cli_process.wait_for(lambda: len(_workers(driver)) >= 2 or proc.poll() is not None, 60, "the workers")
    units = rng.randint(0, markers // 2)
    while _markers(ws) < units and proc.poll() is None:
        time.sleep(0.01)
    delay = time.monotonic() - started
    victims = _workers(driver)
    killed = None
    if victims and proc.poll() is None:
        victim = rng.choice(victims)
        killed = victim.pid
        victim.send_signal(signal.SIGKILL)
    _out, err = cli_process.finish(proc, 180)
    problems = [] if proc.returncode == 0 else [f"exit {proc.returncode}: {err[-1500:]}"]
    pids = {json.loads(p.read_text())["pid"] for p in ws.glob("runs/*/markers/p*/*.json")}
    return {
        "delay": round(delay, 3),
        "killed_worker": killed,
        "returncode": proc.returncode,
        "worker_pids": sorted(pids - {proc.pid}),  # the units that ran on workers, by process
        "problems": problems,
    }


def compare(got: Outcome, clean: Outcome) -> list[str]:
    problems = []
    for name in ("kept", "removed", "quarantined"):
        a, b = getattr(got, name), getattr(clean, name)
        if a != b:
            extra, missing = Counter(a) - Counter(b), Counter(b) - Counter(a)
            problems.append(
                f"{name}: {sum(extra.values())} extra {list(extra)[:3]}, {sum(missing.values())} missing "
                f"{list(missing)[:3]}"
            )
    if got.counts != clean.counts:
        problems.append(f"ledger counts {got.counts} != clean {clean.counts}")
    return problems
