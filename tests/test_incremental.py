"""The seen-inputs manifest and the data interval: a run reads only what is new before its end."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.sources import SourceConfigError, load_sources

from .conftest import shared_data_dir
from .ingest_util import run_ingest, sample_text

OLD = datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(sample_text())
    lines = sample_text().splitlines()
    (d / "b.txt").write_text("\n".join([lines[0] + " (update)", "", *lines[5:9]]))
    for f in d.iterdir():
        os.utime(f, (OLD, OLD))
    return d


def test_unchanged_inputs_are_not_opened(folder: Path) -> None:
    first = run_ingest(folder)
    assert first.inputs.height == 2
    second = run_ingest(folder, seen=first.inputs)
    assert second.candidates.height == 0 and second.inputs.height == 0


def test_touched_file_with_same_bytes_is_not_parsed_again(folder: Path) -> None:
    first = run_ingest(folder)
    os.utime(folder / "a.txt", (OLD + 60, OLD + 60))
    second = run_ingest(folder, seen=first.inputs)
    assert second.candidates.height == 0 and second.inputs.height == 0


def test_changed_and_new_files_are_read(folder: Path) -> None:
    first = run_ingest(folder)
    (folder / "b.txt").write_text((folder / "b.txt").read_text() + "\nA late paragraph was added.\n")
    (folder / "c.txt").write_text("New story\n\nFresh text arrived tonight from the newsroom.\n")
    second = run_ingest(folder, seen=first.inputs)
    assert sorted(second.inputs["input"]) == ["b.txt", "c.txt"]
    assert sorted(second.candidates["source_path"]) == ["b.txt", "c.txt"]


def test_inputs_modified_after_the_interval_end_wait_for_a_later_run(folder: Path) -> None:
    late = folder / "late.txt"
    late.write_text("Late story\n\nIt arrived after the interval closed.\n")
    os.utime(late, (OLD + 86400 * 3, OLD + 86400 * 3))
    cutoff = datetime.fromtimestamp(OLD + 86400, UTC)
    early_run = run_ingest(folder, cutoff=cutoff)
    assert "late.txt" not in early_run.inputs["input"].to_list()
    later = run_ingest(folder, seen=early_run.inputs, cutoff=datetime.fromtimestamp(OLD + 86400 * 4, UTC))
    assert later.inputs["input"].to_list() == ["late.txt"]


def test_rejected_inputs_are_remembered_too(folder: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    first = run_ingest(folder)
    assert first.reason("empty.txt") == "empty_file"
    second = run_ingest(folder, seen=first.inputs)
    assert second.rejected == {}


def test_source_config_names_outlets_and_filters(tmp_path: Path) -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    bbc = data / "corpus" / "bbc_news" / "bbc"
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(f"""sources:
  - name: bbc
    path: {bbc}
    outlet: BBC News
    include: ["politics/00*.txt"]
  - name: giornale
    feed: {data / "feeds/feed-rs/feed-rs/fixture/rss2/rss_2.0_ilgiornale.xml"}
    outlet: il Giornale
""")
    out = run_ingest(cfg)
    bbc_rows = out.articles.filter(pl.col("source_path").str.starts_with("bbc:"))
    assert bbc_rows.height == 9 and (bbc_rows["outlet"] == "BBC News").all()
    # il Giornale's feed carries summaries only and fetching is off: each item is refused visibly
    reasons = {v[0] for k, v in out.rejected.items() if k.startswith("giornale:")}
    assert reasons == {"summary_only"}


def test_bad_source_config_fails_loudly(tmp_path: Path) -> None:
    cfg = tmp_path / "sources.yaml"
    cfg.write_text("sources:\n  - {name: x, path: ., outlett: Typo}\n")
    with pytest.raises(SourceConfigError, match="unknown keys"):
        load_sources(cfg)
