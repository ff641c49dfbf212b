"""The read side reads: `curate.report` imports no stage code and not the engine."""

from __future__ import annotations

import json
import subprocess
import sys

STAGE_CODE = (
    "curate.io",
    "curate.stages",
    "curate.pipeline",
    "curate.dedup",
    "curate.quality",
    "curate.sweep",
)
ENGINE = ("curate.engine", "dask", "distributed")


def test_report_imports_no_stage_code_and_no_engine():
    code = (
        "import json, sys\n"
        "import curate.report.inspect, curate.report.query, curate.report.textdiff, curate.report.views\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    forbidden = (*STAGE_CODE, "curate.scaling", *ENGINE)
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)] == []
