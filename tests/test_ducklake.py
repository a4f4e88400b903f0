"""The DuckLake warehouse (catalog in a private PostgreSQL, data files in a folder) against the DuckDB file.

Two nights of real BBC articles go through ``newsdesk run`` (the DAG, ``dag.test``) once
into a DuckDB file and once into a DuckLake: after each night every mart and detail table is
the same, row for row. Readers on the lake see the published snapshot while a run has
loaded and rebuilt the marts at the lake's head, and a failed run's commits are undone.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline import lake, snapshots, stages, warehouse
from pipeline.cli import main as cli_main
from pipeline.config import Settings
from pipeline.shell import SqlShell
from tests.conftest import shared_data_dir
from tests.services_util import (
    RUN_COLUMNS,
    assert_same_tables,
    bbc_jsonl,
    comparable_tables,
    newsdesk_run,
    private_postgres,
    searchable_tmpdir,
)


def test_a_ducklake_setting_needs_a_postgres_catalog_and_a_data_folder(tmp_path: Path) -> None:
    s = Settings.from_env(warehouse="ducklake:postgres:dbname=lake host=127.0.0.1", lake_data=tmp_path)
    assert isinstance(s.warehouse, lake.Lake) and s.warehouse.data_path == tmp_path
    assert Settings.from_dict(s.to_dict()) == s  # the manifest round trip
    assert s.build_dir == s.state_dir / "build"
    with pytest.raises(lake.LakeError, match="NEWSDESK_LAKE_DATA"):
        Settings.from_env(warehouse="ducklake:postgres:dbname=lake", lake_data="")
    with pytest.raises(lake.LakeError, match="PostgreSQL catalog"):
        Settings.from_env(warehouse="ducklake:/tmp/x.ducklake", lake_data=tmp_path)
    assert isinstance(Settings.from_env(warehouse=tmp_path / "w.duckdb").warehouse, Path)


@pytest.fixture(scope="module")
def pg():
    with private_postgres() as server:
        yield server


@pytest.fixture
def a_lake(pg, tmp_path: Path, monkeypatch, request) -> lake.Lake:
    name = "t_" + request.node.name[:40].lower()
    pg.sql(f'DROP DATABASE IF EXISTS "{name}"')
    pg.create_database(name)
    monkeypatch.setenv("PGPASSWORD", pg.password)
    return lake.Lake.parse("ducklake:postgres:" + pg.dsn(name), tmp_path / "lake-data")


def _published(target: lake.Lake) -> dict[str, list]:
    with snapshots.connect_published(target) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=str)
                for t in ("articles", "actor_aliases", "mart", "publish_log")}


def test_a_failed_runs_commits_are_undone_and_readers_never_see_them(a_lake: lake.Lake) -> None:
    assert not a_lake.exists()
    with lake.connect(a_lake) as con:
        warehouse.ensure_schema(con)
        con.execute("INSERT INTO articles (article_id, title) SELECT 'a' || range, 't' FROM range(50)")
        con.execute("INSERT INTO actor_aliases (alias_key, actor_type, actor_id, alias, n_mentions) "
                    "VALUES ('k', 'person', 'p1', 'K', 1)")
        con.execute("CREATE TABLE mart AS SELECT 1 AS x")
    lake.publish(a_lake, snapshot_id="b1", batch_id="b1", new_articles=50, keep=2)
    before = _published(a_lake)
    with lake.connect(a_lake) as con:  # a run that fails after writing: inserts, an update, a delete,
        con.execute("INSERT INTO articles (article_id, title) SELECT 'b' || range, 'u' FROM range(30)")
        con.execute("UPDATE actor_aliases SET n_mentions = n_mentions + 5")
        con.execute("DELETE FROM articles WHERE article_id = 'a3'")
        con.execute("CREATE OR REPLACE TABLE mart AS SELECT 2 AS x")  # a mart rebuilt (a new table)
        con.execute("CREATE TABLE new_mart AS SELECT 3 AS y")
        con.execute("CREATE VIEW new_view AS SELECT 1 AS z")
    assert _published(a_lake) == before, "readers see the published snapshot, not the run's commits"
    undone = lake.reset_to_published(a_lake)
    assert undone["tables"] == {"articles": "rolled back", "actor_aliases": "rolled back", "mart": "restored",
                                "new_mart": "dropped", "new_view": "dropped"}
    with lake.connect(a_lake) as con:
        head = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=str)
                for t in ("articles", "actor_aliases", "mart", "publish_log")}
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_catalog = 'lake'").fetchall()}
    assert head == before and not {"new_mart", "new_view"} & names
    assert lake.reset_to_published(a_lake) == {"reset": False}  # nothing left to undo


def test_old_snapshots_expire_after_the_kept_ones(a_lake: lake.Lake) -> None:
    for i in range(5):
        with lake.connect(a_lake) as con:
            warehouse.ensure_schema(con)
            con.execute(f"INSERT INTO articles (article_id, title) VALUES ('a{i}', 't')")
        pruned = lake.publish(a_lake, snapshot_id=f"b{i}", batch_id=f"b{i}", new_articles=1, keep=2)
    assert pruned["kept"] == ["b4", "b3", "b2"] and pruned["removed"] == ["b1"]
    assert [s.snapshot_id for s in snapshots.list_snapshots(a_lake)] == ["b4", "b3", "b2"]


@pytest.fixture(scope="module")
def nights(pg):
    shared = shared_data_dir()
    if shared is None:
        pytest.skip("../shared/data is absent: the DuckLake comparison runs on real articles")
    root = searchable_tmpdir("newsdesk-lake-test-")
    night1, night2 = root / "night1", root / "night2"
    bbc_jsonl(shared, night1 / "sport.jsonl", "sport", 0, 40)
    shutil.copytree(night1, night2)
    bbc_jsonl(shared, night2 / "tech.jsonl", "tech", 0, 25)
    pg.create_database("lake_e2e")
    target = "ducklake:postgres:" + pg.dsn("lake_e2e")
    yield {"root": root, "nights": (night1, night2), "lake": target,
           "env": {"NEWSDESK_LAKE_DATA": str(root / "lake-data"), "PGPASSWORD": pg.password,
                   "NEWSDESK_NLP_BATCH": "25"}}
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
def test_the_nightly_pipeline_on_ducklake_equals_the_duckdb_file(nights, monkeypatch, capsys) -> None:
    root, env = nights["root"], nights["env"]
    file_wh = root / "file" / "wh" / "news.duckdb"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    target = Settings.from_env(warehouse=nights["lake"]).warehouse
    for night in nights["nights"]:
        newsdesk_run(night, root / "file" / "state", file_wh, NEWSDESK_NLP_BATCH=env["NEWSDESK_NLP_BATCH"])
        newsdesk_run(night, root / "lake-state", nights["lake"], **env)
        assert_same_tables(comparable_tables(target), comparable_tables(file_wh))
    # the analyst commands read the lake's published snapshot as they read the file
    args = ["--warehouse", nights["lake"]]
    query = "SELECT outlet, count(*) AS n FROM stg_articles GROUP BY 1 ORDER BY 1"
    assert cli_main(["sql", query, "--format", "csv", *args]) == 0
    assert cli_main(["sql", query, "--format", "csv", "--warehouse", str(file_wh)]) == 0
    lake_out, file_out = capsys.readouterr().out.split("outlet,n")[1:]
    assert lake_out == file_out and "BBC News" in lake_out
    assert cli_main(["export", "--to", str(root / "export-lake"), *args]) == 0
    assert cli_main(["export", "--to", str(root / "export-file"), "--warehouse", str(file_wh)]) == 0
    for part in (root / "export-file").glob("*.parquet"):
        lake_part, file_part = (pl.read_parquet(d / part.name) for d in (root / "export-lake", root / "export-file"))
        keep = [c for c in file_part.columns if c not in RUN_COLUMNS]  # int_* tables carry the batch id
        assert lake_part.select(keep).sort(pl.all()).equals(file_part.select(keep).sort(pl.all())), part.name
    out = io.StringIO()
    shell = SqlShell(target, stdin=io.StringIO(".tables\nSELECT count(*) FROM mentions_per_actor;\n.snapshot\n"),
                     stdout=out)
    shell.cmdloop()
    shell.close()
    assert "mentions_per_actor" in out.getvalue() and "DuckLake version" in out.getvalue()


@pytest.mark.e2e
def test_readers_see_the_old_snapshot_until_publish_and_a_failed_run_leaves_nothing(nights, monkeypatch) -> None:
    """Stage by stage on the lake of the test above: load and dbt commit at the head, readers stay put."""
    for k, v in nights["env"].items():
        monkeypatch.setenv(k, v)
    night3 = nights["root"] / "night3"
    shutil.copytree(nights["nights"][1], night3)
    bbc_jsonl(shared_data_dir(), night3 / "politics.jsonl", "politics", 0, 10)
    target = Settings.from_env(warehouse=nights["lake"]).warehouse
    before = comparable_tables(target)
    published = before["articles"].height
    overrides = {"input_dir": night3, "warehouse": nights["lake"], "state_dir": nights["root"] / "lake-state"}
    manifest = stages.start_run("lake__readers", overrides=overrides)
    for stage in (stages.ingest, stages.validate_raw, stages.nlp, stages.validate_nlp, stages.load,
                  stages.validate_warehouse, stages.dbt_build):
        stage(manifest)
    with lake.connect(target, read_only=True) as head:
        assert warehouse.scalar(head, "SELECT count(*) FROM articles") > published
    assert_same_tables(comparable_tables(target), before)  # marts rebuilt at the head, readers on the old
    assert stages.finalize(manifest)["status"] == "failed"  # as a run stopped here: its commits are undone
    with lake.connect(target, read_only=True) as head:
        assert warehouse.scalar(head, "SELECT count(*) FROM articles") == published
    assert_same_tables(comparable_tables(target), before)
    # the same batch again, to the end: published at once
    manifest = stages.start_run("lake__readers_again", overrides=overrides)
    for stage in (stages.ingest, stages.validate_raw, stages.nlp, stages.validate_nlp, stages.load,
                  stages.validate_warehouse, stages.dbt_build, stages.validate_marts, stages.publish):
        stage(manifest)
    with snapshots.connect_published(target) as con:
        assert warehouse.scalar(con, "SELECT count(*) FROM articles") > published
