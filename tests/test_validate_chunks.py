"""Validation of big batches part by part: same verdict, bounded memory (issue #6)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.validate import Chunks, _merge, raw_frames


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


def test_merged_result_fails_when_any_chunk_fails_and_adds_counts() -> None:
    ok = {"suite": "s", "type": "t", "column": "c", "success": True, "unexpected_count": 0,
          "observed_value": None, "examples": [], "exception": None}
    bad = {**ok, "success": False, "unexpected_count": 2, "examples": ["x", "y"]}
    merged = _merge(_merge(ok, bad), ok)
    assert merged["success"] is False
    assert merged["unexpected_count"] == 2 and merged["examples"] == ["x", "y"]
    assert _merge(ok, ok)["success"] is True


def test_raw_frame_gives_gx_lengths_not_texts_and_keeps_nulls() -> None:
    articles = pl.DataFrame({
        "article_id": ["a", "b"], "title": ["Héadline", None], "standfirst": [None, "Sub"],
        "body": ["Body text", "Body"], "text": ["Héadline\nBody text", "Sub\nBody"], "n_chars": [18, 7],
    })
    frame = raw_frames(articles.lazy())["raw.articles"]
    assert frame["title"].to_list() == [8, None]  # NULL stays NULL for the not-null expectation
    assert frame["text"].to_list() == [18, 8]
    assert frame["text_is_title_standfirst_body"].to_list() == [True, True]
    assert frame["n_chars_is_text_length"].to_list() == [True, False]
    assert frame["title_chars"].to_list() == [8, None]
