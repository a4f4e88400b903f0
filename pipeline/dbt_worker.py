"""A dbt process warmed up while the night's first stages run, for ``dbt_build`` to use.

Why: on a night with little new, most of ``dbt_build`` is fixed cost paid before the first
model runs: importing dbt (~2 s) and parsing the project (~1.2 s with last night's parse
kept, ~3.5 s without). Under ``newsdesk run`` every task runs in one process (``dag.test``)
and, on a small batch, ingest, validation and NLP keep one core busy and leave the other
idle. So once ``anything_new`` has decided the night has something to build (and it is not a
big night: ``WARM_MAX_ARTICLES``), it starts this process (when ``airflow_runner.run_dag``
runs the night here, :func:`for_this_run`): it imports
dbt and parses the project on the idle core while validation, NLP and load run, then waits.
(Not earlier: a night with nothing new builds nothing, and a warm-up beside Airflow's start
made such nights ~1 s slower.) ``dbt_build`` hands it the night's :class:`~pipeline.dbt.BuildRequest`; it runs the
same :func:`~pipeline.dbt.build_project` the stage would run in-process (every model, test,
unit test and contract, on the same work database, which no other process has open then)
and answers with the results.

What keeps it honest:

- The parse is the night's own: the project files, the work database's path and the
  ``--vars`` are the same every night, and the worker parses again (still without the import)
  when the request's parse key or the ``NEWSDESK_*``/``DBT_*`` environment differs from its own.
- Anything wrong with the worker (not started, died, an error outside dbt's own failures)
  makes the stage run dbt in-process as before, with a warning; a failing model or test is a
  :class:`~pipeline.dbt.DbtFailed` in the stage, exactly as in-process.
- The worker ends when the run ends (``stop``) or when its parent dies (end of its pipe).

Elsewhere (Celery workers, tests calling ``dag.test`` themselves) no warm process exists and
``run_build`` runs dbt in-process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.dbt import BuildOutcome, BuildRequest, DbtFailed, build_project
from pipeline.offload import night_in_this_process, runs_the_night

log = logging.getLogger("newsdesk")

DISABLE_ENV = "NEWSDESK_DBT_WARM"  # "0": no warm dbt process, dbt_build runs dbt in-process
# Above this many new articles no warm process is started: it saves ~3 s (dbt's import and
# parse) and holds ~270 MB from ingest to dbt_build. On a night of 5,000 articles that is ~2 %
# of the night; at 100k the process sat beside the NLP stage's peak for 35 minutes: the run's
# process tree peaked at 2.13 GB with it, 1.99 GB without (docs/performance.md, fifth pass).
WARM_MAX_ARTICLES = 5_000
_ENV_PREFIXES = ("NEWSDESK_", "DBT_")
_WARM_DIR_PREFIX = ".dbt-warm-"


def _relevant_env() -> dict[str, str]:
    """The environment dbt's profile and the project may read (``env_var``): ours and dbt's."""
    return {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}


def _apply_env(env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith(_ENV_PREFIXES) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


class _LockedConn:
    """The worker's end of the pipe: dbt's callbacks log from its node threads, so sends are serialised."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.send(message)

    def recv(self) -> Any:
        return self._conn.recv()


class _PipeLogHandler(logging.Handler):
    """Sends the worker's log lines (dbt's progress) to the parent, which logs them as its own."""

    def __init__(self, conn: _LockedConn) -> None:
        super().__init__(logging.INFO)
        self._conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log line is never worth failing the build
            self._conn.send(("log", record.levelno, record.name, record.getMessage()))


def _peak_rss_mb() -> float | None:
    from pipeline.runs import _status_mb

    return _status_mb("VmHWM")


def _serve(conn: Any, warmup: BuildRequest, env: dict[str, str]) -> None:
    """The worker's life: import dbt and parse, then run build requests until told to stop."""
    import gc

    conn = _LockedConn(conn)
    handler = _PipeLogHandler(conn)
    ours = logging.getLogger("newsdesk")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False  # the parent prints them, once
    _apply_env(env)
    started = time.perf_counter()
    try:
        parsed_key, manifest = (warmup.parse_key, env), warmup.parse()
        warm_error = None
    except Exception as exc:  # the stage parses again and reports it; keep the import
        parsed_key, manifest, warm_error = None, None, repr(exc)
    # what the import and the parse left lives to the end: keep the collector off it
    gc.freeze()
    conn.send(("ready", {"seconds": round(time.perf_counter() - started, 2), "error": warm_error}))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] != "build":
            return
        request, env = message[1], message[2]
        try:
            _apply_env(env)
            if (request.parse_key, env) != parsed_key:
                manifest = request.parse()
                parsed_key = (request.parse_key, env)
            outcome = build_project(request, manifest)
            outcome.build.manifest = outcome.freshness.manifest = None
            conn.send(("done", outcome, _peak_rss_mb()))
        except DbtFailed as exc:
            conn.send(("failed", exc.command, exc.failures, _peak_rss_mb()))
        except Exception:
            conn.send(("error", traceback.format_exc(limit=20), _peak_rss_mb()))


@dataclass
class WarmDbt:
    """The parent's handle on the warm dbt process."""

    process: Any
    conn: Any
    work_dir: Path
    ready: dict[str, Any] | None = None

    def _receive(self) -> tuple[Any, ...] | None:
        """The worker's next message other than a log line; None if it died."""
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

    def build(self, request: BuildRequest) -> tuple[BuildOutcome, dict[str, Any]] | None:
        """Run ``request`` in the worker; None when the worker cannot (the caller runs it itself)."""
        try:
            self.conn.send(("build", request, _relevant_env()))
        except (OSError, ValueError):
            return None
        message = self._receive()
        if message is None:
            log.warning("the warm dbt process (pid %s) ended without answering: dbt runs in-process",
                        self.process.pid)
            return None
        info = {"warm": True, "pid": self.process.pid, "peak_rss_mb": message[-1],
                "ready_after_s": (self.ready or {}).get("seconds"), "warmup_error": (self.ready or {}).get("error")}
        if message[0] == "failed":
            raise DbtFailed(message[1], message[2])
        if message[0] == "error":
            log.warning("the warm dbt process failed outside dbt, dbt runs in-process:\n%s", message[1])
            return None
        return message[1], info

    def stop(self) -> None:
        """End the worker; one still importing or parsing (a night with nothing to build) is not waited for.

        Never called during a build. Killing a parse is safe: the kept partial-parse file is
        replaced atomically (``parse_project``).
        """
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("stop",))
        self.process.join(0.5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


_CURRENT: WarmDbt | None = None


@contextlib.contextmanager
def for_this_run() -> Iterator[None]:
    """Within: this process runs the whole night (``dag.test``), so ``start`` may start a worker."""
    with night_in_this_process():
        try:
            yield
        finally:
            stop()


def start(request: BuildRequest, *, new_articles: int = 0) -> WarmDbt | None:
    """Start the warm dbt process for this process's run (``request``: the parse to make).

    Only inside :func:`for_this_run` in the same process: elsewhere (a Celery worker runs one
    task) nothing would use it. Not on a night of more than ``WARM_MAX_ARTICLES`` new
    articles, where its memory costs more than its seconds save.

    ``request.work_dir`` is ignored: the warm-up parses in a folder of its own under
    ``request.cache_dir`` (the night's run folder does not exist yet), removed by :func:`stop`.
    """
    global _CURRENT
    stop()
    if (not runs_the_night() or os.environ.get(DISABLE_ENV, "1") == "0" or request.cache_dir is None
            or new_articles > WARM_MAX_ARTICLES):
        return None
    request.cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in request.cache_dir.glob(_WARM_DIR_PREFIX + "*"):  # a killed run's
        shutil.rmtree(stale, ignore_errors=True)
    work_dir = Path(tempfile.mkdtemp(prefix=_WARM_DIR_PREFIX, dir=request.cache_dir))
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter, not a copy of Airflow's
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child_end, replace(request, work_dir=work_dir), _relevant_env()),
                          name="newsdesk-dbt", daemon=True)
    try:
        process.start()
    except OSError as exc:
        log.warning("could not start a warm dbt process (%s): dbt will run in-process", exc)
        shutil.rmtree(work_dir, ignore_errors=True)
        return None
    child_end.close()
    _CURRENT = WarmDbt(process=process, conn=parent_end, work_dir=work_dir)
    return _CURRENT


def stop() -> None:
    """End this process's warm dbt process, if any."""
    global _CURRENT
    if _CURRENT is not None:
        current, _CURRENT = _CURRENT, None
        current.stop()


def run_build(request: BuildRequest) -> tuple[BuildOutcome, dict[str, Any]]:
    """The night's dbt: in the warm process when there is one that can, in this process otherwise."""
    if _CURRENT is not None:
        answered = _CURRENT.build(request)
        if answered is not None:
            return answered
        stop()
    return build_project(request), {"warm": False}
