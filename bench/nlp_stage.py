"""newsdesk's NLP stage alone, exactly as the DAG runs it (``pipeline.stages.nlp``).

    python -m bench.nlp_stage prepare INPUT_DIR --state S --warehouse W   # start_run + ingest, prints the manifest
    python -m bench.nlp_stage run MANIFEST [--json out.json]             # the NLP stage on it, timed

``prepare`` runs the stages before NLP once (not timed), so that ``run`` can be repeated on
the same batch; the stage rebuilds its output folder each time. ``run`` loads the model
first and times it apart, like the baseline's, so both report the same thing: the work on
the articles. Settings (chunk size, processes) are the pipeline's own
(``NEWSDESK_NLP_BATCH``, ``NEWSDESK_NLP_PROCESSES``), as under Airflow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def prepare(input_dir: Path, state: Path, warehouse: Path) -> str:
    from pipeline import stages

    manifest = stages.start_run("bench_nlp_stage", overrides={"input_dir": str(input_dir), "state_dir": str(state),
                                                               "warehouse": str(warehouse)})
    return stages.ingest(manifest)


def run(manifest_path: str) -> dict:
    import polars as pl

    from pipeline import stages
    from pipeline.runs import Manifest

    t0 = time.perf_counter()
    from pipeline.entities import load_nlp

    load_nlp()
    t_load = time.perf_counter() - t0
    m = Manifest.load(manifest_path)
    texts = pl.read_parquet(m.articles_path, columns=["text"])["text"]
    words = int(texts.str.count_matches(r"\S+").sum()) if texts.len() else 0
    t1 = time.perf_counter()
    stages.nlp(manifest_path)
    seconds = time.perf_counter() - t1
    record = json.loads((m.run_dir / "stages" / "nlp.json").read_text())
    return {
        "system": "nlp_stage",
        "articles": texts.len(),
        "words": words,
        "n_process": m.cfg.nlp_processes,
        "chunk": m.cfg.nlp_batch_size,
        "load_seconds": round(t_load, 3),
        "seconds": round(seconds, 3),
        "rows": record["rows"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("input_dir", type=Path)
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--warehouse", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("manifest")
    r.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        print(prepare(args.input_dir, args.state, args.warehouse))
        return
    text = json.dumps(run(args.manifest))
    if args.json:
        args.json.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
