"""newsdesk nightly: ingest → (anything new?) → validate raw → NLP → validate NLP → load → validate warehouse
→ dbt build → validate marts → publish, then a teardown that records the outcome.

The NLP stage is dynamic task mapping: ``nlp_plan`` cuts the batch into parts of
``NEWSDESK_NLP_BATCH`` articles, ``nlp_part`` runs once per part (on any free worker; each part
idempotent, its output written atomically, a finished part skipped on retry), and
``nlp_link`` gives actors their corpus-wide ids part by part in batch order, so the ids are
those of a single-process run whichever worker did which part. load, dbt_build and publish
share the 1-slot pool ``newsdesk_warehouse``: they never overlap.

Tasks are thin: each calls one function of ``pipeline.stages`` and passes the run
manifest's path (a short string) through XCom; data stays in the run folder and the work
database. Configuration comes from ``NEWSDESK_*`` environment variables (see
``pipeline.config``) or, per run, from the ``input_dir`` / ``warehouse`` params.

A run that finds nothing new to load (no new article, no new refused input) ends after
ingest: ``anything_new`` short-circuits the stages up to publish, the published warehouse
stays as it is, and ``finalize`` records the outcome ``unchanged``.

A batch that fails a data check is quarantined and its task fails without retries
(``AirflowFailException``); other errors are retried. Runs never overlap
(``max_active_runs=1``): each builds on the snapshot the previous one published, so a hung
run must not block the next forever: every task has an ``execution_timeout`` and the run a
``dagrun_timeout`` (``NEWSDESK_TASK_TIMEOUTS``, ``NEWSDESK_DAGRUN_TIMEOUT_HOURS``).

Alerts (``pipeline.alerts.NewsdeskNotifier``): a failed run writes an alert line and, when
configured, posts a webhook and sends mail; a deadline alert fires when a night is not
published by ``NEWSDESK_PUBLISH_BY`` (UTC). ``publish`` updates the Asset ``newsdesk_marts``
(the published marts), on which other DAGs can be scheduled (``dags/newsdesk_marts_export.py``).
"""

from __future__ import annotations

import functools
import os
from datetime import time, timedelta

import pendulum
from airflow.sdk import (
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    dag,
    get_current_context,
    setup,
    task,
    teardown,
)
from airflow.sdk.exceptions import AirflowFailException

from pipeline import stages
from pipeline.alerts import NewsdeskNotifier
from pipeline.assets import MARTS  # the published marts (Asset)
from pipeline.config import Operations
from pipeline.sources import SourceConfigError
from pipeline.warehouse import WarehouseVersionError

RETRIES = int(os.environ.get("NEWSDESK_TASK_RETRIES", "2"))
# One slot: the stages that write the warehouse never overlap, whatever the executor and however
# many runs or DAGs are active (created by `newsdesk run` and `newsdesk cluster up`).
WAREHOUSE_POOL = "newsdesk_warehouse"
RETRY_DELAY = timedelta(seconds=int(os.environ.get("NEWSDESK_RETRY_DELAY_SECONDS", "120")))
OPS = Operations.from_env()
SCHEDULE_AT = time(2, 30)  # UTC, the cron below


def _timeout(task_id: str) -> timedelta | None:
    return OPS.task_timeouts.get(task_id)


def _deadline() -> list[DeadlineAlert]:
    """A night queued at 02:30 that is not published by NEWSDESK_PUBLISH_BY alerts (none when 'off')."""
    after = OPS.publish_deadline_after(SCHEDULE_AT)
    if after is None:
        return []
    return [DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=after, name="published_by",
                          callback=AsyncCallback(NewsdeskNotifier, kwargs={"event": "deadline_missed"}))]


def _stage(fn, manifest_path: str) -> str:
    """Run a stage; a quarantined batch (or an unreadable warehouse) fails the task for good instead of retrying."""
    try:
        return fn(manifest_path)
    except (stages.BatchRejected, SourceConfigError, WarehouseVersionError) as exc:  # a human must fix these
        raise AirflowFailException(str(exc)) from exc


@dag(
    dag_id="newsdesk_nightly",
    schedule=CronDataIntervalTimetable(f"{SCHEDULE_AT.minute} {SCHEDULE_AT.hour} * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=OPS.dagrun_timeout,
    on_failure_callback=NewsdeskNotifier(event="dag_failed"),
    deadline=_deadline(),
    default_args={
        "owner": "newsdesk",
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": 2.0,
    },
    params={
        "input_dir": Param(None, type=["null", "string"],
                           description="Folder of input articles (default: NEWSDESK_INPUT)."),
        "warehouse": Param(None, type=["null", "string"],
                           description="Published DuckDB file (default: NEWSDESK_WAREHOUSE)."),
    },
    tags=["newsdesk"],
    doc_md=__doc__,
)
def newsdesk_nightly():
    @setup
    @task(execution_timeout=_timeout("start_run"))
    def start_run() -> str:
        ctx = get_current_context()
        params = ctx["params"]
        return stages.start_run(
            ctx["run_id"],
            logical_date=ctx.get("logical_date") or ctx["dag_run"].run_after,
            data_interval_start=ctx.get("data_interval_start"),
            data_interval_end=ctx.get("data_interval_end"),
            overrides={"input_dir": params.get("input_dir"), "warehouse": params.get("warehouse")},
        )

    @task(execution_timeout=_timeout("ingest"))
    def ingest(manifest: str) -> str:
        return _stage(stages.ingest, manifest)

    @task.short_circuit(execution_timeout=_timeout("anything_new"))
    def anything_new(manifest: str) -> str | bool:
        # nothing new: skip every stage up to publish (finalize, a teardown, still runs)
        return manifest if stages.anything_new(manifest) else False

    @task(execution_timeout=_timeout("validate_raw"))
    def validate_raw(manifest: str) -> str:
        return _stage(stages.validate_raw, manifest)

    @task(execution_timeout=_timeout("nlp_plan"))
    def nlp_plan(manifest: str) -> list[int]:
        return stages.nlp_plan(manifest)

    @task(execution_timeout=_timeout("nlp_part"))
    def nlp_part(manifest: str, part: int) -> str:
        # one mapped task per part of the batch: as many run at once as there are free workers
        attempt = get_current_context()["ti"].try_number
        return _stage(functools.partial(stages.nlp_part, part=part, attempt=attempt), manifest)

    @task(execution_timeout=_timeout("nlp_link"))
    def nlp_link(manifest: str) -> str:
        return _stage(stages.nlp_link, manifest)

    @task(execution_timeout=_timeout("validate_nlp"))
    def validate_nlp(manifest: str) -> str:
        return _stage(stages.validate_nlp, manifest)

    @task(execution_timeout=_timeout("load"), pool=WAREHOUSE_POOL)
    def load(manifest: str) -> str:
        return _stage(stages.load, manifest)

    @task(execution_timeout=_timeout("validate_warehouse"))
    def validate_warehouse(manifest: str) -> str:
        return _stage(stages.validate_warehouse, manifest)

    @task(execution_timeout=_timeout("dbt_build"), pool=WAREHOUSE_POOL)
    def dbt_build(manifest: str) -> str:
        return _stage(stages.dbt_build, manifest)

    @task(execution_timeout=_timeout("validate_marts"))
    def validate_marts(manifest: str) -> str:
        return _stage(stages.validate_marts, manifest)

    @task(execution_timeout=_timeout("publish"), retries=0, outlets=[MARTS], pool=WAREHOUSE_POOL)
    def publish(manifest: str) -> str:
        # No automatic retry: a publish conflict means another run won; a human re-runs.
        done = _stage(stages.publish, manifest)
        # the Asset event says which snapshot was published (downstream DAGs read it)
        get_current_context()["outlet_events"][MARTS].extra = stages.published_snapshot(done)
        return done

    @teardown
    @task(execution_timeout=_timeout("finalize"))
    def finalize(manifest: str) -> dict:
        return stages.finalize(manifest)

    manifest = start_run()
    raw = validate_raw(anything_new(ingest(manifest)))
    parts = nlp_part.partial(manifest=raw).expand(part=nlp_plan(raw))
    linked = nlp_link(raw)
    parts >> linked
    published = publish(validate_marts(dbt_build(validate_warehouse(load(validate_nlp(linked))))))
    published >> finalize(manifest)


newsdesk_nightly_dag = newsdesk_nightly()
