"""Direct-quote evaluation on PolNeAR: content P/R/F1 (exact, ≥50% overlap), speaker accuracy.

    python -m bench.eval_quotes --split test [--limit N] [--json out.json]

Tune on ``train``/``dev``; report ``test``.

Gold direct quotes: PolNeAR annotates attributions (Source/Cue/Content, brat standoff).
A gold direct quote is every span *inside quotation marks* within an annotated Content
(marks excluded; a Content that opens a mark and ends before closing it runs to the
Content end).  Its speaker is the Source linked to that Content.  Quoted terms nobody is
said to have said are not annotated, so extracting them costs precision, as it should.
One annotation file per article (the first by file name when several annotators).

Matching is one-to-one, greedy by overlap.  *exact*: same span after stripping spaces and
a trailing comma.  *overlap*: shared characters ≥ 50% of the longer of the two spans.
*Speaker accuracy* (on overlap-matched quotes): the system's speaker mention overlaps the
gold Source span, or the gold Source overlaps a mention of the same actor (the speaker
resolves to the same person).  A NULL speaker is wrong.  Two annotations no system can
match are repaired unless ``--strict`` (``_repair_source``): a Source that is only a verb
with the name in the Cue (the two swapped), and a relative pronoun Source ("who"), whose
antecedent counts too.  A quote whose Content has no Source stays in, and is always wrong.

Systems in one run:
* ``baseline``: text between marks (paired within a paragraph), speaker = nearest PERSON
  entity in the same sentence (spaCy ``en_core_web_sm``, full pipeline, its own sentences);
* ``newsdesk``: ``run_nlp`` quotes.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bench.corpora import shared_data
from pipeline.lexicon import SPEECH_VERBS

_QUOTED = re.compile(r"[“\"]([^“”\"\n]*)(?:[”\"]|$)")


@dataclass
class GoldQuote:
    start: int
    end: int
    sources: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Article:
    doc_id: str
    text: str
    quotes: list[GoldQuote]


def _spans(field_text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (frag.split() for frag in field_text.split(";"))]


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    """Trim whitespace and trailing commas: "fact," and "fact" are the same content."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] == ","):
        e -= 1
    return s, e


_AUX = {"has", "have", "had", "was", "is", "will", "would", "also", "did", "does"}
_RELATIVE = {"who", "which", "that", "whom"}
_PRONOUNS = {"he", "she", "they", "it", "we", "i"}
# the last words (at most six) before a relative pronoun, back to the previous punctuation
_ANTECEDENT = re.compile(r"((?:[^\s,;:.()—]+[^\S\n]+){0,5}[^\s,;:.()—]+)[^\S\n]*,?[^\S\n]*$")


def _repair_source(text: str, source: list[tuple[int, int]], cue: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Two PolNeAR readings no system can match, repaired (``--strict`` keeps them as annotated).

    * Source and Cue swapped: the Source is only a verb ("said") and the Cue holds the words
      of a name or pronoun ("“…,” said Hester" annotated Source "said", Cue "Hester"): the
      Cue's span is the source too.
    * A relative pronoun as the Source ("Trump, who has called the pact “insanity”"): no
      speaker mention can overlap "who", so its antecedent (the words right before it, back
      to the previous punctuation, at most six) is the source too.
    """
    words = " ".join(text[s:e] for s, e in source).split()
    if words and all(w.islower() and (w in SPEECH_VERBS or w in _AUX) for w in words) and cue:
        cue_words = " ".join(text[s:e] for s, e in cue).split()
        if any(w[:1].isupper() or w.lower() in _PRONOUNS for w in cue_words):
            return source + cue
    if len(words) == 1 and words[0].lower() in _RELATIVE:
        s = source[0][0]
        lo = max(0, s - 120)
        m = _ANTECEDENT.search(text[lo:s])
        if m:
            return [*source, (lo + m.start(1), lo + m.end(1))]
    return source


def read_article(txt: Path, ann: Path, strict: bool = False) -> Article:
    text = txt.read_text(encoding="utf-8")
    spans: dict[str, tuple[str, list[tuple[int, int]]]] = {}
    events: list[dict[str, str]] = []
    for line in ann.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line.startswith("T") and len(parts) >= 2:
            kind, _, rest = parts[1].partition(" ")
            spans[parts[0]] = (kind, _spans(rest))
        elif line.startswith("E") and len(parts) >= 2:
            events.append(dict(a.split(":", 1) for a in parts[1].split() if ":" in a))
    quotes: list[GoldQuote] = []
    seen: set[tuple[int, int]] = set()
    for ev in events:
        content = spans.get(ev.get("Content", ""))
        if not content:
            continue
        source = spans.get(ev.get("Source", ""), ("Source", []))[1]
        if not strict:
            source = _repair_source(text, source, spans.get(ev.get("Cue", ""), ("Cue", []))[1])
        c_start, c_end = min(s for s, _ in content[1]), max(e for _, e in content[1])
        for m in _QUOTED.finditer(text[c_start:c_end]):
            s, e = _strip(text, c_start + m.start(1), c_start + m.end(1))
            if e - s >= 2 and (s, e) not in seen:
                seen.add((s, e))
                quotes.append(GoldQuote(s, e, source))
    return Article(txt.stem, text, sorted(quotes, key=lambda q: q.start))


def read_split(root: Path, split: str, strict: bool = False) -> list[Article]:
    base = root / "polnear" / "data" / split
    anns = sorted((base / "attributions").glob("*.ann"))
    out = []
    for txt in sorted((base / "text").glob("*.txt")):
        mine = [a for a in anns if a.stem.rsplit("_", 1)[0] == txt.stem]
        if mine:
            out.append(read_article(txt, mine[0], strict))
    return out


@dataclass
class Pred:
    start: int
    end: int
    speaker_span: tuple[int, int] | None
    speaker_mentions: list[tuple[int, int]]  # every mention of the speaker's actor
    attribution: str | None = None
    speaker: str | None = None


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score(articles: list[Article], preds: list[list[Pred]], errors: list[dict] | None = None) -> dict[str, float]:
    """Content P/R/F1 and speaker accuracy; ``errors`` (if given) collects wrong speakers."""
    n_gold = n_pred = exact = over = spk_ok = 0
    for art, pr in zip(articles, preds, strict=True):
        n_gold += len(art.quotes)
        n_pred += len(pr)
        used: set[int] = set()
        for p in pr:
            ps, pe = _strip(art.text, p.start, p.end)
            best, best_ov = None, 0
            for gi, g in enumerate(art.quotes):
                ov = _overlap((ps, pe), (g.start, g.end))
                if gi not in used and ov > best_ov:
                    best, best_ov = gi, ov
            if best is None:
                continue
            g = art.quotes[best]
            if best_ov >= 0.5 * max(pe - ps, g.end - g.start):
                used.add(best)
                over += 1
                exact += (ps, pe) == (g.start, g.end)
                if p.speaker_span is not None and any(
                    _overlap(p.speaker_span, src) or any(_overlap(m, src) for m in p.speaker_mentions)
                    for src in g.sources
                ):
                    spk_ok += 1
                elif errors is not None:
                    errors.append(_error_row(art, p, g))

    def prf(tp: int) -> dict[str, float]:
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}

    return {
        "gold": n_gold,
        "pred": n_pred,
        "exact": prf(exact),
        "overlap": prf(over),
        "speaker_acc": spk_ok / over if over else 0.0,
        "speaker_acc_of_gold": spk_ok / n_gold if n_gold else 0.0,
    }


def _error_row(art: Article, p: Pred, g: GoldQuote) -> dict:
    """One wrong speaker, with enough context to see why."""
    ctx_s = max(0, min(p.start, *(s for s, _ in g.sources or [(p.start, 0)])) - 150)
    ctx_e = min(len(art.text), max(p.end, *(e for _, e in g.sources or [(0, p.end)])) + 100)
    return {
        "article_id": art.doc_id,
        "quote": art.text[p.start : p.end][:80],
        "gold_source": " | ".join(art.text[s:e] for s, e in g.sources),
        "predicted": art.text[p.speaker_span[0] : p.speaker_span[1]] if p.speaker_span else None,
        "attribution": p.attribution,
        "speaker": p.speaker,
        "context": art.text[ctx_s:ctx_e].replace("\n", " ⏎ "),
    }


def predict_baseline(articles: list[Article]) -> list[list[Pred]]:
    from pipeline.entities import load_nlp

    nlp = load_nlp(full=True)
    out = []
    for art, doc in zip(articles, nlp.pipe([a.text for a in articles], batch_size=32), strict=True):
        persons = [(e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON"]
        sents = [(s.start_char, s.end_char) for s in doc.sents]
        preds = []
        for m in _QUOTED.finditer(art.text):
            s, e = m.start(1), m.end(1)
            if e <= s:
                continue
            sent = next(((a, b) for a, b in sents if a <= s < b), (s, e))
            cands = [p for p in persons if sent[0] <= p[0] < sent[1] and not (m.start() <= p[0] < m.end())]
            near = min(cands, key=lambda p: min(abs(p[0] - e), abs(s - p[1])), default=None)
            preds.append(Pred(s, e, near, []))
        out.append(preds)
    return out


def predict_newsdesk(articles: list[Article]) -> tuple[list[list[Pred]], pl.DataFrame]:
    from pipeline.nlp import run_nlp

    frame = pl.DataFrame({"article_id": [a.doc_id for a in articles], "text": [a.text for a in articles]})
    res = run_nlp(frame)
    mentions: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for a, s, e, actor in res.entity_mentions.select("article_id", "start", "end", "actor").iter_rows():
        mentions.setdefault((a, actor), []).append((s, e))
    by: dict[str, list[Pred]] = {a.doc_id: [] for a in articles}
    for a, s, e, spk, ss, se, kind in res.quotes.select(
        "article_id", "start", "end", "speaker", "speaker_start", "speaker_end", "attribution"
    ).iter_rows():
        span = (ss, se) if ss is not None else None
        by[a].append(Pred(s, e, span, mentions.get((a, spk), []) if spk else [], kind, spk))
    return [by[a.doc_id] for a in articles], res.quotes


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="dev", choices=["train", "dev", "test"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dump", type=Path, default=None, help="write newsdesk quotes + gold for error analysis")
    ap.add_argument("--errors", type=Path, default=None, help="write newsdesk's wrong speakers (JSON lines)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline (error analysis only)")
    ap.add_argument("--strict", action="store_true",
                    help="gold Sources exactly as annotated (no repair of swapped Source/Cue or relative pronouns)")
    args = ap.parse_args(argv)
    articles = read_split(shared_data(), args.split, args.strict)[: args.limit]
    t = time.perf_counter()
    base = score(articles, [[] for _ in articles] if args.no_baseline else predict_baseline(articles))
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    preds, frame = predict_newsdesk(articles)
    errors: list[dict] = []
    nd = score(articles, preds, errors)
    t_nd = time.perf_counter() - t
    res = {"split": args.split, "articles": len(articles), "baseline": base, "newsdesk": nd,
           "seconds": {"baseline": t_base, "newsdesk": t_nd}}  # fmt: skip
    print(f"PolNeAR {args.split}: {len(articles)} articles, {nd['gold']} gold direct quotes\n")
    header = "| system | quotes | exact P/R/F1 | overlap P/R/F1 | speaker acc | of gold |"
    print(header)
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in (("baseline", base), ("newsdesk", nd)):
        ex, ov = r["exact"], r["overlap"]
        print(
            f"| {name} | {r['pred']} | {ex['p']:.3f} / {ex['r']:.3f} / **{ex['f1']:.3f}** | "
            f"{ov['p']:.3f} / {ov['r']:.3f} / **{ov['f1']:.3f}** | **{r['speaker_acc']:.3f}** | "
            f"{r['speaker_acc_of_gold']:.3f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.errors:
        args.errors.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    if args.dump:
        gold = [
            {"article_id": a.doc_id, "start": q.start, "end": q.end, "sources": str(q.sources)}
            for a in articles
            for q in a.quotes
        ]
        pl.DataFrame(gold).write_parquet(args.dump.with_suffix(".gold.parquet"))
        frame.write_parquet(args.dump.with_suffix(".pred.parquet"))
    return res


if __name__ == "__main__":
    main()
