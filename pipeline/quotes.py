"""Direct quotations and who said them.

Two steps, each where it is cheapest:

1. **Finding quotes is vectorised** (Polars over the token frame of the whole batch):
   quotation-mark tokens are filtered out of the tokens, given a role (curly marks by
   their shape, straight marks by their spacing, else parity within the paragraph), and
   each opening mark is paired with the next mark of the same paragraph via ``shift``.  An
   opening mark with no closing mark is bounded by the next opening mark or the paragraph
   end, so an unbalanced mark can never swallow the rest of the article.
2. **Attribution** (``pipeline.speakers``) reads the dependency parse of the few sentences
   that carry a quotation (``pipeline.syntax``) and the article's actors: candidates from
   syntax, evidence from the article, one choice per quotation.

``attribution`` vocabulary (how the speaker was found):

* ``name_cue``      the subject of the speech verb, before it: "X said", "X, who …, told NBC"
* ``cue_name``      the subject after the verb: "said X", "…,” added economy minister X"
* ``according_to``  "according to X"
* ``colon``         "X: “...”" (a name and a colon right before the quote)
* ``signature``     "…” ― Jane Doe" (a dash and a name after the quote)
* ``pronoun``       "he said": resolved by gender and salience (NULL speaker for "I"/"we")
* ``role_noun``     "the Tory leader said": the person introduced with that role, or NULL
                    for an unnamed source ("a spokesman said")
* ``continuation``  no cue of its own: the sentence before it, the previous quotation of
                    the paragraph, or the person the previous sentence is about
* NULL              no speaker found (``speaker`` is NULL too)
"""

from __future__ import annotations

import polars as pl

from pipeline import lexicon, schemas, speakers, syntax
from pipeline.segment import assign_sentence_ids

OPEN_MARKS = ["“", "«", "„"]
CLOSE_MARKS = ["”", "»"]
STRAIGHT = '"'
# Words outside quotations that attribution looks up by position: pronouns and speech verbs.
_LOOKUP_WORDS = sorted(
    lexicon.SPEECH_VERBS | lexicon.MALE_PRONOUNS | lexicon.FEMALE_PRONOUNS | lexicon.PLURAL_PRONOUNS
    | lexicon.NEUTER_PRONOUNS
)


def find_quote_spans(tokens: pl.DataFrame, sentences: pl.DataFrame) -> pl.DataFrame:
    """Content spans of direct quotes, marks excluded, for every article of the batch.

    ``tokens`` is the internal token frame of ``segment.segment`` (it has
    ``paragraph_id``).  Columns out: article_id, paragraph_id, open_start (the opening
    mark's offset), start, end (content), closed, continues (multi-paragraph opening).
    """
    para_end = sentences.group_by("article_id", "paragraph_id").agg(
        pl.col("start").min().alias("para_start"), pl.col("end").max().alias("para_end")
    )
    text = pl.col("text")
    is_straight = text == STRAIGHT
    marks = (
        tokens.lazy()
        .filter(text.is_in(OPEN_MARKS + CLOSE_MARKS + [STRAIGHT]))
        .select("article_id", "paragraph_id", "start", "end", "text", "space_before", "space_after")
        .with_columns(
            is_straight.cast(pl.Int32).cum_sum().over("article_id", "paragraph_id").alias("_n"),
            # the role a mark shows by itself: curly shape, or a straight mark's spacing
            # (` "Word` opens, `word," ` closes); NULL when a straight mark is ambiguous
            pl.when(text.is_in(OPEN_MARKS))
            .then(True)
            .when(text.is_in(CLOSE_MARKS))
            .then(False)
            .when(pl.col("space_before") & ~pl.col("space_after"))
            .then(True)
            .when(~pl.col("space_before") & pl.col("space_after"))
            .then(False)
            .alias("_role"),
        )
        .with_columns(
            # ambiguous straight mark: the opposite of the previous mark ("“like candy\""
            # closes a curly opening), else parity of straight marks in the paragraph
            pl.coalesce(
                "_role",
                ~pl.col("_role").shift(1).over("article_id", "paragraph_id"),
                pl.col("_n") % 2 == 1,
            ).alias("is_open")
        )
        .with_columns(
            pl.col("is_open").shift(-1).over("article_id", "paragraph_id").alias("_next_open"),
            pl.col("start").shift(-1).over("article_id", "paragraph_id").alias("_next_start"),
        )
        .join(para_end.lazy(), on=["article_id", "paragraph_id"], how="left")
        .filter(pl.col("is_open"))
        .with_columns(
            (pl.col("_next_open") == False).fill_null(False).alias("closed"),  # noqa: E712
        )
        .with_columns(
            pl.when(pl.col("closed"))
            .then(pl.col("_next_start"))
            .otherwise(pl.coalesce("_next_start", "para_end"))
            .alias("content_end"),
            # unclosed and last mark of the paragraph: may continue in the next paragraph
            (~pl.col("closed") & pl.col("_next_start").is_null()).alias("runs_to_para_end"),
        )
        .select(
            "article_id",
            "paragraph_id",
            pl.col("start").alias("open_start"),
            pl.col("end").alias("start"),
            pl.col("content_end").alias("end"),
            "closed",
            "runs_to_para_end",
        )
        .filter(pl.col("end") > pl.col("start"))
        .sort("article_id", "start")
        .collect()
    )
    return marks


def add_speaker_mentions(mentions: pl.DataFrame, quotes: pl.DataFrame, articles: pl.DataFrame) -> pl.DataFrame:
    """``mentions`` plus one PERSON mention per quote speaker the NER missed.

    A speaker found from capitalised words before a cue ("Smbatyan added, “…”") is a
    person of the article even though the model did not tag it; without its mention the
    speaker would be no actor (and ``validate_nlp`` rejects a speaker that is no actor).
    Such mentions carry ``ner_label`` SPEAKER; ``mention_id`` is renumbered by offset.
    """
    known = mentions.select("article_id", pl.col("actor").alias("speaker")).unique()
    new = (
        quotes.filter(pl.col("speaker").is_not_null())
        .join(known, on=["article_id", "speaker"], how="anti")
        .select(
            "article_id",
            pl.col("speaker_start").alias("start"),
            pl.col("speaker_end").alias("end"),
            pl.col("speaker").alias("actor"),
        )
        .unique(["article_id", "start", "end"])
    )
    if new.height == 0:
        return mentions
    new = (
        new.join(articles.select("article_id", "text"), on="article_id", how="left")
        .with_columns(
            pl.col("text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")),
            pl.lit("SPEAKER").alias("ner_label"),
            pl.lit("PERSON").alias("label"),
            pl.lit("person").alias("actor_type"),
            pl.lit(False).alias("is_outlet"),
        )
        .with_columns(pl.col("start", "end").cast(mentions.schema["start"]))
    )
    base = mentions.drop("mention_id", "sentence_id", strict=False)
    return (
        pl.concat([base, new.select(base.columns)], how="vertical_relaxed")
        .sort("article_id", "start", "end")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("article_id").alias("mention_id"))
    )


def extract_quotes(
    articles: pl.DataFrame,
    tokens: pl.DataFrame,
    sentences: pl.DataFrame,
    mentions: pl.DataFrame,
    parse: pl.DataFrame | None = None,
    spans: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """QUOTES frame (plus ``speaker_role`` and ``cited_outlet``) for a batch of articles.

    ``tokens`` is the internal token frame from ``segment.segment``; ``mentions`` the
    canonicalised entity mentions from ``actors.canonicalise``; ``parse`` the parsed frames
    (``syntax.parse_frames``; parsed here when not given) of ``spans`` (``find_quote_spans``).
    """
    spans = find_quote_spans(tokens, sentences) if spans is None else spans
    if spans.height == 0:
        return schemas.empty(schemas.QUOTES)
    if parse is None:
        parse = syntax.parse_frames(syntax.frame_tokens(tokens, sentences, spans))
    ids = spans.get_column("article_id").unique(maintain_order=True)
    texts = dict(articles.filter(pl.col("article_id").is_in(ids)).select("article_id", "text").iter_rows())
    sents_by = _by_article(sentences.filter(pl.col("article_id").is_in(ids)), ["start", "end", "paragraph_id"])
    ments_by = {
        a: [speakers.Mention(s, e, actor, atype, bool(outlet)) for s, e, actor, atype, outlet in rows]
        for a, rows in _by_article(
            mentions.filter(pl.col("article_id").is_in(ids)).sort("article_id", "start"),
            ["start", "end", "actor", "actor_type", "is_outlet"],
        ).items()
    }
    words_by = _by_article(
        tokens.filter(pl.col("article_id").is_in(ids))
        .with_columns(pl.col("text").str.to_lowercase().alias("_w"))
        .filter(pl.col("_w").is_in(_LOOKUP_WORDS)),
        ["start", "end", "_w"],
    )
    # one pass over the rows, grouped in Python (a group_by per frame was ~600 small frames per 200 articles)
    frame_toks: dict[tuple[str, int], list[speakers.Tok]] = {}  # in order of first appearance
    for art_id, fid, *tok in (
        parse.filter(pl.col("article_id").is_in(ids))
        .select("article_id", "frame_id", "i", "start", "end", "word", "dep", "head", "quote_start")
        .iter_rows()
    ):
        frame_toks.setdefault((art_id, fid), []).append(speakers.Tok(*tok))
    frames_by: dict[str, list[list[speakers.Tok]]] = {}
    for (art_id, _fid), toks in frame_toks.items():
        frames_by.setdefault(art_id, []).append(toks)
    spans_by: dict[str, list[dict]] = {}
    for span in spans.to_dicts():
        spans_by.setdefault(span["article_id"], []).append(span)
    rows: list[dict] = []
    for art_id, part in spans_by.items():
        rows.extend(
            speakers.attribute_article(
                texts[art_id], sents_by.get(art_id, []), ments_by.get(art_id, []), part,
                frames_by.get(art_id, []), words_by.get(art_id, []),
            )
        )  # fmt: skip
    if not rows:
        return schemas.empty(schemas.QUOTES)
    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "_speaker"} for r in rows], infer_schema_length=None)
    frame = frame.join(articles.select("article_id", "text"), on="article_id", how="left").with_columns(
        (pl.col("article_id") + ":" + pl.col("start").cast(pl.String)).alias("quote_id"),
        pl.col("text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")).alias("quote_text"),
    )
    frame = assign_sentence_ids(frame, sentences).sort("article_id", "start")
    return schemas.conform(frame, schemas.QUOTES)


def _by_article(frame: pl.DataFrame, cols: list[str]) -> dict[str, list[tuple]]:
    """Rows of ``frame`` (in order) as tuples of ``cols``, grouped by article."""
    out: dict[str, list[tuple]] = {}
    for row in frame.select("article_id", *cols).iter_rows():
        out.setdefault(row[0], []).append(row[1:])
    return out
