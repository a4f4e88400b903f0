"""The whole nightly DAG, run through Airflow (``dag.test()`` on SQLite) on the seed article.

The scenarios share one state folder because Airflow reads its home once per process; they
run in file order and build on each other: a first run publishes, a second run on the same
input changes nothing, a broken batch is quarantined while the published marts stay as they
were, and the next good run records the failed one in run_log.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline import airflow_runner, stages, warehouse
from pipeline.alert_log import read_alerts
from pipeline.cli import main as cli_main
from pipeline.config import Settings

from .listeners import webhook_listener

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "seeds" / "000_622b7633600e6242.txt"
DETAIL_TABLES = ("articles", "sentences", "tokens", "entity_mentions", "quotes", "quarantine",
                 "mentions_per_actor", "quote_counts_per_source")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("e2e")
    (root / "input").mkdir()
    shutil.copy(SEED, root / "input" / SEED.name)
    return Settings.from_env(input_dir=root / "input", warehouse=root / "wh" / "news.duckdb",
                             state_dir=root / "state")


def run(settings: Settings) -> dict:
    return airflow_runner.run_dag(settings)


def tables(path: Path) -> dict[str, pl.DataFrame]:
    with warehouse.connect(path, read_only=True) as con:
        return {t: warehouse.query_frame(con, f"SELECT * FROM {t}").sort(pl.all()) for t in DETAIL_TABLES}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_dir(settings: Settings, run_id: str) -> Path:
    for manifest in settings.runs_dir.glob("*/manifest.json"):
        if json.loads(manifest.read_text())["run_id"] == run_id:
            return manifest.parent
    raise AssertionError(f"no run folder for {run_id}")


def test_first_run_publishes_marts(env: Settings) -> None:
    result = run(env)
    assert result["state"] == "success"
    con = duckdb.connect(str(env.warehouse), read_only=True)
    actors = dict(con.execute("SELECT actor, actor_type FROM mentions_per_actor").fetchall())
    for person in ("Donald Trump", "Vladimir Putin", "Volodymyr Zelenskiy", "Oleksandr Syrskyi", "John Bolton"):
        assert actors.get(person) == "person", person
    assert "Trump" not in actors and "President-elect Donald Trump" not in actors
    trump = con.execute("SELECT mentions, articles FROM mentions_per_actor WHERE actor = 'Donald Trump'").fetchall()[0]
    assert trump[0] >= 10 and trump[1] == 1
    sources = dict(con.execute("SELECT source, quotes FROM quote_counts_per_source").fetchall())
    assert sources == {"Volodymyr Zelenskiy": 4, "Oleksandr Syrskyi": 3, "Donald Trump": 3, "John Bolton": 2,
                       "Russia": 1}
    assert con.execute("SELECT count(*) FROM quotes WHERE speaker IS NULL").fetchall()[0][0] == 0
    # mart totals equal the detail tables
    assert con.execute("SELECT sum(mentions) FROM mentions_per_actor").fetchall()[0][0] == con.execute(
        "SELECT count(*) FROM entity_mentions").fetchall()[0][0]
    # every stage of the run is in the run log, with timings and row counts
    log = con.execute("SELECT stage, status, seconds, rows FROM run_log ORDER BY started_at").fetchall()
    stages = [r[0] for r in log]
    assert stages == ["ingest", "validate_raw", "nlp_part", "nlp", "validate_nlp", "load", "validate_warehouse",
                      "dbt_build", "validate_marts", "publish"]
    assert all(r[1] == "success" and r[2] >= 0 for r in log)
    assert json.loads(log[0][3])["new_articles"] == 1
    assert con.execute("SELECT count(*) FROM publish_log").fetchall()[0][0] == 1
    con.close()
    # the run folder holds the GX results of every validation stage
    folder = run_dir(env, result["run_id"])
    for stage in ("raw", "nlp", "warehouse", "marts"):
        assert json.loads((folder / "validation" / f"{stage}.json").read_text())["success"] is True
    # validated by the GX process warmed up while Airflow started (one for the night), whose
    # Data Docs the run's end waited for: the index lists the four stages of this batch
    workers = {json.loads((folder / "stages" / f"validate_{stage}.json").read_text())["detail"]["gx_process"]["pid"]
               for stage in ("raw", "nlp", "warehouse", "marts")}
    assert len(workers) == 1 and None not in workers
    index = (env.state_dir / "gx" / "data_docs" / "index.html").read_text()
    batch = folder.name
    assert all(f"{batch}-{stage}" in index for stage in ("raw", "nlp", "warehouse", "marts"))


def test_second_run_on_same_input_changes_nothing(env: Settings) -> None:
    before = tables(env.warehouse)
    result = run(env)
    assert result["state"] == "success"
    after = tables(env.warehouse)
    for name in DETAIL_TABLES:
        assert before[name].equals(after[name]), f"{name} changed on a re-run"
    folder = run_dir(env, result["run_id"])
    ingest = json.loads((folder / "stages" / "ingest.json").read_text())
    # the seen-inputs manifest says the file is unchanged: it is not even opened
    assert ingest["rows"]["files_unchanged"] == 1 and ingest["rows"]["files_read"] == 0
    assert ingest["rows"]["new_articles"] == 0
    # nothing new: the run stops after ingest (no NLP, no warehouse copy, no dbt) and says so
    assert json.loads((folder / "outcome.json").read_text())["status"] == "unchanged"
    assert sorted(p.stem for p in (folder / "stages").glob("*.json")) == ["ingest"]
    # ... and Airflow still recorded the run (issue #17 made this night cheap, not invisible)
    import sqlite3

    with sqlite3.connect(env.airflow_home / "airflow.db") as db:
        assert db.execute("SELECT state FROM dag_run WHERE run_id = ?", [result["run_id"]]).fetchall() == [("success",)]
        states = dict(db.execute("SELECT task_id, state FROM task_instance WHERE run_id = ?", [result["run_id"]]))
    assert states["ingest"] == states["anything_new"] == states["finalize"] == "success"
    assert states["validate_raw"] == states["dbt_build"] == states["publish"] == "skipped"


def test_broken_batch_is_quarantined_and_published_marts_survive(env: Settings, monkeypatch) -> None:
    published_digest = file_digest(env.warehouse)
    # A story whose paragraphs lost their line breaks into the first line: a 1,500-character
    # "headline". Ingest refuses that article alone (title_too_long, naming its file); the
    # other new article goes on, and a raw suite made to fail (fault hook) quarantines the batch.
    (env.input_dir / "runaway_headline.txt").write_text(
        "Breaking " + "news without any line break " * 55 + "\n\nThe last paragraph survived.\n")
    lines = SEED.read_text().splitlines()
    (env.input_dir / "second.txt").write_text("\n".join(["A second look at the front", "", *lines[4:12]]) + "\n")
    monkeypatch.setenv(stages.FAIL_HOOK_ENV, "raw")
    with webhook_listener() as (url, posts):  # the night's failure alert reaches a webhook on loopback
        monkeypatch.setenv("NEWSDESK_ALERT_WEBHOOK", url)
        result = run(env)
    assert result["state"] == "failed"
    (alert,) = [a for a in read_alerts(env.state_dir / "alerts.log") if a["run_id"] == result["run_id"]]
    assert alert["event"] == "dag_failed" and alert["status"] == "quarantined"
    assert alert["failed_stage"] == "validate_raw"
    assert [p["json"]["text"] for p in posts] == [alert["text"]]
    assert file_digest(env.warehouse) == published_digest, "a failed run must not touch the published file"
    folder = run_dir(env, result["run_id"])
    outcome = json.loads((folder / "outcome.json").read_text())
    assert outcome["status"] == "quarantined" and outcome["failed_stage"] == "validate_raw"
    reason = json.loads((env.quarantine_dir / folder.name / "reason.json").read_text())
    assert reason["reason"] == "validation_failed"
    held = pl.read_parquet(env.quarantine_dir / folder.name / "articles.parquet")
    assert held["source_path"].to_list() == ["second.txt"]
    refused = pl.read_parquet(folder / "rejected.parquet").select("input", "reason").rows()
    assert refused == [("runaway_headline.txt", "title_too_long")]
    assert not any(env.build_dir.glob("*.duckdb")), "the failed run's work database is cleaned up"


def test_next_run_skips_held_articles_and_logs_the_failed_run(env: Settings, capsys) -> None:
    result = run(env)
    assert result["state"] == "success"
    con = duckdb.connect(str(env.warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchall()[0][0] == 1
    q = con.execute("SELECT input, stage, reason FROM quarantine").fetchall()
    assert ("second.txt", "validate_raw", "validation_failed") in q
    assert ("runaway_headline.txt", "ingest", "title_too_long") in q
    failed = con.execute("SELECT stage FROM run_log WHERE status = 'failed'").fetchall()
    assert ("validate_raw",) in failed
    assert con.execute("SELECT count(DISTINCT batch_id) FROM run_log").fetchall()[0][0] == 4
    con.close()
    # the CLI shows the quarantined batch and answers SQL on the published snapshot
    assert cli_main(["quarantine", "list", "--warehouse", str(env.warehouse), "--state", str(env.state_dir)]) == 0
    assert cli_main(["sql", "SELECT source, quotes FROM quote_counts_per_source ORDER BY quotes DESC",
                     "--format", "json", "--warehouse", str(env.warehouse)]) == 0
    out = capsys.readouterr().out
    assert "validate_raw" in out and "validation_failed" in out
    rows = json.loads(out[out.index("[\n"):])
    assert rows[0] == {"source": "Volodymyr Zelenskiy", "quotes": 4}


def test_old_quarantine_rows_do_not_make_every_later_run_rebuild(env: Settings, capsys) -> None:
    """Before: once a batch had been quarantined, every later run rebuilt and republished with
    nothing new (its quarantine.parquet counted as "new" forever)."""
    snapshot = env.warehouse.resolve()
    result = run(env)
    assert json.loads((run_dir(env, result["run_id"]) / "outcome.json").read_text())["status"] == "unchanged"
    assert env.warehouse.resolve() == snapshot
    # released: the held article is read again and published once; the run after that is a no-op
    batch = next(p.name for p in env.quarantine_dir.iterdir())
    assert cli_main(["quarantine", "release", batch, "--state", str(env.state_dir),
                     "--warehouse", str(env.warehouse)]) == 0
    result = run(env)
    assert json.loads((run_dir(env, result["run_id"]) / "outcome.json").read_text())["status"] == "published"
    with warehouse.connect(env.warehouse, read_only=True) as con:
        assert warehouse.scalar(con, "SELECT count(*) FROM articles") == 2
    result = run(env)
    assert json.loads((run_dir(env, result["run_id"]) / "outcome.json").read_text())["status"] == "unchanged"


def test_every_warehouse_column_is_documented_in_dbt(env: Settings) -> None:
    """Analysts read column meanings in dbt docs: every table and column must be described there."""
    import yaml

    documented: dict[str, dict[str, str]] = {}
    for path in (REPO / "dbt_project" / "models").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text()) or {}
        for src in doc.get("sources", []):
            for table in src.get("tables", []):
                documented[table["name"]] = {c["name"]: c.get("description", "") for c in table.get("columns", [])}
        for model in doc.get("models", []):
            documented[model["name"]] = {c["name"]: c.get("description", "") for c in model.get("columns", [])}
    with warehouse.connect(env.warehouse, read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
    missing = [f"{t}.{c}" for t, c in columns if not documented.get(t, {}).get(c, "").strip()]
    assert not missing, f"columns without a dbt description: {missing}"
