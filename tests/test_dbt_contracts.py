"""dbt as its users write it: enforced contracts on the marts, unit tests in every build.

``dbt build`` on a small real warehouse runs the three unit tests (actor resolution,
co-mentions, top quotes) before their models and builds every mart against its contract;
a mart whose SQL changes a column's type no longer builds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.dbt import DbtFailed, run_dbt

from .test_dbt_actor_resolution import build_warehouse

REPO = Path(__file__).resolve().parents[1]
MARTS = ("mentions_per_actor", "quote_counts_per_source", "activity_per_actor_daily", "co_mentions",
         "quotes_in_context", "top_quotes")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("dbt_contracts")
    build_warehouse(root / "w.duckdb")
    result = run_dbt(["build"], project_dir=REPO / "dbt_project", database=root / "w.duckdb", work_dir=root / "dbt")
    return root, result.nodes


def test_build_runs_the_unit_tests_before_their_models(build) -> None:
    _, nodes = build
    units = {n["name"]: n["status"] for n in nodes if n["resource_type"] == "unit_test"}
    assert units == {"actor_resolution_merges_unambiguous_surnames_and_initials": "pass",
                     "actor_resolution_merges_actors_that_show_one_name": "pass",
                     "actors_take_the_type_of_their_own_mentions": "pass",
                     "co_mentions_counts_each_article_and_sentence_once_per_resolved_pair": "pass",
                     "top_quotes_ranks_the_most_reported_words_first": "pass"}
    order = [n["name"] for n in nodes]
    assert order.index("top_quotes_ranks_the_most_reported_words_first") < order.index("top_quotes")


def test_every_mart_has_an_enforced_contract_with_every_column_typed(build) -> None:
    root, _ = build
    manifest = json.loads((root / "dbt" / "target" / "manifest.json").read_text())
    for mart in MARTS:
        node = manifest["nodes"][f"model.newsdesk.{mart}"]
        assert node["config"]["contract"]["enforced"] is True, mart
        assert node["columns"] and all(c["data_type"] for c in node["columns"].values()), mart
    for model in ("int_article_actor_pairs", "int_sentence_actor_pairs", "int_quote_context"):
        assert manifest["nodes"][f"model.newsdesk.{model}"]["config"]["on_schema_change"] == "fail"


def test_a_mart_that_breaks_its_contract_does_not_build(build, tmp_path: Path) -> None:
    root, _ = build
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    sql = project / "models" / "marts" / "top_quotes.sql"
    sql.write_text(sql.read_text().replace("    r.rank,\n", "    r.rank::varchar as rank,\n"))
    with pytest.raises(DbtFailed, match="top_quotes") as err:
        run_dbt(["build", "--select", "top_quotes"], project_dir=project, database=root / "w.duckdb",
                work_dir=tmp_path / "dbt")
    assert "contract" in str(err.value).lower()


def test_yaml_uses_data_tests_and_freshness_under_config() -> None:
    for path in (REPO / "dbt_project" / "models").rglob("*.yml"):
        text = path.read_text()
        assert "\n    tests:" not in text and "\n        tests:" not in text and "            tests:" not in text, path
    sources = yaml.safe_load((REPO / "dbt_project" / "models" / "staging" / "_sources.yml").read_text())
    articles = next(t for t in sources["sources"][0]["tables"] if t["name"] == "articles")
    assert "freshness" not in articles
    assert articles["config"]["freshness"]["warn_after"] == {"count": 2, "period": "day"}
    assert articles["config"]["loaded_at_field"] == "ingested_at"
