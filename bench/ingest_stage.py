"""The ingest stage alone on a folder, timed (what `docs/performance.md` quotes for ingest).

    python -m bench.ingest_stage INPUT_DIR --state S --warehouse W

Runs ``start_run`` + ``stages.ingest`` on a fresh state folder (give new S and W each time)
and prints the stage's wall time with the parse, normalise and block-building shares.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    from pipeline import ingest, stages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input_dir")
    ap.add_argument("--state", required=True)
    ap.add_argument("--warehouse", required=True)
    args = ap.parse_args(argv)
    shares = {"parse": 0.0, "normalise": 0.0, "block": 0.0}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                shares[name] += time.perf_counter() - t
        return wrapper

    ingest.parse_bytes = timed("parse", ingest.parse_bytes)
    ingest.normalise = timed("normalise", ingest.normalise)
    ingest._candidate_block = timed("block", ingest._candidate_block)
    manifest = stages.start_run("bench_ingest", overrides={"input_dir": args.input_dir, "state_dir": args.state,
                                                           "warehouse": args.warehouse})
    t = time.perf_counter()
    stages.ingest(manifest)
    print({"ingest_seconds": round(time.perf_counter() - t, 2), **{k: round(v, 2) for k, v in shares.items()}})


if __name__ == "__main__":  # the helper processes import this module: nothing runs on import
    main()
