"""How often do the sweep's gain intervals claim a gain (or a loss) for a score that is pure noise?

Each trial builds the half-corrupted pool of `tests/sweep/test_controls.py` (300 clean stdlib documents,
300 random-letter ones), scores it with fresh uniform noise, and runs the test's sweep (fractions 1, 0.7,
0.4; pool 1; 5 seeds; n-gram order 3; clean and pool_holdout evaluation). A table (model, budget,
evaluation set) has a false discovery when any of its gain-over-random intervals excludes 0. With
Bonferroni-adjusted 95% intervals the rate per table should stay at or below 5%.

    python benchmarks/sweep_null_calibration.py --trials 40 --workdir /tmp/null-calibration
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sweep.conftest import run_sweep
from tests.sweep.test_controls import half_corrupted_pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/curate-null-calibration"))
    args = ap.parse_args()
    tables = false_tables = cells = false_cells = 0
    t0 = time.perf_counter()
    for trial in range(args.trials):
        seed = args.first_seed + trial
        root = args.workdir / f"trial-{seed}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        cfg = half_corrupted_pool(root, lambda clean, rng: rng.random(), f"n{seed}-", seed)
        s = run_sweep(cfg, root / "ws").summary
        ranked = s[(s.selection == "top") & (s.fraction < 1.0)]
        for _, table in ranked.groupby(["model", "budget", "eval_set"]):
            found = (table["gain_random_lo"] > 0) | (table["gain_random_hi"] < 0)
            tables += 1
            false_tables += bool(found.any())
            cells += len(table)
            false_cells += int(found.sum())
        shutil.rmtree(root, ignore_errors=True)
        print(
            f"trial {trial + 1}/{args.trials}: tables with a false discovery {false_tables}/{tables}, "
            f"cells {false_cells}/{cells}",
            flush=True,
        )
    print(
        f"noise score, {args.trials} trials: a false discovery in {false_tables} of {tables} tables "
        f"({false_tables / tables:.1%}) and {false_cells} of {cells} cells ({false_cells / cells:.1%}); "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
