"""Helper processes for pure per-article work, so that a stage's reading goes on meanwhile.

Why: ingest reads and parses inputs in the stage's process, one after the other, and every
candidate article then needs its language and its MinHash signature (43 % of ingest on 3,000
articles, both pure Python loops over the text). On a 2-core machine the other core is idle
during ingest: here those two run on it, chunk by chunk, while the stage parses the next
inputs. Results come back in submission order and are the same values an in-process call
gives (the same function on the same arguments).

It is an optimisation, never a dependency: a process that may not have children (a Celery
prefork worker), a helper that cannot start or dies, each makes the work run in-process
(logged once), with the same results.

The helpers are started clean by a forkserver (spawn where there is none), never forked from a
stage's multi-threaded process (see ``entities.NerWorkers`` for what a fork there costs).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("newsdesk")


def may_start_children() -> bool:
    """Whether this process may start child processes (not a daemonic one, stdlib's or Celery's billiard view)."""
    if multiprocessing.current_process().daemon:
        return False
    billiard = sys.modules.get("billiard")
    return not (billiard and billiard.current_process().daemon)


_NIGHT_PID: int | None = None  # the process that runs every task of the night (night_in_this_process)


@contextmanager
def night_in_this_process() -> Iterator[None]:
    """Within: this process runs every task of the night (``dag.test``), not one task of it.

    What may outlive a task for a later one (the warm dbt process, the NER workers kept
    between NLP parts) asks ``runs_the_night``; elsewhere (a Celery or LocalExecutor task
    process) it would serve nobody. Nested blocks restore the outer one's marker.
    """
    global _NIGHT_PID
    outer, _NIGHT_PID = _NIGHT_PID, os.getpid()
    try:
        yield
    finally:
        _NIGHT_PID = outer


def runs_the_night() -> bool:
    """Whether this process is inside ``night_in_this_process`` (a forked child is not)."""
    return os.getpid() == _NIGHT_PID


def clean_context() -> multiprocessing.context.BaseContext:
    """A forkserver context (spawn where there is none): children start clean, not forked from this process."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def end_with_parent(parent_pid: int, *, every_seconds: float = 1.0) -> None:
    """In a helper process: exit once the stage's process ``parent_pid`` is gone (a pool initializer).

    A helper started by a forkserver is the forkserver's child, not the stage's, and it waits
    on a queue whose writing end it holds itself: when the stage's process is killed (OOM
    killer, a cancelled task), nothing would tell it to end, and it would idle on with its
    memory for good. A daemon thread checks every second whether the stage's process lives.
    """
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(every_seconds)
            try:
                os.kill(parent_pid, 0)
            except (ProcessLookupError, PermissionError):  # gone (or its pid now another user's)
                os._exit(0)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


class Offloaded:
    """Calls of one pure function, run on helper processes once there are enough to pay their start.

    ``submit`` returns a handle whose ``result()`` is the call's value; calls with fewer than
    ``min_items`` items (a small night) run in-process at once, as does everything after a
    helper failed. ``close`` ends the helpers. Use as a context manager.
    """

    def __init__(self, fn: Callable[..., Any], *, min_items: int, processes: int = 2) -> None:
        self._fn = fn
        self._min_items = min_items
        # two: one keeps pace with the stage's reading; both work while the stage waits for results
        self._processes = max(1, min(processes, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self._broken = not may_start_children()

    def __enter__(self) -> Offloaded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, items: list[Any], *args: Any) -> Handle:
        """``fn(items, *args)``, maybe on a helper; ``len(items)`` decides whether it is worth it."""
        if not self._broken and len(items) >= self._min_items:
            try:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(max_workers=self._processes, mp_context=clean_context(),
                                                     initializer=end_with_parent, initargs=(os.getpid(),))
                return Handle(self, self._pool.submit(self._fn, items, *args), items, args)
            except (OSError, RuntimeError, BrokenProcessPool) as exc:
                self._give_up(exc)
        return Handle(self, None, items, args)

    def _give_up(self, exc: BaseException) -> None:
        if not self._broken:
            log.warning("the helper process for %s failed (%r): the rest runs in-process", self._fn.__name__, exc)
        self._broken = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Handle:
    """One call of :class:`Offloaded`: on a helper (``future``), or already computed here."""

    def __init__(self, owner: Offloaded, future: Future | None, items: list[Any], args: tuple[Any, ...]) -> None:
        self._owner, self._future = owner, future
        self._value: Any = None
        self._call: tuple[list[Any], tuple[Any, ...]] | None = (items, args)
        if future is None:
            self._value, self._call = owner._fn(items, *args), None

    def done(self) -> bool:
        """Whether ``result()`` would return without waiting for the helper."""
        return self._call is None or self._future.done()  # type: ignore[union-attr]

    def result(self) -> Any:
        """The call's value; computed here if the helper could not give it."""
        if self._call is not None:
            items, args = self._call
            try:
                self._value = self._future.result()  # type: ignore[union-attr]
            except (BrokenProcessPool, OSError, EOFError) as exc:  # the helper died: same call, here
                self._owner._give_up(exc)
                self._value = self._owner._fn(items, *args)
            self._call = None
        return self._value
