"""The CLI as a new user meets it: --version, every variable in --help, one-line errors, progress."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import ENVIRONMENT
from pipeline.progress import Progress

REPO = Path(__file__).resolve().parents[1]
INTERNAL = {"NEWSDESK_DBT_DATABASE", "NEWSDESK_GX_RESULTS", "NEWSDESK_FAULT_KILL_STAGE", "NEWSDESK_FAULT_STAGES",
            "NEWSDESK_VENV", "NEWSDESK_FAULT_FAIL_SUITE", "NEWSDESK_DBT_LAKE", "NEWSDESK_DBT_LAKE_VERSION",
            "NEWSDESK_RUN_OWNER_PID", "NEWSDESK_WORKER_HOSTNAME",
            "NEWSDESK_AIRFLOW_DB_SET"}  # set by newsdesk for its own children or itself, or test hooks


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_version_names_newsdesk_and_its_engines() -> None:
    out = cli("--version")
    assert out.returncode == 0
    assert re.match(r"newsdesk \d+\.\d+\.\d+ \(Airflow 3\.", out.stdout) and "dbt-core 1.11" in out.stdout


def test_help_lists_every_environment_variable_the_code_reads() -> None:
    used = set()
    for path in [*REPO.glob("pipeline/**/*.py"), *REPO.glob("dags/*.py"), *REPO.glob("dbt_project/**/*.yml")]:
        used |= set(re.findall(r"NEWSDESK_[A-Z_]+[A-Z]", path.read_text()))
    missing = used - set(ENVIRONMENT) - INTERNAL
    assert not missing, f"read by the code but not in ENVIRONMENT (newsdesk --help): {sorted(missing)}"
    help_text = cli("--help").stdout
    for name in ENVIRONMENT:
        assert name in help_text, name


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--date", "2026-13-01"], "--date '2026-13-01' is not a date"),
    (["backfill", "--from", "2026-11-02", "--to", "last week"], "--to 'last week' is not a date"),
    (["backfill", "--from", "2026-11-09", "--to", "2026-11-02"], "is after --to"),
    (["quarantine", "release", "20990101T000000_deadbeef"], "no quarantined batch '20990101T000000_deadbeef'"),
])
def test_mistakes_get_one_friendly_line_not_a_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    out = cli(*args, "--state", str(tmp_path / "state"), "--warehouse", str(tmp_path / "wh.duckdb"))
    assert out.returncode == 2, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.strip() and not x.startswith("newsdesk: running")]
    assert len(lines) == 1 and lines[0].startswith("newsdesk: ") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_a_malformed_operations_variable_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSDESK_TASK_TIMEOUTS", "nlp=forever")
    assert main(["alerts", "--state", str(tmp_path)]) == 2
    assert "NEWSDESK_TASK_TIMEOUTS: 'nlp=forever' is not TASK=MINUTES" in capsys.readouterr().err


def test_progress_lines_say_how_far_and_how_long_is_left(caplog, monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr("pipeline.progress.time.monotonic", lambda: now[0])
    caplog.set_level(logging.INFO, logger="newsdesk")
    bar = Progress("[b] ingest", 100, "inputs", every=5)
    for t, done in ((0, 10), (10, 40), (12, 45), (20, 70), (30, 100)):
        now[0] = float(t)
        bar.update(done, articles=done * 100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [  # the rate counts from the first update: 30 inputs in 10 s, 60 left
        "[b] ingest: 40/100 inputs (40%), 4,000 articles, ~20 s left",
        "[b] ingest: 70/100 inputs (70%), 7,000 articles, ~10 s left",  # 45 s-old lines are not repeated
        "[b] ingest: 100/100 inputs (100%), 10,000 articles",
    ]


def test_a_first_night_with_every_file_deferred_says_so_not_a_traceback(tmp_path: Path) -> None:
    """Files modified after the night's interval are left for a later run; with nothing ever
    published there is nothing to summarise, which is no failure."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Headline\nA body written after the interval ended.\n")
    proc = cli("run", str(tmp_path / "in"), "--warehouse", str(tmp_path / "wh" / "n.duckdb"),
               "--state", str(tmp_path / "state"), "--date", "2026-06-01T02:30")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "nothing is published yet" in proc.stdout
    assert "1 file(s) deferred" in proc.stdout
