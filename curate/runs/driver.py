"""The process that drives a run, and whether it is still there.

A run records its driver (process id, host and the process's start time) in the ledger. A run still
marked `running` whose driver is gone was killed (SIGKILL, a crash, a lost machine) before it could
record its end; the next command that looks marks it failed. The start time tells a reused process id
from the driver itself.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Driver:
    pid: int
    host: str
    started: float  # the process's start time, seconds since the epoch (psutil's create_time)

    @classmethod
    def this_process(cls) -> Driver:
        return cls(os.getpid(), socket.gethostname(), psutil.Process().create_time())

    def is_gone(self) -> bool:
        """True when this driver's process no longer runs. A driver on another host cannot be checked
        from here: it counts as alive (its run stays `running` until a command on that host looks)."""
        if self.host != socket.gethostname():
            return False
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.started) > 0.05:  # the id was reused by another process
                return True
            return process.status() == psutil.STATUS_ZOMBIE  # dead, not yet reaped by its parent
        except psutil.NoSuchProcess:
            return True

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"
