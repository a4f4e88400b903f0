"""Run a command and measure its wall time and peak memory of the whole process tree.

spaCy's ``n_process=2`` forks workers and Airflow's ``dag.test`` may start helpers, so the
memory that matters is the *tree's*. Two peaks are sampled:

* ``peak_rss_mb`` — the largest sum of RSS over the process and all its descendants
  (sampled every ``interval`` s). It counts pages a forked worker shares with its parent
  twice, so it over-states the machine's real use: the conservative number.
* ``peak_pss_mb`` — the largest sum of PSS (shared pages split between their users), read
  from ``/proc/<pid>/smaps_rollup`` about once a second: what the tree really costs.

Sampling can miss a spike shorter than the interval; the interval is small next to the
stages measured (seconds to minutes).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass
class Measured:
    returncode: int
    wall_seconds: float
    peak_rss_mb: float
    peak_pss_mb: float
    samples: list[tuple[float, float]]  # (seconds since start, tree RSS in MB), for plots of one run


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _sum(procs: list[psutil.Process], pss: bool) -> float:
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss if pss else p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total / MB


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None,
        interval: float = 0.2, pss_every: int = 5) -> Measured:
    """Run ``cmd`` to completion (stdout+stderr to ``log``) while sampling its tree's memory."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    t0 = time.perf_counter()
    popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    proc = psutil.Process(popen.pid)
    peak_rss = peak_pss = 0.0
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        i = 0
        while not stop.is_set():
            procs = _tree(proc)
            rss = _sum(procs, pss=False)
            peak_rss = max(peak_rss, rss)
            if i % pss_every == 0:
                peak_pss = max(peak_pss, _sum(procs, pss=True))
            samples.append((round(time.perf_counter() - t0, 2), round(rss, 1)))
            i += 1
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        rc = popen.wait()
    finally:
        stop.set()
        thread.join()
        if log:
            out.close()
    return Measured(rc, round(time.perf_counter() - t0, 3), round(peak_rss, 1), round(peak_pss, 1), samples)
