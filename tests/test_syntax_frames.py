"""The parse frames of quoted sentences: long quotations collapse to a placeholder, short ones stay."""

from __future__ import annotations

import polars as pl

from pipeline import quotes, segment, syntax
from tests.conftest import articles_from_texts

TEXT = (
    "Blair speaks\n"
    '"We will not be rushed into a decision on this, not now," Mr Blair told MPs. '
    'He called the plan "clear" and "well judged", aides said.\n'
    "The vote is on Monday."
)


def _frames():
    sentences, tokens = segment.segment(articles_from_texts({"a": TEXT}))
    spans = quotes.find_quote_spans(tokens, sentences)
    return spans, tokens, syntax.frame_tokens(tokens, sentences, spans)


def test_a_long_quotation_is_one_placeholder_and_short_ones_stay_word_by_word() -> None:
    spans, _, frames = _frames()
    told = _frame_of(frames, "told")
    assert told["word"].to_list() == ['"', syntax.PLACEHOLDER, '"', "Mr", "Blair", "told", "MPs", "."]
    long_start = TEXT.index("We will")
    assert told.filter(told["word"] == syntax.PLACEHOLDER)["quote_start"].to_list() == [long_start]
    called = _frame_of(frames, "called")
    assert {"clear", "well", "judged"} <= set(called["word"]) and syntax.PLACEHOLDER not in called["word"]
    assert "Monday" not in frames["word"], "a sentence with no quotation is not parsed"
    assert spans.height == 3


def test_words_inside_a_quotation_count_word_tokens_only() -> None:
    spans, tokens, _ = _frames()
    counts = dict(syntax._words_inside(spans, tokens).select("quote_start", "_words").iter_rows())
    assert counts == {TEXT.index("We will"): 12, TEXT.index("clear"): 1, TEXT.index("well"): 2}


def _frame_of(frames: pl.DataFrame, word: str) -> pl.DataFrame:
    """The tokens of the frame that holds ``word``."""
    (fid,) = frames.filter(pl.col("word") == word)["frame_id"].to_list()
    return frames.filter(pl.col("frame_id") == fid)
