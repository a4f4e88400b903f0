"""The dbt stage parses the project once a night, and reuses last night's parse (issue #17).

A full parse (macros, 40+ tests, contracts) costs seconds; ``dbt build`` and ``dbt source
freshness`` each parsed it again. Now ``parse_project`` parses once and both invocations use
its manifest, with the same ``--vars``: every test still runs and the freshness report is
still produced. Nothing of the night is in the parsed project (the work database has the
same path every night, the views name no catalog, the tests read tonight's batch from the
``build_batch`` table), so the next night's parse is dbt's partial parse with nothing to do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline import warehouse
from pipeline.dbt import parse_project, run_dbt

from .test_dbt_actor_resolution import REPO, build_warehouse


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    from dbt.parser.manifest import ManifestLoader

    calls: list[int] = []
    original = ManifestLoader.get_full_manifest.__func__

    def counting(cls, *args, **kwargs):
        calls.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(ManifestLoader, "get_full_manifest", classmethod(counting))
    return calls


def test_build_and_freshness_reuse_one_parse(tmp_path: Path, parses: list[int]) -> None:
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    warehouse.set_build_batch(db, "b1")
    project, work = REPO / "dbt_project", tmp_path / "dbt"
    dbt_vars = {"tests_scope": "batch"}
    manifest = parse_project(project_dir=project, database=db, work_dir=work, dbt_vars=dbt_vars)
    assert len(parses) == 1 and manifest is not None
    built = run_dbt(["build", "--vars", json.dumps(dbt_vars)], project_dir=project, database=db, work_dir=work,
                    manifest=manifest)
    fresh = run_dbt(["source", "freshness"], project_dir=project, database=db, work_dir=work, check=False,
                    manifest=manifest)
    assert len(parses) == 1  # neither invocation parsed again
    kinds = {n["resource_type"] for n in built.nodes}
    assert {"model", "test", "unit_test"} <= kinds and not built.failures
    assert sum(n["resource_type"] == "test" for n in built.nodes) >= 40
    assert fresh.nodes and {n["name"] for n in fresh.nodes} >= {"articles"}
    # the tests filter on the batch the work database names, read when they run
    tests = (work / "target" / "compiled").rglob("*not_null_newsdesk_entity_mentions*")
    compiled = "\n".join(p.read_text() for p in tests)
    assert 'batch_id in (select batch_id from "w".main.build_batch)' in compiled


def test_tests_check_tonights_batch_only_and_everything_without_the_var(tmp_path: Path) -> None:
    """The tests' filter, as dbt parsed it, selects the build_batch's rows, or all rows without the var."""
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    with warehouse.connect(db) as con:  # a second batch, so that "this batch only" is visible
        con.execute("UPDATE articles SET batch_id = 'b0' WHERE article_id = (SELECT min(article_id) FROM articles)")
        total, in_batch = con.execute("SELECT count(*), count(*) FILTER (batch_id != 'b0') FROM articles").fetchone()
        batch = con.execute("SELECT any_value(batch_id) FROM articles WHERE batch_id != 'b0'").fetchone()[0]
    assert 0 < in_batch < total
    warehouse.set_build_batch(db, batch)
    for dbt_vars, expect in (({"tests_scope": "batch"}, in_batch), ({}, total)):
        manifest = parse_project(project_dir=REPO / "dbt_project", database=db,
                                 work_dir=tmp_path / f"dbt{len(dbt_vars)}", dbt_vars=dbt_vars)
        where = next(n for n in manifest.nodes.values() if n.name == "source_not_null_newsdesk_articles_batch_id"
                     ).config.where
        with warehouse.connect(db, read_only=True) as con:
            assert con.execute(f"SELECT count(*) FROM articles WHERE {where}").fetchone()[0] == expect


def test_the_next_night_reuses_the_parse_and_views_name_no_catalog(tmp_path: Path) -> None:
    """Two nights on the same work database path: the second one's parse is dbt's "nothing changed"."""
    db = tmp_path / "build" / "news_work.duckdb"
    build_warehouse(db)
    warehouse.set_build_batch(db, "b1")
    project, cache = REPO / "dbt_project", tmp_path / "dbt-parse"
    dbt_vars = {"tests_scope": "batch"}
    for night in ("n1", "n2"):
        work = tmp_path / night / "dbt"  # each run has its own target folder, as in the pipeline
        manifest = parse_project(project_dir=project, database=db, work_dir=work, dbt_vars=dbt_vars,
                                 cache_dir=cache)
        log = (work / "logs" / "dbt.log").read_text()
    assert "Starting full parse" not in log and "no changes found, skipping parsing" in log
    run_dbt(["build", "--vars", json.dumps(dbt_vars)], project_dir=project, database=db, work_dir=work,
            manifest=manifest)
    # published under another name (a snapshot), the views still read their own database
    snapshot = tmp_path / "snap_20261202.duckdb"
    shutil.copyfile(db, snapshot)
    with warehouse.connect(snapshot, read_only=True) as con:
        bodies = [r[0] for r in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()]
        assert bodies and not any('"news_work"' in b for b in bodies)
        assert con.execute("SELECT count(*) FROM stg_articles").fetchone()[0] > 0


def test_behavior_flags_name_the_module_that_made_them_as_dbt_common_does() -> None:
    """The cheap frame walk (pipeline.dbt) names the module that created the flags, as dbt-common's
    inspect.stack() walk does (the first frame outside dbt_common.behavior_flags)."""
    from dbt_common.behavior_flags import Behavior

    from pipeline.dbt import _install_behavior_flag_source

    _install_behavior_flag_source()
    flags = Behavior([{"name": "some_flag", "default": False, "description": "d"}], {})
    assert flags.some_flag._behavior_change_event.flag_source == __name__
