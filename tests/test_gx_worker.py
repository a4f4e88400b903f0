"""The night's validations run in a Great Expectations process warmed up while Airflow starts.

``newsdesk run`` starts it first; each validation stage hands it its frames and gets the report
the same checks give in-process, a failing one included, and its Data Docs pages are rendered
there after the answer. A worker that died, or frames it cannot be sent, make the stage validate
in-process: no check is ever skipped.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import polars as pl
import pytest

from pipeline import gx_worker
from pipeline.config import Settings
from pipeline.offload import night_in_this_process
from pipeline.validate import Chunks, data_docs_index, gx_results_dir, raw_frames, run_suites

TEXT = "Ministers back plan\nThe plan was backed by ministers on Tuesday."


def _articles(path: Path, ids: list[str]) -> Path:
    pl.DataFrame({
        "article_id": ids, "batch_id": "b1", "source_path": "in.jsonl", "source_format": "jsonl",
        "title": "Ministers back plan", "standfirst": None, "body": "The plan was backed by ministers on Tuesday.",
        "text": TEXT, "n_chars": len(TEXT), "content_hash": "0" * 64,
        "url": [f"https://example.org/{i}" for i in range(len(ids))], "language": "en", "ingested_at": 0,
    }, schema_overrides={"standfirst": pl.String}).write_parquet(path)
    return path


@pytest.fixture
def settings(tmp_path: Path):
    cfg = Settings.from_env(input_dir=tmp_path, warehouse=tmp_path / "wh.duckdb", state_dir=tmp_path / "state")
    with night_in_this_process():
        yield cfg
        gx_worker.stop()


def _validate(cfg: Settings, frames: dict, run_name: str) -> tuple:
    return gx_worker.run_suites("raw", frames, gx_project_dir=cfg.gx_project_dir,
                                results_dir=gx_results_dir(cfg), run_name=run_name)


def _in_process(cfg: Settings, frames: dict, tmp_path: Path) -> object:
    return run_suites("raw", frames, gx_project_dir=cfg.gx_project_dir, results_dir=tmp_path / "gx-here",
                      run_name="here")


def test_the_warm_process_gives_the_in_process_report_and_renders_the_docs(settings, tmp_path: Path) -> None:
    frames = raw_frames(_articles(tmp_path / "a.parquet", ["0" * 16, "1" * 16]))
    worker = gx_worker.start(settings)
    assert worker is not None
    report, info = _validate(settings, frames, "20261201T023000_aaaaaaaa-raw")
    assert info["warm"] is True and info["pid"] == worker.process.pid and info["warmup_error"] is None
    assert report.success and report.suites == _in_process(settings, frames, tmp_path).suites
    gx_worker.stop()  # waits for the pages rendered after the answer
    assert not worker.process.is_alive()
    index = data_docs_index(gx_results_dir(settings)).read_text()
    assert "20261201T023000_aaaaaaaa-raw" in index and "raw.batch_checks" in index


def test_a_failing_batch_fails_there_as_here(settings, tmp_path: Path) -> None:
    frames = raw_frames(_articles(tmp_path / "a.parquet", ["0" * 16, "0" * 16]))  # one id twice
    gx_worker.start(settings)
    report, info = _validate(settings, frames, "r")
    assert info["warm"] is True and not report.success
    assert [(e["suite"], e["column"], e["unexpected_count"]) for e in report.failed_expectations()] == [
        ("raw.batch_checks", "duplicate_article_ids", 1)]
    assert report.suites == _in_process(settings, frames, tmp_path).suites


def test_a_dead_worker_means_the_stage_validates_in_process(settings, tmp_path: Path) -> None:
    frames = raw_frames(_articles(tmp_path / "a.parquet", ["0" * 16]))
    worker = gx_worker.start(settings)
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(10)
    report, info = _validate(settings, frames, "r")
    assert info == {"warm": False} and report.success and report.suites["raw.articles"]["rows"] == 1
    assert gx_worker._CURRENT is None


def test_frames_it_cannot_be_sent_are_validated_here_and_the_worker_stays(settings, tmp_path: Path) -> None:
    frames = raw_frames(_articles(tmp_path / "a.parquet", ["0" * 16]))
    worker = gx_worker.start(settings)
    pl.concat(list(frames["raw.articles"])).write_parquet(tmp_path / "rows.parquet")  # as the suite takes them
    unsendable = {**frames, "raw.articles": Chunks([tmp_path / "rows.parquet"], lambda f: f)}  # a lambda: no pickle
    report, info = _validate(settings, unsendable, "r")
    assert info == {"warm": False} and report.success
    assert gx_worker._CURRENT is worker and worker.process.is_alive()
    assert _validate(settings, frames, "r2")[1]["warm"] is True


def test_only_a_process_running_the_whole_night_starts_one(tmp_path: Path, monkeypatch) -> None:
    cfg = Settings.from_env(input_dir=tmp_path, warehouse=tmp_path / "wh.duckdb", state_dir=tmp_path / "state")
    assert gx_worker.start(cfg) is None  # a Celery task, a test calling dag.test itself
    with night_in_this_process():
        monkeypatch.setenv(gx_worker.DISABLE_ENV, "0")
        assert gx_worker.start(cfg) is None


def test_a_big_night_stops_it(settings) -> None:
    worker = gx_worker.start(settings)
    gx_worker.night_size(gx_worker.WARM_MAX_ARTICLES)
    assert gx_worker._CURRENT is worker
    gx_worker.night_size(gx_worker.WARM_MAX_ARTICLES + 1)
    assert gx_worker._CURRENT is None and not worker.process.is_alive()
