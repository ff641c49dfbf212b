"""Stopping a command with a signal: Ctrl-C (SIGINT) or SIGTERM (a scheduler, systemd, `kill`).

While a command runs (`handled()`), either signal raises in the main thread once: KeyboardInterrupt
for SIGINT, its subclass Terminated for SIGTERM, so a run stops the same way for both (state
`interrupted`, the cluster shut down, the ledger written). A second signal while the command stops is
ignored, so the stop is not cut short; a driver killed outright is found by the next command anyway.

A library may turn the signal into an error of its own: DuckDB interrupts its query and raises
"Query interrupted". Code that catches errors asks `requested()` whether a stop was asked for, and
stops rather than report a failure.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C's KeyboardInterrupt is."""


_requested: KeyboardInterrupt | None = None


def requested() -> KeyboardInterrupt | None:
    """The interruption a signal raised while the current command ran, if one did."""
    return _requested


def _on_signal(signum: int, _frame) -> None:
    global _requested
    if _requested is not None:  # already stopping
        return
    _requested = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    raise _requested


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM interrupt the code inside (main thread only, where signals are delivered)."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested = None
    before = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
