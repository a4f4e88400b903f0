"""Readers for the labelled/unlabelled corpora under ``../shared/data`` (never copied here).

Shared by the evaluation and speed harnesses; each reader returns plain Python/Polars
structures built from the files at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """``$NEWSDESK_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("NEWSDESK_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not path.is_dir():
        raise SystemExit(f"shared data not found at {path} (set NEWSDESK_SHARED_DATA)")
    return path


def bbc_articles(n: int, root: Path | None = None) -> pl.DataFrame:
    """The first ``n`` BBC articles (sorted paths) as an ARTICLES-like frame.

    BBC files are "title, blank line, paragraphs separated by blank lines"; they are
    re-joined one paragraph per line like the ingest does.  Bad bytes are replaced.
    """
    root = root or shared_data()
    files = sorted((root / "corpus" / "bbc_news" / "bbc").glob("*/*.txt"))[:n]
    ids, texts = [], []
    for f in files:
        raw = f.read_bytes().decode("utf-8", errors="replace")
        paras = [" ".join(p.split()) for p in raw.replace("\r", "").split("\n") if p.strip()]
        ids.append(f"bbc/{f.parent.name}/{f.stem}")
        texts.append("\n".join(paras))
    return pl.DataFrame({"article_id": ids, "text": texts})
