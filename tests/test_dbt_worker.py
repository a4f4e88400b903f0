"""The night's dbt runs in a process warmed up (dbt imported, project parsed) during the first stages.

``newsdesk run`` starts it once the night has something to build; ``dbt_build`` hands it the night's build and gets
the same results it would compute in-process, every model, test and unit test included. A
failing test is the same ``DbtFailed``; a worker that died or cannot answer makes the stage
run dbt itself.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import duckdb
import pytest

from pipeline import dbt_worker, warehouse
from pipeline.dbt import NODE_RESULTS, BuildRequest, DbtFailed

from .test_dbt_actor_resolution import REPO, build_warehouse


def _request(tmp_path: Path, db: Path) -> BuildRequest:
    return BuildRequest(project_dir=REPO / "dbt_project", database=db, work_dir=tmp_path / "run" / "dbt",
                        dbt_vars={"tests_scope": "batch"}, cache_dir=tmp_path / "state" / "dbt-parse",
                        progress="test dbt build")


@pytest.fixture
def warm_db(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    warehouse.set_build_batch(db, "b1")
    with dbt_worker.for_this_run():
        yield db


def test_the_warm_process_builds_every_node_and_reports_freshness(tmp_path: Path, warm_db: Path) -> None:
    worker = dbt_worker.start(_request(tmp_path, warm_db))
    assert worker is not None
    outcome, info = dbt_worker.run_build(_request(tmp_path, warm_db))
    assert info["warm"] is True and info["pid"] == worker.process.pid and info["warmup_error"] is None
    kinds = {n["resource_type"] for n in outcome.build.nodes}
    assert {"model", "test", "unit_test"} <= kinds and not outcome.build.failures
    assert sum(n["resource_type"] == "test" for n in outcome.build.nodes) >= 40
    assert {n["name"] for n in outcome.freshness.nodes} >= {"articles"}
    # no dbt JSON artifacts (nothing reads them); every node's result is kept in the night's dbt folder
    kept = json.loads((tmp_path / "run" / "dbt" / NODE_RESULTS).read_text())
    assert set(kept) == {"build", "source freshness"} and len(kept["build"]) == len(outcome.build.nodes)
    assert not (tmp_path / "run" / "dbt" / "target" / "run_results.json").exists()
    assert list((tmp_path / "run" / "dbt" / "target" / "compiled").rglob("*.sql"))
    # the marts are in the work database, and the worker let go of it
    with duckdb.connect(str(warm_db)) as con:
        assert con.execute("select count(*) from mentions_per_actor").fetchone()[0] > 0
    # the warm-up's own folder goes when the run ends; the partial parse is kept for tomorrow
    dbt_worker.stop()
    assert not worker.process.is_alive() and not worker.work_dir.exists()
    assert list((tmp_path / "state" / "dbt-parse").glob("*.msgpack"))


def test_a_failing_build_is_dbt_failed_as_in_process(tmp_path: Path, warm_db: Path) -> None:
    with duckdb.connect(str(warm_db)) as con:  # a source the models read is gone
        con.execute("drop table quotes")
    dbt_worker.start(_request(tmp_path, warm_db))
    with pytest.raises(DbtFailed) as failed:
        dbt_worker.run_build(_request(tmp_path, warm_db))
    assert failed.value.failures and failed.value.command.startswith("build")
    kept = json.loads((tmp_path / "run" / "dbt" / NODE_RESULTS).read_text())["build"]
    assert {f["name"] for f in failed.value.failures} <= {n["name"] for n in kept if n["status"] != "pass"}


def test_a_dead_worker_means_dbt_runs_in_process(tmp_path: Path, warm_db: Path) -> None:
    worker = dbt_worker.start(_request(tmp_path, warm_db))
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(10)
    outcome, info = dbt_worker.run_build(_request(tmp_path, warm_db))
    assert info == {"warm": False} and not outcome.build.failures
    assert dbt_worker._CURRENT is None


def test_it_can_be_switched_off(tmp_path: Path, warm_db: Path, monkeypatch) -> None:
    monkeypatch.setenv(dbt_worker.DISABLE_ENV, "0")
    assert dbt_worker.start(_request(tmp_path, warm_db)) is None


def test_a_big_night_starts_none(tmp_path: Path, warm_db: Path) -> None:
    # its memory would sit beside the NLP stage's peak for the whole stage
    assert dbt_worker.start(_request(tmp_path, warm_db), new_articles=dbt_worker.WARM_MAX_ARTICLES + 1) is None
    assert dbt_worker.start(_request(tmp_path, warm_db), new_articles=dbt_worker.WARM_MAX_ARTICLES) is not None


def test_only_a_process_running_the_whole_night_starts_one(tmp_path: Path) -> None:
    # e.g. a Celery worker running anything_new: nothing there would use it
    assert dbt_worker.start(_request(tmp_path, tmp_path / "w.duckdb")) is None
