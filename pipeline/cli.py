"""``newsdesk`` — run the nightly pipeline and look at what it produced.

Heavy imports (Airflow, spaCy, dbt, GX) happen inside the commands that need them, so
``newsdesk --help`` and ``newsdesk sql`` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import Settings

EPILOG = """\
examples:
  newsdesk run                      run the nightly DAG on seeds/ (through Airflow's dag.test)
  newsdesk run ~/news --warehouse /data/news.duckdb
  newsdesk summary                  totals, top actors and sources of the published warehouse
  newsdesk sql "SELECT * FROM quote_counts_per_source ORDER BY quotes DESC LIMIT 10"
  newsdesk backfill --from 2026-11-01 --to 2026-11-07   one run per nightly interval, oldest first
  newsdesk shell                    interactive SQL on the published snapshot (.tables, .schema T)
  newsdesk dashboard                the dashboard on http://127.0.0.1:8501 (read-only)
  newsdesk export --to out/         every mart as Parquet (--all: detail and internal tables too)
  newsdesk docs --serve             dbt docs and Great Expectations Data Docs on http://127.0.0.1:8580
  newsdesk alerts                   the latest alerts (failed nights, missed deadlines)
  newsdesk snapshots                published snapshots on disk, which one is current, which are open
  newsdesk runs                     recent runs with their outcome and stage timings
  newsdesk quarantine list          batches and inputs the pipeline refused, with reasons
  newsdesk airflow standalone       the same DAG under a real scheduler and web UI
  newsdesk cluster up               the DAG on Celery workers here (PostgreSQL, Redis, DuckLake); docs/scaling.md

"""


def _epilog() -> str:
    from pipeline.config import ENVIRONMENT

    width = max(map(len, ENVIRONMENT))
    lines = [f"  {name:<{width}}  {what}" for name, what in ENVIRONMENT.items()]
    return EPILOG + "\nenvironment (flags win over variables):\n" + "\n".join(lines) + "\n"


class UserError(Exception):
    """A mistake in what the user asked for: shown as one line, exit code 2, no traceback."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    deps = ", ".join(f"{n} {v(p)}" for n, p in (("Airflow", "apache-airflow"), ("dbt-core", "dbt-core"),
                                                  ("dbt-duckdb", "dbt-duckdb"), ("DuckDB", "duckdb"),
                                                  ("Great Expectations", "great-expectations"),
                                                  ("Polars", "polars"), ("spaCy", "spacy"), ("Streamlit", "streamlit")))
    return f"newsdesk {v('newsdesk')} ({deps})"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        input_dir=getattr(args, "input_dir", None),
        warehouse=getattr(args, "warehouse", None),
        state_dir=getattr(args, "state", None),
    )


def _progress_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("newsdesk")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline import airflow_runner, report, stages
    from pipeline.runs import Manifest

    settings = _settings(args)
    if not settings.input_dir.exists():
        print(f"newsdesk: input folder {settings.input_dir} does not exist", file=sys.stderr)
        return 2
    try:  # a broken sources.yaml is reported before Airflow starts
        from pipeline.sources import load_sources

        load_sources(settings.input_dir, settings.source_policy)
    except (ValueError, FileNotFoundError) as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2
    from pipeline import runlock

    busy = runlock.check(settings.warehouse)
    if busy:  # the run would be refused by start_run anyway: say so before Airflow starts
        print(f"newsdesk: {busy}", file=sys.stderr)
        return 1
    _progress_logging(args.verbose)
    logical_date = _instant(args.date, "--date") if args.date else None
    print(f"newsdesk: running DAG {airflow_runner.DAG_ID} on {settings.input_dir}", file=sys.stderr)
    t0 = datetime.now(UTC)
    # with --json, stdout carries the JSON document only: what Airflow and the libraries it
    # loads print while the DAG runs (warnings, logs) goes to stderr
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = airflow_runner.run_dag(settings, logical_date=logical_date, quiet=not args.verbose)
    seconds = (datetime.now(UTC) - t0).total_seconds()
    run_dir = _find_run_dir(settings, result["run_id"])
    records = Manifest.load(run_dir / "manifest.json").stage_records() if run_dir else []
    outcome = stages.read_outcome(run_dir) if run_dir else None
    if result["state"] != "success" or not outcome or outcome.get("status") not in ("published", "unchanged"):
        print(f"\nnewsdesk: run {result['run_id']} FAILED (Airflow state: {result['state']})", file=sys.stderr)
        if outcome:
            print(json.dumps(outcome, indent=2), file=sys.stderr)
        for stage, status, secs, rows in report.stage_table(records):
            print(f"  {stage:<19} {status:<8} {secs:7.2f}s  {rows}", file=sys.stderr)
        print("The published warehouse was left as it was. See: newsdesk quarantine list", file=sys.stderr)
        return 1
    from pipeline import snapshots

    try:
        summary = report.warehouse_summary(settings.warehouse)
    except snapshots.NothingPublished:
        # a first night that found nothing to load (every file deferred as still being written,
        # or all refused): nothing to summarise yet, which is no failure
        deferred = next((r["rows"].get("files_deferred", 0) for r in records if r["stage"] == "ingest"), 0)
        print(f"\nRun {result['run_id']} found nothing new; nothing is published yet at {settings.warehouse}"
              + (f" ({deferred} file(s) deferred as still being written: the next run reads them)" if deferred else ""))
        return 0
    if args.json:
        print(report.as_json({**summary, "run_id": result["run_id"], "seconds": seconds, "stages": records}))
    else:
        done = "published" if outcome["status"] == "published" else "found nothing new (warehouse unchanged)"
        print(f"\nRun {result['run_id']} {done} in {seconds:.1f}s\n")
        print(report.format_summary(summary, records))
        print("\nQuery it:  newsdesk sql \"SELECT * FROM mentions_per_actor ORDER BY mentions DESC\"")
    return 0


def _find_run_dir(settings: Settings, run_id: str) -> Path | None:
    for manifest in sorted(settings.runs_dir.glob("*/manifest.json"), reverse=True):
        if json.loads(manifest.read_text()).get("run_id") == run_id:
            return manifest.parent
    return None


def _instant(text: str, flag: str = "date") -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO timestamp, read as Airflow's backfill reads dates."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_backfill(args: argparse.Namespace) -> int:
    """The CLI twin of ``airflow backfill create``: one dag.test run per scheduled interval."""
    from pipeline import airflow_runner

    settings = _settings(args)
    if not settings.input_dir.exists():
        print(f"newsdesk: input {settings.input_dir} does not exist", file=sys.stderr)
        return 2
    _progress_logging(args.verbose)
    start, end = _instant(args.start, "--from"), _instant(args.end, "--to")
    if start > end:
        raise UserError(f"--from {args.start} is after --to {args.end}")
    intervals = airflow_runner.backfill_intervals(settings, start, end)
    print(f"newsdesk: backfilling {len(intervals)} interval(s) of {airflow_runner.DAG_ID} "
          f"with logical dates in [{start.isoformat()}, {end.isoformat()}]", file=sys.stderr)
    if args.dry_run:
        for a, b in intervals:
            print(f"  {a.isoformat()} -> {b.isoformat()}")
        return 0
    results = airflow_runner.run_backfill(settings, start, end, quiet=not args.verbose)
    for r in results:
        print(f"  {r['interval'][0]} -> {r['interval'][1]}  {r['state']:<8} {r['run_id']}")
    failed = [r for r in results if r["state"] != "success"]
    if failed:
        print(f"newsdesk: stopped at the failed interval {failed[0]['interval']}; fix it and run the same "
              "backfill again (finished intervals are no-ops)", file=sys.stderr)
        return 1
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from pipeline import report

    settings = _settings(args)
    if not settings.warehouse.exists():
        print(f"newsdesk: nothing published yet at {settings.warehouse}; run `newsdesk run` first", file=sys.stderr)
        return 1
    s = report.warehouse_summary(settings.warehouse, top=args.top)
    print(report.as_json(s) if args.json else report.format_summary(s))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from pipeline import review

    settings = _settings(args)
    if not settings.warehouse.exists():
        print(f"newsdesk: nothing published yet at {settings.warehouse}; run `newsdesk run` first", file=sys.stderr)
        return 1
    print(review.review(settings.warehouse, top=args.top, articles=args.articles, seed=args.seed))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from pipeline import snapshots

    settings = _settings(args)
    if not settings.warehouse.exists():
        print(f"newsdesk: nothing published yet at {settings.warehouse}", file=sys.stderr)
        return 1
    import duckdb

    with snapshots.connect_analyst(settings.warehouse) as con:  # no file, network or extension access
        try:
            rel = con.sql(args.query)
        except duckdb.Error as exc:  # a typo in a query is not a crash: say what DuckDB said
            print(f"newsdesk sql: {exc}", file=sys.stderr)
            return 1
        if rel is None:
            return 0
        if args.format == "csv":
            import csv

            writer = csv.writer(sys.stdout)
            writer.writerow(rel.columns)
            writer.writerows(rel.fetchall())
        elif args.format == "json":
            cols = rel.columns
            print(json.dumps([dict(zip(cols, r, strict=True)) for r in rel.fetchall()], default=str, indent=2))
        else:
            rel.show(max_width=int(os.environ.get("COLUMNS", "160")), max_rows=args.max_rows)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from pipeline import stages
    from pipeline.runs import Manifest

    settings = _settings(args)
    folders = sorted(settings.runs_dir.glob("*/manifest.json"), reverse=True)[: args.limit]
    if not folders:
        print("no runs yet")
        return 0
    for mpath in folders:
        m = Manifest.load(mpath)
        outcome = stages.read_outcome(m.run_dir) or {"status": "running or killed"}
        total = sum(r["seconds"] for r in m.stage_records())
        print(f"{m.batch_id}  {outcome.get('status'):<12} {total:7.1f}s  {m.run_id}")
        if outcome.get("status") not in ("published", "unchanged"):
            print(f"    failed at {outcome.get('failed_stage')}: {str(outcome.get('error'))[:300]}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from pipeline import quarantine, snapshots

    settings = _settings(args)
    if args.action == "release":
        try:
            folder = quarantine.release(settings, args.batch_id)
        except FileNotFoundError:
            known = [b["batch_id"] for b in quarantine.batches(settings) if not b["released"]]
            raise UserError(f"no quarantined batch {args.batch_id!r} in {settings.quarantine_dir}; held: "
                            + (", ".join(known[:10]) or "none") + " (see: newsdesk quarantine list)") from None
        print(f"released {args.batch_id}: the next run takes its articles again ({folder} is kept)")
        return 0
    found = quarantine.batches(settings)
    print(f"Quarantined batches ({len(found)}) under {settings.quarantine_dir}:")
    for b in found:
        state = "released" if b["released"] else "held"
        print(f"  {b['batch_id']}  {state:<8} {b['articles']:>5} articles  {b['stage']}: {b['message'][:200]}")
    if settings.warehouse.exists():
        with snapshots.connect_published(settings.warehouse) as con:
            rows = con.execute(
                "SELECT stage, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY 3 DESC").fetchall()
        print("\nRefused inputs in the published warehouse (stage, reason, count):")
        for stage, reason, n in rows:
            print(f"  {stage:<18} {reason:<24} {n}")
        print("  details: newsdesk sql \"SELECT input, reason, detail FROM quarantine\"")
    return 0


def _published_or_explain(settings: Settings) -> bool:
    if settings.warehouse.exists():
        return True
    print(f"newsdesk: nothing published yet at {settings.warehouse}; run `newsdesk run` first", file=sys.stderr)
    return False


def cmd_shell(args: argparse.Namespace) -> int:
    from pipeline.shell import run_shell

    settings = _settings(args)
    if not _published_or_explain(settings):
        return 1
    return run_shell(settings.warehouse, settings.state_dir / "shell_history")


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.export import export_marts

    settings = _settings(args)
    if not _published_or_explain(settings):
        return 1
    manifest = export_marts(settings.warehouse, Path(args.to).resolve(), include_detail=args.all)
    for table, n in manifest["tables"].items():
        print(f"  {table + '.parquet':<36} {n:>10,} rows")
    print(f"snapshot {manifest['snapshot']} exported to {Path(args.to).resolve()}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from pipeline import snapshots
    from pipeline.dbt_docs import generate_docs
    from pipeline.docs_server import gx_data_docs, make_server

    settings = _settings(args)
    if not _published_or_explain(settings):
        return 1
    index = generate_docs(settings, Path(args.out).resolve() if args.out else None)
    gx_index = gx_data_docs(settings)
    print(f"dbt docs of the published snapshot:  file://{index}")
    print(f"Great Expectations Data Docs:        file://{gx_index}")
    if not args.serve:
        return 0
    server = make_server(index.parent, gx_index.parent, snapshots.snapshot_id(snapshots.resolve(settings.warehouse)),
                         address=args.address, port=args.port)
    host, port = server.server_address[:2]
    print(f"serving both on http://{host}:{port}/  (dbt: /dbt/, Data Docs: /gx/); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from pipeline.alert_log import read_alerts
    from pipeline.config import Operations

    ops = Operations.from_env({**os.environ, "NEWSDESK_STATE": str(_settings(args).state_dir)})
    found = read_alerts(ops.alerts_log, limit=args.limit) if ops.alerts_log else []
    if not found:
        print(f"no alerts in {ops.alerts_log}")
        return 0
    for a in found:
        print(f"{a.get('at')}  {a.get('text') or a.get('event')}"
              + (f"  [{a['channel']} {a['error']}]" if a.get("event") == "delivery_failed" else ""))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from pipeline import dashboard

    settings = _settings(args)
    argv = dashboard.command(port=args.port, address=args.address)
    print(f"newsdesk dashboard on http://{args.address}:{args.port} (read-only view of {settings.warehouse}); "
          "Ctrl-C stops it", file=sys.stderr)
    os.execvpe(argv[0], argv, dashboard.environment(settings))
    return 0  # not reached


def cmd_snapshots(args: argparse.Namespace) -> int:
    from pipeline import snapshots

    settings = _settings(args)
    found = snapshots.list_snapshots(settings.warehouse)
    if not found:
        print(f"no snapshots under {snapshots.snapshot_dir(settings.warehouse)}")
        return 0
    print(f"{settings.warehouse} -> {snapshots.location(settings.warehouse)}")
    for s in found:
        flags = ", ".join(f for f, on in (("current", s.current), ("open by a reader", s.in_use),
                                          ("ORPHAN: never published (a run killed before the link swap); the "
                                           "next publish removes it", s.orphan)) if on)
        print(f"  {s.snapshot_id:<28} {s.published_at:%Y-%m-%d %H:%M:%S}  {s.bytes / 2**20:8.1f} MB  {flags}")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """``newsdesk cluster up|status|run|env|down``: see pipeline/cluster.py and docs/scaling.md."""
    from pipeline import cluster

    settings = _settings(args)
    try:
        if args.action == "up":
            print(f"newsdesk cluster: starting under {cluster.cluster_dir(settings)} ...", file=sys.stderr)
            c = cluster.up(settings, workers=args.workers, file_warehouse=args.file_warehouse,
                           nlp_processes=args.nlp_processes, timeout=args.timeout)
            for name, seconds in c.info["startup_seconds"].items():
                print(f"  {name:<26} ready after {seconds:6.1f}s")
            print(f"Airflow UI {c.api_url} (admin/admin) · {c.info['workers']} Celery workers · warehouse "
                  f"{c.warehouse_env()['NEWSDESK_WAREHOUSE']}\nnext: newsdesk cluster run [INPUT]; "
                  "eval \"$(newsdesk cluster env)\" to point newsdesk sql/shell/dashboard at its warehouse")
        elif args.action == "status":
            rows = cluster.status(settings)
            if not rows:
                print(f"no cluster running under {cluster.cluster_dir(settings)} (newsdesk cluster up)")
            for r in rows:
                print(f"  {r['component']:<14} pid {r['pid'] or '-':<8} {'running' if r['running'] else 'STOPPED':<8} "
                      f"{r['detail']}")
            return 0 if rows and all(r["running"] for r in rows) else 3
        elif args.action == "env":
            print(cluster.env_lines(settings))
        elif args.action == "run":
            input_dir = Path(args.input_dir).resolve() if args.input_dir else settings.input_dir
            run_id = cluster.trigger(settings, input_dir)
            print(f"newsdesk cluster: triggered {cluster.DAG_ID} run {run_id} on {input_dir}", file=sys.stderr)
            state = cluster.wait(settings, run_id, timeout=args.timeout)
            for ti in cluster.task_instances(settings, run_id):
                index = "" if ti["map_index"] == "-1" else f"[{ti['map_index']}]"
                print(f"  {ti['task_id'] + index:<22} {ti['state']:<8} try {ti['try_number']}  {ti['seconds']:>7}s")
            print(f"run {run_id}: {state}")
            return 0 if state == "success" else 1
        elif args.action == "down":
            stopped = cluster.down(settings, purge=args.purge)
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    except (cluster.ClusterError, cluster.ServiceError) as exc:
        print(f"newsdesk cluster: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_migrate_warehouse(args: argparse.Namespace) -> int:
    from pipeline.migrate import import_warehouse

    settings = _settings(args)
    done = import_warehouse(Path(args.export_dir).resolve(), settings.warehouse, settings.build_dir)
    print(f"imported {len(done['tables'])} tables (exported by DuckDB {done['from_duckdb']}) as {done['snapshot']}")
    for path in done["moved_aside"]:
        print(f"  unreadable old snapshots moved aside: {path} (delete when you no longer need them)")
    return 0


def _pop_newsdesk_flags(args: argparse.Namespace) -> None:
    """Let ``--state``/``--warehouse`` stand anywhere: ``newsdesk airflow standalone --state X``."""
    rest, it = [], iter(args.airflow_args)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name in ("--state", "--warehouse"):
            setattr(args, name[2:], value if eq else next(it, None))
        else:
            rest.append(arg)
    args.airflow_args = rest


def cmd_airflow(args: argparse.Namespace) -> int:
    from pipeline import airflow_runner

    _pop_newsdesk_flags(args)
    settings = _settings(args)
    env = {**os.environ, **airflow_runner.airflow_env(settings, quiet=False)}
    airflow_runner.ensure_metadata_db(settings, env)
    os.execvpe(sys.executable, [sys.executable, "-m", "airflow", *args.airflow_args], env)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--warehouse", help="published DuckDB file (default: NEWSDESK_WAREHOUSE or "
                                            "warehouse/newsdesk.duckdb)")
    common.add_argument("--state", help="state folder: runs, quarantine, Airflow home (default: .newsdesk)")

    parser = argparse.ArgumentParser(
        prog="newsdesk",
        description="newsdesk: find who is mentioned and who is quoted, through which outlet, in news "
                    "articles. Airflow runs the pipeline, Polars and spaCy tag the text, DuckDB holds the "
                    "warehouse, dbt builds the marts, Great Expectations checks every stage.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", parents=[common], help="run the nightly DAG once on an input folder",
                       description="Run the newsdesk_nightly DAG once through Airflow (dag.test on a SQLite "
                                   "metadata DB in the state folder): ingest, validate, NLP, load, dbt build, "
                                   "validate marts, publish. Prints a summary; exit code 1 if the run failed.")
    p.add_argument("input_dir", nargs="?", help="folder of articles (.txt .json .jsonl .csv .html .xml/.rss/.atom "
                                                ".warc[.gz]) or a sources.yaml (default: seeds/)")
    p.add_argument("--date", help="logical date of the run (YYYY-MM-DD[THH:MM]); default: now")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="show Airflow's own logs too")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("backfill", parents=[common], help="run the DAG once per nightly interval in a date range",
                       description="Runs newsdesk_nightly through dag.test once per scheduled data interval whose "
                                   "logical date lies in [--from, --to] (dates are midnight UTC, as for Airflow's "
                                   "backfill), oldest first; each run "
                                   "takes the inputs modified before its interval's end that no earlier run read. "
                                   "Re-running a range is a no-op for intervals already published. Under a real "
                                   "scheduler the same is `newsdesk airflow backfill create --dag-id "
                                   "newsdesk_nightly --from-date ... --to-date ...`.")
    p.add_argument("input_dir", nargs="?", help="input folder or sources.yaml (default: NEWSDESK_INPUT)")
    p.add_argument("--from", dest="start", required=True, help="first logical date (YYYY-MM-DD or ISO time)")
    p.add_argument("--to", dest="end", required=True, help="latest logical date (inclusive instant)")
    p.add_argument("--dry-run", action="store_true", help="list the intervals, run nothing")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("summary", parents=[common], help="totals and top lists of the published warehouse")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("review", parents=[common], help="top actors, sources and sample quotes, for a person to check",
                       description="Prints the published snapshot's top people, organisations and places, the most "
                                   "quoted sources, the quote share by gender and every quotation of a few "
                                   "articles with its speaker: what to read before trusting the numbers.")
    p.add_argument("--top", type=int, default=50)
    p.add_argument("--articles", type=int, default=3, help="articles whose quotations are listed")
    p.add_argument("--seed", type=int, default=0, help="picks other articles")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("sql", parents=[common], help="run a read-only SQL query on the published warehouse")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=100)
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("shell", parents=[common], help="interactive SQL shell on the published snapshot",
                       description="A read-only SQL prompt on the current snapshot (statements end with ';'; "
                                   ".tables, .schema TABLE, .refresh, .help). History is kept in the state folder.")
    p.set_defaults(func=cmd_shell)

    p = sub.add_parser("export", parents=[common], help="write the marts of the published snapshot as Parquet")
    p.add_argument("--to", required=True, metavar="DIR", help="folder for <mart>.parquet files and manifest.json")
    p.add_argument("--all", action="store_true", help="also the detail tables (articles, quotes, ...) and dbt's "
                                                      "internal ones (int_*, actors, actor_resolution)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("docs", parents=[common], help="dbt docs and GX Data Docs (--serve: on loopback)",
                       description="Runs `dbt docs generate --static` on the published snapshot (read-only) and "
                                   "writes one self-contained HTML file (default: <state>/docs/site/index.html); "
                                   "prints it with the Great Expectations Data Docs the runs keep in <state>/gx. "
                                   "--serve serves both over HTTP, bound to 127.0.0.1 unless --address says otherwise.")
    p.add_argument("--out", metavar="DIR", help="folder for the dbt site's index.html")
    p.add_argument("--serve", action="store_true", help="serve both sites over HTTP until Ctrl-C")
    p.add_argument("--port", type=int, default=8580, help="port for --serve (default 8580; 0 picks a free one)")
    p.add_argument("--address", default="127.0.0.1", help="interface for --serve (default: loopback only)")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("dashboard", parents=[common], help="serve the dashboard (Streamlit) on loopback",
                       description="Starts the Streamlit dashboard on the published snapshot, read-only, bound to "
                                   "127.0.0.1 unless --address says otherwise. No usage statistics are sent.")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("alerts", parents=[common], help="latest alerts: failed nights, missed publish deadlines")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("snapshots", parents=[common], help="published snapshots on disk")
    p.set_defaults(func=cmd_snapshots)

    p = sub.add_parser("runs", parents=[common], help="recent runs: outcome and time")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("quarantine", parents=[common], help="list or release quarantined batches")
    p.add_argument("action", choices=["list", "release"], nargs="?", default="list")
    p.add_argument("batch_id", nargs="?")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("cluster", parents=[common], help="the DAG on Celery workers here: up|status|run|env|down",
                       description="Starts (up), reports (status), uses (run: trigger the nightly DAG and wait; env: "
                                   "the settings readers need) and stops (down) PostgreSQL, Redis, Airflow's "
                                   "api-server, scheduler, dag-processor and Celery workers on free loopback ports, "
                                   "state under <state>/cluster. See docs/scaling.md.")
    p.add_argument("action", choices=["up", "status", "run", "env", "down"])
    p.add_argument("input_dir", nargs="?", help="run: input folder or sources.yaml (default: NEWSDESK_INPUT)")
    p.add_argument("--workers", type=int, default=2, help="up: Celery workers, concurrency 1 each (default 2)")
    p.add_argument("--nlp-processes", type=int, default=1, help="up: NER processes per NLP task (default 1)")
    p.add_argument("--file-warehouse", action="store_true", help="up: publish to the DuckDB file, not DuckLake")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for up or a run (default 1800)")
    p.add_argument("--purge", action="store_true", help="down: also delete the databases, lake and logs")
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("migrate-warehouse", parents=[common],
                       help="import a warehouse exported from another DuckDB version (python -m pipeline.migrate)",
                       description="Imports the folder written by `python -m pipeline.migrate export WAREHOUSE DIR` "
                                   "(run with the DuckDB that wrote the warehouse, e.g. 2.0.1) as a new snapshot "
                                   "and points the warehouse path at it; the unreadable old snapshots are moved "
                                   "aside, not deleted. See docs/scaling.md (DuckDB version).")
    p.add_argument("export_dir")
    p.set_defaults(func=cmd_migrate_warehouse)

    p = sub.add_parser("airflow", parents=[common], help="any airflow command with newsdesk's environment",
                       description="Runs `airflow ARGS` with AIRFLOW_HOME, the dags folder and the NEWSDESK_* "
                                   "settings of this project, e.g. `newsdesk airflow standalone` or "
                                   "`newsdesk airflow backfill create --dag-id newsdesk_nightly "
                                   "--from-date ... --to-date ...` (a scheduler runs the backfill; "
                                   "`newsdesk backfill` runs the same intervals at once).")
    p.add_argument("airflow_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "quarantine" and args.action == "release" and not args.batch_id:
        parser.error("quarantine release needs a BATCH_ID")
    from pipeline.warehouse import WarehouseVersionError

    try:
        return args.func(args)
    except WarehouseVersionError as exc:  # a file of another DuckDB version: say how to move it over
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2
    except (UserError, ValueError) as exc:  # bad flags or settings: one line, not a traceback
        if not isinstance(exc, UserError) and not str(exc).startswith("NEWSDESK_"):
            raise
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
