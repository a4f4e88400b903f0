"""Words/s of ``run_nlp`` vs the plain script (``nlp.pipe`` of the full en_core_web_sm).

    python -m bench.speed_nlp [--n 500] [--runs 3] [--n-process 1]

Both on the same BBC articles, model load excluded, median of ``--runs``.  A quick check
for the NLP core's speed ceiling; the full harness of issue #6 lives elsewhere.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.corpora import bbc_articles


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n-process", type=int, default=1)
    args = ap.parse_args(argv)

    from pipeline.entities import load_nlp
    from pipeline.nlp import run_nlp

    arts = bbc_articles(args.n)
    texts = arts["text"].to_list()
    words = int(arts["text"].str.count_matches(r"\S+").sum())
    full = load_nlp(full=True)
    load_nlp()
    run_nlp(arts.head(5))  # warm-up (regex compilation, first batch)

    def baseline() -> None:
        for doc in full.pipe(texts, batch_size=64, n_process=args.n_process):
            _ = [(e.start_char, e.end_char, e.label_) for e in doc.ents]

    def newsdesk() -> None:
        run_nlp(arts, batch_size=64, n_process=args.n_process)

    rows = []
    for name, fn in (("baseline: full en_core_web_sm nlp.pipe", baseline), ("newsdesk run_nlp", newsdesk)):
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        rows.append((name, med, words / med))
    print(f"{args.n} BBC articles, {words} words, n_process={args.n_process}, median of {args.runs}\n")
    print("| system | seconds | words/s |")
    print("| --- | --- | --- |")
    for name, sec, wps in rows:
        print(f"| {name} | {sec:.1f} | {wps:,.0f} |")
    print(f"\nratio newsdesk / baseline: {rows[1][2] / rows[0][2]:.2f}x")


if __name__ == "__main__":
    main()
