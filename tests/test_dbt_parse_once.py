"""The dbt stage parses the project once a night, for the build and the freshness report (issue #17).

A full parse (macros, 40+ tests, contracts) costs seconds; ``dbt build`` and ``dbt source
freshness`` each parsed it again. Now ``parse_project`` parses once and both invocations use
its manifest, with the same ``--vars`` so that the tests' ``where`` (tonight's batch only)
still applies: every test still runs and the freshness report is still produced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    project, work = REPO / "dbt_project", tmp_path / "dbt"
    dbt_vars = {"batch_id": "b1"}
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
    # the batch filter of the tests was rendered with tonight's batch id
    tests = (work / "target" / "compiled").rglob("*not_null_newsdesk_entity_mentions*")
    compiled = "\n".join(p.read_text() for p in tests)
    assert "batch_id = 'b1'" in compiled


def test_behavior_flags_name_the_module_that_made_them_as_dbt_common_does() -> None:
    """The cheap frame walk (pipeline.dbt) names the module that created the flags, as dbt-common's
    inspect.stack() walk does (the first frame outside dbt_common.behavior_flags)."""
    from dbt_common.behavior_flags import Behavior

    from pipeline.dbt import _install_behavior_flag_source

    _install_behavior_flag_source()
    flags = Behavior([{"name": "some_flag", "default": False, "description": "d"}], {})
    assert flags.some_flag._behavior_change_event.flag_source == __name__
