"""What moving the DuckDB pin changes: the whole nightly run under two DuckDB versions, interleaved.

    python -m bench.duckdb_pin --venv duckdb-2.0.1=/tmp/nd-venv-duckdb2 --venv duckdb-1.5.5=.venv \
        --n 2000 --runs 3 --work /tmp/newsdesk-bench-pin

Each ``--venv LABEL=PATH`` is a virtualenv with this repository installed (editable) and the
DuckDB version under test (make one with ``NEWSDESK_VENV=PATH bin/setup-env``, then
``PATH/bin/pip install duckdb==X``). For each run, in turn for every venv: ``newsdesk run`` on
N generated articles (``bench.synth``, from the real corpora) into a fresh warehouse, through
Airflow's ``dag.test``, and the stage records of the run. Prints the median seconds per stage
and venv, the ratio to the first venv, and the 1-minute load average of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench import perf, synth

REPO = Path(__file__).resolve().parents[1]


def run_once(python: Path, input_dir: Path, base: Path, template: Path) -> dict:
    shutil.rmtree(base, ignore_errors=True)
    (base / "state").mkdir(parents=True)
    shutil.copytree(template, base / "state" / "airflow")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    load = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    proc = subprocess.run([str(python), "-m", "pipeline.cli", "run", str(input_dir), "--state", str(base / "state"),
                           "--warehouse", str(base / "wh" / "news.duckdb")], env=env, cwd=REPO,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{python}: newsdesk run failed:\n{proc.stderr[-3000:]}")
    (run_dir,) = (base / "state" / "runs").iterdir()
    stages = {json.loads(p.read_text())["stage"]: json.loads(p.read_text())["seconds"]
              for p in (run_dir / "stages").glob("*.json")}
    return {"wall": round(wall, 2), "load1": load, "stages": stages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", action="append", required=True, metavar="LABEL=PATH")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", type=Path, default=Path("/tmp/newsdesk-bench-pin"))
    args = ap.parse_args()
    venvs = dict(v.split("=", 1) for v in args.venv)
    args.work.mkdir(parents=True, exist_ok=True)
    input_dir = perf.corpus_dir(args.work, args.n, seed=args.seed, sources=synth.load_sources())
    template = args.work / "airflow-template"
    if not (template / "airflow" / ".migrated").exists():
        first = Path(next(iter(venvs.values()))) / "bin" / "python"
        subprocess.run([str(first), "-m", "pipeline.cli", "airflow", "--state", str(template), "version"],
                       cwd=REPO, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    results: dict[str, list[dict]] = {label: [] for label in venvs}
    for r in range(args.runs):
        for label, venv in venvs.items():
            row = run_once(Path(venv) / "bin" / "python", input_dir, args.work / f"run-{label}",
                           template / "airflow")
            results[label].append(row)
            print(json.dumps({"run": r, "venv": label, **row}), flush=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    first = next(iter(venvs))
    stages = [s for s in results[first][0]["stages"] if s != "publish"] + ["wall"]
    print(f"\nmedian seconds of {args.runs} runs, N={args.n} (ratio to {first})")
    print("| stage | " + " | ".join(venvs) + " |\n|---|" + "---|" * len(venvs))
    for stage in stages:
        med = {label: statistics.median(row["wall"] if stage == "wall" else row["stages"][stage] for row in rows)
               for label, rows in results.items()}
        cells = [f"{med[label]:.2f}" + ("" if label == first else f" ({med[label] / max(med[first], 1e-9):.2f}×)")
                 for label in venvs]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    loads = [row["load1"] for rows in results.values() for row in rows]
    print(f"load average (1 min) at the runs' starts: {min(loads)}–{max(loads)}")


if __name__ == "__main__":
    main()
