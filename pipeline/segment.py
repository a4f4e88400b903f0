"""Sentence and token segmentation, written as Polars expressions.

Why not spaCy's tokenizer/sentencizer?  Segmentation runs on every article (100k+ per
backfill) and the only thing that needs spaCy is NER.  A single regex whose alternatives
cover *every* character lets Polars cut all articles at once (``str.extract_all`` +
``explode``); the running sum of piece lengths gives character offsets, so no Python loop
ever touches a row.  Sentence boundaries are then boolean expressions over neighbouring
tokens (``shift``), which is exactly how a rule-based splitter reasons anyway.

Offsets are Python ``str`` character offsets (end exclusive) into ``articles.text``;
Polars' ``len_chars`` counts Unicode scalar values, like Python, so they agree.
"""

from __future__ import annotations

import polars as pl

from pipeline import lexicon, schemas

# Alternatives, tried left to right at each position; the last one (".") guarantees that
# every character belongs to exactly one piece, which is what makes cum_sum offsets exact.
#   1. whitespace runs (kept so offsets stay exact; dropped after)
#   2. dotted abbreviations: U.S., U.K., E.U. (one token, trailing dot included)
#   3. words: must contain a letter; inner hyphens and apostrophe parts stay inside
#      ("doesn’t", "O’Brien", "President-elect", "2nd"); a one-letter apostrophe suffix is
#      only kept for ’t/’d/’m, so that a possessive ’s is split off.
#   4. clitic possessive ’s / 's as its own token
#   5. numbers with thousands/decimal separators: 50,000  3.5
#   6. any other single character (punctuation, symbols, curly quotes, dashes)
TOKEN_PATTERN = (
    r"(?s)\s+"
    r"|(?:\p{Lu}\.){2,}"
    r"|\p{N}*\p{L}[\p{L}\p{M}\p{N}]*(?:-[\p{L}\p{M}\p{N}]+)*(?:['’](?:[\p{L}]{2,}|[tdmTDM])\b)*"
    r"|['’][sS]\b"
    r"|\p{N}+(?:[.,]\p{N}+)*"
    r"|."
)

# Words after which a full stop does not end a sentence: titles/honorifics and other
# abbreviations that are virtually always followed by more of the same sentence.
NON_TERMINAL_ABBREVIATIONS = [
    "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Sen", "Rep", "Gov", "Gen", "Lt", "Col", "Maj",
    "Capt", "Cmdr", "Adm", "Sgt", "Cpl", "Pvt", "Rev", "Fr", "Hon", "Pres", "Supt", "Insp",
    "St", "Mt", "Ft", "No", "Nos", "vs", "v", "cf", "approx", "Jan", "Feb", "Mar", "Apr",
    "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Jr", "Sr", "Messrs", "Mme", "Mlle",
]  # fmt: skip

# After a dotted abbreviation ("U.S.") a new sentence only starts when the next word is a
# typical sentence opener; "U.S. President" or "U.S. Army" continue the sentence.
SENTENCE_OPENERS = [
    "The", "A", "An", "He", "She", "It", "They", "We", "I", "You", "But", "And", "In", "On",
    "At", "This", "That", "These", "Those", "There", "His", "Her", "Its", "Their", "Our",
    "If", "When", "While", "As", "After", "Before", "Some", "Many", "Most", "Officials",
    "However", "Meanwhile", "So", "Yet", "For", "Now", "Still", "Then", "What", "Who",
]  # fmt: skip

TERMINALS = [".", "!", "?", "…"]
# Speech verbs after a name ("…?” Graham asked"): see _with_sentence_ids.
_CUE_WORDS = sorted(lexicon.SPEECH_VERBS)
CLOSERS = ["”", "’", '"', "'", ")", "]", "»"]
OPENERS = ["“", "‘", '"', "'", "(", "[", "«"]


def _pieces(articles: pl.DataFrame) -> pl.LazyFrame:
    """Every piece (token or whitespace run) of every article with exact offsets."""
    return (
        articles.lazy()
        .select(
            "article_id",
            pl.col("text").fill_null("").str.extract_all(TOKEN_PATTERN).alias("piece"),
        )
        .explode("piece")
        .drop_nulls("piece")
        .with_columns(pl.col("piece").str.len_chars().cast(pl.Int32).alias("_len"))
        .with_columns(
            (pl.col("_len").cum_sum().over("article_id") - pl.col("_len")).alias("start"),
            pl.col("piece").str.contains(r"^\s").alias("_ws"),
            pl.col("piece").str.count_matches("\n").cast(pl.Int32).alias("_nl"),
        )
        .with_columns(
            (pl.col("start") + pl.col("_len")).alias("end"),
            # paragraph of a token = newlines seen before it
            (pl.col("_nl").cum_sum().over("article_id") - pl.col("_nl")).alias("paragraph_id"),
            # whitespace directly before / after this piece (used for "attached" marks)
            pl.col("_ws").shift(1).over("article_id").fill_null(True).alias("space_before"),
            pl.col("_ws").shift(-1).over("article_id").fill_null(True).alias("space_after"),
        )
        .filter(~pl.col("_ws"))
        .select(
            "article_id",
            "start",
            "end",
            pl.col("piece").alias("text"),
            "paragraph_id",
            "space_before",
            "space_after",
        )
    )


def _token_kind() -> pl.Expr:
    text = pl.col("text")
    return (
        pl.when(text.str.contains(r"\p{L}"))
        .then(pl.lit("word"))
        .when(text.str.contains(r"^\p{N}"))
        .then(pl.lit("number"))
        .when(text.str.contains(r"^\p{P}$"))
        .then(pl.lit("punct"))
        .otherwise(pl.lit("symbol"))
    )


def _with_sentence_ids(pieces: pl.LazyFrame) -> pl.LazyFrame:
    """Mark sentence ends with shift() expressions and number the sentences."""
    text = pl.col("text")
    art = "article_id"

    def nxt(expr: pl.Expr, n: int = 1) -> pl.Expr:
        return expr.shift(-n).over(art)

    def prv(expr: pl.Expr, n: int = 1) -> pl.Expr:
        return expr.shift(n).over(art)

    is_dot = text == "."
    prev_attached_abbrev = ~pl.col("space_before") & prv(text).is_in(NON_TERMINAL_ABBREVIATIONS)
    prev_initial = (
        ~pl.col("space_before")
        & prv(text).str.contains(r"^\p{Lu}$")
        & (
            # "J. Smith" is an initial, but "... in group B." at a paragraph end is not
            nxt(pl.col("paragraph_id")) == pl.col("paragraph_id")
        )
    )
    terminal = (
        (text.is_in(TERMINALS) & ~(is_dot & (prev_attached_abbrev | prev_initial)))
        # dotted abbreviation followed by a typical sentence opener ends a sentence
        | (text.str.contains(r"^(?:\p{Lu}\.){2,}$") & nxt(text).is_in(SENTENCE_OPENERS))
    )
    closer = text.is_in(CLOSERS) & ~pl.col("space_before")
    # terminal punctuation, possibly followed by up to two attached closing marks: ?” .)”
    ends_here = (
        terminal
        | (closer & prv(terminal).fill_null(False))
        | (closer & prv(closer).fill_null(False) & prv(terminal, 2).fill_null(False))
    )
    next_text = nxt(text)
    next_starts = nxt(pl.col("space_before")).fill_null(True) & (
        next_text.str.contains(r"^[\p{Lu}\p{N}]") | next_text.is_in(OPENERS) | next_text.is_in(["—", "-"])
    )
    para_break = nxt(pl.col("paragraph_id")).fill_null(-1) != pl.col("paragraph_id")
    # "…?” Graham asked." is one sentence: a question or exclamation closing a quotation and
    # followed by a name and a speech verb does not end it
    asked = (
        (closer & prv(text).is_in(["?", "!"]))
        & nxt(text).str.contains(r"^\p{Lu}")
        & (nxt(text, 2).str.to_lowercase().is_in(_CUE_WORDS) | nxt(text, 3).str.to_lowercase().is_in(_CUE_WORDS))
    ).fill_null(False)
    boundary = para_break | (ends_here & ~asked & ~nxt(closer).fill_null(False) & next_starts.fill_null(True))
    return pieces.with_columns(boundary.alias("_boundary")).with_columns(
        (pl.col("_boundary").cast(pl.Int32).cum_sum().over(art) - pl.col("_boundary").cast(pl.Int32))
        .cast(pl.Int32)
        .alias("sentence_id"),
        pl.int_range(pl.len(), dtype=pl.Int32).over(art).alias("token_id"),
    )


def segment(articles: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sentences and tokens of ``articles`` in one pass (what ``run_nlp`` uses).

    Tokens carry two extra columns beyond the contract, ``paragraph_id`` and
    ``space_before``/``space_after``, which the quote finder needs to tell an opening
    straight quote from a closing one; ``schemas.conform`` drops them.
    """
    toks = _with_sentence_ids(_pieces(articles)).with_columns(_token_kind().alias("kind")).collect()
    sentences = (
        toks.group_by("article_id", "sentence_id", maintain_order=True)
        .agg(
            pl.col("paragraph_id").first(),
            pl.col("start").min(),
            pl.col("end").max(),
        )
        .sort("article_id", "sentence_id")
    )
    return schemas.conform(sentences, schemas.SENTENCES), toks.sort("article_id", "token_id")


def split_sentences(articles: pl.DataFrame) -> pl.DataFrame:
    """SENTENCES frame: one row per sentence; a paragraph break always ends a sentence."""
    return segment(articles)[0]


def tokenize(articles: pl.DataFrame, sentences: pl.DataFrame) -> pl.DataFrame:
    """TOKENS frame, each token tagged with the sentence (from ``sentences``) it starts in.

    The sentence ids are taken from ``sentences`` by an as-of join on offsets, so that a
    caller that built sentences differently still gets consistent ids.
    """
    toks = _pieces(articles).with_columns(_token_kind().alias("kind")).collect()
    toks = toks.with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("article_id").alias("token_id"))
    joined = assign_sentence_ids(toks, sentences)
    return schemas.conform(joined.sort("article_id", "token_id"), schemas.TOKENS)


def assign_sentence_ids(frame: pl.DataFrame, sentences: pl.DataFrame) -> pl.DataFrame:
    """Add ``sentence_id`` to any frame with ``article_id``/``start`` (entities, quotes, tokens).

    An as-of join: a span belongs to the last sentence starting at or before its start.
    A vectorised join rather than per-span lookups, so it scales with the batch.
    """
    sents = sentences.select(
        "article_id", "sentence_id", pl.col("start").cast(pl.Int32).alias("_s_start")
    ).sort("article_id", "_s_start")
    base = frame.drop("sentence_id", strict=False).with_columns(pl.col("start").cast(pl.Int32))
    return (
        base.sort("article_id", "start")
        .join_asof(
            sents,
            left_on="start",
            right_on="_s_start",
            by="article_id",
            strategy="backward",
            check_sortedness=False,
        )
        .drop("_s_start")
        .with_columns(pl.col("sentence_id").fill_null(0))
    )
