"""Validation you can read: Data Docs built by every checkpoint, results kept across runs, drift warnings.

The marts of a small real warehouse (dbt-built) go through the ``marts`` stage's suites
twice, as two nights would: the results of both stay in the state folder and the Data
Docs index lists them; a drift of the attributed-quote share beyond the tolerance is a
warning (the stage still passes), while an impossible share still fails the stage.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline import warehouse
from pipeline.dbt import run_dbt
from pipeline.validate import data_docs_index, gx_context, mart_frames, prune_results, run_suites

from .test_dbt_actor_resolution import build_warehouse

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("gx_docs")
    build_warehouse(root / "w.duckdb")
    run_dbt(["build"], project_dir=REPO / "dbt_project", database=root / "w.duckdb", work_dir=root / "dbt")
    with warehouse.connect(root / "w.duckdb", read_only=True) as con:
        return mart_frames(con, root / "marts")


def night(frames: dict, results: Path, batch: str, **drift: float | None) -> object:
    row = frames["marts.drift"].to_dicts()[0] | drift
    return run_suites("marts", {**frames, "marts.drift": pl.DataFrame([row], schema=frames["marts.drift"].schema)},
                      gx_project_dir=REPO / "expectations", results_dir=results, run_name=f"{batch}-marts")


def test_first_night_has_no_previous_drift_and_builds_the_data_docs(frames, tmp_path: Path) -> None:
    drift = frames["marts.drift"].to_dicts()[0]
    assert drift["attributed_share"] == 1.0 and drift["attributed_share_previous"] is None
    assert drift["attributed_share_change"] is None and 0 <= drift["untyped_actor_share"] <= 1
    report = night(frames, tmp_path / "gx", "20261101T023000_aaaaaaaa")
    assert report.success and report.warnings() == []
    index = data_docs_index(tmp_path / "gx").read_text()
    for suite in ("marts.drift", "marts.totals", "marts.mentions_per_actor"):
        assert suite in index, suite


def test_drift_beyond_the_tolerance_warns_and_never_fails_the_stage(frames, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_DRIFT_TOLERANCE", "0.10")
    results = tmp_path / "gx"
    night(frames, results, "20261101T023000_aaaaaaaa")
    report = night(frames, results, "20261102T023000_bbbbbbbb", attributed_share=0.55, attributed_share_previous=0.80,
                   attributed_share_change=-0.25)
    assert report.success, report.summary()
    (warning,) = report.warnings()
    assert warning["column"] == "attributed_share_change" and warning["severity"] == "warning"
    assert report.failed_expectations() == []
    # results of both nights are kept, and the Data Docs index lists both runs
    runs = {p.name for p in (results / "validations").rglob("*-marts")}
    assert runs == {"20261101T023000_aaaaaaaa-marts", "20261102T023000_bbbbbbbb-marts"}
    index = data_docs_index(results).read_text()
    assert "20261101T023000_aaaaaaaa-marts" in index and "20261102T023000_bbbbbbbb-marts" in index
    # an impossible share is not drift but a fault: that fails the stage
    bad = night(frames, results, "20261103T023000_cccccccc", attributed_share=1.5)
    assert not bad.success and [e["column"] for e in bad.failed_expectations()] == ["attributed_share"]
    # only the newest batches are kept
    assert prune_results(results, keep_batches=2, current="20261103T023000_cccccccc") == ["20261101T023000_aaaaaaaa"]
    assert not any(results.rglob("20261101T023000_aaaaaaaa-marts"))


def test_data_docs_are_built_once_per_stage_with_a_page_for_every_result(frames, tmp_path: Path,
                                                                           monkeypatch) -> None:
    """The checkpoints' Data Docs action is deferred to one build at the stage's end (issue #17),
    which renders every suite's result page and the index, as one build per checkpoint did."""
    from great_expectations.data_context import AbstractDataContext

    calls: list[int] = []
    build = AbstractDataContext.build_data_docs

    def counting(self, *args, **kwargs):
        calls.append(len(kwargs.get("resource_identifiers") or []))
        return build(self, *args, **kwargs)

    monkeypatch.setattr(AbstractDataContext, "build_data_docs", counting)
    results = tmp_path / "gx"
    report = night(frames, results, "20261103T023000_cccccccc")
    assert report.success
    assert len(calls) == 1 and calls[0] >= 2 * 4, calls  # one build: 4 suites' results and suites
    run = "20261103T023000_cccccccc-marts"
    for suite in ("drift", "totals", "mentions_per_actor", "quote_counts_per_source"):
        assert list((results / "data_docs" / "validations" / "marts" / suite / run).rglob("*.html")), suite
    assert run in data_docs_index(results).read_text()
    ctx = gx_context(REPO / "expectations", results)
    assert "build_data_docs" not in vars(ctx)  # the context's own method again after the stage
