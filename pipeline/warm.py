"""A helper process warmed up beside the night, answering one request at a time.

Why: under ``newsdesk run`` every task of a night runs in one process, and on a small night
most of a stage can be fixed cost paid before its first row: dbt's import and parse
(:mod:`pipeline.dbt_worker`), Great Expectations' import and context (:mod:`pipeline.gx_worker`).
A spawned child pays it on the idle core while the night's first stages run, then serves the
stages' requests.

This module is only the plumbing such workers share: spawn a clean interpreter (never a fork of
Airflow's multi-threaded process), forward the child's ``newsdesk`` log lines to the parent,
tell the parent when the child is ready, answer ``None`` (the caller does the work itself)
when the child died or cannot be reached, and end it. What a request means is the caller's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("newsdesk")

ENV_PREFIXES = ("NEWSDESK_", "DBT_", "GX_")


def relevant_env() -> dict[str, str]:
    """The environment a helper's work may read: ours, dbt's (``env_var``) and GX's."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}


def apply_env(env: dict[str, str]) -> None:
    """Make this process's ``NEWSDESK_*``/``DBT_*``/``GX_*`` environment exactly ``env``."""
    for key in [k for k in os.environ if k.startswith(ENV_PREFIXES) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def peak_rss_mb() -> float | None:
    from pipeline.runs import _status_mb

    return _status_mb("VmHWM")


class ChildConn:
    """The child's end of the pipe; sends are serialised (dbt's callbacks log from its node threads)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.send(message)

    def recv(self) -> Any:
        return self._conn.recv()


class _PipeLogHandler(logging.Handler):
    """Sends the child's log lines to the parent, which logs them as its own."""

    def __init__(self, conn: ChildConn) -> None:
        super().__init__(logging.INFO)
        self._conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log line is never worth failing the work
            self._conn.send(("log", record.levelno, record.name, record.getMessage()))


def child_setup(conn: Any, env: dict[str, str]) -> ChildConn:
    """In the child, first: the parent's environment, and our log lines sent to the parent (printed once)."""
    conn = ChildConn(conn)
    ours = logging.getLogger("newsdesk")
    ours.addHandler(_PipeLogHandler(conn))
    ours.setLevel(logging.INFO)
    ours.propagate = False
    apply_env(env)
    return conn


def announce_ready(conn: ChildConn, started: float, error: str | None) -> None:
    """In the child, after its warm-up: tell the parent, and keep the collector off what it left.

    What the import (and a parse) left lives to the end: ``gc.freeze`` spares every later
    collection from walking it.
    """
    import gc

    gc.freeze()
    conn.send(("ready", {"seconds": round(time.perf_counter() - started, 2), "error": error}))


def requests(conn: ChildConn, kind: str) -> Iterator[tuple[Any, ...]]:
    """In the child: the parent's requests of ``kind``, one at a time, until it says stop or is gone."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] != kind:
            return
        yield message


@dataclass
class Warm:
    """The parent's handle on one warm child."""

    process: Any
    conn: Any
    what: str  # for log lines: "dbt", "Great Expectations"
    ready: dict[str, Any] | None = None

    def receive(self) -> tuple[Any, ...] | None:
        """The child's next message other than a log line or its ready note; None if it died."""
        while True:
            if self.conn.poll(0.5):
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    return None
                if message[0] == "log":
                    logging.getLogger(message[2]).log(message[1], "%s", message[3])
                    continue
                if message[0] == "ready":
                    self.ready = message[1]
                    continue
                return message
            if not self.process.is_alive():
                return None

    def ask(self, request: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Send ``request``, return the answer; None (logged) when the child cannot answer."""
        try:
            self.conn.send(request)  # pickled whole before the first byte is sent
        except (OSError, ValueError):
            return None
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            log.warning("the request cannot go to the warm %s process (%s): the stage does the work itself",
                        self.what, exc)
            return None
        answer = self.receive()
        if answer is None:
            log.warning(
                "the warm %s process (pid %s) ended without answering: the stage does the work itself",
                self.what,
                self.process.pid,
            )
        return answer

    def stop(self, wait: float = 0.5) -> None:
        """Ask the child to end, give it ``wait`` seconds (it finishes what it was doing), then end it."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("stop",))
        self.process.join(wait)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()


def spawn(target: Callable[..., None], args: tuple[Any, ...], *, name: str, what: str) -> Warm | None:
    """Start ``target(child_conn, *args)`` in a clean interpreter; None (logged) when it cannot start."""
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter, not a copy of Airflow's
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(target=target, args=(child_end, *args), name=name, daemon=True)
    try:
        process.start()
    except OSError as exc:
        log.warning("could not start a warm %s process (%s): the stage will do the work itself", what, exc)
        parent_end.close()
        return None
    finally:
        child_end.close()
    return Warm(process=process, conn=parent_end, what=what)
