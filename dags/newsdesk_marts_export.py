"""newsdesk marts export: Parquet copies of the published marts, each time a night publishes.

Scheduled on the Asset ``newsdesk_marts`` that ``newsdesk_nightly``'s ``publish`` task
updates, so it runs once per published snapshot and never for a night that found nothing
new. It is the example other teams copy to hang their own work on the marts: the Asset
event's ``extra`` names the snapshot that was published.

Files go to ``NEWSDESK_EXPORT_DIR`` (default ``<state>/exports``), one folder per snapshot
with ``<mart>.parquet`` files and a ``manifest.json``; ``latest`` points at the newest.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.alerts import NewsdeskNotifier
from pipeline.assets import MARTS
from pipeline.config import Operations

OPS = Operations.from_env()


@dag(
    dag_id="newsdesk_marts_export",
    schedule=[MARTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=OPS.dagrun_timeout,
    on_failure_callback=NewsdeskNotifier(event="dag_failed"),
    default_args={"owner": "newsdesk", "retries": 1},
    tags=["newsdesk"],
    doc_md=__doc__,
)
def newsdesk_marts_export():
    @task(execution_timeout=OPS.task_timeouts.get("export_marts"))
    def export_marts() -> dict:
        from pipeline.config import Settings
        from pipeline.export import export_snapshot

        events = get_current_context().get("triggering_asset_events") or {}
        extras = [e.extra for evs in events.values() for e in evs if e.extra]
        settings = Settings.from_env()
        out = os.environ.get("NEWSDESK_EXPORT_DIR") or str(settings.state_dir / "exports")
        return export_snapshot(settings.warehouse, out, expected=extras[-1] if extras else None)

    export_marts()


newsdesk_marts_export_dag = newsdesk_marts_export()
