"""``newsdesk review``: what a person checks before trusting a warehouse's answers.

Numbers on a benchmark do not show an analyst's view.  This prints, from the published
snapshot, the top actors of each type (is every "person" a person, under their full name?),
the most quoted sources, the quote share by gender, and every quotation of a few articles
beside its speaker and how the speaker was found, so a reader can judge them in a minute.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from pipeline import snapshots

TYPES = ("person", "organisation", "place")


def review(warehouse: Path, *, top: int = 50, articles: int = 3, seed: int = 0) -> str:
    """The review text of the published snapshot of ``warehouse``."""
    out: list[str] = []
    with snapshots.connect_published(warehouse) as con:
        n_articles = con.execute("select count(*) from articles").fetchall()[0][0]
        out.append(f"warehouse {warehouse}: {n_articles:,} articles\n")
        for kind in TYPES:
            rows = con.execute(
                "select actor, mentions, articles, coalesce(gender, '') from mentions_per_actor "
                "where actor_type = ? order by mentions desc, actor limit ?",
                [kind, top],
            ).fetchall()
            out.append(f"top {len(rows)} {kind} actors (mentions, articles{', gender' if kind == 'person' else ''}):")
            out.extend(_columns([f"{a} ({m}, {n}{', ' + g if g else ''})" for a, m, n, g in rows]))
            out.append("")
        rows = con.execute(
            "select source, source_type, sum(quotes) as q, sum(articles) as a from quote_counts_per_source "
            "group by all order by q desc, source limit ?",
            [top],
        ).fetchall()
        attributed, total = con.execute("select count(speaker_id), count(*) from quotes").fetchall()[0]
        out.append(f"top {len(rows)} quoted sources ({attributed:,} of {total:,} quotations have a speaker):")
        out.extend(_columns([f"{s} [{t[:3]}] ({q})" for s, t, q, _ in rows]))
        out.append("")
        shares = con.execute(
            "select gender, sum(quotes) as q from quote_share_by_gender group by gender order by q desc"
        ).fetchall()
        if shares:
            whole = sum(q for _, q in shares) or 1
            out.append(
                "quotations of people by gender: " + ", ".join(f"{g} {q:,} ({q / whole:.0%})" for g, q in shares)
            )
            out.append("")
        picked = con.execute(
            "select article_id, title from articles where article_id in (select article_id from quotes) "
            "order by hash(article_id || ?::varchar) limit ?",
            [str(seed), articles],
        ).fetchall()
        for art_id, title in picked:
            out.append(f"article {art_id}: {title}")
            for text, speaker, kind, cue in con.execute(
                'select quote_text, speaker, attribution, cue from quotes where article_id = ? order by "start"',
                [art_id],
            ).fetchall():
                who = f"{speaker} ({kind}{', ' + cue if cue else ''})" if speaker else f"— ({kind or 'no speaker'})"
                out.append(textwrap.shorten(f"  {who}: “{text}”", 160, placeholder="…”"))
            out.append("")
    return "\n".join(out)


def _columns(items: list[str], width: int = 3) -> list[str]:
    """Items numbered, ``width`` to a line."""
    cells = [f"{i + 1:>3}. {s}" for i, s in enumerate(items)]
    col = max((len(c) for c in cells), default=0) + 2
    return ["".join(c.ljust(col) for c in cells[i : i + width]).rstrip() for i in range(0, len(cells), width)]
