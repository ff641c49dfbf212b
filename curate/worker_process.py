"""Set-up of a local worker process, done once in the fork server that the workers are forked from.

Ctrl-C at a terminal sends SIGINT to every process of the foreground group: the driver and its local
workers. The driver stops the run and shuts the cluster down; a worker that took the signal as well
would die printing a KeyboardInterrupt traceback of distributed's event loop. Workers ignore SIGINT
(the fork server restores, in each worker, the handlers it found when it started, so importing this
module there is enough); they stop when the driver closes the cluster, or when the driver is gone.
"""

from __future__ import annotations

import signal
import threading

if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
