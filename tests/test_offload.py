"""Ingest's language id and MinHash on helper processes: the same rows as in-process, whatever happens to them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline import ingest
from pipeline.offload import Offloaded

from .conftest import shared_data_dir
from .ingest_util import run_ingest


def _bbc_folder(tmp_path: Path, n: int) -> Path:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent: the BBC corpus is needed for real articles")
    files = sorted((data / "corpus" / "bbc_news" / "bbc").glob("*/*.txt"))[:n]
    folder = tmp_path / "in"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f"{f.parent.name}_{f.name}")
    return folder


def test_candidates_from_the_helpers_equal_in_process_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _bbc_folder(tmp_path, 1200)  # more than a block: a block waits in flight while reading goes on
    helped = run_ingest(folder).candidates
    calls: list[int] = []
    real = ingest.candidate_features

    def here(pairs):  # in-process (the helpers never see this function)
        calls.append(len(pairs))
        return real(pairs)

    monkeypatch.setattr(ingest, "FEATURE_CHUNK", 10**9)
    monkeypatch.setattr(ingest, "candidate_features", here)
    alone = run_ingest(folder).candidates
    assert sum(calls) == alone.height == helped.height == 1200
    assert helped.equals(alone)
    assert set(helped["language"]) == {"en"}
    assert helped["signature"].list.len().unique().to_list() == [128]


def _dies_in_a_child(items: list[int], parent: int) -> list[int]:
    if os.getpid() != parent:
        os._exit(9)  # the helper is killed (say, by the OOM killer) in the middle of the call
    return [i * 2 for i in items]


def test_a_helper_that_dies_means_the_call_runs_in_process(caplog: pytest.LogCaptureFixture) -> None:
    with Offloaded(_dies_in_a_child, min_items=3) as work:
        handles = [work.submit([1, 2, 3], os.getpid()), work.submit([4, 5, 6], os.getpid())]
        assert [h.result() for h in handles] == [[2, 4, 6], [8, 10, 12]]
        assert work.submit([7, 8, 9], os.getpid()).result() == [14, 16, 18]  # no new helper: here at once
    assert "runs in-process" in caplog.text


def test_a_small_call_never_starts_a_helper() -> None:
    with Offloaded(_dies_in_a_child, min_items=3) as work:
        assert work.submit([1, 2], os.getpid()).result() == [2, 4]
        assert work._pool is None


def test_a_failing_call_raises_as_in_process(tmp_path: Path) -> None:
    with Offloaded(ingest.candidate_features, min_items=1) as work:
        handle = work.submit([("headline", None), ("headline", 42)])
        with pytest.raises(AttributeError):
            handle.result()


def test_one_article_gets_its_language_and_signature(folder: Path) -> None:
    out = run_ingest(folder)
    assert out.candidates.height == 1
    assert out.candidates["language"].to_list() == ["en"]
    assert pl.Series(out.candidates["signature"][0]).len() == 128


_STAGE = """
import os, sys, time
from pipeline.offload import Offloaded
from tests.test_offload import _helper_pid
if __name__ == "__main__":
    with Offloaded(_helper_pid, min_items=1) as work:
        print(work.submit([1]).result(), work.submit([2]).result(), flush=True)
        time.sleep(60)  # killed here, helpers idle
"""


def _helper_pid(items: list[int]) -> int:
    return os.getpid()


def test_helpers_end_when_the_stage_process_is_killed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "stage.py"
    script.write_text(_STAGE)
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    helpers = {int(p) for p in proc.stdout.readline().split()}
    assert helpers and proc.pid not in helpers
    proc.send_signal(signal.SIGKILL)  # the OOM killer, say: no clean-up code runs
    proc.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # an exited child of the forkserver may linger as a zombie until it is reaped
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ", 1)[1][0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in helpers)
