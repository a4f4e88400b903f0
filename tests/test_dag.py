"""The DAG file parses cleanly and has the shape the pipeline promises (no run needed)."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("airflow")


@pytest.fixture(scope="module")
def dag():
    from pipeline.airflow_runner import load_dag

    return load_dag(REPO / "dags" / "newsdesk_nightly.py")


def test_stages_run_in_order_and_finalize_is_a_teardown(dag) -> None:
    chain = ["start_run", "ingest", "anything_new", "validate_raw", "nlp_plan", "nlp_part", "nlp_link",
             "validate_nlp", "load", "validate_warehouse", "dbt_build", "validate_marts", "publish"]
    for upstream, downstream in itertools.pairwise(chain):
        assert upstream in dag.get_task(downstream).upstream_task_ids, (upstream, downstream)
    finalize = dag.get_task("finalize")
    assert finalize.is_teardown and "publish" in finalize.upstream_task_ids
    assert dag.get_task("start_run").is_setup


def test_nightly_schedule_without_overlap_and_with_retries(dag) -> None:
    assert dag.max_active_runs == 1
    assert not dag.catchup
    from airflow.serialization.encoders import coerce_to_core_timetable

    assert coerce_to_core_timetable(dag.timetable).summary == "30 2 * * *"
    assert dag.get_task("nlp_part").retries >= 1
    assert dag.dagrun_timeout is not None and dag.dagrun_timeout < timedelta(hours=24), "the next night must start"
    assert dag.get_task("publish").retries == 0  # a publish conflict needs a person, not a retry
    assert set(dag.params) == {"input_dir", "warehouse"}


def test_nlp_is_mapped_over_parts_and_warehouse_writers_share_a_one_slot_pool(dag) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("nlp_part"), MappedOperator)
    assert "nlp_plan" in dag.get_task("nlp_part").upstream_task_ids
    assert {t: dag.get_task(t).pool for t in ("load", "dbt_build", "publish")} == dict.fromkeys(
        ("load", "dbt_build", "publish"), "newsdesk_warehouse")
    assert dag.get_task("validate_nlp").pool == "default_pool"


def test_dag_file_imports_no_heavy_libraries_at_parse_time() -> None:
    """The scheduler parses DAG files often: spaCy, dbt and GX load only inside tasks."""
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('d', {str(REPO / 'dags' / 'newsdesk_nightly.py')!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "heavy = [x for x in ('spacy', 'great_expectations', 'dbt.cli.main') if x in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([""], []), out.stdout


def test_every_task_has_a_timeout_and_the_run_alerts(dag) -> None:
    from pipeline.alerts import NewsdeskNotifier

    for t in dag.tasks:
        assert t.execution_timeout is not None and t.execution_timeout > timedelta(0), t.task_id
    assert dag.get_task("nlp_part").execution_timeout >= timedelta(hours=1)  # a 100k first load takes ~25 min
    callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    assert any(isinstance(c, NewsdeskNotifier) and c.event == "dag_failed" for c in callbacks)
    (alert,) = dag.deadline
    assert alert.interval == timedelta(hours=4)  # queued at 02:30, published by 06:30 UTC
    assert alert.callback.path == "pipeline.alerts.NewsdeskNotifier"
    assert alert.callback.kwargs == {"event": "deadline_missed"}


def test_timeouts_and_deadline_come_from_the_environment() -> None:
    from pipeline.config import Operations

    ops = Operations.from_env({"NEWSDESK_TASK_TIMEOUTS": "nlp=15, dbt_build=5", "NEWSDESK_PUBLISH_BY": "01:00",
                               "NEWSDESK_DAGRUN_TIMEOUT_HOURS": "3"})
    assert ops.task_timeouts["nlp"] == timedelta(minutes=15) and ops.task_timeouts["ingest"] == timedelta(minutes=90)
    assert ops.dagrun_timeout == timedelta(hours=3)
    from datetime import time

    assert ops.publish_deadline_after(time(2, 30)) == timedelta(hours=22, minutes=30)  # by 01:00 the next day
    assert Operations.from_env({"NEWSDESK_PUBLISH_BY": "off"}).publish_deadline_after(time(2, 30)) is None
    for bad in ({"NEWSDESK_TASK_TIMEOUTS": "nlp=soon"}, {"NEWSDESK_PUBLISH_BY": "6h30"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Operations.from_env(bad)


def test_publish_updates_the_marts_asset_and_the_export_dag_is_scheduled_on_it(dag) -> None:
    from pipeline.airflow_runner import load_dag
    from pipeline.assets import MARTS

    assert MARTS in dag.get_task("publish").outlets
    export = load_dag(REPO / "dags" / "newsdesk_marts_export.py", "newsdesk_marts_export_dag")
    assert list(export.timetable.asset_condition.objects) == [MARTS]
    assert export.get_task("export_marts").execution_timeout is not None


def test_dag_files_import_only_airflow_sdk_names() -> None:
    """The Task SDK is the DAG-author interface in Airflow 3: no core airflow.* imports in dags/."""
    for path in sorted((REPO / "dags").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("airflow"):
                    assert name == "airflow.sdk" or name.startswith("airflow.sdk."), f"{path.name}: {name}"


def test_dagbag_imports_and_serializes_every_dag(tmp_path, monkeypatch) -> None:
    """What the DAG processor does: parse the folder with a DagBag, serialize, deserialize."""
    from pipeline.airflow_runner import airflow_env
    from pipeline.config import Settings

    settings = Settings.from_env(state_dir=tmp_path / "state", warehouse=tmp_path / "wh" / "n.duckdb")
    code = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from airflow.serialization.serialized_objects import DagSerialization\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "out = {'errors': {k: str(v)[:500] for k, v in bag.import_errors.items()}, 'dags': {}}\n"
        "for dag_id, dag in bag.dags.items():\n"
        "    data = DagSerialization.to_dict(dag)\n"
        "    back = DagSerialization.from_dict(json.loads(json.dumps(data)))\n"
        "    out['dags'][dag_id] = {'tasks': sorted(back.task_ids), 'deadline': bool(data['dag'].get('deadline')),\n"
        "                          'timeout': str(back.dagrun_timeout)}\n"
        "print(json.dumps(out))\n"
    )
    env = {**{k: v for k, v in __import__("os").environ.items() if not k.startswith(("AIRFLOW", "NEWSDESK_"))},
           **airflow_env(settings)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert set(out["dags"]) == {"newsdesk_nightly", "newsdesk_marts_export"}
    assert "publish" in out["dags"]["newsdesk_nightly"]["tasks"] and out["dags"]["newsdesk_nightly"]["deadline"]
    assert out["dags"]["newsdesk_marts_export"]["tasks"] == ["export_marts"]


def test_a_second_run_in_one_process_uses_its_own_state_folders_metadata_db(tmp_path, monkeypatch) -> None:
    """What a run set for itself is not a user's setting: the next run's state folder gets its own
    SQLite metadata DB (a Postgres URL the user exported is kept)."""
    from pipeline import airflow_runner
    from pipeline.config import Settings

    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    monkeypatch.delenv(airflow_runner._OURS_ENV, raising=False)
    first, second = (Settings.from_env(state_dir=tmp_path / n) for n in ("a", "b"))
    env = airflow_runner.airflow_env(first)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    monkeypatch.setenv(airflow_runner._OURS_ENV, env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])  # as _prepare does
    assert airflow_runner.airflow_env(second)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("b/airflow/airflow.db")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://u@127.0.0.1/af")
    assert airflow_runner.airflow_env(second)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql://u@127.0.0.1/af"
