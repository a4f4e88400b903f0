"""Carry a warehouse across DuckDB versions whose files do not read each other.

DuckDB 2.x writes files DuckDB 1.x cannot open, and newsdesk pins DuckDB 1.5.5 (the version
with DuckLake on the registry, docs/scaling.md). A warehouse made by an older newsdesk on
DuckDB 2.0.1 moves over in two steps, through Parquet, which both versions read and write::

    python -m pipeline.migrate export warehouse/newsdesk.duckdb /tmp/newsdesk-export
        # run by a Python whose duckdb wrote the file (e.g. a venv with duckdb==2.0.1),
        # from this repository's folder; it needs nothing but duckdb
    newsdesk migrate-warehouse /tmp/newsdesk-export
        # newsdesk's DuckDB imports it as a new snapshot and points the warehouse path at it

The export is DuckDB's own ``EXPORT DATABASE`` of the current snapshot (schema.sql, load.sql,
one Parquet file per table); the import is its ``IMPORT DATABASE`` into a fresh file, checked
table by table against the export's row counts, then published like a nightly run's work
database. The unreadable snapshots are moved aside (``<name>.snapshots.<writer>``), not deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

COUNTS = "row_counts.json"


def export_warehouse(warehouse: Path, out_dir: Path) -> dict[str, int]:
    """``EXPORT DATABASE`` of the warehouse's current snapshot, opened read-only, with its row counts."""
    source = Path(os.path.realpath(warehouse))
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(source), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE "
                                            "table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
        target = str(out_dir).replace("'", "''")
        con.execute(f"EXPORT DATABASE '{target}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()
    info = {"source": str(source), "duckdb": duckdb.__version__, "exported_at": datetime.now(UTC).isoformat(),
            "tables": counts}
    (out_dir / COUNTS).write_text(json.dumps(info, indent=2))
    return counts


def import_warehouse(export_dir: Path, warehouse: Path, build_dir: Path) -> dict[str, object]:
    """Import an export as a new snapshot of ``warehouse``; return what was done.

    The import goes to a work file first and is checked (every exported table, same row
    count) before the warehouse path is touched; then the old snapshot folder (and a
    pre-snapshot plain file) is moved aside and the imported file is published.
    """
    from pipeline import snapshots
    from pipeline import warehouse as wh

    info_path = export_dir / COUNTS
    if not (export_dir / "schema.sql").is_file() or not info_path.is_file():
        raise FileNotFoundError(f"{export_dir} is not an export of `python -m pipeline.migrate export`")
    info = json.loads(info_path.read_text())
    build_dir.mkdir(parents=True, exist_ok=True)
    work = build_dir / "migrated.duckdb"
    wh.remove_db(work)
    with wh.connect(work) as con:
        con.execute(f"IMPORT DATABASE '{str(export_dir).replace(chr(39), chr(39) * 2)}'")
        got = {t: wh.scalar(con, f'SELECT count(*) FROM "{t}"') for t in info["tables"]}
        if got != info["tables"]:
            raise RuntimeError(f"import differs from the export: {got} != {info['tables']}")
        wh.ensure_schema(con)  # columns the contract gained since the exporting version
        base = wh.latest_snapshot(con) if "publish_log" in info["tables"] else None
        con.execute("CHECKPOINT")
    writer = f"duckdb-{info['duckdb']}"
    moved = []
    with wh.publish_lock(warehouse):
        folder = snapshots.snapshot_dir(warehouse)
        for old in (folder, warehouse):
            if old.exists() and not old.is_symlink():
                aside = old.with_name(f"{old.name}.{writer}")
                os.replace(old, aside)
                moved.append(str(aside))
        if warehouse.is_symlink():
            warehouse.unlink()
        dest = snapshots.install(work, warehouse, f"{base or 'import'}.migrated")
    return {"snapshot": str(dest), "tables": got, "moved_aside": moved, "from_duckdb": info["duckdb"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.migrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="EXPORT DATABASE of a warehouse with the DuckDB that wrote it")
    p.add_argument("warehouse", type=Path)
    p.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    counts = export_warehouse(args.warehouse, args.out_dir)
    print(f"exported {len(counts)} tables ({sum(counts.values()):,} rows) with DuckDB {duckdb.__version__} "
          f"to {args.out_dir}; now: newsdesk migrate-warehouse {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
