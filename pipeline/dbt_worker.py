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
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline import warm
from pipeline.dbt import BuildOutcome, BuildRequest, DbtFailed, build_project
from pipeline.offload import night_in_this_process, runs_the_night

log = logging.getLogger("newsdesk")

DISABLE_ENV = "NEWSDESK_DBT_WARM"  # "0": no warm dbt process, dbt_build runs dbt in-process
# Above this many new articles no warm process is started: it saves ~3 s (dbt's import and
# parse) and holds ~270 MB from ingest to dbt_build. On a night of 5,000 articles that is ~2 %
# of the night; at 100k the process sat beside the NLP stage's peak for 35 minutes: the run's
# process tree peaked at 2.13 GB with it, 1.99 GB without (docs/performance.md, fifth pass).
WARM_MAX_ARTICLES = 5_000
_WARM_DIR_PREFIX = ".dbt-warm-"


def _serve(conn: Any, warmup: BuildRequest, env: dict[str, str]) -> None:
    """The worker's life: import dbt and parse, then run build requests until told to stop."""
    conn = warm.child_setup(conn, env)
    started = time.perf_counter()
    try:
        parsed_key, manifest = (warmup.parse_key, env), warmup.parse()
        warm_error = None
    except Exception as exc:  # the stage parses again and reports it; keep the import
        parsed_key, manifest, warm_error = None, None, repr(exc)
    warm.announce_ready(conn, started, warm_error)
    for _, request, env in warm.requests(conn, "build"):
        try:
            warm.apply_env(env)
            if (request.parse_key, env) != parsed_key:
                manifest = request.parse()
                parsed_key = (request.parse_key, env)
            outcome = build_project(request, manifest)
            outcome.build.manifest = outcome.freshness.manifest = None
            conn.send(("done", outcome, warm.peak_rss_mb()))
        except DbtFailed as exc:
            conn.send(("failed", exc.command, exc.failures, warm.peak_rss_mb()))
        except Exception:
            conn.send(("error", traceback.format_exc(limit=20), warm.peak_rss_mb()))


@dataclass
class WarmDbt:
    """The parent's handle on the warm dbt process."""

    child: warm.Warm
    work_dir: Path

    @property
    def process(self) -> Any:
        return self.child.process

    def build(self, request: BuildRequest) -> tuple[BuildOutcome, dict[str, Any]] | None:
        """Run ``request`` in the worker; None when the worker cannot (the caller runs it itself)."""
        message = self.child.ask(("build", request, warm.relevant_env()))
        if message is None:
            return None
        ready = self.child.ready or {}
        info = {
            "warm": True,
            "pid": self.process.pid,
            "peak_rss_mb": message[-1],
            "ready_after_s": ready.get("seconds"),
            "warmup_error": ready.get("error"),
        }
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
        self.child.stop()
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
    if (
        not runs_the_night()
        or os.environ.get(DISABLE_ENV, "1") == "0"
        or request.cache_dir is None
        or new_articles > WARM_MAX_ARTICLES
    ):
        return None
    request.cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in request.cache_dir.glob(_WARM_DIR_PREFIX + "*"):  # a killed run's
        shutil.rmtree(stale, ignore_errors=True)
    work_dir = Path(tempfile.mkdtemp(prefix=_WARM_DIR_PREFIX, dir=request.cache_dir))
    child = warm.spawn(
        _serve, (replace(request, work_dir=work_dir), warm.relevant_env()), name="newsdesk-dbt", what="dbt"
    )
    if child is None:
        shutil.rmtree(work_dir, ignore_errors=True)
        return None
    _CURRENT = WarmDbt(child=child, work_dir=work_dir)
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
