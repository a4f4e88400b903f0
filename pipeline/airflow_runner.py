"""Run the nightly DAG through Airflow from the command line (``dag.test()``).

``newsdesk run`` must go through Airflow, not around it: the same DAG file, the same tasks,
the same XCom hand-offs as under the scheduler. ``dag.test()`` runs every task in this
process against a SQLite metadata database inside the state folder, so a new user needs no
Airflow deployment. Airflow reads its configuration at import time, so the environment is
prepared before the first ``import airflow``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings

DAG_ID = "newsdesk_nightly"


def airflow_env(settings: Settings, *, quiet: bool = True) -> dict[str, str]:
    """Environment for Airflow commands on this project (also used by ``newsdesk airflow``)."""
    home = settings.airflow_home
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.project_dir / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING" if quiet else "INFO",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",  # the web UI/API listens on loopback unless told otherwise
        # metrics under their new names only: the legacy-name lookup reads Airflow's metrics
        # registry (a YAML file, ~0.4 s) at import, which every run and worker process paid
        "AIRFLOW__METRICS__LEGACY_NAMES_ON": "False",
        "NEWSDESK_PROJECT_DIR": str(settings.project_dir),
        "NEWSDESK_INPUT": str(settings.input_dir),
        "NEWSDESK_WAREHOUSE": str(settings.warehouse),
        **({"NEWSDESK_LAKE_DATA": str(settings.lake_data)} if settings.lake_data else {}),
        "NEWSDESK_STATE": str(settings.state_dir),
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    # keep what the user set explicitly (e.g. a Postgres metadata DB, a public API host), not
    # what an earlier run in this process set (its state folder's SQLite file, see _prepare)
    keep = ("AIRFLOW__DATABASE", "AIRFLOW__API__HOST", "AIRFLOW__METRICS")
    ours = os.environ.get(_OURS_ENV)
    return {k: os.environ[k] if k.startswith(keep) and os.environ.get(k) not in (None, ours) else v
            for k, v in env.items()}


# The metadata DB URL this process last set for itself: not a user's choice to keep.
_OURS_ENV = "NEWSDESK_AIRFLOW_DB_SET"


# The DAG's 1-slot pool for the stages that write the warehouse (dags/newsdesk_nightly.py).
WAREHOUSE_POOL = ("newsdesk_warehouse", "1",
                  "stages that write the newsdesk warehouse (load, dbt_build, publish): never two at once")


def ensure_metadata_db(settings: Settings, env: dict[str, str]) -> None:
    """Create or upgrade Airflow's metadata database and the DAG's pool (idempotent, a few seconds)."""
    marker = settings.airflow_home / ".migrated"
    version_tag = f"{_airflow_version()} pool={WAREHOUSE_POOL[0]}:{WAREHOUSE_POOL[1]}"
    if marker.exists() and marker.read_text() == version_tag:
        return
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    for command in (["db", "migrate"], ["pools", "set", *WAREHOUSE_POOL]):
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *command],
            env={**os.environ, **env}, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(command)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    marker.write_text(version_tag)


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def load_dag(dag_file: Path, attribute: str = "newsdesk_nightly_dag") -> Any:
    spec = importlib.util.spec_from_file_location(f"{dag_file.stem}_dagfile", dag_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {dag_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def _prepare(settings: Settings, *, quiet: bool, retry_delay_seconds: int = 5) -> None:
    """Airflow reads its configuration at import: set the environment, migrate, configure the ORM."""
    env = airflow_env(settings, quiet=quiet)
    env["NEWSDESK_RETRY_DELAY_SECONDS"] = os.environ.get("NEWSDESK_RETRY_DELAY_SECONDS", str(retry_delay_seconds))
    if env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{settings.airflow_home / 'airflow.db'}":
        env[_OURS_ENV] = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]  # ours: a later run here may pick its own
    os.environ.update(env)
    ensure_metadata_db(settings, env)
    if quiet:
        for name in ("airflow", "alembic", "sqlalchemy", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
    from airflow import settings as af_settings

    if af_settings.Session is None or env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] != af_settings.SQL_ALCHEMY_CONN:
        # Airflow read its settings when first imported, possibly before this environment was set
        # (e.g. a DAG parsed earlier in the same process): point its ORM at this project's database.
        af_settings.configure_vars()
        af_settings.dispose_orm(do_log=False)
        af_settings.configure_orm()


def run_dag(settings: Settings, *, logical_date: datetime | None = None, quiet: bool = True,
            retry_delay_seconds: int = 5) -> dict[str, Any]:
    """Execute one DAG run in-process; return its run id and final state.

    With a ``logical_date``, ``run_after`` is set to it too, so the run id (and the batch id
    derived from it) is the same every time that date is run: re-running a killed or failed
    interval replaces the earlier Airflow run and reuses its run folder.
    """
    from pipeline import dbt_worker, entities, gx_worker

    # every task runs in this process under dag.test: GX imports on the other core while
    # Airflow starts and ingest runs, and then validates every stage; once the night has
    # something to build, dbt imports and parses there while the stages before dbt_build run;
    # the NLP parts share one set of NER workers
    with dbt_worker.for_this_run(), entities.workers_for_this_run(), gx_worker.for_this_run(settings):
        return _run_dag_test(settings, logical_date=logical_date, quiet=quiet,
                             retry_delay_seconds=retry_delay_seconds)


def _run_dag_test(settings: Settings, *, logical_date: datetime | None, quiet: bool,
                  retry_delay_seconds: int) -> dict[str, Any]:
    _prepare(settings, quiet=quiet, retry_delay_seconds=retry_delay_seconds)
    from pipeline import execution_api
    from pipeline.runlock import OWNER_ENV

    execution_api.install()  # dag.test's in-process API: the SDK's API version only (5-7 s less per run)

    os.environ[OWNER_ENV] = str(os.getpid())  # dag.test runs every task here: this process holds the run lock
    dag = load_dag(settings.project_dir / "dags" / "newsdesk_nightly.py")
    from pipeline.runs import tune_gc_for_one_process_run

    tune_gc_for_one_process_run()  # every task runs in this process: keep the collector off the libraries
    # dag.test runs no scheduler loop, so no deadline could ever fire here; and Airflow 3.3.2's
    # dag.test, on a successful run of a DAG with a DeadlineAlert, looks the alerts up by the
    # ids of a DAG it serialized itself (dicts, not UUIDs) and fails. The scheduled DAG keeps it.
    dag.deadline = None
    conf = {"input_dir": str(settings.input_dir), "warehouse": str(settings.warehouse)}
    kwargs: dict[str, Any] = {"run_conf": conf}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
        kwargs["run_after"] = logical_date
    dr = dag.test(**kwargs)
    return {"run_id": dr.run_id, "state": str(getattr(dr.state, "value", dr.state)),
            "data_interval": [str(dr.data_interval_start), str(dr.data_interval_end)]}


def backfill_intervals(settings: Settings, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The DAG's scheduled data intervals whose logical date lies in ``[start, end]``.

    Asked of the DAG's own timetable the way the scheduler asks it (``next_dagrun_info``
    with catch-up), so the CLI backfill and ``airflow backfill create`` cover the same runs.
    """
    _prepare(settings, quiet=True)
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(load_dag(settings.project_dir / "dags" / "newsdesk_nightly.py").timetable)
    restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
    out: list[tuple[datetime, datetime]] = []
    last = None
    while (info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)):
        out.append((info.data_interval.start, info.data_interval.end))
        last = info.data_interval
    return out


def run_backfill(settings: Settings, start: datetime, end: datetime, *, quiet: bool = True) -> list[dict[str, Any]]:
    """One ``dag.test`` run per scheduled interval in ``[start, end]``, oldest first.

    Each run is given its interval's end as logical date, so ``dag.test`` infers exactly
    that data interval and ingest takes the inputs modified before its end. Stops at the
    first failed interval: later ones would be built on a warehouse missing its data.
    """
    results = []
    for interval_start, interval_end in backfill_intervals(settings, start, end):
        result = run_dag(settings, logical_date=interval_end, quiet=quiet)
        results.append({**result, "interval": [interval_start.isoformat(), interval_end.isoformat()]})
        if result["state"] != "success":
            break
    return results
