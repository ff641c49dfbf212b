"""Measuring a command: wall time, CPU time and the peak RSS of its whole process tree."""

from __future__ import annotations

import subprocess
import time

import psutil


def run_and_sample(cmd: list[str], interval: float = 0.2, env: dict | None = None) -> dict:
    """Run `cmd`, sampling the RSS of every process in its tree every `interval` seconds.

    Returns seconds, peak_total_mb (the largest sum over the tree at one instant, MiB), per-process
    peaks (`peaks_mb`; `root_peak_mb` for the command itself, `child_peaks_mb` for its descendants that
    started no process of their own, i.e. the workers; `parent_peaks_mb` for the descendants that did,
    such as a fork server), cpu_seconds (user + system of the tree) and the command's stdout.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    root = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, float]] = {}
    cpu: dict[int, float] = {}
    parents: set[int] = set()  # processes of the tree that started another one
    peak_total = 0.0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0.0
        for p in tree:
            try:
                rss = p.memory_info().rss / 2**20
                times = p.cpu_times()
                name = " ".join(p.cmdline()[1:3])[:60]
            except psutil.Error:
                continue
            total += rss
            cpu[p.pid] = times.user + times.system
            if p.pid != proc.pid:
                parents.add(p.ppid())
            if rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (name, rss)
        peak_total = max(peak_total, total)
        time.sleep(interval)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return {
        "seconds": time.perf_counter() - t0,
        "peak_total_mb": peak_total,
        "peaks_mb": sorted((round(v, 1), n) for n, v in peaks.values()),
        "root_peak_mb": peaks.get(proc.pid, ("", 0.0))[1],
        "child_peaks_mb": [v for pid, (_, v) in peaks.items() if pid != proc.pid and pid not in parents],
        "parent_peaks_mb": [v for pid, (_, v) in peaks.items() if pid != proc.pid and pid in parents],
        "cpu_seconds": sum(cpu.values()),
        "stdout": out,
        "stderr": err,
    }
