"""Server-side cost of each dashboard query on a warehouse, without a browser (no cache).

Times every function the dashboard's views call, with the page's default filters and with
one outlet and one month, on the published snapshot; medians of ``--runs``. Together with
``bench.dashboard_timing`` (the browser's view) it says what is query and what is rendering.

    python -m bench.dashboard_queries --warehouse W --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from pipeline import snapshots
from pipeline.dashboard import data


def calls(con, f: data.Filters, cov: data.Coverage) -> dict[str, tuple]:
    top = data.top_actors(con, f, 10)
    actor = top["actor_id"][0] if top.height else data.find_actors(con, data.Filters())["actor_id"][0]
    grain = data.pick_grain(f, cov)
    return {
        "snapshot_info": (), "coverage": (), "top_actors": (f, 10), "top_actors_over_time": (f, 10, grain),
        "quotes_per_source": (f, 15), "quotes_per_outlet": (f, 15), "co_mentions_table": (f, 50),
        "top_quotes_table": (f, 3, 15), "share_of_voice": (f, "week" if grain == "day" else grain, "actor_type"),
        "top_quoted_per_outlet": (f, 6, 5), "count_quotes": (f, "", None), "search_quotes": (f, "", None, 25, 0),
        "search_quotes_text": (f, "minister", None, 25, 0), "find_actors": (f, "", 200),
        "actor_profile": (actor,), "actor_timeline": (actor, f, grain), "actor_outlets": (actor, f),
        "actor_co_mentions": (actor, f, 20), "actor_quotes": (actor, f, 200), "quotes_csv": (f, "", None),
        "last_run_health": (),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    out: dict[str, dict[str, float]] = {}
    with snapshots.connect_published(args.warehouse) as con:
        cov = data.coverage(con)
        busiest = con.execute("SELECT max(day) FROM activity_per_actor_daily WHERE outlet = ?", [cov.outlets[0]])
        last = busiest.fetchall()[0][0]
        month = data.Filters(start=last - timedelta(days=30), end=last, outlets=cov.outlets[:1])
        for label, f in (("unfiltered", data.Filters()), ("one_outlet_30_days", month)):
            times: dict[str, list[float]] = {}
            for _ in range(args.runs):
                for name, fargs in calls(con, f, cov).items():
                    fn = getattr(data, name.removesuffix("_text"))
                    t = time.perf_counter()
                    fn(con, *fargs)
                    times.setdefault(name, []).append(time.perf_counter() - t)
            out[label] = {k: round(statistics.median(v), 3) for k, v in times.items()}
            out[label]["all_overview_queries"] = round(sum(out[label][k] for k in (
                "snapshot_info", "coverage", "top_actors", "top_actors_over_time", "quotes_per_source",
                "quotes_per_outlet", "co_mentions_table", "top_quotes_table")), 3)
    print(json.dumps({"warehouse": str(args.warehouse), "load_1min": round(os.getloadavg()[0], 2),
                      "median_seconds": out}, indent=2))


if __name__ == "__main__":
    main()
