"""Shared fixtures: the committed sample article as an ARTICLES frame, NLP run once."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "seeds" / "000_622b7633600e6242.txt"


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` or ``$NEWSDESK_SHARED_DATA``; None when absent."""
    env = os.environ.get("NEWSDESK_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def articles_from_texts(texts: dict[str, str]) -> pl.DataFrame:
    """A minimal ARTICLES-like frame (the columns the NLP stage reads)."""
    return pl.DataFrame({"article_id": list(texts), "text": list(texts.values())})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An input folder holding one good article, ``good.txt`` (``ingest_util.GOOD``): the
    ingestion tests put a bad input beside it and check the good one still loads."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def sample_text() -> str:
    lines = SAMPLE.read_text(encoding="utf-8").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


@pytest.fixture(scope="session")
def sample_articles(sample_text: str) -> pl.DataFrame:
    lines = sample_text.split("\n")
    return pl.DataFrame(
        {
            "article_id": ["sample"],
            "outlet": [None],
            "title": [lines[0]],
            "standfirst": [lines[1]],
            "body": ["\n".join(lines[2:])],
            "text": [sample_text],
        },
        schema_overrides={"outlet": pl.String},
    )


@pytest.fixture(scope="session")
def sample_result(sample_articles: pl.DataFrame):
    from pipeline.nlp import run_nlp

    return run_nlp(sample_articles)


@pytest.fixture(scope="session")
def run_texts():
    """Run the whole NLP stage on hand-written texts (spaCy is loaded once per session)."""
    from pipeline.nlp import run_nlp

    def _run(*texts: str):
        return run_nlp(articles_from_texts({f"t{i}": t for i, t in enumerate(texts)}))

    return _run
