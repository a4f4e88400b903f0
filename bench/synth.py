"""Benchmark inputs at any size, built at bench time from the real corpora (never committed).

The real corpora hold 3,233 full-text articles (BBC 2,225 + PolNeAR 1,008). Larger runs
need more *distinct* articles: a plain copy with a fresh id is caught by ingest (content
hash) and by a near-duplicate detector (MinHash over word 5-grams, Jaccard ≥ 0.7), and it
would flatter any cache. So article ``i`` of a benchmark corpus is a new mix of real text:

* its length (in words) is that of a real article drawn at random;
* its body is 3–5 *runs* of consecutive paragraphs, each run from a different real article
  (a contiguous run keeps what a quote needs nearby: the speaker's name, the cue, the
  pronoun), drawn until that length is reached;
* its headline is the first run's source headline, its outlet and publication date are the
  first run's source's (PolNeAR metadata; BBC has no date, so a fixed 2004–05 day is
  derived from the index).

Everything about article ``i`` depends only on ``(seed, i)``: the first 1,000 articles of a
100k corpus are the 1k corpus, and "1 % new articles" are simply the next indices. Two mixes
share a paragraph run rarely and never most of their text, so their word-5-gram Jaccard is
far below 0.7 (checked by :func:`max_overlap` on a sample).
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.corpora import shared_data

ARTICLES_PER_FILE = 1000


@dataclass(frozen=True)
class Source:
    title: str
    paragraphs: tuple[str, ...]
    outlet: str
    published: str | None  # ISO date
    words: int


def _paragraphs(lines: list[str]) -> tuple[str, ...]:
    return tuple(p for p in (" ".join(x.split()) for x in lines) if p)


def load_sources(root: Path | None = None) -> list[Source]:
    """Every BBC and PolNeAR article as title + paragraphs (read-only, in memory, ~20 MB)."""
    root = root or shared_data()
    out: list[Source] = []
    for f in sorted((root / "corpus" / "bbc_news" / "bbc").glob("*/*.txt")):
        lines = f.read_bytes().decode("utf-8", errors="replace").replace("\r", "").split("\n")
        paras = _paragraphs(lines[1:])
        if lines and paras:
            out.append(Source(lines[0].strip(), paras, "BBC News", None, sum(len(p.split()) for p in paras)))
    meta: dict[str, tuple[str, str]] = {}
    with open(root / "polnear" / "data" / "metadata.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            meta[row["filename"]] = (row["publisher"], row["publication_date"])
    for f in sorted((root / "polnear" / "data").glob("*/text/*.txt")):
        lines = f.read_text(encoding="utf-8", errors="replace").replace("\r", "").split("\n")
        paras = _paragraphs(lines[1:])
        publisher, published = meta.get(f.stem, ("unknown", None))
        if lines and paras:
            out.append(Source(lines[0].strip(), paras, publisher, published if published and
                              re.fullmatch(r"\d{4}-\d{2}-\d{2}", published) else None,
                              sum(len(p.split()) for p in paras)))
    return out


def make_article(sources: list[Source], seed: int, i: int) -> dict[str, str]:
    """Article ``i`` of the corpus with ``seed`` (see the module docstring)."""
    rng = random.Random(seed * 1_000_003 + i)
    target = sources[rng.randrange(len(sources))].words
    n_runs = rng.randint(3, 5)
    picked = rng.sample(range(len(sources)), n_runs)
    body: list[str] = []
    words = 0
    for k, s in enumerate(picked):
        src = sources[s]
        share = max(1, (target - words) // (n_runs - k))
        start = rng.randrange(len(src.paragraphs))
        run_words = 0
        for p in src.paragraphs[start:]:
            body.append(p)
            run_words += len(p.split())
            if run_words >= share:
                break
        words += run_words
    first = sources[picked[0]]
    published = first.published or (date(2004, 1, 1) + timedelta(days=i % 700)).isoformat()
    return {
        "id": f"bench-{seed}-{i}",
        "title": first.title,
        "body": "\n".join(body),
        "outlet": first.outlet,
        "published_at": f"{published}T12:00:00Z",
    }


def write_corpus(out_dir: Path, start: int, stop: int, *, seed: int = 6, sources: list[Source] | None = None,
                 prefix: str = "bench") -> list[Path]:
    """Articles ``start..stop-1`` as JSONL files of up to 1,000 articles, returns the files."""
    sources = sources or load_sources()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for lo in range(start, stop, ARTICLES_PER_FILE):
        hi = min(lo + ARTICLES_PER_FILE, stop)
        path = out_dir / f"{prefix}-{seed}-{lo:08d}-{hi:08d}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(lo, hi):
                fh.write(json.dumps(make_article(sources, seed, i), ensure_ascii=False) + "\n")
        files.append(path)
    return files


def shingles(text: str, k: int = 5) -> set[str]:
    w = text.lower().split()
    return {" ".join(w[j:j + k]) for j in range(max(0, len(w) - k + 1))}


def max_overlap(sources: list[Source], seed: int, n: int, sample: int = 300) -> float:
    """Largest word-5-gram Jaccard between any two of ``sample`` articles spread over 0..n.

    A guard that the mixes are distinct texts, not copies a dedup stage would drop.
    """
    rng = random.Random(seed)
    idx = sorted(rng.sample(range(n), min(sample, n)))
    sh = [shingles(make_article(sources, seed, i)["body"]) for i in idx]
    best = 0.0
    for a in range(len(sh)):
        for b in range(a + 1, len(sh)):
            inter = len(sh[a] & sh[b])
            if inter:
                best = max(best, inter / len(sh[a] | sh[b]))
    return best
