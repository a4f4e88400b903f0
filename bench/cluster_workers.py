"""1 Celery worker against 2: the nightly DAG on ``newsdesk cluster``, NLP stage and end to end.

    python -m bench.cluster_workers --n 3000 --runs 3 --part 500 --work /tmp/newsdesk-bench-cluster

Starts a cluster with two workers (concurrency 1, one NLP process each:
``NEWSDESK_NLP_PROCESSES=1``), then, ``--runs`` times, runs the DAG on the same N generated
articles (``bench.synth``, from the real corpora) into a fresh warehouse once with worker-2
stopped and once with both, the order alternating run by run so that machine load drifts
hit both alike. Parts are ``--part`` articles (``NEWSDESK_NLP_BATCH``). Per run:

* ``nlp``: first ``nlp_part`` start to ``nlp_link`` end (the stage as the DAG runs it:
  Celery queueing, task start-up, model loads and the parts, on however many workers);
* ``nlp_work``: the parts' own seconds summed (what one process would do);
* ``e2e``: the DAG run's start to end as Airflow recorded it.

Also prints each component's start-up seconds and the 1-minute load average at each run.
Everything it starts is stopped at the end, also on failure. Results: ``<work>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import datetime
from pathlib import Path

from bench import perf, synth


def run_metrics(settings, run_id: str) -> dict:
    from pipeline import cluster
    from pipeline.runs import Manifest

    for manifest in settings.runs_dir.glob("*/manifest.json"):
        if json.loads(manifest.read_text())["run_id"] == run_id:
            records = Manifest.load(manifest).stage_records()
            break
    else:
        raise RuntimeError(f"no run folder for {run_id}")
    parts = [r for r in records if r["stage"] == "nlp_part"]
    link = next(r for r in records if r["stage"] == "nlp")
    start = min(datetime.fromisoformat(r["started_at"]) for r in parts)
    c = cluster.Cluster.load(settings)
    e2e = c.postgres.sql(f"SELECT extract(epoch FROM end_date - start_date) FROM dag_run WHERE run_id = '{run_id}'",
                         cluster.AIRFLOW_DB)
    return {"nlp": round((datetime.fromisoformat(link["finished_at"]) - start).total_seconds(), 2),
            "nlp_work": round(sum(r["seconds"] for r in parts), 2), "e2e": round(float(e2e), 2),
            "parts_by_worker": {h: sum(1 for r in parts if r["detail"].get("hostname") == h)
                                for h in sorted({r["detail"].get("hostname") for r in parts})}}


def idle(settings, timeout: float = 900) -> None:
    """Wait until no DAG run is queued or running (the scheduler's own nightly run after `up`)."""
    from pipeline import cluster

    c = cluster.Cluster.load(settings)
    deadline = time.monotonic() + timeout
    while c.postgres.sql("SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')",
                         cluster.AIRFLOW_DB) != "0":
        if time.monotonic() > deadline:
            raise RuntimeError("runs still active")
        time.sleep(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--part", type=int, default=500, help="articles per NLP part (NEWSDESK_NLP_BATCH)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", type=Path, default=Path("/tmp/newsdesk-bench-cluster"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.chmod(args.work, 0o755)  # PostgreSQL runs as user postgres when we are root
    input_dir = perf.corpus_dir(args.work, args.n, seed=args.seed, sources=synth.load_sources())
    (args.work / "empty").mkdir(exist_ok=True)
    os.environ.update(NEWSDESK_INPUT=str(args.work / "empty"), NEWSDESK_NLP_BATCH=str(args.part),
                      NEWSDESK_RETRY_DELAY_SECONDS="5")
    from pipeline import cluster
    from pipeline.config import Settings

    state = args.work / "state"
    shutil.rmtree(state, ignore_errors=True)
    settings = Settings.from_env(state_dir=state)
    rows = []
    try:
        c = cluster.up(settings, workers=2, file_warehouse=True)
        startup = dict(c.info["startup_seconds"])
        print(json.dumps({"startup_seconds": startup}), flush=True)
        idle(settings)
        for r in range(args.runs):
            for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
                c = cluster.Cluster.load(settings)
                if workers == 1 and "worker-2" in c.info["pids"]:
                    cluster.stop_worker(c, "worker-2")
                elif workers == 2 and "worker-2" not in c.info["pids"]:
                    cluster.start_worker(c, settings, 1)
                load = round(os.getloadavg()[0], 2)
                wh = args.work / f"wh-{r}-{workers}" / "news.duckdb"
                shutil.rmtree(wh.parent, ignore_errors=True)
                run_id = cluster.trigger(settings, input_dir, warehouse=wh)
                state_ = cluster.wait(settings, run_id, timeout=3600)
                row = {"run": r, "workers": workers, "state": state_, "load1": load, **run_metrics(settings, run_id)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        cluster.down(settings)
    (args.work / "results.json").write_text(json.dumps({"startup_seconds": startup, "runs": rows}, indent=2))
    print(f"\nN={args.n}, parts of {args.part}, median of {args.runs} (seconds)")
    print("| workers | NLP stage | NLP work (sum of parts) | end to end | load (1 min) |\n|---|---|---|---|---|")
    med = {}
    for w in (1, 2):
        mine = [x for x in rows if x["workers"] == w]
        med[w] = {k: statistics.median(x[k] for x in mine) for k in ("nlp", "nlp_work", "e2e")}
        loads = [x["load1"] for x in mine]
        print(f"| {w} | {med[w]['nlp']:.1f} | {med[w]['nlp_work']:.1f} | {med[w]['e2e']:.1f} | "
              f"{min(loads)}–{max(loads)} |")
    print(f"speed-up with 2 workers: NLP stage {med[1]['nlp'] / med[2]['nlp']:.2f}×, "
          f"end to end {med[1]['e2e'] / med[2]['e2e']:.2f}×")


if __name__ == "__main__":
    main()
