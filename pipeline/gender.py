"""A person's gender as the article itself writes it: its pronouns and honorifics, else unknown.

The Gender Gap Tracker's question (whose voices are quoted) needs each speaker's gender.
A first-name list guesses it from outside the text and is wrong for every name it does not
know; here the evidence is the article's own words:

* an honorific before a mention ("Mr Brown", "Ms Blackman", "Sir Alex", "Dame Judi");
* a he/she/his/her pronoun, outside quotations, whose only possible antecedent is one
  person: the only person named between the start of the sentence before it and the
  pronoun.  Where two people are in that window the pronoun says nothing.

Per article, a person is ``male`` or ``female`` when the evidence agrees (more votes one way
than the other), else ``NULL``.  Across the corpus (dbt ``actors``), the articles vote.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import polars as pl

from pipeline import lexicon

_WORD = re.compile(r"[A-Za-z]+\.?")
_PRONOUNS = sorted(lexicon.MALE_PRONOUNS | lexicon.FEMALE_PRONOUNS)
LABELS = {"m": "male", "f": "female"}


class _Mention(Protocol):
    start: int
    actor: str
    actor_type: str


class _Person(NamedTuple):
    start: int
    actor: str
    actor_type: str = "person"


def gender_votes(
    text: str,
    sentences: Sequence[tuple[int, int, int]],
    mentions: Sequence[_Mention],
    pronouns: Sequence[tuple[int, int, str]],
    quoted: Sequence[tuple[int, int]] = (),
) -> dict[str, Counter]:
    """Votes ``{"m": n, "f": n}`` per person actor (``mentions`` sorted by start)."""

    def in_quote(pos: int) -> bool:
        return any(s <= pos < e for s, e in quoted)

    people = [m for m in mentions if m.actor_type == "person" and not in_quote(m.start)]
    starts = [m.start for m in people]
    sent_starts = [s for s, _, _ in sentences]
    votes: dict[str, Counter] = {}
    for m in people:
        prev = _WORD.findall(text[max(0, m.start - 8) : m.start])
        hon = prev[-1].lower().rstrip(".") if prev else ""
        if hon in lexicon.MALE_HONORIFICS:
            votes.setdefault(m.actor, Counter())["m"] += 1
        elif hon in lexicon.FEMALE_HONORIFICS:
            votes.setdefault(m.actor, Counter())["f"] += 1
    for pos, _end, word in pronouns:
        w = word.lower()
        g = "m" if w in lexicon.MALE_PRONOUNS else "f" if w in lexicon.FEMALE_PRONOUNS else None
        if g is None or in_quote(pos):
            continue
        k = max(0, bisect.bisect_right(sent_starts, pos) - 1)
        lo = sent_starts[max(0, k - 1)] if sent_starts else 0
        window = {m.actor for m in people[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, pos)]}
        if len(window) == 1:
            votes.setdefault(window.pop(), Counter())[g] += 1
    return votes


def decide(votes: Counter | None) -> str | None:
    """``m``/``f`` when the article's evidence leans one way, else None."""
    if not votes or votes["m"] == votes["f"]:
        return None
    return "m" if votes["m"] > votes["f"] else "f"


def article_genders(
    articles: pl.DataFrame, sentences: pl.DataFrame, mentions: pl.DataFrame, tokens: pl.DataFrame,
    quotes: pl.DataFrame | None = None,
) -> pl.DataFrame:  # fmt: skip
    """One row per (article, person actor) with evidence: ``article_id, actor, gender`` (male/female)."""
    people = mentions.filter(pl.col("actor_type") == "person")
    ids = people.get_column("article_id").unique()
    if ids.len() == 0:
        return pl.DataFrame(schema={"article_id": pl.String, "actor": pl.String, "gender": pl.String})

    def grouped(frame: pl.DataFrame, cols: list[str]) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {}
        for row in (
            frame.filter(pl.col("article_id").is_in(ids))
            .sort("article_id", cols[0])
            .select("article_id", *cols)
            .iter_rows()
        ):
            out.setdefault(row[0], []).append(row[1:])
        return out

    texts = dict(articles.filter(pl.col("article_id").is_in(ids)).select("article_id", "text").iter_rows())
    sents = grouped(sentences, ["start", "end", "paragraph_id"])
    ments = grouped(people, ["start", "actor"])
    prons = grouped(
        tokens.with_columns(pl.col("text").str.to_lowercase().alias("_w")).filter(pl.col("_w").is_in(_PRONOUNS)),
        ["start", "end", "_w"],
    )
    quoted = (
        grouped(quotes.with_columns((pl.col("start") - 1).alias("_s"), (pl.col("end") + 1).alias("_e")), ["_s", "_e"])
        if quotes is not None and quotes.height
        else {}
    )
    rows: dict[str, list] = {"article_id": [], "actor": [], "gender": []}
    for art, ms in ments.items():
        votes = gender_votes(texts[art], sents.get(art, []), [_Person(s, a) for s, a in ms], prons.get(art, []),
                             quoted.get(art, []))  # fmt: skip
        for actor, v in votes.items():
            g = decide(v)
            if g is not None:
                rows["article_id"].append(art)
                rows["actor"].append(actor)
                rows["gender"].append(LABELS[g])
    return pl.DataFrame(rows, schema={"article_id": pl.String, "actor": pl.String, "gender": pl.String})
