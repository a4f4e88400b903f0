"""Validation of big batches part by part: same verdict, bounded memory (issue #6)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.validate import Chunks, Slices, _merge, raw_frames


def _parts(tmp_path: Path, sizes: list[int]) -> list[Path]:
    paths = []
    for i, n in enumerate(sizes):
        frame = pl.DataFrame({"article_id": [f"a{i}"] * n, "quote_text": ["x" * (k + 1) for k in range(n)]})
        path = tmp_path / f"part-{i:05d}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    return paths


def test_chunks_keep_parts_whole_and_join_small_ones(tmp_path: Path) -> None:
    parts = _parts(tmp_path, [3, 3, 5, 0, 2])
    chunks = Chunks(parts, lambda f: f.with_columns(pl.col("quote_text").str.len_chars().alias("quote_chars")),
                    max_rows=6)
    frames = list(chunks)
    assert [f.height for f in frames] == [6, 5, 2]  # 3+3, then 5 (+0 would not exceed, kept), then 2
    assert chunks.height == 13
    # no article is split across two chunks, so per-article uniqueness means the same chunked
    ids = [set(f["article_id"]) for f in frames]
    assert all(not (a & b) for i, a in enumerate(ids) for b in ids[i + 1:])
    assert frames[0]["quote_chars"].to_list() == [1, 2, 3, 1, 2, 3]


def test_slices_cover_every_row_once() -> None:
    frame = pl.DataFrame({"i": range(7)})
    slices = list(Slices(frame.lazy(), rows=3))
    assert [s.height for s in slices] == [3, 3, 1]
    assert pl.concat(slices)["i"].to_list() == list(range(7))


def test_batch_checks_count_duplicates_across_the_whole_batch(tmp_path: Path) -> None:
    # the duplicates sit far apart, so no slice of the row suite would see both copies
    n = 120_000
    ids = [f"{i:016x}" for i in range(n)]
    ids[-1] = ids[0]
    urls = [f"https://example.org/{i}" for i in range(n)]
    urls[-2] = urls[1]
    urls[5] = None
    urls[6] = None  # missing URLs are not duplicates
    frame = pl.DataFrame({"article_id": ids, "url": urls, "batch_id": ["b1"] * (n - 1) + ["b2"]})
    frame.write_parquet(tmp_path / "a.parquet")
    checks = raw_frames(tmp_path / "a.parquet", temp_dir=tmp_path / "tmp")["raw.batch_checks"]
    assert checks.row(0, named=True) == {"duplicate_article_ids": 1, "duplicate_urls": 1, "batch_ids": 2}


def test_merged_result_fails_when_any_chunk_fails_and_adds_counts() -> None:
    ok = {"suite": "s", "type": "t", "column": "c", "success": True, "unexpected_count": 0,
          "observed_value": None, "examples": [], "exception": None}
    bad = {**ok, "success": False, "unexpected_count": 2, "examples": ["x", "y"]}
    merged = _merge(_merge(ok, bad), ok)
    assert merged["success"] is False
    assert merged["unexpected_count"] == 2 and merged["examples"] == ["x", "y"]
    assert _merge(ok, ok)["success"] is True


def test_raw_frame_gives_gx_lengths_not_texts_and_keeps_nulls(tmp_path: Path) -> None:
    articles = pl.DataFrame({
        "article_id": ["a", "b"], "title": ["Héadline", None], "standfirst": [None, "Sub"],
        "body": ["Body text", "Body"], "text": ["Héadline\nBody text", "Sub\nBody"], "n_chars": [18, 7],
        "url": ["https://x/a", None], "batch_id": ["b1", "b1"],
    })
    articles.write_parquet(tmp_path / "a.parquet")
    frames = raw_frames(tmp_path / "a.parquet")
    assert frames["raw.articles"].height == 2
    (frame,) = list(frames["raw.articles"])
    assert frame["title"].to_list() == [8, None]  # NULL stays NULL for the not-null expectation
    assert frame["text"].to_list() == [18, 8]
    assert frame["text_is_title_standfirst_body"].to_list() == [True, True]
    assert frame["n_chars_is_text_length"].to_list() == [True, False]
    assert frame["title_chars"].to_list() == [8, None]


def test_failing_articles_leave_the_batch_as_quarantine_rows(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pipeline import schemas
    from pipeline.config import Settings
    from pipeline.runs import Manifest
    from pipeline.stages import _quarantine_articles

    cfg = Settings.from_env(input_dir=tmp_path, warehouse=tmp_path / "wh.duckdb", state_dir=tmp_path / "state")
    m = Manifest(batch_id="b1", run_id="r", logical_date=None, data_interval_start=None, data_interval_end=None,
                 settings=cfg.to_dict(), created_at=datetime.now(UTC).isoformat())
    m.save()
    pl.DataFrame({"article_id": ["a", "b"], "source_path": ["a.txt", "b.txt"], "text": ["x", "y"]}).write_parquet(
        m.articles_path)
    schemas.empty(schemas.QUARANTINE).write_parquet(m.rejected_path)
    for table in ("tokens", "quotes"):
        m.nlp_parts(table).mkdir(parents=True)
        pl.DataFrame({"article_id": ["a", "b", "b"], "start": [0, 0, 1]}).write_parquet(
            m.nlp_parts(table) / "part-00000.parquet")
    failing = pl.DataFrame({"article_id": ["b"], "sentences": [2], "tokens": [9], "spans_outside_text": [0],
                            "spans_not_matching_text": [0], "duplicate_ids": [0], "unknown_speakers": [2],
                            "quotes_outside_sentences": [0]})
    _quarantine_articles(m, failing)
    assert pl.read_parquet(m.articles_path)["article_id"].to_list() == ["a"]
    for table in ("tokens", "quotes"):
        assert pl.read_parquet(m.nlp_parts(table) / "part-00000.parquet")["article_id"].to_list() == ["a"]
    rows = pl.read_parquet(m.rejected_path)
    assert rows.select("input", "stage", "reason", "article_id").row(0) == ("b.txt", "validate_nlp",
                                                                            "nlp_check_failed", "b")
    assert rows["detail"][0].endswith("unknown_speakers=2")


def test_articles_quarantined_by_nlp_are_held_back_from_later_runs(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pipeline import quarantine, schemas, warehouse
    from pipeline.config import Settings

    cfg = Settings.from_env(input_dir=tmp_path, warehouse=tmp_path / "wh.duckdb", state_dir=tmp_path / "state")
    now = datetime.now(UTC)
    rows = pl.DataFrame([
        {"batch_id": "b", "input": "x.txt", "stage": "validate_nlp", "reason": "nlp_check_failed", "detail": "d",
         "article_id": "held1", "quarantined_at": now},
        {"batch_id": "b", "input": "y.txt", "stage": "ingest", "reason": "bad_encoding", "detail": "d",
         "article_id": None, "quarantined_at": now},
    ], schema=schemas.QUARANTINE)
    with warehouse.connect(cfg.warehouse) as con:
        warehouse.ensure_schema(con)
        con.register("q", rows.to_arrow())
        con.execute("INSERT INTO quarantine BY NAME SELECT * FROM q")
    assert quarantine.held_article_ids(cfg)["article_id"].to_list() == ["held1"]


def test_raw_gate_fails_on_a_duplicate_id_that_no_single_slice_sees(tmp_path: Path) -> None:
    from pipeline.config import Settings
    from pipeline.validate import run_suites

    n = 25_000  # three slices; the copy of the first article is in the last one
    text = "Title\nBody of the article."
    frame = pl.DataFrame({
        "article_id": [f"{i:016x}" for i in range(n - 1)] + [f"{0:016x}"],
        "batch_id": "b1", "source_path": "in.jsonl", "source_format": "jsonl", "title": "Title",
        "standfirst": None, "body": "Body of the article.", "text": text, "n_chars": len(text),
        "content_hash": "0" * 64, "url": [f"https://example.org/{i}" for i in range(n)], "language": "en",
        "ingested_at": 0,
    }, schema_overrides={"standfirst": pl.String})
    frame.write_parquet(tmp_path / "a.parquet")
    cfg = Settings.from_env(input_dir=tmp_path, warehouse=tmp_path / "wh.duckdb", state_dir=tmp_path / "state")
    report = run_suites("raw", raw_frames(tmp_path / "a.parquet"), gx_project_dir=cfg.gx_project_dir,
                        results_dir=tmp_path / "gx", run_name="t")
    assert not report.success
    assert [(e["suite"], e["column"]) for e in report.failed_expectations()] == [
        ("raw.batch_checks", "duplicate_article_ids")]
    assert report.suites["raw.articles"]["success"] and report.suites["raw.articles"]["rows"] == n


def test_mart_keys_are_counted_unique_across_the_whole_mart(tmp_path: Path) -> None:
    import duckdb

    from pipeline.validate import mart_frames

    con = duckdb.connect()
    # the totals count the detail rows of live articles, through dbt's staging views
    con.execute("CREATE TABLE stg_entity_mentions AS SELECT 'a1' AS actor_id, 'X' AS actor, 'PERSON' AS ner_label")
    con.execute("CREATE TABLE actor_resolution AS SELECT 'a1' AS raw_actor_id, 'a1' AS actor_id")
    con.execute("CREATE TABLE entity_mentions AS SELECT 'a1' AS actor_id, 'X' AS actor, 'PERSON' AS ner_label")
    con.execute("CREATE TABLE stg_quotes AS SELECT NULL::VARCHAR AS speaker_id")
    con.execute("CREATE TABLE quotes AS SELECT NULL::VARCHAR AS speaker_id")
    con.execute("""CREATE TABLE mentions_per_actor AS SELECT * FROM (VALUES
        ('a1', 'X', 'person', 1), ('a2', 'Y', 'person', 1), ('a1', 'Y', 'person', 1))
        t(actor_id, actor, actor_type, mentions)""")
    con.execute("""CREATE TABLE quote_counts_per_source AS SELECT * FROM (VALUES
        ('a1', 'NBC', 2), ('a1', 'NBC', 1), ('a1', 'CNN', 1)) t(source_id, outlet, quotes)""")
    frames = mart_frames(con, tmp_path / "marts")
    totals = frames["marts.totals"].row(0, named=True)
    assert (totals["duplicate_actor_ids"], totals["duplicate_actor_names"], totals["duplicate_source_outlets"]) == (
        1, 1, 1)
    assert frames["marts.mentions_per_actor"].height == 3
    assert frames["marts.drift"].row(0, named=True)["untyped_actor_share_previous"] is None  # no earlier run
