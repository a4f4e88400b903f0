"""Readers cannot write or read the host (issue #18, case 6), and orphan snapshots (case 11).

Before: ``newsdesk sql`` ran ``read_text('/etc/passwd')`` and ``COPY ... TO`` a file, and
``ATTACH ... (READ_WRITE)`` of an older kept snapshot added a fake article to it. Now every
analyst connection (sql, shell, dashboard, export) has external access off and its settings
locked, and kept snapshots are read-only on disk.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline import snapshots, warehouse
from pipeline.cli import main as cli_main
from pipeline.export import export_marts
from pipeline.shell import SqlShell

from .test_snapshots import build


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    """A warehouse with two published snapshots (s1 kept, s2 current) holding one article each."""
    path = tmp_path / "wh" / "news.duckdb"
    for n, sid in enumerate(("s1", "s2")):
        warehouse.create_work_db(path, path.parent / ".build" / f"{sid}.duckdb")
        with warehouse.connect(path.parent / ".build" / f"{sid}.duckdb") as con:
            con.execute("INSERT INTO articles (article_id, title) VALUES (?, ?)", [f"a{n}", f"Story {n}"])
            con.execute("CREATE OR REPLACE TABLE mentions_per_actor AS SELECT 'Ada' AS actor, 3 AS mentions")
        warehouse.publish(path.parent / ".build" / f"{sid}.duckdb", path, snapshot_id=sid, batch_id=sid,
                          new_articles=1)
    return path


HOSTILE = [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 1) TO '{out}'",
    "ATTACH '{old}' AS old (READ_WRITE)",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
]


def test_newsdesk_sql_refuses_host_access(wh: Path, tmp_path: Path, capsys) -> None:
    old = snapshots.snapshot_dir(wh) / "s1.duckdb"
    out = tmp_path / "leak.csv"
    for query in HOSTILE:
        assert cli_main(["sql", query.format(out=out, old=old), "--warehouse", str(wh)]) == 1, query
        err = capsys.readouterr().err
        assert "Permission" in err or "Cannot change configuration" in err or "disabled" in err, (query, err)
    assert not out.exists()
    assert cli_main(["sql", "SELECT count(*) AS n FROM articles", "--format", "csv", "--warehouse", str(wh)]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]
    import duckdb

    con = duckdb.connect(str(old), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchall() == [(1,)]
    con.close()


def test_shell_and_dashboard_connections_are_locked_down(wh: Path) -> None:
    stdout = io.StringIO()
    shell = SqlShell(wh, stdin=io.StringIO(), stdout=stdout)
    try:
        shell.onecmd(shell.precmd("SELECT * FROM read_text('/etc/passwd');"))
        shell.onecmd(shell.precmd("SELECT count(*) FROM articles;"))
    finally:
        shell.close()
    assert "Permission Error" in stdout.getvalue() and "root:" not in stdout.getvalue()
    src = (Path(__file__).parents[1] / "pipeline" / "dashboard" / "app.py").read_text()
    assert "snapshots.connect_snapshot(" in src and "connect_published(" not in src and "warehouse.connect(" not in src
    with snapshots.connect_snapshot(snapshots.resolve(wh)) as con, pytest.raises(duckdb.Error, match="Permission"):
        con.execute("SELECT * FROM read_text('/etc/passwd')").fetchall()


def test_export_still_writes_parquet(wh: Path, tmp_path: Path) -> None:
    manifest = export_marts(wh, tmp_path / "marts", include_detail=True)
    assert manifest["tables"]["mentions_per_actor"] == 1 and manifest["tables"]["articles"] == 2
    assert pl.read_parquet(tmp_path / "marts" / "articles.parquet").height == 2


def test_kept_snapshots_are_read_only_on_disk(tmp_path: Path) -> None:
    # a folder another user can reach (pytest's tmp folders are private to root)
    root = Path(tempfile.mkdtemp(prefix="newsdesk-ro-"))
    try:
        os.chmod(root, 0o755)
        path = root / "wh" / "news.duckdb"
        build(path.parent / ".build" / "a.duckdb", path, "s1", 1)
        build(path.parent / ".build" / "b.duckdb", path, "s2", 2)
        old = snapshots.snapshot_dir(path) / "s1.duckdb"
        assert stat.S_IMODE(old.stat().st_mode) == 0o444
        os.chmod(path.parent, 0o755)
        os.chmod(snapshots.snapshot_dir(path), 0o755)
        # what a DuckDB client opening it read-write (ATTACH ... READ_WRITE) asks of the OS; root
        # ignores file modes, so as root the attempt is made as another user (with a plain python:
        # the project's virtualenv lives under root's private folders)
        code = f"open({str(old)!r}, 'r+b')"
        python, kwargs = (shutil.which("python3", path="/usr/bin:/bin") or sys.executable, {"user": "nobody"}) \
            if os.geteuid() == 0 else (sys.executable, {})
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False, **kwargs)
        assert proc.returncode != 0 and "Permission denied" in proc.stderr, proc.stderr[-500:]
        # the pipeline can still prune them (probe and unlink need the folder, not the file's write bit)
        report = build(path.parent / ".build" / "c.duckdb", path, "s3", 3, keep=0)
        assert report["removed"] == ["s2", "s1"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_orphan_snapshot_of_a_run_killed_before_the_link_swap(tmp_path: Path, capsys) -> None:
    """Before: `newsdesk snapshots` listed it like a real one and it took a kept slot forever."""
    wh = tmp_path / "wh" / "news.duckdb"
    build(wh.parent / ".build" / "a.duckdb", wh, "s1", 1)
    # what publish leaves when killed between moving the work database in and swapping the link
    work = wh.parent / ".build" / "b.duckdb"
    warehouse.create_work_db(wh, work)
    with warehouse.connect(work) as con:
        con.execute("INSERT INTO publish_log VALUES ('dead', 'dead', 's1', now(), 0, 0)")
        con.execute("CHECKPOINT")
    os.replace(work, snapshots.snapshot_dir(wh) / "dead.duckdb")
    listed = {s.snapshot_id: s for s in snapshots.list_snapshots(wh)}
    assert listed["dead"].orphan and not listed["s1"].orphan and listed["s1"].current
    assert cli_main(["snapshots", "--warehouse", str(wh)]) == 0
    assert "ORPHAN" in next(line for line in capsys.readouterr().out.splitlines() if "dead" in line)
    report = build(wh.parent / ".build" / "c.duckdb", wh, "s2", 2)
    assert "dead" in report["removed"] and report["kept"] == ["s2", "s1"]
    assert not (snapshots.snapshot_dir(wh) / "dead.duckdb").exists()
