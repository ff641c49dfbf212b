"""Set-up of a local worker process, done once in the fork server that the workers are forked from.

- Ctrl-C at a terminal sends SIGINT to every process of the foreground group: the driver and its local
  workers. The driver stops the run and shuts the cluster down; a worker that took the signal as well
  would die printing a KeyboardInterrupt traceback of distributed's event loop. Workers ignore SIGINT
  (the fork server restores, in each worker, the handlers it found when it started, so setting it here
  is enough); they stop when the driver closes the cluster, or when the driver is gone.
- With CURATE_WORKER_LOG set (the runner sets it to WORKSPACE/workers.log), the workers' stdout and
  stderr go to that file: Dask's worker logs, and the traceback a worker prints when it is stopped while
  starting, stay off the terminal and out of `--json` output.

Imported before distributed, so that distributed's log handler writes to the redirected stderr.
"""

from __future__ import annotations

import os
import signal
import threading

if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)

_log = os.environ.get("CURATE_WORKER_LOG")
if _log:
    _fd = os.open(_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(_fd, 1)
    os.dup2(_fd, 2)
    os.close(_fd)
