"""Published snapshots: atomic swap of the warehouse link, pruning that spares open snapshots.

These use small DuckDB files made here; the whole pipeline publishing under a reader is
tested in test_readers_e2e.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipeline import snapshots, warehouse


def build(work_db: Path, warehouse_path: Path, snapshot_id: str, value: int, *, keep: int = 2) -> dict:
    """Make a work database from the published one, change it, and publish it."""
    warehouse.create_work_db(warehouse_path, work_db)
    with warehouse.connect(work_db) as con:
        con.execute("CREATE TABLE IF NOT EXISTS marker (v INTEGER)")
        con.execute("DELETE FROM marker")
        con.execute("INSERT INTO marker VALUES (?)", [value])
    return warehouse.publish(work_db, warehouse_path, snapshot_id=snapshot_id, batch_id=snapshot_id,
                             new_articles=0, keep=keep)


def marker(warehouse_path: Path) -> tuple[str, int]:
    with snapshots.connect_published(warehouse_path) as con:
        return con.execute("SELECT (SELECT snapshot_id FROM publish_log ORDER BY published_at DESC LIMIT 1), "
                           "(SELECT v FROM marker)").fetchall()[0]


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "news.duckdb"


def test_publish_swaps_the_link_and_keeps_old_snapshots(wh: Path) -> None:
    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1)
    assert wh.is_symlink() and wh.resolve() == snapshots.snapshot_dir(wh) / "s1.duckdb"
    assert marker(wh) == ("s1", 1)
    report = build(wh.parent / ".build" / "b.duckdb", wh, "s2", 2)
    assert marker(wh) == ("s2", 2)
    assert report == {"kept": ["s2", "s1"], "removed": [], "busy": []}
    # the link is relative: the folder can be moved or mounted elsewhere
    assert not Path(wh.readlink()).is_absolute()
    # the DuckDB CLI way: any client opening the path read-only gets the current snapshot
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT v FROM marker").fetchall() == [(2,)]
    con.close()
    assert not list((wh.parent / ".build").glob("*.duckdb")), "the work database became the snapshot"


def test_prune_keeps_the_newest_and_spares_snapshots_a_reader_holds(wh: Path) -> None:
    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1, keep=0)
    first = wh.resolve()
    # another process opens s1 read-only (what a dashboard or the DuckDB CLI does) and keeps it open
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(first)!r}, read_only=True)
            print(con.execute("SELECT v FROM marker").fetchall()[0][0], flush=True)
            sys.stdin.readline()
            print(con.execute("SELECT v FROM marker").fetchall()[0][0], flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1"
        assert snapshots.in_use(first)
        report = build(wh.parent / ".build" / "b.duckdb", wh, "s2", 2, keep=0)
        assert report == {"kept": ["s2"], "removed": [], "busy": ["s1"]}
        assert first.exists()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1", "the reader still reads its snapshot after the swap"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not snapshots.in_use(first)
    report = build(wh.parent / ".build" / "c.duckdb", wh, "s3", 3, keep=0)
    assert report == {"kept": ["s3"], "removed": ["s2", "s1"], "busy": []}
    assert sorted(p.name for p in snapshots.snapshot_dir(wh).iterdir()) == ["s3.duckdb"]


def test_a_reader_in_the_publishing_process_is_spared_and_keeps_its_lock(wh: Path) -> None:
    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1, keep=0)
    with snapshots.connect_published(wh) as con:
        report = build(wh.parent / ".build" / "b.duckdb", wh, "s2", 2, keep=0)
        assert report["busy"] == ["s1"]
        assert con.execute("SELECT v FROM marker").fetchall() == [(1,)]
        # probing must not have dropped this process's own DuckDB lock on s1
        assert snapshots.in_use(snapshots.snapshot_dir(wh) / "s1.duckdb")
    assert marker(wh) == ("s2", 2)


def test_a_plain_file_warehouse_is_adopted_as_a_snapshot(wh: Path) -> None:
    wh.parent.mkdir(parents=True)
    with warehouse.connect(wh) as con:  # the layout before snapshots: one plain file
        warehouse.ensure_schema(con)
        con.execute("INSERT INTO publish_log VALUES ('old', 'old', NULL, now(), 0, 0)")
        con.execute("CREATE TABLE marker AS SELECT 0 AS v")
    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1)
    assert marker(wh) == ("s1", 1)
    assert {p.name for p in snapshots.snapshot_dir(wh).iterdir()} == {"old.duckdb", "s1.duckdb"}


def test_nothing_published_is_a_clear_error(wh: Path) -> None:
    with pytest.raises(snapshots.NothingPublished, match="nothing published yet"), snapshots.connect_published(wh):
        pass


def test_settings_keep_the_warehouse_link_unresolved(wh: Path, tmp_path: Path) -> None:
    """Resolving the link would make the next run publish *into* the current snapshot file."""
    from pipeline.config import Settings

    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1)
    settings = Settings.from_env(warehouse=wh, state_dir=tmp_path / "state")
    assert settings.warehouse == wh and settings.warehouse.is_symlink()
    assert Settings.from_dict(settings.to_dict()).warehouse == wh
