"""The nightly DAG on a real CeleryExecutor: two workers, a kill -9, and the same warehouse as dag.test.

``newsdesk cluster up`` starts Debian's PostgreSQL and redis-server, Airflow's api-server,
scheduler, dag-processor and two Celery workers (concurrency 1) on free loopback ports under
a temporary state folder; the DAG publishes to a DuckLake (catalog in that PostgreSQL).
Night 1: a few hundred real BBC articles, cut into parts that both workers take. Night 2:
more articles, and one worker is killed (SIGKILL to it and its task processes) while its
NLP part runs: the scheduler finds the task's heartbeat gone and retries it on the other
worker. After each night every mart and detail table equals, row for row, what ``newsdesk
run`` (the same DAG through ``dag.test``, one process, the DuckDB file) publishes from the
same inputs. Everything the test started is stopped, also when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from pipeline import cluster
from pipeline.config import Settings
from tests.conftest import shared_data_dir
from tests.services_util import (
    assert_same_tables,
    bbc_jsonl,
    comparable_tables,
    need_servers,
    newsdesk_run,
    searchable_tmpdir,
)

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

PART = 25  # articles per NLP part: night 1 is 4 parts, night 2 adds 3
RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def lab():
    shared = shared_data_dir()
    if shared is None:
        pytest.skip("../shared/data is absent: the cluster test runs on real articles")
    need_servers(redis=True)
    root = searchable_tmpdir("newsdesk-cluster-test-")
    night1, night2 = root / "night1", root / "night2"
    n1 = bbc_jsonl(shared, night1 / "business.jsonl", "business", 0, 100)
    shutil.copytree(night1, night2)
    n2 = bbc_jsonl(shared, night2 / "politics.jsonl", "politics", 0, 75)
    (root / "empty").mkdir()
    env = {"NEWSDESK_INPUT": str(root / "empty"),  # the scheduler's own nightly run finds nothing
           "NEWSDESK_NLP_BATCH": str(PART), "NEWSDESK_RETRY_DELAY_SECONDS": "2", "NEWSDESK_TASK_RETRIES": "2"}
    with pytest.MonkeyPatch.context() as mp:
        for k in [k for k in os.environ if k.startswith(("NEWSDESK_", "AIRFLOW"))]:
            mp.delenv(k)
        for k, v in env.items():
            mp.setenv(k, v)
        settings = Settings.from_env(state_dir=root / "state")
        t0 = time.monotonic()
        try:
            c = cluster.up(settings, workers=2, heartbeat_timeout=30, timeout=600)
            mp.setenv("PGPASSFILE", c.warehouse_env()["PGPASSFILE"])
            yield {"root": root, "settings": settings, "cluster": c, "nights": (night1, night2), "n": (n1, n2),
                   "env": env, "up_seconds": time.monotonic() - t0}
        finally:
            cluster.down(settings)
            shutil.rmtree(root, ignore_errors=True)


def lake_of(lab):
    return Settings.from_env(state_dir=lab["settings"].state_dir, **{
        "warehouse": lab["cluster"].warehouse_env()["NEWSDESK_WAREHOUSE"],
        "lake_data": lab["cluster"].warehouse_env()["NEWSDESK_LAKE_DATA"]}).warehouse


def wait_idle(settings: Settings, timeout: float = RUN_TIMEOUT) -> None:
    c = cluster.Cluster.load(settings)
    deadline = time.monotonic() + timeout
    while c.postgres.sql("SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')",
                         cluster.AIRFLOW_DB) != "0":
        assert time.monotonic() < deadline, "the scheduler's own run did not finish"
        time.sleep(2)


def part_records(settings: Settings, run_id: str) -> list[dict]:
    from pipeline.runs import Manifest

    for manifest in settings.runs_dir.glob("*/manifest.json"):
        if json.loads(manifest.read_text())["run_id"] == run_id:
            return [r for r in Manifest.load(manifest).stage_records() if r["stage"] == "nlp_part"]
    raise AssertionError(f"no run folder for {run_id}")


def reference(lab, nights: int) -> dict:
    """The same nights through ``newsdesk run`` (dag.test, one process, DuckDB file)."""
    ref = lab["root"] / "reference"
    for night in lab["nights"][:nights]:
        if not (ref / f"done-{night.name}").exists():
            newsdesk_run(night, ref / "state", ref / "wh" / "news.duckdb", NEWSDESK_NLP_BATCH=str(PART),
                         NEWSDESK_NLP_PROCESSES="1")
            (ref / f"done-{night.name}").touch()
    return comparable_tables(ref / "wh" / "news.duckdb")


def test_two_workers_run_the_parts_and_the_marts_equal_dag_test(lab) -> None:
    settings = lab["settings"]
    wait_idle(settings)
    t0 = time.monotonic()
    run_id = cluster.trigger(settings, lab["nights"][0])
    assert cluster.wait(settings, run_id, timeout=RUN_TIMEOUT) == "success"
    print(f"cluster up {lab['up_seconds']:.0f}s, night 1 ({lab['n'][0]} articles) {time.monotonic() - t0:.0f}s")
    parts = part_records(settings, run_id)
    assert len(parts) == -(-lab["n"][0] // PART)
    workers = {r["detail"]["hostname"].split("@")[0] for r in parts}
    assert workers == {"worker-1", "worker-2"}, f"parts ran on {workers}"
    # the same is in run_log, as every analyst sees it
    with cluster_lake_connection(lab) as con:
        logged = con.execute("SELECT DISTINCT split_part(detail->>'hostname', '@', 1) FROM run_log "
                             "WHERE stage = 'nlp_part'").fetchall()
    assert {h for (h,) in logged} == {"worker-1", "worker-2"}
    assert_same_tables(comparable_tables(lake_of(lab)), reference(lab, 1))


def cluster_lake_connection(lab):
    from pipeline import snapshots

    return snapshots.connect_published(lake_of(lab))


def test_a_worker_killed_mid_part_is_retried_on_the_other_and_nothing_is_lost_or_doubled(lab) -> None:
    settings = lab["settings"]
    c = cluster.Cluster.load(settings)
    run_id = cluster.trigger(settings, lab["nights"][1])
    deadline = time.monotonic() + RUN_TIMEOUT
    victim = part = None
    while victim is None:  # a part that has started and not finished: kill the worker running it
        assert time.monotonic() < deadline, "no NLP part started"
        for started in sorted(settings.runs_dir.glob("*/nlp-parts/part-*.started.json")):
            done = started.with_name(started.name.replace(".started.", ".done."))
            if not done.exists() and run_id in (started.parents[1] / "manifest.json").read_text():
                victim, part = json.loads(started.read_text())["hostname"].split("@")[0], started.name[5:10]
                break
        time.sleep(0.2)
    cluster.stop_worker(c, victim, kill=True)
    assert cluster.wait(settings, run_id, timeout=RUN_TIMEOUT) == "success"
    tries = {ti["map_index"]: ti for ti in cluster.task_instances(settings, run_id) if ti["task_id"] == "nlp_part"}
    killed = tries[str(int(part))]
    assert int(killed["try_number"]) >= 2, killed
    records = part_records(settings, run_id)
    redone = [r for r in records if r["rows"]["part"] == int(part)]
    assert len(redone) == 1 and redone[0]["detail"]["hostname"].split("@")[0] != victim
    assert redone[0]["detail"]["attempt"] >= 2
    assert_same_tables(comparable_tables(lake_of(lab)), reference(lab, 2))
