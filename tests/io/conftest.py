"""Counts of the malformed and tricky inputs the reader property tests generate, printed after the run."""

from __future__ import annotations

from collections import Counter

# "inputs": generated files; "records": records they hold (where the count is knowable); "quarantined":
# records the readers quarantined (malformed ones, and one per unreadable file).
GENERATED: Counter = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if GENERATED["inputs"]:
        terminalreporter.write_line(
            f"reader property tests: {GENERATED['inputs']} generated input files, "
            f"{GENERATED['records']} records, {GENERATED['quarantined']} quarantined"
        )
