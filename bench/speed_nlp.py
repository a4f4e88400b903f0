"""Words/s of ``run_nlp`` vs the plain script (``nlp.pipe`` of the full en_core_web_sm).

    python -m bench.speed_nlp [--n 500] [--runs 3] [--processes 1 2] [--batch-size 64]

Issue #6 asks for the NLP stage at >= 3x the words/s of the plain-spaCy baseline.  To be
fair to the baseline it is run at every ``--processes`` setting too, and the ratio that
counts is newsdesk's best over the baseline's best; the equal-cores ratios are printed
as well.  Both read the same BBC articles, model load excluded, median of ``--runs``,
the systems interleaved run by run so that load from other users of the machine falls on
both alike; the 1-minute load average is printed with each run.  The NER model alone
(no segmentation, actors or quotes) is timed too, to show where the stage's time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench.corpora import bbc_articles


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=64, help="nlp.pipe batch size, for both systems")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from pipeline.entities import load_nlp
    from pipeline.nlp import run_nlp

    arts = bbc_articles(args.n)
    texts = arts["text"].to_list()
    words = int(arts["text"].str.count_matches(r"\S+").sum())
    full = load_nlp(full=True)
    load_nlp()
    run_nlp(arts.head(5))  # warm-up (regex compilation, first batch)

    def baseline(n_process: int) -> None:
        for doc in full.pipe(texts, batch_size=args.batch_size, n_process=n_process):
            _ = [(e.start_char, e.end_char, e.label_) for e in doc.ents]

    def newsdesk(n_process: int) -> None:
        run_nlp(arts, batch_size=args.batch_size, n_process=n_process)

    ner = load_nlp()

    def ner_alone(n_process: int) -> None:
        for doc in ner.pipe(texts, batch_size=args.batch_size):
            _ = [(e.start_char, e.end_char, e.label_) for e in doc.ents]

    systems = [(f"baseline: full en_core_web_sm nlp.pipe, n_process={p}", baseline, p) for p in args.processes]
    systems += [(f"newsdesk run_nlp, n_process={p}", newsdesk, p) for p in args.processes]
    systems += [("newsdesk NER model alone (nlp.pipe), n_process=1", ner_alone, 1)]
    times: dict[str, list[float]] = {name: [] for name, _, _ in systems}
    loads: list[float] = []
    for run in range(args.runs):
        for name, fn, p in systems:
            t = time.perf_counter()
            fn(p)
            times[name].append(time.perf_counter() - t)
            loads.append(os.getloadavg()[0])
            print(f"run {run}: {name}: {times[name][-1]:.1f}s (load {loads[-1]:.1f})", flush=True)

    rows = {
        name: {"seconds": statistics.median(ts), "words_per_s": words / statistics.median(ts)}
        for name, ts in times.items()
    }
    best_base = max(v["words_per_s"] for k, v in rows.items() if k.startswith("baseline"))
    best_nd = max(v["words_per_s"] for k, v in rows.items() if k.startswith("newsdesk run_nlp"))
    print(f"\n{args.n} BBC articles, {words} words, batch size {args.batch_size}, median of {args.runs}")
    print(f"load average during the runs: min {min(loads):.1f}, max {max(loads):.1f} (2 cores)\n")
    print("| system | seconds | words/s |")
    print("| --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['seconds']:.1f} | {r['words_per_s']:,.0f} |")
    for p in args.processes:
        b = rows[f"baseline: full en_core_web_sm nlp.pipe, n_process={p}"]["words_per_s"]
        n = rows[f"newsdesk run_nlp, n_process={p}"]["words_per_s"]
        print(f"\nratio at n_process={p} (both): {n / b:.2f}x")
    print(f"ratio best newsdesk / best baseline: {best_nd / best_base:.2f}x")
    out = {"articles": args.n, "words": words, "runs": args.runs, "rows": rows, "loads": loads,
           "ratio_best": best_nd / best_base}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
