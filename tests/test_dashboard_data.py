"""The dashboard's numbers without a browser: filters cut every query, paging, CSV, gender, notes.

A small real warehouse (dbt-built): two outlets, three days, one speaker quoted 30 times
(more than a page), a second actor mentioned with them in one article only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipeline import warehouse
from pipeline.dashboard import data
from pipeline.dbt import run_dbt

REPO = Path(__file__).resolve().parents[1]
DAYS = {"a1": (date(2024, 11, 1), "Daily One"), "a2": (date(2024, 11, 2), "Daily One"),
        "a3": (date(2024, 11, 3), "Weekly Two")}


def build(path: Path) -> None:
    warehouse.create_work_db(path.with_name("none.duckdb"), path)
    with warehouse.connect(path) as con:
        for aid, (day, outlet) in DAYS.items():
            quotes = [f"Line {i} of what Ann Example said." for i in range(10)]
            body = "\n".join(f"“{q}” Ann Example said." for q in quotes) + ("\nBen Sample listened." if aid == "a3"
                                                                             else "")
            title = f"Story {aid}"
            text = f"{title}\n{body}"
            con.execute(
                "INSERT INTO articles (article_id, batch_id, source_path, source_format, url, outlet, published_at, "
                "title, body, text, content_hash, n_chars, ingested_at, language) "
                "VALUES (?, 'b1', ?, 'json', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en')",
                [aid, f"{aid}.json", f"https://news.example.org/{aid}", outlet,
                 datetime(day.year, day.month, day.day, 9, tzinfo=UTC), title, body, text,
                 hashlib.sha256(text.encode()).hexdigest(), len(text), datetime(2026, 11, 1, tzinfo=UTC)])
            lines = text.split("\n")
            offset, mention = 0, 0
            for sid, line in enumerate(lines):
                con.execute("INSERT INTO sentences VALUES (?, ?, ?, ?, ?)", [aid, sid, sid, offset, offset + len(line)])
                for name, actor_id in (("Ann Example", "id_ann"), ("Ben Sample", "id_ben")):
                    if name in line:
                        start = offset + line.index(name)
                        con.execute(
                            "INSERT INTO entity_mentions (article_id, mention_id, sentence_id, start, \"end\", text, "
                            "label, actor, actor_type, ner_label, is_outlet, actor_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, 'PERSON', ?, 'person', 'PERSON', false, ?)",
                            [aid, mention, sid, start, start + len(name), name, name, actor_id])
                        mention += 1
                if line.startswith("“"):
                    qs, qe = offset + 1, offset + line.index("”")
                    con.execute(
                        "INSERT INTO quotes (quote_id, article_id, sentence_id, paragraph_id, start, \"end\", "
                        "quote_text, speaker, speaker_type, attribution, cue, speaker_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 'Ann Example', 'person', 'name_cue', 'said', 'id_ann')",
                        [f"{aid}:{qs}", aid, sid, sid, qs, qe, text[qs:qe]])
                offset += len(line) + 1


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dash_data")
    build(root / "w.duckdb")
    run_dbt(["build"], project_dir=REPO / "dbt_project", database=root / "w.duckdb", work_dir=root / "dbt")
    return root / "w.duckdb"


@pytest.fixture(scope="module")
def con(db: Path):
    with warehouse.connect(db, read_only=True) as c:
        yield c


def test_filters_cut_every_count(con) -> None:
    everything, one_outlet = data.Filters(), data.Filters(outlets=("Weekly Two",))
    one_day = data.Filters(start=date(2024, 11, 2), end=date(2024, 11, 2))
    assert data.top_actors(con, everything).select("actor", "quotes").rows() == [("Ann Example", 30),
                                                                                  ("Ben Sample", 0)]
    assert data.top_actors(con, one_outlet)["quotes"].to_list() == [10, 0]
    assert data.quotes_per_outlet(con, everything).rows() == [("Daily One", 20, 1), ("Weekly Two", 10, 1)]
    assert data.quotes_per_outlet(con, one_day).rows() == [("Daily One", 10, 1)]
    assert data.count_quotes(con, everything) == 30 and data.count_quotes(con, one_outlet) == 10
    assert data.count_quotes(con, data.Filters(actor_types=("place",))) == 0
    assert data.top_quoted_per_outlet(con, one_day).select("outlet", "source", "quotes").rows() == [
        ("Daily One", "Ann Example", 10)]
    assert data.share_of_voice(con, everything, "day").select("period", "group", "share").rows() == [
        (date(2024, 11, d), "person", 1.0) for d in (1, 2, 3)]


def test_paging_beyond_the_first_page_and_csv_of_every_filtered_row(con) -> None:
    f = data.Filters()
    first, second = data.search_quotes(con, f, limit=25), data.search_quotes(con, f, limit=25, offset=25)
    assert first.height == 25 and second.height == 5
    assert set(first["quote_id"]).isdisjoint(second["quote_id"])
    assert first["date"][0] == "2024-11-03"  # newest first
    rows = list(csv.DictReader(io.StringIO(data.quotes_csv(con, f).decode())))
    assert len(rows) == 30 and rows[0]["url"] == "https://news.example.org/a3"
    assert len(list(csv.DictReader(io.StringIO(data.quotes_csv(con, data.Filters(outlets=("Daily One",)),
                                                                "Line 3").decode())))) == 2


def test_actor_page_queries(con) -> None:
    f = data.Filters()
    assert data.actor_profile(con, "id_ann")["mentions"] == 30
    assert data.actor_timeline(con, "id_ann", f).select("day", "quotes").rows() == [
        (date(2024, 11, d), 10) for d in (1, 2, 3)]
    assert data.actor_outlets(con, "id_ann", f).select("outlet", "quotes").rows() == [("Daily One", 20),
                                                                                       ("Weekly Two", 10)]
    # the co_mentions mart unfiltered, the same count from the mentions when a filter narrows the articles
    assert data.actor_co_mentions(con, "id_ann", f).select("actor", "articles").rows() == [("Ben Sample", 1)]
    assert data.actor_co_mentions(con, "id_ann", data.Filters(outlets=("Weekly Two",))).select(
        "actor", "articles").rows() == [("Ben Sample", 1)]
    assert data.actor_co_mentions(con, "id_ann", data.Filters(outlets=("Daily One",))).is_empty()
    said = data.actor_quotes(con, "id_ann", data.Filters(start=date(2024, 11, 3)))
    assert said.height == 10 and set(said["url"]) == {"https://news.example.org/a3"}
    assert data.top_quotes_table(con, f)["speaker"].unique().to_list() == ["Ann Example"]
    assert data.top_quotes_table(con, data.Filters(outlets=("Weekly Two",)))["first_outlet"].unique().to_list() == [
        "Weekly Two"]


def test_notes_and_gender_column_when_present(con, db: Path, tmp_path: Path) -> None:
    cov = data.coverage(con)
    assert cov.date_note is None and cov.outlet_note is None and cov.outlets == ("Daily One", "Weekly Two")
    # mentions_per_actor carries the NLP stage's speaker gender; the fixture's articles say nobody's
    assert data.gender_source(con) == ("mentions_per_actor", "gender", "actor_id")
    assert set(data.share_of_voice(con, data.Filters(), "week", by="gender")["group"]) == {"unknown"}
    shutil.copy(db, tmp_path / "g.duckdb")
    with warehouse.connect(tmp_path / "g.duckdb") as g:
        g.execute("UPDATE mentions_per_actor SET gender = 'female' WHERE actor = 'Ann Example'")
        assert data.gender_source(g) == ("mentions_per_actor", "gender", "actor_id")
        by_day = data.share_of_voice(g, data.Filters(), "day", by="gender")
        assert by_day.select("group", "quotes", "share").rows() == [("female", 10, 1.0)] * 3
        assert data.share_of_voice(g, data.Filters(outlets=("Weekly Two",)), "week", by="gender").select(
            "group", "quotes").rows() == [("female", 10)]
