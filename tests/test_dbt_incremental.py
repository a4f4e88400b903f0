"""dbt's incremental tables: a night adds only its own articles, and the marts equal a full rebuild.

The per-article work of co_mentions and quotes_in_context (pairs of actors, each quote's
sentences) is kept in incremental tables and done once, the night an article arrives; what
changes nightly (corpus-level actor resolution, display names) is applied on top. So an
article loaded before "Barack Obama" was ever seen must still count for Barack Obama once
its bare "Obama" resolves to him, and the result must equal ``dbt build --full-refresh``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline import warehouse
from pipeline.dbt import run_dbt

from .test_dbt_actor_resolution import REPO, insert_articles

NIGHT_1 = {
    "c1": ("Obama meets Biden\n“We agree,” Obama said after meeting Biden.",
           [("Obama", "Obama", "id_obama"), ("Biden", "Joe Biden", "id_biden")], "Obama"),
    "c2": ("Call\n“It was long,” Putin said of his call with Biden.",
           [("Putin", "Vladimir Putin", "id_putin"), ("Biden", "Joe Biden", "id_biden")], "Vladimir Putin"),
}
NIGHT_2 = {
    "c3": ("Summit\nBarack Obama and Vladimir Putin spoke at the summit.",
           [("Barack Obama", "Barack Obama", "id_barack"), ("Vladimir Putin", "Vladimir Putin", "id_putin")], None),
    # two raw ids of one sentence ("Obama", "Barack Obama") that resolve to one actor: the
    # article and the sentence count once for Barack Obama and Joe Biden, not twice
    "c4": ("Greeting\nBarack Obama greeted Biden, and Obama smiled.",
           [("Barack Obama", "Barack Obama", "id_barack"), ("Biden", "Joe Biden", "id_biden"),
            ("Obama", "Obama", "id_obama")], None),
}
COMPARED = ("int_article_actor_pairs", "int_sentence_actor_pairs", "int_quote_context", "co_mentions",
            "quotes_in_context", "mentions_per_actor")


def build(db: Path, work: Path, *extra: str) -> None:
    run_dbt(["build", *extra], project_dir=REPO / "dbt_project", database=db, work_dir=work)


def rows(db: Path, table: str) -> pl.DataFrame:
    with warehouse.connect(db, read_only=True) as con:
        return warehouse.query_frame(con, f"SELECT * FROM {table}").sort(pl.all())


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dbt_incremental")
    db = root / "w.duckdb"
    warehouse.create_work_db(root / "none.duckdb", db)
    insert_articles(db, NIGHT_1, "b1")
    build(db, root / "dbt")
    insert_articles(db, NIGHT_2, "b2")
    build(db, root / "dbt")
    full = root / "full.duckdb"
    shutil.copy(db, full)
    build(full, root / "dbt-full", "--full-refresh")
    return db, full


def test_second_night_adds_only_its_own_articles(nights: tuple[Path, Path]) -> None:
    db, _ = nights
    # night 2 appended the rows of unseen batches to the table night 1 made (dbt keeps the
    # last build's compiled query and the statement it ran)
    target = db.parent / "dbt" / "target"
    model = Path("newsdesk", "models", "intermediate", "int_article_actor_pairs.sql")
    assert "not exists" in (target / "compiled" / model).read_text().lower()
    assert (target / "run" / model).read_text().lower().lstrip().startswith("insert into")
    pairs = rows(db, "int_article_actor_pairs")
    assert pairs.group_by("article_id", "batch_id").len().sort("article_id").rows() == [
        ("c1", "b1", 1), ("c2", "b1", 1), ("c3", "b2", 1), ("c4", "b2", 3)]
    assert sorted(rows(db, "int_quote_context")["quote_id"].str.split(":").list.first()) == ["c1", "c2"]


def test_old_articles_count_for_the_actor_their_names_resolve_to_later(nights: tuple[Path, Path]) -> None:
    db, _ = nights
    pairs = {(r["actor_a"], r["actor_b"]): (r["articles"], r["sentences"])
             for r in rows(db, "co_mentions").iter_rows(named=True)}
    # c1 (night 1) said "Obama"; night 2 brought "Barack Obama", and resolution merged them
    assert pairs == {("Barack Obama", "Joe Biden"): (2, 2), ("Barack Obama", "Vladimir Putin"): (1, 1),
                     ("Joe Biden", "Vladimir Putin"): (1, 1)}
    context = rows(db, "quotes_in_context").select("speaker", "sentence").rows()
    assert context == [("Barack Obama", "“We agree,” Obama said after meeting Biden."),
                       ("Vladimir Putin", "“It was long,” Putin said of his call with Biden.")]


def test_incremental_tables_and_marts_equal_a_full_rebuild(nights: tuple[Path, Path]) -> None:
    db, full = nights
    for table in COMPARED:
        assert rows(db, table).equals(rows(full, table)), table
