"""Query latency and errors of readers on the published snapshot, idle and during a nightly run.

    python -m bench.reader_latency --warehouse W --state S [--run-input FOLDER] [--idle-seconds 30]

Starts one reader process per mode (bench/reader_loop.py: ``published`` reconnects through
the snapshot link each query, as ``newsdesk sql``/the dashboard do; ``hold`` keeps one
connection), lets them query for ``--idle-seconds``, then, with ``--run-input``, runs
``newsdesk run FOLDER`` (the DAG through Airflow, another process) while they keep querying.
Prints, per mode and phase, the number of queries, errors, and median / p95 latency (ms),
and the snapshots the readers saw. The query is bench.reader_loop.QUERY (one statement over
six marts and three detail tables).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]


def _summary(path: Path, phases: dict[str, tuple[float, float]]) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if '"ms"' in line]
    frame = pl.DataFrame({"at": [r["at"] for r in rows], "ms": [r["ms"] for r in rows],
                          "error": [r.get("error") for r in rows],
                          "snapshot": [(r.get("answer") or {}).get("snapshot") for r in rows]})
    out = []
    for phase, (lo, hi) in phases.items():
        part = frame.filter((pl.col("at") >= lo) & (pl.col("at") < hi))
        ok = part.filter(pl.col("error").is_null())
        out.append({"phase": phase, "queries": part.height, "errors": part.height - ok.height,
                    "median_ms": round(ok["ms"].median() or 0, 1), "p95_ms": round(ok["ms"].quantile(0.95) or 0, 1),
                    "snapshots": ok["snapshot"].unique(maintain_order=True).to_list()})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--run-input", type=Path, help="input folder of a nightly run to start while readers query")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between a reader's queries")
    ap.add_argument("--out", type=Path, default=Path("/tmp/newsdesk-reader-latency"))
    args = ap.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    stop = args.out / "stop"
    stop.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSDESK_"))}
    env.update(NEWSDESK_WAREHOUSE=str(args.warehouse), NEWSDESK_STATE=str(args.state))
    modes = ("published", "hold")
    readers = {m: subprocess.Popen([sys.executable, "-m", "bench.reader_loop", str(args.warehouse),
                                    "--out", str(args.out / f"{m}.jsonl"), "--stop-file", str(stop),
                                    "--mode", m, "--pause", str(args.pause)], cwd=REPO, env=env)
               for m in modes}
    t0 = time.time()
    time.sleep(args.idle_seconds)
    phases = {"idle": (t0 + 2, time.time())}  # skip the first 2 s: process start, first open
    if args.run_input:
        t1 = time.time()
        run = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(args.run_input)], cwd=REPO,
                             env=env, capture_output=True, text=True)
        phases["during run"] = (t1, time.time())
        print(f"newsdesk run exit {run.returncode} in {time.time() - t1:.0f} s", file=sys.stderr)
        if run.returncode:
            print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
        time.sleep(5)
        phases["after run"] = (phases["during run"][1], time.time())
    stop.touch()
    for p in readers.values():
        p.wait(timeout=60)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    for m in modes:
        for row in _summary(args.out / f"{m}.jsonl", phases):
            print(json.dumps({"mode": m, **row}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
