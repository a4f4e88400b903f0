"""Where one NLP part's time goes: the steps of ``nlp.run_nlp`` timed one by one.

    python -m bench.nlp_phases MANIFEST [N]     # MANIFEST from ``python -m bench.nlp_stage prepare``

The same calls as ``run_nlp``, in its order, inside the stage's two NER workers
(``entities.ner_workers``). The NER and the quote parses are queued on the workers first
and waited for later, so a step's wall time is what the stage's process spent on it
(with the workers busy beside it), and the two ``wait`` steps are what it still waited
for the workers; the CPU times are the stage's process's own.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> None:
    import polars as pl

    from pipeline import actors, entities, gender, names, quotes, segment, syntax
    from pipeline.runs import Manifest

    m = Manifest.load(argv[0])
    arts = pl.read_parquet(m.articles_path).head(int(argv[1]) if len(argv) > 1 else 1000).sort("article_id")
    entities.load_nlp()
    spent: dict[str, float] = {}
    cpu: dict[str, float] = {}  # the stage's process only (the NER workers are other processes)

    def step(name, fn, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*a, **k)
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
        cpu[name] = cpu.get(name, 0.0) + time.process_time() - c
        return out

    start = time.perf_counter()
    with entities.ner_workers(2):
        step("workers_start", lambda: list(entities.worker_map(len, [[0], [1], [2], [3]])))
        entities_of = step("queue_ner", entities.start_mentions, arts, batch_size=64, n_process=2)
        sentences, tokens = step("segment", segment.segment, arts)
        spans = step("quote_spans", quotes.find_quote_spans, tokens, sentences)
        frames = step("frames", syntax.frame_tokens, tokens, sentences, spans)
        parse_of = step("queue_parse", syntax.start_parse, frames)
        raw = step("wait_ner", entities_of)
        canonical = step("canonicalise", actors.canonicalise, raw, arts, names.CaseStats.of(tokens))
        mentions = step("assign", segment.assign_sentence_ids, canonical, sentences).sort("article_id", "mention_id")
        parse = step("wait_parse", parse_of)
        found = step("quotes", quotes.extract_quotes, arts, tokens, sentences, mentions, parse=parse, spans=spans)
        mentions = step("speaker_mentions", quotes.add_speaker_mentions, canonical, found, arts)
        mentions = step("assign", segment.assign_sentence_ids, mentions, sentences).sort("article_id", "mention_id")
        step("gender", gender.article_genders, arts, sentences, mentions, tokens, found)
    print({"articles": arts.height, **{k: round(v, 2) for k, v in spent.items()},
           "total": round(time.perf_counter() - start, 2)})
    print("stage-process CPU s:", {k: round(v, 2) for k, v in cpu.items()})


if __name__ == "__main__":  # the NER workers (forkserver) import this module: nothing runs on import
    main(sys.argv[1:])
