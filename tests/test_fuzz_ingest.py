"""Fuzzing ingest (issue #18): random bytes, JSON, YAML, XML, gzip (bombs included) and file
names, each input loading or becoming a quarantine row with a reason, in bounded memory.

The examples run in a child process (tests/fuzz_ingest_child.py) so that the peak RSS it
reports (``VmHWM``) is its own, not the test session's. Bounded in time: a fixed number of examples
(``NEWSDESK_FUZZ_EXAMPLES``, default 60 per property, ~40 s here).
"""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO

PEAK_RSS_LIMIT_MB = 1500  # imports ~350 MB; a bomb or a parser running away would pass it


def test_fuzz_every_input_loads_or_is_refused_in_bounded_memory() -> None:
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz_ingest_child"], cwd=REPO, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "examples per property passed" in proc.stdout
    peak = float(proc.stdout.split("peak_rss_mb=")[1].split()[0])
    assert peak < PEAK_RSS_LIMIT_MB, proc.stdout
