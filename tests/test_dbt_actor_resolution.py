"""dbt on a real DuckDB file: corpus-level actor resolution joins what the NLP stage split.

The NLP stage links names as it goes; a bare surname processed before the full name, or a
name written with a middle initial, arrive as separate actor ids. The dbt build must join
them when the match is unambiguous, and must not join two people who share a surname.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import warehouse
from pipeline.dbt import run_dbt

REPO = Path(__file__).resolve().parents[1]

# (article text, [(name as written, canonical actor, raw actor id)], quote speaker or None)
ARTICLES = {
    "a1": ("Obama speaks\n“We will act,” Obama said on Monday.", [("Obama", "Obama", "id_obama")], "Obama"),
    "a2": ("Barack Obama visits Ohio\nBarack Obama met workers.", [("Barack Obama", "Barack Obama", "id_barack")],
           None),
    "a3": ("Trump rally\nDonald J. Trump spoke to supporters.", [("Donald J. Trump", "Donald J. Trump", "id_dj")],
           None),
    "a4": ("Trump again\nDonald Trump spoke again.", [("Donald Trump", "Donald Trump", "id_donald")], None),
    "a5": ("Clinton speaks\nClinton spoke in Iowa.", [("Clinton", "Clinton", "id_clinton")], None),
    "a6": ("Two Clintons\nBill Clinton and Hillary Clinton spoke.",
           [("Bill Clinton", "Bill Clinton", "id_bill"), ("Hillary Clinton", "Hillary Clinton", "id_hillary")], None),
}


def build_warehouse(path: Path) -> None:
    warehouse.create_work_db(path.with_name("none.duckdb"), path)
    insert_articles(path, ARTICLES)


def insert_articles(path: Path, articles: dict, batch_id: str = "b1") -> None:
    """Load ``articles`` (as ARTICLES) into the detail tables as one batch, as the load stage would."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with warehouse.connect(path) as con:
        for aid, (text, mentions, speaker) in articles.items():
            title, body = text.split("\n", 1)
            con.execute(
                "INSERT INTO articles (article_id, batch_id, source_path, source_format, title, body, text, "
                "content_hash, n_chars, ingested_at, language) VALUES (?, ?, ?, 'txt', ?, ?, ?, ?, ?, ?, 'en')",
                [aid, batch_id, f"{aid}.txt", title, body, text, hashlib.sha256(text.encode()).hexdigest(),
                 len(text), now],
            )
            con.execute("INSERT INTO sentences VALUES (?, 0, 0, 0, ?), (?, 1, 1, ?, ?)",
                        [aid, len(title), aid, len(title) + 1, len(text)])
            for i, (written, actor, raw_id) in enumerate(mentions):
                start = text.index(written, len(title))
                con.execute(
                    "INSERT INTO entity_mentions (article_id, mention_id, sentence_id, start, \"end\", text, label, "
                    "actor, actor_type, ner_label, is_outlet, actor_id) "
                    "VALUES (?, ?, 1, ?, ?, ?, 'PERSON', ?, 'person', 'PERSON', false, ?)",
                    [aid, i, start, start + len(written), written, actor, raw_id],
                )
            if speaker:
                start = text.index("“") + 1
                end = text.index("”")
                con.execute(
                    "INSERT INTO quotes (quote_id, article_id, sentence_id, paragraph_id, start, \"end\", quote_text, "
                    "speaker, speaker_type, attribution, cue, speaker_id) "
                    "VALUES (?, ?, 1, 1, ?, ?, ?, ?, 'person', 'name_cue', 'said', ?)",
                    [f"{aid}:{start}", aid, start, end, text[start:end], speaker, mentions[0][2]],
                )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt_resolution")
    db = root / "w.duckdb"
    build_warehouse(db)
    run_dbt(["build"], project_dir=REPO / "dbt_project", database=db, work_dir=root / "dbt")
    return db


def test_unambiguous_surname_and_middle_initial_join_the_full_name(built: Path) -> None:
    with warehouse.connect(built, read_only=True) as con:
        resolved = dict(con.execute("SELECT raw_actor_id, resolution FROM actor_resolution").fetchall())
        actors = dict(con.execute("SELECT actor, mentions FROM mentions_per_actor").fetchall())
        sources = con.execute("SELECT source, quotes FROM quote_counts_per_source").fetchall()
    assert resolved["id_obama"] == "surname"
    assert resolved["id_dj"] == "middle_initial"
    assert actors["Barack Obama"] == 2 and "Obama" not in actors
    assert actors["Donald Trump"] == 2 and "Donald J. Trump" not in actors
    assert sources == [("Barack Obama", 1)]  # the quote of the bare "Obama" counts for him


def test_a_surname_two_people_share_is_left_alone(built: Path) -> None:
    with warehouse.connect(built, read_only=True) as con:
        resolved = dict(con.execute("SELECT raw_actor_id, resolution FROM actor_resolution").fetchall())
        actors = dict(con.execute("SELECT actor, mentions FROM mentions_per_actor").fetchall())
    assert resolved["id_clinton"] == "self"
    assert {"Clinton", "Bill Clinton", "Hillary Clinton"} <= set(actors)
