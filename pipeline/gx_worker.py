"""A Great Expectations process warmed up beside the night, for the four validation stages.

Why: GX's import and its file context cost 2.4–3 s in a fresh process, and on a small night
that is most of ``validate_raw``; then every stage renders its Data Docs pages and rebuilds
the site's index (~0.5 s) before the night may go on. Under ``newsdesk run`` every task runs
in one process (``dag.test``) and Airflow's start-up and ingest keep one core busy. So
``airflow_runner.run_dag`` starts this process first (:func:`for_this_run`): it imports GX and
opens the context on the idle core while Airflow starts and ingest reads the inputs, then
serves the stages. A stage sends its frames (small frames, lazy parquet scans and lists of
parquet parts, all picklable) and gets the same :class:`~pipeline.validate.StageReport` the
same :func:`~pipeline.validate.check_suites` computes in-process; the worker renders the
Data Docs after it answered, while the night goes on, and the run's end waits for it.

What keeps it honest:

- The checks are the same code, suites, checkpoints and results folder as in-process; the
  stage's gate (quarantine on failure, fault injection) stays in the stage.
- The ``NEWSDESK_*``/``GX_*`` environment (drift tolerance) travels with each request.
- A worker that died, cannot take the frames or fails outside the checks makes the stage
  validate in-process, with a warning: no check is ever skipped.
- Nights of more than ``WARM_MAX_ARTICLES`` new articles stop it as soon as ``anything_new``
  knows the size (its memory would sit beside the NLP stage's peak), and a night with nothing
  new stops it at once.

Elsewhere (Celery workers, tests calling ``dag.test`` themselves) no warm process exists and
:func:`run_suites` validates in-process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import validate, warm
from pipeline.offload import runs_the_night

log = logging.getLogger("newsdesk")

DISABLE_ENV = "NEWSDESK_GX_WARM"  # "0": no warm GX process, every stage validates in-process
# Above this many new articles the worker is stopped: its seconds are a rounding error of such
# a night and its memory would sit beside the NLP stage's peak (the same bound as dbt's).
WARM_MAX_ARTICLES = 5_000
# How long the run's end waits for the Data Docs the worker renders after its last answer
DOCS_WAIT_SECONDS = 120.0

Frames = dict[str, pl.DataFrame | validate.Chunks | validate.Slices]


def _serve(conn: Any, gx_project_dir: Path, results_dir: Path, env: dict[str, str]) -> None:
    """The worker's life: import GX and open the context, then validate stages until told to stop."""
    conn = warm.child_setup(conn, env)
    started = time.perf_counter()
    try:
        validate.gx_context(gx_project_dir, results_dir)
        warm_error = None
    except Exception as exc:  # the first request opens it again and reports it
        warm_error = repr(exc)
    warm.announce_ready(conn, started, warm_error)
    for _, stage, frames, project_dir, results, run_name, env in warm.requests(conn, "validate"):
        wanted: validate.DocsWanted = {}
        ctx = None
        try:
            warm.apply_env(env)
            ctx = validate.gx_context(project_dir, results)
            with validate.deferred_data_docs(ctx, render=False) as wanted:
                report = validate.check_suites(ctx, stage, frames, run_name)
            conn.send(("done", report, warm.peak_rss_mb()))
        except Exception:
            conn.send(("error", traceback.format_exc(limit=20), warm.peak_rss_mb()))
        finally:  # after the answer: the stage goes on while its pages render here
            if ctx is not None and wanted:
                try:
                    validate.render_data_docs(ctx, wanted)
                except Exception:
                    log.warning("the warm GX process could not render Data Docs for %s:\n%s", run_name,
                                traceback.format_exc(limit=5))


@dataclass
class WarmGx:
    """The parent's handle on the warm GX process."""

    child: warm.Warm
    asked: bool = False  # whether it may be rendering Data Docs (the run's end waits for those)

    @property
    def process(self) -> Any:
        return self.child.process

    def validate(self, stage: str, frames: Frames, *, gx_project_dir: Path, results_dir: Path,
                 run_name: str) -> tuple[validate.StageReport, dict[str, Any]] | None:
        """The stage's report from the worker; None when it cannot give one (the caller validates)."""
        self.asked = True
        message = self.child.ask(("validate", stage, frames, gx_project_dir, results_dir, run_name,
                                  warm.relevant_env()))
        if message is None:
            return None
        if message[0] == "error":
            log.warning("the warm GX process failed on stage %r, the stage validates in-process:\n%s", stage,
                        message[1])
            return None
        ready = self.child.ready or {}
        return message[1], {"warm": True, "pid": self.process.pid, "peak_rss_mb": message[2],
                            "ready_after_s": ready.get("seconds"), "warmup_error": ready.get("error")}

    def stop(self) -> None:
        """End the worker: after the Data Docs it is rendering, if it answered a stage; at once otherwise."""
        self.child.stop(wait=DOCS_WAIT_SECONDS if self.asked else 0.0)


_CURRENT: WarmGx | None = None


@contextlib.contextmanager
def for_this_run(settings: Any) -> Iterator[None]:
    """Within (a process that runs the whole night): a warm GX process for the stages; ended at the block's end."""
    start(settings)
    try:
        yield
    finally:
        stop()


def start(settings: Any) -> WarmGx | None:
    """Start the warm GX process for ``settings``'s project and results folder, if this process runs the night."""
    global _CURRENT
    stop()
    if not runs_the_night() or os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    child = warm.spawn(_serve, (Path(settings.gx_project_dir), validate.gx_results_dir(settings),
                                warm.relevant_env()), name="newsdesk-gx", what="Great Expectations")
    _CURRENT = None if child is None else WarmGx(child=child)
    return _CURRENT


def night_size(new_articles: int) -> None:
    """Told by ``anything_new`` when the night will validate: a big one stops the worker now."""
    if new_articles > WARM_MAX_ARTICLES:
        stop()


def stop() -> None:
    """End this process's warm GX process, if any."""
    global _CURRENT
    if _CURRENT is not None:
        current, _CURRENT = _CURRENT, None
        current.stop()


def run_suites(stage: str, frames: Frames, *, gx_project_dir: Path, results_dir: Path,
               run_name: str) -> tuple[validate.StageReport, dict[str, Any]]:
    """A stage's validation: in the warm process when there is one that can, in this process otherwise."""
    if _CURRENT is not None:
        answered = _CURRENT.validate(stage, frames, gx_project_dir=gx_project_dir, results_dir=results_dir,
                                     run_name=run_name)
        if answered is not None:
            return answered
        if not _CURRENT.process.is_alive():
            stop()
    report = validate.run_suites(stage, frames, gx_project_dir=gx_project_dir, results_dir=results_dir,
                                 run_name=run_name)
    return report, {"warm": False}
