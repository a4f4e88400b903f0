"""Parquet export of the published marts, for tools that read files rather than DuckDB.

The marts analysts read (the models of ``dbt_project/models/marts``) are streamed from the
published snapshot, opened read-only and locked down like every analyst connection (no file
access: DuckDB's ``COPY ... TO`` is refused there), as Arrow record batches that pyarrow
writes, so an export taken during a nightly run is one consistent snapshot and memory is one
batch's. dbt's internal tables (``int_*``, the core models) and the detail tables are written
only when asked (``include_detail``). Files are written under a temporary name and renamed,
and a ``manifest.json`` names the snapshot and the row count of each file.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pipeline import snapshots, warehouse

# Tables the pipeline loads or logs itself; every other base table is built by dbt.
PIPELINE_TABLES = (*warehouse.TABLES, "run_log", "publish_log", "actor_aliases")
MARTS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts"


def _tables(con) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def mart_names(con) -> list[str]:
    """The marts of the snapshot: tables that are models of dbt_project/models/marts (not int_*, not core)."""
    marts = {p.stem for p in MARTS_DIR.glob("*.sql")}
    return [t for t in _tables(con) if t in marts]


def internal_names(con) -> list[str]:
    """dbt's other tables (incremental int_* work tables, core models such as actors)."""
    marts = set(mart_names(con))
    return [t for t in _tables(con) if t not in marts and t not in PIPELINE_TABLES]


def export_marts(warehouse_path: Path, out_dir: Path, *, include_detail: bool = False) -> dict:
    """Write every mart (and, if asked, the detail tables) as ``<out_dir>/<table>.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with snapshots.connect_analyst(warehouse_path) as con:
        snapshot = warehouse.latest_snapshot(con)
        tables = mart_names(con)
        if include_detail:
            tables += internal_names(con) + [t for t in PIPELINE_TABLES if warehouse._has_table(con, t)]
        for table in tables:
            dest = out_dir / f"{table}.parquet"
            tmp = out_dir / f".{table}.parquet.tmp"
            written[table] = _write_parquet(con.sql(f'SELECT * FROM "{table}"'), tmp)
            os.replace(tmp, dest)
    manifest = {"snapshot": snapshot, "warehouse": str(warehouse_path),
                "exported_at": datetime.now(UTC).isoformat(), "tables": written}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def export_snapshot(warehouse_path: Path, out_root: Path | str, *, expected: dict | None = None) -> dict:
    """Export the marts into ``<out_root>/<snapshot>/`` and point ``<out_root>/latest`` at it.

    ``expected`` is the Asset event's extra (the snapshot the nightly run published); a newer
    snapshot may be current by the time the export runs, and is exported instead (the
    manifest says which, and which was expected).
    """
    out_root = Path(out_root)
    with snapshots.connect_published(warehouse_path) as con:
        current = warehouse.latest_snapshot(con) or "unknown"
    folder = out_root / current
    manifest = export_marts(warehouse_path, folder)
    manifest["expected_snapshot"] = (expected or {}).get("snapshot_id")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    link = out_root / "latest"
    tmp = out_root / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, link)
    return {"snapshot": manifest["snapshot"], "folder": str(folder), "tables": manifest["tables"]}


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
