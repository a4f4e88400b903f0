"""Quote, speaker and person-mention evaluation on hand-labelled articles (``../shared/data/labels``).

    python -m bench.eval_labels [--labels DIR_OR_FILE ...] [--json out.json] [--errors out.jsonl]

Reads every label file of the labels folder (``*.json``: a list of ``{source, title, quotes[],
person_mentions{}, ...}``; the format and conventions are in that folder's README) or the files
given, builds each article's text the way the pipeline would see it, runs the NLP stage
(``run_nlp``) and scores it as the labels README defines:

* **found**: a labelled *speech* quote is found when a system quote's text (case, accents and
  punctuation folded) equals it, or contains it when the label is longer than 12 characters;
  one system quote per label, in document order.
* **speaker right**: for a labelled *named* speech quote, the found system quote's speaker
  equals the label's full name (folded the same way).  Not found counts as wrong.
* **scare attributed**: a labelled *scare* quote that the system reports with a speaker.
* **mentions exact**: per article and labelled person, the number of entity mentions the system
  resolves to that full name equals the label's count.

Sources: ``bbc:<category>/<NNN>.txt`` (the file under ``corpus/bbc_news/bbc/``: headline, then
one paragraph per line, as ``.txt`` ingest does) and ``aeb:<id>`` (the ``articleBody`` of that id
in ``html/scrapinghub_aeb/ground-truth.json``, no headline).  A label file of another layout is
reported and skipped, never half-read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bench.corpora import shared_data
from pipeline.ingest import clean_paragraphs

_FOLD_DROP = re.compile(r"[^\w\s]")


def fold(text: str | None) -> str:
    """Case, accents and punctuation folded, whitespace collapsed: how label texts and names compare."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_FOLD_DROP.sub(" ", plain.lower().replace("’", "'").replace("'", "")).split())


@dataclass
class LabelledArticle:
    """One labelled article and the text the system reads."""

    source: str
    text: str
    quotes: list[dict]
    person_mentions: dict[str, int] = field(default_factory=dict)


def _text_of(source: str, root: Path, aeb: dict | None) -> str:
    kind, _, ref = source.partition(":")
    if kind == "bbc":
        raw = (root / "corpus" / "bbc_news" / "bbc" / ref).read_bytes().decode("utf-8", errors="replace")
        lines = [ln for ln in raw.replace("\r", "").split("\n") if ln.strip()]
        return "\n".join([lines[0].strip(), clean_paragraphs("\n".join(lines[1:]))]) if lines else ""
    if kind == "aeb":
        if aeb is None:
            raise ValueError("aeb source without html/scrapinghub_aeb/ground-truth.json")
        return clean_paragraphs(aeb[ref]["articleBody"])
    raise ValueError(f"unknown source kind {source!r}")


def label_files(paths: list[Path]) -> list[Path]:
    """The ``*.json`` files among ``paths`` (folders expanded, sorted)."""
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    return out


def read_labels(files: list[Path], root: Path) -> list[LabelledArticle]:
    """Every article of every label file; files of another layout are named on stderr and skipped."""
    aeb_path = root / "html" / "scrapinghub_aeb" / "ground-truth.json"
    aeb = json.loads(aeb_path.read_text()) if aeb_path.exists() else None
    out: list[LabelledArticle] = []
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        if not (isinstance(data, list) and all(isinstance(a, dict) and "source" in a and "quotes" in a for a in data)):
            print(f"eval_labels: {f} is not a list of labelled articles; skipped", file=sys.stderr)
            continue
        for art in data:
            out.append(
                LabelledArticle(
                    art["source"], _text_of(art["source"], root, aeb), art["quotes"], art.get("person_mentions") or {}
                )
            )
    return out


def _match(labels: list[dict], system: list[dict]) -> list[dict | None]:
    """For each label (in order), the system quote that finds it.

    Both lists are in document order, so the search starts after the previous hit.  A system
    quote equal to a label finds only that label; one that contains labels (it ran several
    labelled segments together) may find each of them, as the README's "contains" rule allows.
    """
    folded = [fold(q["quote_text"]) for q in system]
    used: set[int] = set()
    out: list[dict | None] = []
    cursor = 0
    for lab in labels:
        want = fold(lab["text"])
        hit = next(
            (
                i
                for i in [*range(cursor, len(system)), *range(cursor)]
                if want and i not in used and (folded[i] == want or (len(lab["text"]) > 12 and want in folded[i]))
            ),
            None,
        )
        if hit is not None and folded[hit] == want:
            used.add(hit)
            cursor = hit + 1
        elif hit is not None:
            cursor = hit
        out.append(None if hit is None else system[hit])
    return out


def score(
    articles: list[LabelledArticle], quotes: pl.DataFrame, mentions: pl.DataFrame, errors: list[dict] | None = None
) -> dict:
    """The README's four figures over ``articles`` (system frames keyed by ``article_id`` = source)."""
    q_by = {k[0]: v.sort("start").to_dicts() for k, v in quotes.group_by("article_id")} if quotes.height else {}
    c = Counter()
    by_attr: dict[str, Counter] = {}
    for art in articles:
        system = q_by.get(art.source, [])
        matched = _match(art.quotes, system)
        for lab, hit in zip(art.quotes, matched, strict=True):
            if lab["kind"] == "scare":
                c["scare"] += 1
                c["scare_attributed"] += bool(hit and hit.get("speaker"))
                if errors is not None and hit and hit.get("speaker"):
                    errors.append(
                        {
                            "source": art.source,
                            "error": "scare_attributed",
                            "quote": lab["text"][:90],
                            "system": hit.get("speaker"),
                            "attribution": hit.get("attribution"),
                        }
                    )
                continue
            c["speech"] += 1
            c["found"] += hit is not None
            if errors is not None and hit is None:
                errors.append({"source": art.source, "error": "not_found", "quote": lab["text"][:90]})
            if not lab.get("named"):
                continue
            kind = lab.get("attribution") or "none"
            by_attr.setdefault(kind, Counter())["named"] += 1
            c["named"] += 1
            right = hit is not None and fold(hit.get("speaker")) == fold(lab["speaker"])
            c["speaker_right"] += right
            by_attr[kind]["right"] += right
            if errors is not None and hit is not None and not right:
                errors.append(
                    {
                        "source": art.source,
                        "error": "wrong_speaker",
                        "quote": lab["text"][:90],
                        "gold": lab["speaker"],
                        "gold_attribution": kind,
                        "system": hit.get("speaker"),
                        "attribution": hit.get("attribution"),
                    }
                )
    m_counts = Counter()
    if mentions.height:
        for src, actor, n in (
            mentions.filter(pl.col("actor_type") == "person").group_by("article_id", "actor").len().iter_rows()
        ):
            m_counts[(src, fold(actor))] += n
    mention_rows = []
    for art in articles:
        for person, want in art.person_mentions.items():
            got = m_counts.get((art.source, fold(person)), 0)
            c["people"] += 1
            c["mentions_exact"] += got == want
            mention_rows.append((art.source, person, want, got))
            if errors is not None and got != want:
                errors.append(
                    {"source": art.source, "error": "mention_count", "person": person, "gold": want, "system": got}
                )

    def ratio(a: str, b: str) -> float:
        return c[a] / c[b] if c[b] else 0.0

    return {
        "articles": len(articles),
        "speech_quotes": c["speech"],
        "named_speech_quotes": c["named"],
        "scare_quotes": c["scare"],
        "people": c["people"],
        "found": ratio("found", "speech"),
        "speaker_right": ratio("speaker_right", "named"),
        "scare_attributed": ratio("scare_attributed", "scare"),
        "mentions_exact": ratio("mentions_exact", "people"),
        "counts": dict(c),
        "speaker_right_by_attribution": {
            k: {"named": v["named"], "right": v["right"], "acc": v["right"] / v["named"] if v["named"] else 0.0}
            for k, v in sorted(by_attr.items())
        },
    }


def run_system(articles: list[LabelledArticle]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``run_nlp`` over the labelled texts; the frames' ``article_id`` is the label's source."""
    from pipeline.nlp import run_nlp

    frame = pl.DataFrame({"article_id": [a.source for a in articles], "text": [a.text for a in articles]})
    res = run_nlp(frame)
    return res.quotes, res.entity_mentions


def run_baseline(articles: list[LabelledArticle]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The plain-spaCy way (as ``bench.eval_quotes``'s baseline): the text between quotation marks,
    the speaker the nearest PERSON entity of full en_core_web_sm in the same sentence, and a
    person's mentions the PERSON entities written as that very name."""
    from bench.eval_quotes import _QUOTED
    from pipeline.entities import load_nlp

    nlp = load_nlp(full=True)
    q_rows, m_rows = [], []
    for art, doc in zip(articles, nlp.pipe([a.text for a in articles], batch_size=16), strict=True):
        persons = [(e.start_char, e.end_char, e.text) for e in doc.ents if e.label_ == "PERSON"]
        m_rows += [{"article_id": art.source, "actor": t, "actor_type": "person"} for _, _, t in persons]
        sents = [(s.start_char, s.end_char) for s in doc.sents]
        for m in _QUOTED.finditer(art.text):
            s, e = m.start(1), m.end(1)
            if e <= s:
                continue
            sent = next(((a, b) for a, b in sents if a <= s < b), (s, e))
            near = min((p for p in persons if sent[0] <= p[0] < sent[1] and not m.start() <= p[0] < m.end()),
                       key=lambda p: min(abs(p[0] - e), abs(s - p[1])), default=None)  # fmt: skip
            q_rows.append({"article_id": art.source, "start": s, "quote_text": art.text[s:e],
                           "speaker": near[2] if near else None, "attribution": None})  # fmt: skip
    quote_schema = {"article_id": pl.String, "start": pl.Int64, "quote_text": pl.String, "speaker": pl.String,
                    "attribution": pl.String}  # fmt: skip
    mention_schema = {"article_id": pl.String, "actor": pl.String, "actor_type": pl.String}
    return pl.DataFrame(q_rows, schema=quote_schema), pl.DataFrame(m_rows, schema=mention_schema)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--labels",
        type=Path,
        nargs="*",
        default=None,
        help="label files or folders (default: the labels folder of the shared data)",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--errors", type=Path, default=None, help="write every miss (JSON lines)")
    ap.add_argument("--baseline", action="store_true", help="also score the plain-spaCy baseline")
    args = ap.parse_args(argv)
    root = shared_data()
    files = label_files(args.labels or [root / "labels"])
    articles = read_labels(files, root)
    t = time.perf_counter()
    quotes, mentions = run_system(articles)
    errors: list[dict] = []
    res = score(articles, quotes, mentions, errors)
    res["seconds"] = time.perf_counter() - t
    res["files"] = [str(f) for f in files]
    print(
        f"labels: {len(files)} file(s), {res['articles']} articles, {res['speech_quotes']} speech quotes "
        f"({res['named_speech_quotes']} named), {res['scare_quotes']} scare quotes, {res['people']} people\n"
    )
    systems = {"newsdesk": res}
    if args.baseline:
        systems = {"baseline": score(articles, *run_baseline(articles)), **systems}
        res["baseline"] = systems["baseline"]
    print("| system | quotes found | named speakers right | scare quotes attributed | person mention counts exact |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in systems.items():
        cnt = r["counts"]
        print(
            f"| {name} | {r['found']:.3f} ({cnt.get('found', 0)}/{cnt.get('speech', 0)}) "
            f"| {r['speaker_right']:.3f} ({cnt.get('speaker_right', 0)}/{cnt.get('named', 0)}) "
            f"| {cnt.get('scare_attributed', 0)} of {cnt.get('scare', 0)} "
            f"| {r['mentions_exact']:.3f} ({cnt.get('mentions_exact', 0)}/{cnt.get('people', 0)}) |"
        )
    print("\nnamed speakers right by labelled attribution:")
    for kind, v in res["speaker_right_by_attribution"].items():
        print(f"  {kind:13} {v['right']:3}/{v['named']:3}  {v['acc']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.errors:
        args.errors.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    return res


if __name__ == "__main__":
    main()
