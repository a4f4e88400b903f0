"""Sentence and token segmentation on the sample article and on edge cases."""

from __future__ import annotations

import polars as pl

from pipeline import segment
from tests.conftest import articles_from_texts


def _sentences(text: str) -> list[str]:
    sents = segment.split_sentences(articles_from_texts({"a": text}))
    return [text[s:e] for s, e in sents.select("start", "end").iter_rows()]


def test_sample_sentences(sample_articles, sample_text):
    sents = segment.split_sentences(sample_articles)
    texts = [sample_text[s:e] for s, e in sents.select("start", "end").iter_rows()]
    assert len(texts) == 22
    # every paragraph starts a sentence; the title is paragraph 0
    assert sents.filter(pl.col("sentence_id") == 0)["paragraph_id"].item() == 0
    assert sents["paragraph_id"].n_unique() == sample_text.count("\n") + 1
    # a quote closing after the comma does not end the sentence; after the full stop it does
    assert "“There are losses; this is a fact,” he said." in texts
    assert any(t.startswith("“If it were not for the steadfastness") for t in texts)
    # "U.S." inside a sentence does not split it
    assert any("increase in U.S. weapons aid to Ukraine" in t for t in texts)
    assert sents["sentence_id"].to_list() == list(range(22))


def test_abbreviations_initials_and_quotes():
    assert _sentences("Mr. Smith met Dr. Jones in St. Louis. They talked.") == [
        "Mr. Smith met Dr. Jones in St. Louis.",
        "They talked.",
    ]
    assert _sentences("John F. Kennedy spoke. It was 1962.") == ["John F. Kennedy spoke.", "It was 1962."]
    assert _sentences("“Stop!” she said. “Why?” he asked.") == ["“Stop!” she said.", "“Why?” he asked."]
    assert _sentences('He said "no." Then he left (quietly.) Done.') == [
        'He said "no."',
        "Then he left (quietly.)",
        "Done.",
    ]
    assert _sentences("It grew in the U.S. The rest fell.") == ["It grew in the U.S.", "The rest fell."]
    # a paragraph break always ends a sentence, even without punctuation
    assert _sentences("Headline without a stop\nBody text here") == [
        "Headline without a stop",
        "Body text here",
    ]


def test_tokens_offsets_and_kinds(sample_articles, sample_text):
    sents = segment.split_sentences(sample_articles)
    toks = segment.tokenize(sample_articles, sents)
    assert toks["token_id"].to_list() == list(range(toks.height))
    for s, e, t in toks.select("start", "end", "text").iter_rows():
        assert sample_text[s:e] == t
    # every non-space character is inside exactly one token
    covered = sum(e - s for s, e in toks.select("start", "end").iter_rows())
    assert covered == sum(not c.isspace() for c in sample_text)
    words = toks["text"].to_list()
    assert "doesn’t" in words and "President-elect" in words and "U.S." in words
    i = words.index("Trump", 10)
    assert words[i + 1] in ("’s", " ") or words[i + 1].isalpha()
    kinds = dict(zip(toks["text"], toks["kind"], strict=True))
    assert kinds["50,000"] == "number" and kinds["“"] == "punct" and kinds["Kursk"] == "word"


def test_possessive_split_and_sentence_ids_consistent(sample_articles):
    sents, internal = segment.segment(sample_articles)
    toks = segment.tokenize(sample_articles, sents)
    assert toks["sentence_id"].to_list() == internal["sentence_id"].to_list()
    words = toks["text"].to_list()
    assert words[words.index("Russia") + 1] == "’s"


def test_empty_and_null_text():
    arts = pl.DataFrame(
        {"article_id": ["e", "n"], "text": ["", None]}, schema={"article_id": pl.String, "text": pl.String}
    )
    sents, toks = segment.segment(arts)
    assert sents.height == 0 and toks.height == 0
