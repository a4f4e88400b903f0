"""Changed inputs supersede what they gave before (issue #18, case 8), end to end through Airflow.

Before: a file published half-written and finished later became two articles (574 and 2,513
characters in the issue), not linked, so the story counted twice; a page updated under the
same URL was linked to its first version as a duplicate and its new text never loaded.
Now the old rows are retired (kept, with ``retired_at`` and ``superseded_by``) and every mart
counts the new version once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline import airflow_runner, warehouse
from pipeline.config import Settings

from .conftest import SAMPLE

pytestmark = pytest.mark.e2e

URL = "https://newrepublic.com/post/188249/putin-russia-troops-trump-warning-ukraine"


def write(path: Path, text: str, stamp: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (stamp, stamp))


def test_finished_file_and_updated_page_replace_their_first_versions(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    title, paras = lines[0], [p for p in lines[2:] if p.strip()]
    folder = tmp_path / "input"
    folder.mkdir()
    write(folder / "story.txt", "\n".join([title, "", *paras[:3]]) + "\n", 1_762_000_000)  # half-written
    page = {"title": "Putin defies Trump", "body": "\n".join(paras[3:6]), "url": URL, "outlet": "TNR"}
    write(folder / "page.json", json.dumps(page), 1_762_000_000)
    settings = Settings.from_env(input_dir=folder, warehouse=tmp_path / "wh" / "news.duckdb",
                                 state_dir=tmp_path / "state")
    assert airflow_runner.run_dag(settings)["state"] == "success"
    with warehouse.connect(settings.warehouse, read_only=True) as con:
        first = dict(con.execute("SELECT input, article_id FROM articles").fetchall())
        trump_articles_before = warehouse.scalar(
            con, "SELECT articles FROM mentions_per_actor WHERE actor = 'Donald Trump'")
    assert trump_articles_before == 2

    write(folder / "story.txt", "\n".join([title, "", *paras]) + "\n", 1_762_100_000)  # finished
    write(folder / "page.json", json.dumps({**page, "body": "\n".join(paras[3:9])}), 1_762_100_000)  # updated
    assert airflow_runner.run_dag(settings)["state"] == "success"
    with warehouse.connect(settings.warehouse, read_only=True) as con:
        rows = con.execute("SELECT input, article_id, retired_at IS NOT NULL, superseded_by, n_chars FROM articles "
                           "ORDER BY input, retired_at NULLS FIRST").fetchall()
        live = {r[0]: r for r in rows if not r[2]}
        retired = {r[0]: r for r in rows if r[2]}
        assert sorted(live) == sorted(retired) == ["page.json", "story.txt"]
        # the finished file is a new article; the half-written one points to it
        assert retired["story.txt"][3] == live["story.txt"][1] != first["story.txt"]
        assert live["story.txt"][4] > retired["story.txt"][4]
        # the updated page keeps the id of its URL; its first version lives on under a retired id
        assert live["page.json"][1] == first["page.json"] == retired["page.json"][3]
        assert retired["page.json"][1] != first["page.json"]
        # each story counts once in the marts, and the retired rows' NLP rows are out of them
        assert warehouse.scalar(con, "SELECT articles FROM mentions_per_actor WHERE actor = 'Donald Trump'") == 2
        assert warehouse.scalar(con, "SELECT count(*) FROM stg_articles") == 2
        mart = warehouse.scalar(con, "SELECT sum(mentions) FROM mentions_per_actor")
        assert mart == warehouse.scalar(con, "SELECT count(*) FROM entity_mentions m JOIN articles a USING "
                                             "(article_id) WHERE a.retired_at IS NULL AND m.actor IS NOT NULL")
        assert warehouse.scalar(con, "SELECT count(*) FROM quotes_in_context q JOIN articles a USING (article_id) "
                                     "WHERE a.retired_at IS NOT NULL") == 0
        assert warehouse.scalar(con, "SELECT count(*) FROM entity_mentions WHERE article_id = ?",
                                [retired["story.txt"][1]]) > 0, "the retired article's rows are kept for audit"
