"""One run at a time per warehouse, across ``newsdesk run``, backfills and the Airflow scheduler.

Two runs of one warehouse at once are never right: the second's ``start_run`` removed the
first's work database while the first was in dbt ("Table mentions_per_actor does not
exist!"), and both would read the same new inputs. ``max_active_runs=1`` only holds inside one
scheduler; a CLI run next to a scheduled one, or two CLI runs, slipped past it.

The lock is a small JSON file beside the warehouse (``<warehouse>.run.lock``) naming the run
that holds it: batch and run id, host, pid and the pid's start time, since when. It is taken
by ``start_run`` and given back by ``finalize`` (a teardown: it runs after a failure too).
Who is "alive":

* under ``dag.test`` (the CLI) every task runs in the CLI process, whose pid is recorded:
  the lock is stale the moment that process is gone (a kill, a crash);
* under a scheduler each task is a process of its own, so each stage records its pid on
  start (``touch``); between two tasks no process is working, so the lock is stale only
  when its last holder is gone *and* it has not been touched for ``grace`` seconds
  (``NEWSDESK_RUN_LOCK_GRACE``, default 900).

A stale lock is taken over with a warning; a live one refuses the new run with "a run of
this warehouse is in progress since …, pid …". Read-modify-write of the lock file happens
under an ``flock`` of ``<warehouse>.run.lock.guard``, so two runs starting together cannot
both win.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.lake import Lake
from pipeline.warehouse import exclusive_file_lock

log = logging.getLogger("newsdesk")

OWNER_ENV = "NEWSDESK_RUN_OWNER_PID"  # set by the CLI: the process that runs every task (dag.test)
GRACE_ENV = "NEWSDESK_RUN_LOCK_GRACE"


class RunInProgress(RuntimeError):
    """Another run of this warehouse holds the run lock."""


def lock_path(warehouse: Path | Lake) -> Path:
    """Beside the warehouse file; for a DuckLake, in its data folder (the storage every worker sees)."""
    if isinstance(warehouse, Lake):
        return warehouse.data_path / ".newsdesk.run.lock"
    return warehouse.with_name(warehouse.name + ".run.lock")


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    if os.path.isdir("/proc"):
        now = _proc_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_pid() -> tuple[int, str]:
    """(pid, mode): the CLI process for a whole ``dag.test`` run, else this task's process."""
    owner = os.environ.get(OWNER_ENV)
    if owner and int(owner) == os.getpid():
        return os.getpid(), "process"
    return os.getpid(), "task"


@contextmanager
def _guard(warehouse: Path) -> Iterator[None]:
    with exclusive_file_lock(lock_path(warehouse).with_name(lock_path(warehouse).name + ".guard")):
        yield


def read(warehouse: Path) -> dict[str, Any] | None:
    try:
        return json.loads(lock_path(warehouse).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write(warehouse: Path, info: dict[str, Any]) -> None:
    path = lock_path(warehouse)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)


def describe(info: dict[str, Any]) -> str:
    return (f"a run of this warehouse is in progress since {info.get('since')}, pid {info.get('pid')} on "
            f"{info.get('host')} (run {info.get('run_id')}, batch {info.get('batch_id')}); wait for it to finish, "
            f"or if that process is gone remove {info.get('path')}")


def stale_reason(info: dict[str, Any], grace: float | None = None) -> str | None:
    """Why the lock's holder is gone (the lock may be taken over), or None if it is alive."""
    grace = float(os.environ.get(GRACE_ENV, "900")) if grace is None else grace
    same_host = info.get("host") == socket.gethostname()
    gone = same_host and not _alive(int(info.get("pid", 0)), info.get("pid_start"))
    if gone and info.get("mode") == "process":
        return f"its process {info.get('pid')} is gone"
    idle = time.time() - float(info.get("touched", 0))
    if (gone or not same_host) and idle > grace:
        return f"its last process {info.get('pid')} is gone and it was not touched for {idle:.0f} s"
    return None


def check(warehouse: Path) -> str | None:
    """The message a new run would be refused with, or None when it may start."""
    info = read(warehouse)
    return describe(info) if info and stale_reason(info) is None else None


def acquire(warehouse: Path, *, batch_id: str, run_id: str) -> dict[str, Any]:
    """Take the run lock for this run, or raise :class:`RunInProgress`.

    The same batch (a re-run of a killed interval, or a retried ``start_run``) takes the lock
    over when the process that held it is gone; a live holder is never overridden.
    """
    pid, mode = _holder_pid()
    with _guard(warehouse):
        info = read(warehouse)
        if info is not None:
            why = stale_reason(info)
            if why is None and not (info.get("batch_id") == batch_id and info.get("pid") == pid):
                raise RunInProgress(describe(info))
            if why is not None:
                log.warning("run lock of %s: taking over from run %s (%s)", warehouse, info.get("run_id"), why)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        new = {"batch_id": batch_id, "run_id": run_id, "pid": pid, "pid_start": _proc_start(pid), "mode": mode,
               "host": socket.gethostname(), "since": now, "touched": time.time(), "path": str(lock_path(warehouse))}
        _write(warehouse, new)
        return new


def touch(warehouse: Path, batch_id: str, run_id: str = "") -> None:
    """A stage of this run starts in this process: record it as the lock's holder.

    A stage run by hand (no lock at all) takes it; another live run's lock stops the stage.
    """
    with _guard(warehouse):
        info = read(warehouse)
        if info is not None and info.get("batch_id") != batch_id:
            why = stale_reason(info)
            if why is None:
                raise RunInProgress(describe(info))
            log.warning("run lock of %s: taking over from run %s (%s)", warehouse, info.get("run_id"), why)
            info = None
        pid, mode = _holder_pid()
        if info is None:
            info = {"batch_id": batch_id, "run_id": run_id, "host": socket.gethostname(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"), "path": str(lock_path(warehouse))}
        if not (info.get("mode") == "process" and info.get("pid") == pid):
            info.update(pid=pid, pid_start=_proc_start(pid), mode=mode)
        info["touched"] = time.time()
        _write(warehouse, info)


def release(warehouse: Path, batch_id: str) -> None:
    """Give the lock back if this batch holds it (``finalize``)."""
    with _guard(warehouse):
        info = read(warehouse)
        if info is not None and info.get("batch_id") == batch_id:
            with suppress(FileNotFoundError):
                lock_path(warehouse).unlink()
