"""Helpers for the ingestion tests: run ingest + de-duplication on a folder, as the stage does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline import dedup
from pipeline.ingest import ingest_sources
from pipeline.sources import Policy, load_sources

from .conftest import SAMPLE

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class Outcome:
    articles: pl.DataFrame
    duplicates: pl.DataFrame
    rejected: dict[str, tuple[str, str]]  # input -> (reason, detail)
    inputs: pl.DataFrame
    candidates: pl.DataFrame

    def reason(self, name: str) -> str:
        matches = [v[0] for k, v in self.rejected.items() if k == name or k.startswith(name + "#")
                   or k.startswith(name + ":")]
        assert matches, f"{name} was not rejected; rejected: {self.rejected}"
        return matches[0]

    def article(self, source_path: str) -> dict:
        rows = self.articles.filter(pl.col("source_path") == source_path)
        assert rows.height == 1, f"{source_path} not loaded; rejected: {self.rejected}"
        return rows.row(0, named=True)


def run_ingest(folder: Path, *, max_file_bytes: int = 5_000_000, published: Path | None = None,
               seen: pl.DataFrame | None = None, cutoff: datetime | None = None,
               policy: Policy | None = None, max_records: int = 50_000) -> Outcome:
    result = ingest_sources(load_sources(folder, policy), "test", max_file_bytes=max_file_bytes, now=NOW, seen=seen,
                            cutoff=cutoff, max_records_per_file=max_records)
    resolved = dedup.resolve_duplicates(result.candidates, published, NOW)
    rows = pl.concat([result.rejections, resolved.rejections]).select("input", "reason", "detail").collect()
    rejected = {i: (r, d) for i, r, d in rows.iter_rows()}
    return Outcome(resolved.articles.collect(), resolved.duplicates.collect(), rejected, result.inputs,
                   result.candidates.collect())


def sample_text() -> str:
    """The committed sample article (headline, standfirst, paragraphs)."""
    return SAMPLE.read_text(encoding="utf-8")


# A good article beside every bad input (the ``folder`` fixture of conftest.py): a refusal must
# never take the rest of the folder with it.
GOOD = "good.txt"


def check_good_still_loads(outcome) -> None:
    assert outcome.article(GOOD)["title"].startswith("Putin Gives Trump")
