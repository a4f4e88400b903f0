"""The throughput/memory/nightly-cost harness of issue #6 (run on purpose, never by the tests).

    python -m bench.perf --sizes 1000 10000 --runs 3 --incremental
    python -m bench.perf --report-only            # tables + plot from the results collected so far

For each size N it generates N distinct articles from the real corpora (``bench.synth``,
into ``--work``, never into the repository) and measures, interleaved run by run so that
machine load hits all three alike:

* ``baseline``  — ``bench.baseline_spacy``: full ``en_core_web_sm`` ``nlp.pipe`` + pandas counts;
* ``nlp``       — ``bench.nlp_stage``: newsdesk's NLP stage (``pipeline.stages.nlp``) alone;
* ``e2e``       — ``newsdesk run`` (the whole DAG through Airflow's ``dag.test``) on a fresh
  warehouse, ingest to publish; per-stage wall times from the run's stage records.

Each is a child process; wall time and the peak RSS/PSS of its process tree come from
``bench.procmon``. With ``--incremental`` the last end-to-end warehouse of each N is then
run again with 0 new articles, and with 1 % new articles (the next indices of the corpus),
``--runs`` times each. Results are appended to ``<work>/results.jsonl`` (one JSON per
measurement) so that long sessions can be split; ``--report`` renders the median tables as
Markdown and ``--plot`` a PNG of throughput and memory against N.

Settings of newsdesk come from the environment as for any run (``NEWSDESK_NLP_PROCESSES``,
``NEWSDESK_NLP_BATCH``); each measurement records them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procmon, synth

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
NEWSDESK = str(Path(PY).with_name("newsdesk"))
SYSTEMS = ("baseline", "nlp", "e2e")


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------


def corpus_dir(work: Path, n: int, *, seed: int, start: int = 0, sources: list | None = None) -> Path:
    """A folder with articles ``start..start+n-1`` (hard links into a shared pool of files)."""
    pool = work / "pool"
    out = work / f"input-{start}-{start + n}"
    if out.is_dir() and (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for lo in range(start, start + n, synth.ARTICLES_PER_FILE):
        hi = min(lo + synth.ARTICLES_PER_FILE, start + n)
        name = f"bench-{seed}-{lo:08d}-{hi:08d}.jsonl"
        if not (pool / name).exists():
            synth.write_corpus(pool, lo, hi, seed=seed, sources=sources)
        os.link(pool / name, out / name)
    count_words(out)
    (out / ".complete").write_text("")
    return out


def count_words(folder: Path) -> dict[str, int]:
    """Articles and whitespace-separated words of title + body (the text both systems read)."""
    cache = folder / ".words.json"
    if cache.exists():
        return json.loads(cache.read_text())
    articles = words = 0
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                articles += 1
                words += len(obj["title"].split()) + len(obj["body"].split())
    out = {"articles": articles, "words": words}
    cache.write_text(json.dumps(out))
    return out


def merged_input(work: Path, parts: list[Path], name: str) -> Path:
    """A folder holding the files of several corpus folders (hard links, no copies)."""
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for part in parts:
        for f in part.glob("*.jsonl"):
            os.link(f, out / f.name)
    return out


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("NEWSDESK_NLP_PROCESSES", "2")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _settings_note(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("NEWSDESK_NLP")}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def measure_baseline(work: Path, input_dir: Path, *, n_process: int, batch_size: int) -> dict[str, Any]:
    out = work / "tmp-baseline.json"
    cmd = [PY, "-m", "bench.baseline_spacy", str(input_dir), "--n-process", str(n_process),
           "--batch-size", str(batch_size), "--json", str(out)]
    m = procmon.run(cmd, env=_env(), cwd=REPO, log=work / "logs" / "baseline.log")
    if m.returncode != 0:
        raise RuntimeError(f"baseline failed, see {work / 'logs' / 'baseline.log'}")
    return {**json.loads(out.read_text()), **_proc(m)}


def measure_nlp(work: Path, manifest: str) -> dict[str, Any]:
    out = work / "tmp-nlp.json"
    env = _env()
    m = procmon.run([PY, "-m", "bench.nlp_stage", "run", manifest, "--json", str(out)], env=env, cwd=REPO,
                    log=work / "logs" / "nlp.log")
    if m.returncode != 0:
        raise RuntimeError(f"NLP stage failed, see {work / 'logs' / 'nlp.log'}")
    return {**json.loads(out.read_text()), **_proc(m), "settings": _settings_note(env)}


def prepare_nlp(work: Path, input_dir: Path, n: int) -> str:
    """start_run + ingest once for the NLP-only measurements (not timed)."""
    base = work / f"nlp-{n}"
    shutil.rmtree(base, ignore_errors=True)
    proc = subprocess.run([PY, "-m", "bench.nlp_stage", "prepare", str(input_dir), "--state", str(base / "state"),
                           "--warehouse", str(base / "wh" / "news.duckdb")], env=_env(), cwd=REPO,
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip().splitlines()[-1]


def airflow_template(work: Path) -> Path:
    """A migrated Airflow metadata DB, copied into every run's state (migration is set-up, not a run)."""
    tmpl = work / "airflow-template"
    if not (tmpl / "airflow" / ".migrated").exists():
        shutil.rmtree(tmpl, ignore_errors=True)
        subprocess.run([NEWSDESK, "airflow", "--state", str(tmpl), "version"], env=_env(), cwd=REPO,
                       capture_output=True, check=True)
    return tmpl / "airflow"


def fresh_state(work: Path, name: str) -> tuple[Path, Path]:
    base = work / name
    shutil.rmtree(base, ignore_errors=True)
    (base / "state").mkdir(parents=True)
    shutil.copytree(airflow_template(work), base / "state" / "airflow")
    return base / "state", base / "wh" / "news.duckdb"


def measure_e2e(work: Path, input_dir: Path, state: Path, wh: Path, *, tag: str) -> dict[str, Any]:
    before = set(state.glob("runs/*"))
    env = _env()
    log = work / "logs" / f"e2e-{tag}.log"
    m = procmon.run([NEWSDESK, "run", str(input_dir), "--state", str(state), "--warehouse", str(wh), "--json"],
                    env=env, cwd=REPO, log=log)
    if m.returncode != 0:
        raise RuntimeError(f"newsdesk run failed, see {log}")
    (run_dir,) = set(state.glob("runs/*")) - before
    stages: dict[str, dict[str, Any]] = {}
    for p in sorted((run_dir / "stages").glob("*.json")):
        rec = json.loads(p.read_text())
        memory = rec.get("detail", {}).get("memory")
        if rec["stage"] in stages:  # a mapped stage (nlp_part): one record per part, seconds summed
            seen = stages[rec["stage"]]
            seen["seconds"] += rec["seconds"]
            seen["records"] += 1
            if memory and (seen["memory"] or {}).get("peak_rss_mb", 0) < memory.get("peak_rss_mb", 0):
                seen["memory"] = memory
            continue
        stages[rec["stage"]] = {"seconds": rec["seconds"], "rows": rec["rows"], "memory": memory, "records": 1}
    stage_sum = sum(s["seconds"] for s in stages.values())
    return {"system": "e2e", **_proc(m), "stages": stages, "stage_seconds": round(stage_sum, 3),
            "overhead_seconds": round(m.wall_seconds - stage_sum, 3), "settings": _settings_note(env),
            "new_articles": stages.get("ingest", {}).get("rows", {}).get("new_articles"),
            "warehouse_mb": round(sum(f.stat().st_size for f in wh.parent.glob("*.duckdb*")) / 2**20, 1),
            "run_dir_mb": round(sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file()) / 2**20, 1)}


def measure_quality(work: Path) -> dict[str, Any]:
    """Entity micro-F1 of the baseline and of newsdesk on the labelled data (``bench.eval_entities``),
    with the NER model that is current when the session runs."""
    out = work / "quality.json"
    subprocess.run([PY, "-m", "bench.eval_entities", "--json", str(out)], env=_env(), cwd=REPO, check=True,
                   stdout=open(work / "logs" / "quality.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    res = json.loads(out.read_text())
    return {"system": "quality", "f1": {name: {sys: round(r[sys]["micro"]["f1"], 3) for sys in ("baseline",
                                                                                                "newsdesk")
                                               if sys in r} for name, r in res.items()}}


def _proc(m: procmon.Measured) -> dict[str, Any]:
    return {"wall_seconds": m.wall_seconds, "peak_rss_mb": m.peak_rss_mb, "peak_pss_mb": m.peak_pss_mb}


# ---------------------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------------------


def record(results: Path, row: dict[str, Any]) -> None:
    row = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "load1": _load(), **row}
    with open(results, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    brief = {k: row.get(k) for k in ("n", "system", "kind", "run", "seconds", "wall_seconds", "peak_rss_mb",
                                     "load1")}
    print(json.dumps(brief), flush=True)


def session(args: argparse.Namespace) -> None:
    work: Path = args.work
    (work / "logs").mkdir(parents=True, exist_ok=True)
    results = work / "results.jsonl"
    sources = synth.load_sources()
    if args.quality:
        record(results, {"n": 0, "label": args.label, **measure_quality(work)})
    for n in args.sizes:
        input_dir = corpus_dir(work, n, seed=args.seed, sources=sources)
        size = count_words(input_dir)
        common = {"n": n, "articles": size["articles"], "words": size["words"], "label": args.label}
        manifest = prepare_nlp(work, input_dir, n) if "nlp" in args.systems else None
        state = wh = None
        for r in range(args.runs):
            if "baseline" in args.systems and n <= args.baseline_max_n:
                row = measure_baseline(work, input_dir, n_process=args.baseline_processes,
                                       batch_size=args.baseline_batch)
                record(results, {**common, **row, "run": r})
            if manifest:
                record(results, {**common, **measure_nlp(work, manifest), "run": r})
            if "e2e" in args.systems:
                state, wh = fresh_state(work, f"e2e-{n}")
                record(results, {**common, **measure_e2e(work, input_dir, state, wh, tag=f"{n}-{r}"),
                                 "kind": "full", "run": r})
        if manifest:
            shutil.rmtree(work / f"nlp-{n}", ignore_errors=True)
        if args.incremental and state is not None:
            incremental(args, work, results, common, input_dir, state, wh, sources)
        for r in range(args.runs):  # keep disk use bounded: only the last warehouse of each N is kept
            shutil.rmtree(work / f"input-{n}-{n + max(1, n // 100) * (r + 1)}", ignore_errors=True)


def incremental(args: argparse.Namespace, work: Path, results: Path, common: dict[str, Any], input_dir: Path,
                state: Path, wh: Path, sources: list) -> None:
    """0 new articles, then 1 % new ones (the next indices), on top of the last full run."""
    n = common["n"]
    for r in range(args.runs):
        row = measure_e2e(work, input_dir, state, wh, tag=f"{n}-zero-{r}")
        record(results, {**common, **row, "kind": "zero_new", "run": r})
    step = max(1, n // 100)
    parts = [input_dir]
    for r in range(args.runs):
        parts.append(corpus_dir(work, step, seed=args.seed, start=n + r * step, sources=sources))
        merged = merged_input(work, parts, f"input-inc-{n}")
        row = measure_e2e(work, merged, state, wh, tag=f"{n}-one-pct-{r}")
        record(results, {**common, **row, "kind": "one_pct_new", "new_words": count_words(parts[-1])["words"],
                         "run": r})


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def load_results(path: Path, label: str | None) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    labels = set(label.split(",")) if label else None
    return [r for r in rows if labels is None or r.get("label") in labels]


def summarise(rows: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """Median per (N, system/kind) of the numbers the report shows."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["system"] == "quality":
            continue
        key = r["system"] if r["system"] != "e2e" else f"e2e:{r.get('kind', 'full')}"
        groups.setdefault((r["n"], key), []).append(r)
    out = {}
    for (n, key), rs in groups.items():
        s: dict[str, Any] = {"runs": len(rs), "articles": rs[0]["articles"], "words": rs[0]["words"],
                             "load1": [r["load1"] for r in rs]}
        for k in ("seconds", "wall_seconds", "peak_rss_mb", "peak_pss_mb", "load_seconds", "overhead_seconds",
                  "stage_seconds", "warehouse_mb", "new_words"):
            s[k] = _median(rs, k)
        if key.startswith("e2e"):
            stages = sorted({st for r in rs for st in r["stages"]})
            s["stages"] = {st: statistics.median(r["stages"][st]["seconds"] for r in rs if st in r["stages"])
                           for st in stages}
            # the DAG process's own peak within each stage (pipeline.runs.stage_memory)
            s["stage_peak_mb"] = {st: statistics.median(vals) for st in stages if (vals := [
                (r["stages"][st].get("memory") or {}).get("peak_rss_mb") for r in rs if st in r["stages"]])
                and None not in vals}
            s["new_articles"] = rs[0].get("new_articles")
            s["seconds"] = s["wall_seconds"]
        out[(n, key)] = s
    # paired ratio: run r of a system against run r of the baseline, measured minutes apart,
    # so that a change of machine load between runs cancels out of the ratio
    for (n, key), s in out.items():
        base = {r["run"]: r["seconds"] for r in groups.get((n, "baseline"), [])}
        mine = {r["run"]: r.get("seconds") or r["wall_seconds"] for r in groups[(n, key)]}
        pairs = [base[r] / mine[r] for r in mine if r in base and mine[r]]
        s["paired_ratio"] = statistics.median(pairs) if pairs and key != "baseline" else None
    return out


def render_quality(rows: list[dict[str, Any]]) -> str:
    """The latest entity-quality row as a table (empty when the session did not measure it)."""
    q = [r for r in rows if r["system"] == "quality"]
    if not q:
        return ""
    lines = ["| labelled data | baseline micro F1 (PER/ORG/LOC) | newsdesk micro F1 |", "| --- | --- | --- |"]
    for name, f1 in q[-1]["f1"].items():
        lines.append(f"| {name} | {f1.get('baseline', float('nan')):.3f} | {f1.get('newsdesk', float('nan')):.3f} |")
    return "\n".join(lines) + "\n"


def render(summary: dict[tuple[int, str], dict[str, Any]]) -> str:
    sizes = sorted({n for n, _ in summary})
    lines = ["| N articles | words | system | runs | seconds (median) | words/s | articles/s | × baseline "
             "| peak RSS tree (MB) | peak PSS (MB) | load avg 1 min |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    names = {"baseline": "baseline script (full en_core_web_sm + pandas)", "nlp_stage": "newsdesk NLP stage",
             "e2e:full": "newsdesk whole DAG (newsdesk run)"}
    for n in sizes:
        base = summary.get((n, "baseline"))
        for key, name in names.items():
            s = summary.get((n, key))
            if not s:
                continue
            wps = s["words"] / s["seconds"]
            ratio = f"{wps / (base['words'] / base['seconds']):.2f}×" if base else "–"
            if s.get("paired_ratio"):
                ratio += f" (paired {s['paired_ratio']:.2f}×)"
            lines.append(f"| {n:,} | {s['words']:,} | {name} | {s['runs']} | {s['seconds']:,.1f} | {wps:,.0f} "
                         f"| {s['articles'] / s['seconds']:,.1f} | {ratio} | {s['peak_rss_mb']:,.0f} "
                         f"| {s['peak_pss_mb']:,.0f} | {min(s['load1']):.1f}–{max(s['load1']):.1f} |")
    stage_names: list[str] = []
    for (_, key), s in summary.items():
        if key.startswith("e2e"):
            stage_names += [st for st in s["stages"] if st not in stage_names]
    from pipeline.runs import STAGES

    stage_names.sort(key=lambda st: STAGES.index(st) if st in STAGES else 99)
    if not stage_names:
        return "\n".join(lines) + "\n"
    lines += ["", "| N articles | run | new articles | wall s | " + " | ".join(stage_names)
              + " | Airflow + CLI overhead | peak RSS tree (MB) | warehouse MB |",
              "| --- | --- | --- | --- | " + " | ".join("---" for _ in stage_names) + " | --- | --- | --- |"]
    kinds = {"e2e:full": "full (fresh warehouse)", "e2e:zero_new": "nightly, 0 new",
             "e2e:one_pct_new": "nightly, 1 % new"}
    for n in sizes:
        for key, kind in kinds.items():
            s = summary.get((n, key))
            if not s:
                continue
            cells = " | ".join(f"{s['stages'].get(st, 0):,.1f}" for st in stage_names)
            lines.append(f"| {n:,} | {kind} | {s['new_articles']:,} | {s['wall_seconds']:,.1f} | {cells} "
                         f"| {s['overhead_seconds']:,.1f} | {s['peak_rss_mb']:,.0f} | {s['warehouse_mb']:,.0f} |")
    mem = [(n, kinds[key], s) for n in sizes for key in kinds if (s := summary.get((n, key))) and s["stage_peak_mb"]]
    if mem:
        lines += ["", "Peak RSS of the DAG process within each stage (MB; the NER workers are separate processes, "
                  "counted in the tree's peak):", "",
                  "| N articles | run | " + " | ".join(stage_names) + " | peak RSS tree | peak PSS tree |",
                  "| --- | --- | " + " | ".join("---" for _ in stage_names) + " | --- | --- |"]
        for n, kind, s in mem:
            cells = " | ".join(f"{s['stage_peak_mb'][st]:,.0f}" if st in s["stage_peak_mb"] else "–"
                               for st in stage_names)
            lines.append(f"| {n:,} | {kind} | {cells} | {s['peak_rss_mb']:,.0f} | {s['peak_pss_mb']:,.0f} |")
    inc = [(n, summary.get((n, "e2e:full")), summary.get((n, "e2e:one_pct_new")), summary.get((n, "e2e:zero_new")))
           for n in sizes]
    if any(one for _, _, one, _ in inc):
        lines += ["", "| N articles | NLP s, full run | NLP s, 1 % new | ratio | wall s, full | wall s, 1 % new "
                  "| wall s, 0 new | stages s, 0 new (wall − Airflow) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for n, full, one, zero in inc:
            if full and one:
                nf, no = full["stages"].get("nlp", 0), one["stages"].get("nlp", 0)
                lines.append(f"| {n:,} | {nf:,.1f} | {no:,.1f} | {no / nf:.1%} | {full['wall_seconds']:,.1f} "
                             f"| {one['wall_seconds']:,.1f} | {zero['wall_seconds']:,.1f} "
                             f"| {zero['stage_seconds']:,.1f} |")
    return "\n".join(lines) + "\n"


def plot(summary: dict[tuple[int, str], dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = {"baseline": "baseline script", "nlp_stage": "newsdesk NLP stage", "e2e:full": "newsdesk whole DAG"}
    for key, name in names.items():
        pts = sorted((n, s) for (n, k), s in summary.items() if k == key)
        if not pts:
            continue
        xs = [n for n, _ in pts]
        ax1.plot(xs, [s["words"] / s["seconds"] for _, s in pts], marker="o", label=name)
        line = ax2.plot(xs, [s["peak_rss_mb"] for _, s in pts], marker="o", label=f"{name}, RSS")[0]
        ax2.plot(xs, [s["peak_pss_mb"] for _, s in pts], marker="x", linestyle="--", color=line.get_color(),
                 label=f"{name}, PSS")
    for ax, title, unit in ((ax1, "Throughput", "words / s (median)"), (ax2, "Peak memory of the process tree",
                                                                         "peak RSS / PSS of the tree, MB (median)")):
        ax.set_xscale("log")
        ax.set_xlabel("articles in the run (N)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    ax1.legend()
    ax2.axhline(2048, color="grey", linestyle="--", linewidth=1, label="2 GB")
    ax2.set_ylim(0, max(2300, ax2.get_ylim()[1]))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma list of baseline,nlp,e2e")
    ap.add_argument("--incremental", action="store_true", help="also measure nightly runs with 0 and 1%% new")
    ap.add_argument("--quality", action="store_true", help="also measure entity F1 (bench.eval_entities)")
    ap.add_argument("--baseline-processes", type=int, default=2)
    ap.add_argument("--baseline-batch", type=int, default=64)
    ap.add_argument("--baseline-max-n", type=int, default=10**9, help="skip the baseline above this N")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "newsdesk-bench")
    ap.add_argument("--label", default="default",
                    help="tag of this session's rows in results.jsonl (report: comma list of tags)")
    ap.add_argument("--report", type=Path, help="write the Markdown tables here")
    ap.add_argument("--plot", type=Path, help="write the PNG plot here")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    args.systems = [s for s in args.systems.split(",") if s]
    if not args.report_only:
        t0 = time.perf_counter()
        session(args)
        print(f"session done in {time.perf_counter() - t0:,.0f} s", flush=True)
    rows = load_results(args.work / "results.jsonl", args.label)
    summary = summarise(rows)
    text = render(summary) + "\n" + render_quality(rows)
    print(text)
    if args.report:
        args.report.write_text(text)
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    main(sys.argv[1:])
