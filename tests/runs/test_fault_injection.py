"""The fault-injection harness at CI size: at least 20 random kill points of a real pipeline run (exact
and near dedup, a length filter, normalization, bad records), through the command line, and a few
killed workers; every resumed run must end with the clean run's records and counts.

The larger size is `python benchmarks/fault_injection.py --kills N`."""

from __future__ import annotations

import random
from collections import Counter

from tests.runs import faults

MIN_KILLS = 20
KILLS_PER_CHAIN = 6
WORKER_KILLS = 2


def test_driver_and_worker_kills_at_random_points_end_as_a_clean_run(tmp_path):
    rng = random.Random(20261206)
    data = tmp_path / "data"
    faults.build_corpus(data)
    config = faults.pipeline_config(tmp_path, data)
    clean, _seconds, markers = faults.clean_run(config, tmp_path / "clean")
    assert clean.removed and clean.quarantined and len(clean.kept) > 300  # every kind of record

    kills, problems, chain = [], [], 0
    while len(kills) < MIN_KILLS:
        ws = tmp_path / f"chain-{chain}"
        done = faults.driver_chain(config, ws, rng, KILLS_PER_CHAIN, markers)
        kills += done
        problems += [f"chain {chain}, {k.signal} at {k.delay} s: {p}" for k in done for p in k.problems]
        problems += [f"chain {chain}: {p}" for p in faults.compare(faults.outcome(ws), clean)]
        chain += 1
    workers_killed = 0
    for i in range(WORKER_KILLS):
        ws = tmp_path / f"worker-{i}"
        killed = faults.kill_a_worker(config, ws, rng, markers)
        workers_killed += killed["killed_worker"] is not None
        assert killed["worker_pids"], "no unit ran on a worker"
        problems += [f"worker kill {i}: {p}" for p in killed["problems"]]
        if killed["returncode"] == 0:
            problems += [f"worker kill {i}: {p}" for p in faults.compare(faults.outcome(ws), clean)]

    landed = Counter((k.signal, k.landed) for k in kills)
    print(f"{len(kills)} driver kills in {chain} chains: {dict(landed)}; {workers_killed} workers killed")
    assert len(kills) >= MIN_KILLS
    assert sum(k.landed == "running" for k in kills) >= MIN_KILLS // 2  # most hit a run under way
    assert workers_killed >= 1  # the run was still going when its worker was killed
    assert not problems, "\n".join(problems)
