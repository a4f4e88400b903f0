"""A reader process that queries the published warehouse in a loop, one JSON line per query.

    python -m bench.reader_loop WAREHOUSE --out answers.jsonl --stop-file STOP [--mode published|path|hold]

Used by the read-while-publishing test (tests/test_readers_e2e.py) and the latency
benchmark (bench/reader_latency.py). Each iteration answers ONE query that reads the
snapshot id and counts from several marts and detail tables, so a half-refreshed warehouse
would show up as an answer that matches neither the old nor the new snapshot.

Modes: ``published`` opens the current snapshot through ``snapshots.connect_published``
each time (what ``newsdesk sql``, the shell and the dashboard do); ``path`` opens the
warehouse path itself read-only each time (what the DuckDB CLI does with the symlink);
``hold`` keeps one connection for the whole loop (a long analyst session).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

from pipeline import snapshots

QUERY = """
SELECT
    (SELECT snapshot_id FROM publish_log ORDER BY published_at DESC LIMIT 1) AS snapshot,
    (SELECT count(*) FROM articles) AS articles,
    (SELECT count(*) FROM run_log) AS run_log_rows,
    (SELECT count(*) FROM entity_mentions) AS mentions,
    (SELECT sum(mentions) FROM mentions_per_actor) AS mart_mentions,
    (SELECT count(*) FROM mentions_per_actor) AS actors,
    (SELECT sum(quotes) FROM quote_counts_per_source) AS mart_quotes,
    (SELECT sum(mentions) FROM activity_per_actor_daily) AS daily_mentions,
    (SELECT count(*) FROM co_mentions) AS actor_pairs,
    (SELECT count(*) FROM quotes_in_context) AS quotes_in_context
"""


def answer(con: duckdb.DuckDBPyConnection) -> dict:
    rel = con.sql(QUERY)
    row = rel.fetchall()[0]
    return {c: (int(v) if isinstance(v, int) else v) for c, v in zip(rel.columns, row, strict=True)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stop-file", type=Path, required=True, help="the loop ends when this file exists")
    ap.add_argument("--mode", choices=["published", "path", "hold"], default="published")
    ap.add_argument("--pause", type=float, default=0.02, help="seconds between queries")
    ap.add_argument("--max-seconds", type=float, default=900.0)
    args = ap.parse_args(argv)

    held = snapshots.connect_published(args.warehouse) if args.mode == "hold" else None
    held_con = held.__enter__() if held else None
    deadline = time.monotonic() + args.max_seconds
    with args.out.open("w") as out:
        print(json.dumps({"ready": True}), file=out, flush=True)
        while not args.stop_file.exists() and time.monotonic() < deadline:
            t0 = time.perf_counter()
            record: dict = {"at": time.time()}
            try:
                if held_con is not None:
                    record["answer"] = answer(held_con)
                elif args.mode == "path":
                    with duckdb.connect(str(args.warehouse), read_only=True) as con:
                        record["answer"] = answer(con)
                else:
                    with snapshots.connect_published(args.warehouse) as con:
                        record["answer"] = answer(con)
            except Exception as exc:  # every failure is data for the test: count it, keep going
                record["error"] = f"{type(exc).__name__}: {exc}"
            record["ms"] = round((time.perf_counter() - t0) * 1000, 3)
            print(json.dumps(record), file=out, flush=True)
            time.sleep(args.pause)
    if held:
        held.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
