"""Parquet export of the published marts, for tools that read files rather than DuckDB.

Every table dbt built (the marts) is streamed from the published snapshot, opened read-only
and locked down like every analyst connection (no file access: DuckDB's ``COPY ... TO`` is
refused there), as Arrow record batches that pyarrow writes, so an export taken during a
nightly run is one consistent snapshot and memory is one batch's. Files are written under a
temporary name and renamed, and a ``manifest.json`` names the snapshot and the row count of each file.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pipeline import snapshots, warehouse

# Tables the pipeline loads or logs itself; everything else that is a base table is a dbt mart.
PIPELINE_TABLES = (*warehouse.TABLES, "run_log", "publish_log", "actor_aliases")


def mart_names(con) -> list[str]:
    """dbt-built tables (marts) of the snapshot; staging models are views and are skipped."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in PIPELINE_TABLES]


def export_marts(warehouse_path: Path, out_dir: Path, *, include_detail: bool = False) -> dict:
    """Write every mart (and, if asked, the detail tables) as ``<out_dir>/<table>.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with snapshots.connect_analyst(warehouse_path) as con:
        snapshot = warehouse.latest_snapshot(con)
        tables = mart_names(con)
        if include_detail:
            tables += [t for t in PIPELINE_TABLES if warehouse._has_table(con, t)]
        for table in tables:
            dest = out_dir / f"{table}.parquet"
            tmp = out_dir / f".{table}.parquet.tmp"
            written[table] = _write_parquet(con.sql(f'SELECT * FROM "{table}"'), tmp)
            os.replace(tmp, dest)
    manifest = {"snapshot": snapshot, "warehouse": str(warehouse_path),
                "exported_at": datetime.now(UTC).isoformat(), "tables": written}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _write_parquet(rel, path: Path, rows_per_batch: int = 100_000) -> int:
    """Stream a relation into a zstd Parquet file, one Arrow batch at a time; return its rows."""
    import pyarrow.parquet as pq

    reader = rel.fetch_record_batch(rows_per_batch)
    rows = 0
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows
