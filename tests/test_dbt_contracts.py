"""dbt as its users write it: enforced contracts on the marts, unit tests in every build.

``dbt build`` on a small real warehouse runs the three unit tests (actor resolution,
co-mentions, top quotes) before their models and builds every mart against its contract;
a mart whose SQL changes a column's type no longer builds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
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


def test_the_span_tests_find_every_span_whose_text_is_not_the_articles(build, tmp_path: Path) -> None:
    """Tokens are cut from their sentence (and must lie in it), other spans from the article."""
    root, _ = build
    db = tmp_path / "w.duckdb"
    shutil.copy(root / "w.duckdb", db)
    with duckdb.connect(str(db)) as con:
        aid, text = con.execute("SELECT article_id, text FROM articles WHERE text LIKE '%”%' ORDER BY 1").fetchone()
        body = con.execute("SELECT sentence_id FROM sentences WHERE article_id = ? AND \"start\" > 0",
                           [aid]).fetchone()[0]
        after = text.index("”") + 2  # a word after a non-ASCII character, in the body sentence
        word = text[after:].split()[0]
        con.execute("INSERT INTO tokens VALUES (?, 0, ?, ?, ?, ?, 'word'), (?, 1, ?, ?, ?, ?, 'word'), "
                    "(?, 2, ?, ?, ?, ?, 'word')",
                    [aid, body, after, after + len(word), word,  # right
                     aid, body, after, after + len(word), word + "x",  # wrong text
                     aid, 0, after, after + len(word), word])  # right text, in another sentence than its row says
        con.execute("UPDATE entity_mentions SET \"start\" = \"start\" + 1 WHERE article_id = ? AND mention_id = 0",
                    [aid])  # cut one character late
        con.execute("UPDATE quotes SET sentence_id = NULL WHERE article_id = ?", [aid])  # right text, no sentence
    with pytest.raises(DbtFailed) as err:
        run_dbt(["test", "--select", "assert_offsets_inside_text", "assert_token_offsets_inside_text"],
                project_dir=REPO / "dbt_project", database=db, work_dir=tmp_path / "dbt")
    assert {f["name"]: f["failures"] for f in err.value.failures} == {
        "assert_offsets_inside_text": 1, "assert_token_offsets_inside_text": 2}


def test_yaml_uses_data_tests_and_freshness_under_config() -> None:
    for path in (REPO / "dbt_project" / "models").rglob("*.yml"):
        text = path.read_text()
        assert "\n    tests:" not in text and "\n        tests:" not in text and "            tests:" not in text, path
    sources = yaml.safe_load((REPO / "dbt_project" / "models" / "staging" / "_sources.yml").read_text())
    articles = next(t for t in sources["sources"][0]["tables"] if t["name"] == "articles")
    assert "freshness" not in articles
    assert articles["config"]["freshness"]["warn_after"] == {"count": 2, "period": "day"}
    assert articles["config"]["loaded_at_field"] == "ingested_at"
