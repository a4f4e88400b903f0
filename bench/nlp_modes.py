"""Single machine: the NLP stage as mapped parts (the DAG) against one task with an in-task pool.

    python -m bench.nlp_modes --n 1000 --part 250 --runs 3 --work /tmp/newsdesk-bench-modes

One batch of N generated articles (``bench.synth``, from the real corpora) is ingested once;
then, interleaved run by run, each in a fresh process, with ``NEWSDESK_NLP_PROCESSES`` NER
processes (default 2, this machine's cores):

* ``in_task``: ``stages.nlp``: every part in one task, one pool of NER workers for all of them;
* ``mapped``: what ``dag.test`` runs for the DAG's mapped tasks: ``nlp_plan``, then each
  ``nlp_part`` as a task of its own (its own pool: the workers start and load the model once
  per part), then ``nlp_link``.

Prints the median seconds of each and their ratio, with the 1-minute load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import perf, synth

REPO = Path(__file__).resolve().parents[1]


def _child(mode: str, manifest: str) -> None:
    from pipeline import stages

    t0 = time.perf_counter()
    if mode == "in_task":
        stages.nlp(manifest)
    else:
        for part in stages.nlp_plan(manifest):
            stages.nlp_part(manifest, part)
        stages.nlp_link(manifest)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 2)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--part", type=int, default=250)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", type=Path, default=Path("/tmp/newsdesk-bench-modes"))
    ap.add_argument("--child", nargs=2, metavar=("MODE", "MANIFEST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    os.environ["NEWSDESK_NLP_BATCH"] = str(args.part)
    args.work.mkdir(parents=True, exist_ok=True)
    input_dir = perf.corpus_dir(args.work, args.n, seed=args.seed, sources=synth.load_sources())
    manifest = perf.prepare_nlp(args.work, input_dir, args.n)
    results: dict[str, list[float]] = {"in_task": [], "mapped": []}
    loads = []
    for r in range(args.runs):
        for mode in (("in_task", "mapped") if r % 2 == 0 else ("mapped", "in_task")):
            loads.append(round(os.getloadavg()[0], 2))
            out = subprocess.run([sys.executable, "-m", "bench.nlp_modes", "--child", mode, manifest], cwd=REPO,
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                                 check=True)
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
            print(json.dumps({"run": r, "mode": mode, "seconds": results[mode][-1], "load1": loads[-1]}), flush=True)
    med = {m: statistics.median(v) for m, v in results.items()}
    procs = os.environ.get("NEWSDESK_NLP_PROCESSES", "2")
    print(f"\nN={args.n}, parts of {args.part}, {procs} NER processes, median of {args.runs}: in-task pool "
          f"{med['in_task']:.1f}s, mapped parts {med['mapped']:.1f}s ({med['mapped'] / med['in_task']:.2f}×); "
          f"load {min(loads)}–{max(loads)}")


if __name__ == "__main__":
    main()
