"""The DuckDB pin: a warehouse another DuckDB wrote is explained, and can be carried over.

Files written by DuckDB 2.x are unreadable by 1.x (newsdesk pins 1.5.5, docs/scaling.md).
The header of such a file is made here by patching a 1.5.5 file's storage number and
writer version to those of a 2.0.1 file (the bytes DuckDB reads first); the migration runs
the real ``EXPORT DATABASE`` / ``IMPORT DATABASE`` path (checked by hand from 2.0.1 to 1.5.5).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline import snapshots, warehouse
from pipeline.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


def test_the_pin_is_the_one_with_ducklake_on_the_registry() -> None:
    assert duckdb.__version__ == "1.5.5"


def _as_if_written_by_duckdb_2(path: Path) -> None:
    head = bytearray(path.read_bytes())
    head[12:20] = (999).to_bytes(8, "little")  # DuckDB 2.0.1's storage number
    head[52:84] = b"v2.0.1".ljust(32, b"\0")
    path.write_bytes(bytes(head))


def test_a_file_of_duckdb_2_is_explained_not_a_traceback(tmp_path: Path, capsys) -> None:
    path = tmp_path / "news.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE articles AS SELECT 'a' AS article_id")
    assert warehouse.file_writer(path) == (64, "v1.5.5")
    _as_if_written_by_duckdb_2(path)
    assert warehouse.file_writer(path) == (999, "v2.0.1")
    with pytest.raises(warehouse.WarehouseVersionError, match=r"written by DuckDB v2\.0\.1.*migrate-warehouse"):
        warehouse.connect(path, read_only=True)
    assert cli_main(["sql", "SELECT 1", "--warehouse", str(path)]) == 2
    err = capsys.readouterr().err
    assert "python -m pipeline.migrate export" in err and "Traceback" not in err


def test_a_missing_or_foreign_file_keeps_duckdbs_own_error(tmp_path: Path) -> None:
    (tmp_path / "notes.duckdb").write_text("not a database")
    for path in (tmp_path / "absent.duckdb", tmp_path / "notes.duckdb"):
        with pytest.raises(duckdb.Error):
            warehouse.connect(path, read_only=True)


def _published_warehouse(root: Path) -> Path:
    wh = root / "wh" / "news.duckdb"
    work = root / "wh" / ".build" / "b1.duckdb"
    with warehouse.connect(work) as con:
        warehouse.ensure_schema(con)
        con.execute("INSERT INTO articles (article_id, title, text) VALUES ('a1', 'T', 'T body'), ('a2', 'U', 'U')")
        con.execute("INSERT INTO publish_log VALUES ('b1', 'b1', NULL, now(), 2, 2)")
        con.execute("CREATE VIEW stg_titles AS SELECT article_id, upper(title) AS title FROM articles")
        con.execute("CHECKPOINT")
    snapshots.install(work, wh, "b1")
    return wh


def test_export_then_migrate_publishes_the_same_tables_as_a_new_snapshot(tmp_path: Path) -> None:
    wh = _published_warehouse(tmp_path)
    with snapshots.connect_published(wh) as con:
        before = con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
    out = tmp_path / "export"
    # the export side needs only duckdb: run it as a user would, with another Python
    subprocess.run([sys.executable, "-m", "pipeline.migrate", "export", str(wh), str(out)], cwd=REPO, check=True,
                   capture_output=True)
    assert cli_main(["migrate-warehouse", str(out), "--warehouse", str(wh)]) == 0
    assert snapshots.resolve(wh).name == "b1.migrated.duckdb"
    with snapshots.connect_published(wh) as con:
        assert con.execute("SELECT * FROM articles ORDER BY article_id").fetchall() == before
        assert con.execute("SELECT title FROM stg_titles ORDER BY 1").fetchall() == [("T",), ("U",)]
        assert warehouse.latest_snapshot(con) == "b1"  # the next run builds on it as on any snapshot
    aside = wh.with_name(f"{snapshots.snapshot_dir(wh).name}.duckdb-1.5.5")
    assert (aside / "b1.duckdb").exists(), "the old snapshots are moved aside, never deleted"
