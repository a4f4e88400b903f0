"""One run per warehouse (issue #18, case 5): a second run is refused with who holds the lock,
a lock whose process died is taken over, and the first run finishes untouched.

Before: a second ``newsdesk run`` started while the first was in dbt deleted the first's work
database and the first failed ("Table mentions_per_actor does not exist!").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline import runlock, stages

from .conftest import REPO, SAMPLE


def overrides(root: Path) -> dict[str, str]:
    (root / "input").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, root / "input" / SAMPLE.name)
    return {"input_dir": str(root / "input"), "warehouse": str(root / "wh" / "news.duckdb"),
            "state_dir": str(root / "state")}


def hold_lock(warehouse: Path) -> subprocess.Popen:
    """Another process (a CLI run's shape: the pid that runs every task) holding the run lock."""
    code = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from pipeline import runlock
        os.environ[runlock.OWNER_ENV] = str(os.getpid())
        runlock.acquire(Path({str(warehouse)!r}), batch_id="other", run_id="manual__other")
        print("held", flush=True)
        sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_is_refused_while_another_process_holds_the_lock(tmp_path: Path, caplog) -> None:
    ov = overrides(tmp_path)
    warehouse = Path(ov["warehouse"])
    holder = hold_lock(warehouse)
    try:
        with pytest.raises(runlock.RunInProgress, match=rf"in progress since .*, pid {holder.pid} "):
            stages.start_run("manual__second", overrides=ov)
        cli = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", ov["input_dir"], "--warehouse",
                              ov["warehouse"], "--state", ov["state_dir"]], cwd=REPO, capture_output=True,
                             text=True, timeout=120, check=False)
        assert cli.returncode == 1
        assert "a run of this warehouse is in progress since" in cli.stderr and f"pid {holder.pid}" in cli.stderr
        assert not Path(ov["state_dir"]).exists(), "nothing was started"
    finally:
        holder.kill()
        holder.wait()
    # the holder died without giving the lock back: the next run takes it over, and gives it back
    manifest = stages.start_run("manual__second", overrides=ov)
    assert runlock.read(warehouse)["run_id"] == "manual__second"
    assert "taking over from run manual__other" in caplog.text
    stages.finalize(manifest)
    assert runlock.read(warehouse) is None


def test_scheduler_tasks_hold_the_lock_between_tasks(tmp_path: Path, monkeypatch) -> None:
    """Each scheduler task is its own process: between two tasks the lock's pid is gone, yet the
    lock holds until it is idle for the grace period."""
    monkeypatch.delenv(runlock.OWNER_ENV, raising=False)
    ov = overrides(tmp_path)
    warehouse = Path(ov["warehouse"])
    first = stages.start_run("scheduled__first", overrides=ov)
    info = runlock.read(warehouse)
    info.update(pid=999_999, pid_start="1")  # what a finished task process leaves: a pid that is gone
    runlock._write(warehouse, info)
    with pytest.raises(runlock.RunInProgress):
        stages.start_run("manual__second", overrides=ov)
    monkeypatch.setenv(runlock.GRACE_ENV, "0")
    time.sleep(0.01)
    assert runlock.check(warehouse) is None  # idle past the grace period with its process gone: stale
    monkeypatch.setenv(runlock.GRACE_ENV, "900")
    stages.finalize(first)
    assert runlock.read(warehouse) is None


@pytest.mark.e2e
def test_two_cli_runs_at_once(tmp_path: Path) -> None:
    ov = overrides(tmp_path)
    args = [sys.executable, "-m", "pipeline.cli", "run", ov["input_dir"], "--warehouse", ov["warehouse"], "--state",
            ov["state_dir"]]
    env = {**os.environ, "NEWSDESK_TASK_RETRIES": "0"}
    first = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = runlock.lock_path(Path(ov["warehouse"]))
    deadline = time.time() + 300
    while not lock.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert lock.exists(), "the first run never took the lock"
    second = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 1 and f"pid {first.pid}" in second.stderr, second.stderr[-2000:]
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert "published" in out and not lock.exists()
