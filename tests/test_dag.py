"""The DAG file parses cleanly and has the shape the pipeline promises (no run needed)."""

from __future__ import annotations

import itertools
import subprocess
import sys
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
    assert dag.timetable.summary == "30 2 * * *"
    assert dag.get_task("nlp_part").retries >= 1
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
