"""Progress of long work on stderr: a live line on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    """Counts finished items of a known total, with an optional weight (bytes) for rate and ETA."""

    def __init__(
        self,
        label: str,
        total: int,
        total_weight: float = 0.0,
        stream=None,
        enabled: bool = True,
        every: float = 10.0,
    ):
        self.label, self.total, self.total_weight = label, total, total_weight
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self.done, self.weight, self.docs = 0, 0.0, 0
        self.start = self._last = time.monotonic()

    def update(self, weight: float = 0.0, docs: int = 0) -> None:
        self.done += 1
        self.weight += weight
        self.docs += docs
        now = time.monotonic()
        if self.tty or now - self._last >= self.every or self.done == self.total:
            self._last = now
            self._show(now, final=self.done == self.total)

    def _show(self, now: float, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = now - self.start
        parts = [f"[{self.label}] {self.done}/{self.total}"]
        if self.docs:
            parts.append(f"{self.docs:,} docs")
        if self.total_weight and elapsed > 0:
            rate = self.weight / elapsed
            parts.append(f"{human_bytes(self.weight)} at {human_bytes(rate)}/s")
            if rate > 0 and not final:
                parts.append(f"eta {_clock((self.total_weight - self.weight) / rate)}")
        parts.append(_clock(elapsed))
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
