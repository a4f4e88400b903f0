"""Helpers of the tests that run real servers (PostgreSQL, Redis, the Celery cluster) and compare warehouses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipeline import services, snapshots, warehouse
from pipeline.export import mart_names

REPO = Path(__file__).resolve().parents[1]
# run-specific columns: which batch loaded or found a row, and when
RUN_COLUMNS = {"batch_id", "ingested_at", "quarantined_at", "detected_at", "read_at"}
# detail tables whose rows must be the same whatever ran the NLP (ids included)
DETAIL_TABLES = ("articles", "sentences", "tokens", "entity_mentions", "quotes", "actor_aliases", "quarantine",
                 "article_duplicates")


def need_servers(*, redis: bool = False) -> None:
    try:
        services.pg_bin("initdb")
    except services.ServiceError as exc:
        pytest.skip(str(exc))
    if redis and not shutil.which("redis-server"):
        pytest.skip("redis-server not installed (apt-get install redis-server; .ci/run does)")


def searchable_tmpdir(prefix: str) -> Path:
    """A temporary folder PostgreSQL's user can reach (pytest's own tmp folders are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path


@contextmanager
def private_postgres() -> Iterator[services.Postgres]:
    need_servers()
    root = searchable_tmpdir("newsdesk-test-pg-")
    pg = services.Postgres.create(root / "data")
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def bbc_jsonl(shared: Path, out: Path, category: str, start: int, stop: int) -> int:
    """Real BBC articles ``[start, stop)`` of a category as a JSON-lines input, each with a fixed date.

    The BBC files carry no date, and marts date what they count by publication (else
    ingestion) time: a fixed date per article keeps two runs of the same input comparable.
    """
    files = sorted((shared / "corpus" / "bbc_news" / "bbc" / category).glob("*.txt"))[start:stop]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for i, path in enumerate(files, start):
            lines = [line.strip() for line in path.read_bytes().decode("utf-8", "replace").splitlines()]
            lines = [line for line in lines if line]
            day = date(2005, 1, 1) + timedelta(days=i % 365)
            fh.write(json.dumps({"id": f"bbc/{category}/{path.stem}", "title": lines[0], "body": "\n".join(lines[1:]),
                                 "outlet": "BBC News", "published_at": f"{day.isoformat()}T08:00:00Z"}) + "\n")
    return len(files)


def newsdesk_run(input_dir: Path, state: Path, wh: Path, **env: str) -> subprocess.CompletedProcess:
    """``newsdesk run`` (the DAG through dag.test) in a process of its own, with only these settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSDESK_"))}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(input_dir), "--state", str(state),
                           "--warehouse", str(wh)], cwd=REPO, env={**clean, "NEWSDESK_RETRY_DELAY_SECONDS": "2", **env},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    if os.environ.get("NEWSDESK_TEST_SHOW_RUNS"):  # the run's summary (stage times), to see where a test's time goes
        print(proc.stdout[-3000:])
    return proc


def comparable_tables(target) -> dict[str, pl.DataFrame]:
    """Every dbt-built table and the detail tables of the published snapshot, without run-specific
    columns, sorted by every column."""
    out = {}
    with snapshots.connect_published(target) as con:
        for table in [*mart_names(con), *DETAIL_TABLES]:
            frame = warehouse.query_frame(con, f'SELECT * FROM "{table}"')
            frame = frame.drop([c for c in frame.columns if c in RUN_COLUMNS])
            out[table] = frame.sort(pl.all(), nulls_last=True)
    return out


def assert_same_tables(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert sorted(got) == sorted(want)
    for table, frame in want.items():
        other = got[table].select(frame.columns)
        assert other.shape == frame.shape, f"{table}: {other.shape} rows/columns, expected {frame.shape}"
        assert other.equals(frame), f"{table} differs row for row"
