"""Batch quarantine: a batch that fails validation is kept, with the reason, out of the way.

``<state>/quarantine/<batch_id>/`` holds a copy of the batch's files (articles, rejected
inputs, NLP output), ``reason.json`` (stage, message, failed expectations) and
``quarantine.parquet`` (one QUARANTINE row per article, imported into the warehouse's
``quarantine`` table by the next successful run). Later runs skip the held articles, so one
bad batch does not block every night after it; ``release`` hands them back to the next run
(e.g. after a fix), and the files stay for the audit trail.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import schemas, warehouse
from pipeline.config import Settings
from pipeline.runs import Manifest, atomic_write_text

RELEASED = "released.json"


def quarantine_batch(manifest: Manifest, stage: str, reason: str, message: str,
                     details: dict[str, Any] | None = None) -> Path:
    """Copy the batch into quarantine with its reason; return the quarantine folder."""
    dest = manifest.cfg.quarantine_dir / manifest.batch_id
    dest.mkdir(parents=True, exist_ok=True)
    for src in (manifest.articles_path, manifest.rejected_path):
        if src.exists():
            shutil.copy2(src, dest / src.name)
    if manifest.nlp_dir.exists():
        shutil.copytree(manifest.nlp_dir, dest / "nlp", dirs_exist_ok=True)
    now = datetime.now(UTC)
    atomic_write_text(dest / "reason.json", json.dumps({
        "batch_id": manifest.batch_id,
        "run_id": manifest.run_id,
        "stage": stage,
        "reason": reason,
        "message": message,
        "quarantined_at": now.isoformat(),
        "details": details or {},
    }, indent=2, default=str))
    articles = (
        pl.read_parquet(manifest.articles_path, columns=["article_id", "source_path"])
        if manifest.articles_path.exists() else pl.DataFrame(schema={"article_id": pl.String, "source_path": pl.String})
    )
    rows = articles.select(
        pl.lit(manifest.batch_id).alias("batch_id"),
        pl.col("source_path").alias("input"),
        pl.lit(stage).alias("stage"),
        pl.lit(reason).alias("reason"),
        pl.lit(message[:2000]).alias("detail"),
        pl.col("article_id"),
        pl.lit(now).alias("quarantined_at"),
    )
    schemas.conform(rows, schemas.QUARANTINE).write_parquet(dest / "quarantine.parquet")
    return dest


def batches(settings: Settings) -> list[dict[str, Any]]:
    """Every quarantined batch with its reason and whether it was released."""
    out = []
    root = settings.quarantine_dir
    for folder in sorted(root.iterdir()) if root.exists() else []:
        reason_file = folder / "reason.json"
        if not reason_file.exists():
            continue
        info = json.loads(reason_file.read_text())
        info["released"] = (folder / RELEASED).exists()
        info["path"] = str(folder)
        articles = folder / "articles.parquet"
        info["articles"] = pl.scan_parquet(articles).select(pl.len()).collect().item() if articles.exists() else 0
        out.append(info)
    return out


def held_article_ids(settings: Settings) -> pl.DataFrame:
    """article_id of articles held back: in quarantined, unreleased batches, or quarantined
    one by one by the NLP stages (``warehouse.quarantined_article_ids``)."""
    files = [
        str(Path(b["path"]) / "articles.parquet")
        for b in batches(settings)
        if not b["released"] and (Path(b["path"]) / "articles.parquet").exists()
    ]
    single = warehouse.quarantined_article_ids(settings.warehouse)
    if not files:
        return single
    return pl.concat([pl.scan_parquet(files).select("article_id").collect(), single]).unique()


def pending_rows(settings: Settings) -> list[Path]:
    """quarantine.parquet files for the warehouse's quarantine table (load de-duplicates)."""
    root = settings.quarantine_dir
    return sorted(root.glob("*/quarantine.parquet")) if root.exists() else []


def release(settings: Settings, batch_id: str) -> Path:
    """Let the next run take the batch's articles again (files are kept)."""
    folder = settings.quarantine_dir / batch_id
    if not (folder / "reason.json").exists():
        raise FileNotFoundError(f"no quarantined batch {batch_id!r} under {settings.quarantine_dir}")
    atomic_write_text(folder / RELEASED, json.dumps({"released_at": datetime.now(UTC).isoformat()}))
    return folder
