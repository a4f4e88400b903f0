"""Entity evaluation: exact-span P/R/F1 per type on CoNLL++ and WikiGold, with a baseline.

    python -m bench.eval_entities [--limit N] [--json out.json] [--sets dev WikiGold CoNLL++]

``--sets``: ``dev`` (CoNLL-2003 ``eng.testa``) and ``WikiGold`` are what a NER variant is
chosen on; ``CoNLL++`` (2020 news) is what it is reported on, never chosen on.

Systems compared in one run, on the same reconstructed document texts:

* ``baseline``  spaCy ``en_core_web_sm`` out of the box (full pipeline), label mapping below;
* ``model``     newsdesk's NER model alone (``entities.load_nlp()``, raw spans, label mapping below);
* ``ner_only``  newsdesk's spaCy step (the model + span clean-up, ``entities.spacy_mentions``);
* ``newsdesk``  the full NLP stage (``run_nlp``: + per-article actors, type voting, re-found names).

Label mapping (gold → eval type; system → eval type):
CoNLL/WikiGold ``PER``→PER, ``ORG``→ORG, ``LOC``→LOC, ``MISC`` not scored.
spaCy ``PERSON``→PER, ``ORG``→ORG, ``GPE``/``LOC``/``FAC``→LOC, everything else dropped
(NORP, the nearest thing to MISC, is dropped for every system).
A prediction is correct when its character span and type both equal a gold entity's.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import polars as pl

from bench.corpora import shared_data

TYPES = ("PER", "ORG", "LOC")
SPACY_TO_EVAL = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}  # MISC dropped
CONTRACT_TO_EVAL = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC"}

Doc = tuple[str, str, set[tuple[int, int, str]]]  # (doc_id, text, gold spans)


def _iob_spans(
    tags: list[str], offsets: list[tuple[int, int]], types: tuple[str, ...] = TYPES
) -> set[tuple[int, int, str]]:
    """IOB1/IOB2 tags -> (start, end, type) for ``types`` (PER/ORG/LOC unless told)."""
    spans: set[tuple[int, int, str]] = set()
    cur: list | None = None
    for tag, (s, e) in zip([*tags, "O"], [*offsets, (0, 0)], strict=True):
        kind = tag[2:] if len(tag) > 2 else None
        starts_new = tag == "O" or tag.startswith("B-") or cur is None or kind != cur[2]
        if starts_new:
            if cur is not None and cur[2] in types:
                spans.add((cur[0], cur[1], cur[2]))
            cur = [s, e, kind] if tag != "O" else None
        else:
            cur[1] = e
    return spans


_NO_SPACE_BEFORE = {
    ",",
    ".",
    ";",
    ":",
    ")",
    "]",
    "?",
    "!",
    "%",
    "'",
    "'s",
    "n't",
    "'re",
    "'ve",
    "'ll",
    "'d",
    "'m",
}
_NO_SPACE_AFTER = {"(", "[", "$"}


def _build(doc_id: str, sents: list[list[tuple[str, str]]], types: tuple[str, ...] = TYPES) -> Doc:
    """Lay a document out as news text: one sentence per line, light detokenisation.

    The files hold tokens, not text; spaCy is trained on running text, so "( Reuters )"
    and "Howe 's" are written back as "(Reuters)" and "Howe's".  The same text is given to
    every system, and gold spans are computed on it.
    """
    text = ""
    spans: set[tuple[int, int, str]] = set()
    for si, sent in enumerate(sents):
        if si:
            text += "\n"
        prev = None
        tags, offs = [], []
        for ti, (tok, tag) in enumerate(sent):
            if ti and tok not in _NO_SPACE_BEFORE and prev not in _NO_SPACE_AFTER:
                text += " "
            start = len(text)
            text += tok
            tags.append(tag)
            offs.append((start, len(text)))
            prev = tok
        # an entity ends with its sentence (as conlleval reads the files): "I-PER" opening the
        # next sentence is a new entity, not the rest of the last one ("Ken" / "Green")
        spans |= _iob_spans(tags, offs, types)
    return doc_id, text, spans


def read_conll(path: Path, types: tuple[str, ...] = TYPES) -> list[Doc]:
    """Documents of a CoNLL-style file (``-DOCSTART-`` separated; blank line between sentences).

    The last column is the IOB tag; ``conllpp.txt``'s start/end columns are not used.
    ``types``: the gold types kept (``bench.train_ner`` also reads MISC).
    """
    docs: list[Doc] = []
    sents: list = []
    sent: list = []
    n = 0

    def flush_doc() -> None:
        nonlocal sents, n
        if sent:
            sents.append(list(sent))
            sent.clear()
        if sents:
            docs.append(_build(f"{path.stem}-{n}", sents, types))
            n += 1
        sents = []

    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if sent:
                sents.append(list(sent))
                sent.clear()
            continue
        if parts[0] == "-DOCSTART-":
            flush_doc()
            continue
        sent.append((parts[0], parts[-1]))
    flush_doc()
    return docs


# The sets a model is chosen on (CoNLL-2003 dev, WikiGold) and the one it is reported on (CoNLL++).
DATASETS = {
    "dev": "ner/conllpp/dataset/non_tabular_conll/eng.testa",
    "WikiGold": "ner/wikigold/CONLL-format/data/wikigold.conll.txt",
    "CoNLL++": "ner/conllpp/dataset/conllpp.txt",
}


def datasets(root: Path, names: tuple[str, ...] = ("CoNLL++", "WikiGold")) -> dict[str, list[Doc]]:
    """The named evaluation sets (``DATASETS``), read by path from the shared data folder."""
    return {name: read_conll(root / DATASETS[name]) for name in names}


def score(gold: list[set], pred: list[set]) -> dict[str, dict[str, float]]:
    """Exact-span P/R/F1 per type and micro over PER/ORG/LOC."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        for span in p:
            (tp if span in g else fp)[span[2]] += 1
        for span in g:
            if span not in p:
                fn[span[2]] += 1
    out = {}
    for t in (*TYPES, "micro"):
        a, b, c = (sum(x[k] for k in TYPES) for x in (tp, fp, fn)) if t == "micro" else (tp[t], fp[t], fn[t])
        p = a / (a + b) if a + b else 0.0
        r = a / (a + c) if a + c else 0.0
        out[t] = {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": a + c}
    return out


def predict_baseline(texts: list[str]) -> list[set]:
    from pipeline.entities import load_nlp

    nlp = load_nlp(full=True)
    return [
        {(e.start_char, e.end_char, SPACY_TO_EVAL[e.label_]) for e in doc.ents if e.label_ in SPACY_TO_EVAL}
        for doc in nlp.pipe(texts, batch_size=64)
    ]


def _frame_to_sets(frame: pl.DataFrame, ids: list[str], label_col: str) -> list[set]:
    by: dict[str, set] = {i: set() for i in ids}
    for a, s, e, lab in frame.select("article_id", "start", "end", label_col).iter_rows():
        if lab in CONTRACT_TO_EVAL:
            by[a].add((s, e, CONTRACT_TO_EVAL[lab]))
    return [by[i] for i in ids]


def predict_newsdesk(ids: list[str], texts: list[str]) -> tuple[list[set], list[set], list[set]]:
    """(model alone, model + span clean-up, whole NLP stage) predictions."""
    from pipeline import entities
    from pipeline.nlp import run_nlp

    arts = pl.DataFrame({"article_id": ids, "text": texts})
    model = [
        {(s, e, SPACY_TO_EVAL[lab]) for s, e, lab in ents if lab in SPACY_TO_EVAL}
        for ents in entities.model_entities(texts)
    ]
    raw = entities.spacy_mentions(arts)
    res = run_nlp(arts)
    return model, _frame_to_sets(raw, ids, "label"), _frame_to_sets(res.entity_mentions, ids, "label")


def evaluate(docs: list[Doc], baseline: bool = True) -> dict[str, dict]:
    ids = [d[0] for d in docs]
    texts = [d[1] for d in docs]
    gold = [d[2] for d in docs]
    results = {}
    t = time.perf_counter()
    if baseline:
        results["baseline"] = score(gold, predict_baseline(texts))
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    model, raw, full = predict_newsdesk(ids, texts)
    t_nd = time.perf_counter() - t
    results["model"] = score(gold, model)
    results["ner_only"] = score(gold, raw)
    results["newsdesk"] = score(gold, full)
    results["_meta"] = {"docs": len(docs), "seconds_baseline": t_base, "seconds_newsdesk": t_nd}
    return results


def table(name: str, res: dict) -> str:
    lines = [
        f"### {name} ({res['_meta']['docs']} documents)",
        "",
        "| system | PER P/R/F1 | ORG P/R/F1 | LOC P/R/F1 | micro P/R/F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for sys_name in ("baseline", "model", "ner_only", "newsdesk"):
        if sys_name not in res:
            continue
        cells = ["{p:.3f} / {r:.3f} / **{f1:.3f}**".format(**res[sys_name][t]) for t in (*TYPES, "micro")]
        lines.append(f"| {sys_name} | " + " | ".join(cells) + " |")
    sup = res["newsdesk"]
    lines.append("")
    lines.append("Gold entities: " + ", ".join(f"{t} {sup[t]['support']}" for t in TYPES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N documents of each dataset")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here")
    ap.add_argument("--no-baseline", action="store_true", help="newsdesk systems only (model development)")
    ap.add_argument(
        "--sets",
        nargs="+",
        choices=list(DATASETS),
        default=["CoNLL++", "WikiGold"],
        help="dev (CoNLL-2003 eng.testa) and WikiGold choose a model; CoNLL++ reports it",
    )
    args = ap.parse_args(argv)
    all_res = {}
    for name, docs in datasets(shared_data(), tuple(args.sets)).items():
        res = evaluate(docs[: args.limit] if args.limit else docs, baseline=not args.no_baseline)
        all_res[name] = res
        print(table(name, res), "\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(all_res, indent=2))
    return all_res


if __name__ == "__main__":
    main()
