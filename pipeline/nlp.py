"""The NLP stage as one call: what the Airflow NLP task runs on each batch of articles.

Order matters and is cheap-first: segmentation (Polars), NER (spaCy, the only costly
step), per-article actors, then quotes (which need sentences, tokens and actors).
Deterministic: the same articles give the same frames, row order included.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline import actors, entities, gender, names, quotes, schemas, segment


@dataclass(frozen=True)
class NlpResult:
    """The four frames of the NLP stage, each conformed to its contract in ``schemas``."""

    sentences: pl.DataFrame
    tokens: pl.DataFrame
    entity_mentions: pl.DataFrame
    quotes: pl.DataFrame


def run_nlp(articles: pl.DataFrame, *, batch_size: int = 64, n_process: int = 1) -> NlpResult:
    """Segment, tag, canonicalise and attribute quotes for a batch of ARTICLES rows.

    ``batch_size``/``n_process`` go to the NER step (``entities.model_entities``):
    ``n_process=2`` runs NER on two worker processes started from a forkserver (the stage's
    ``entities.ner_workers``, or ones started for the call), each with the model loaded
    once; it pays off from a few dozen articles on.
    """
    articles = articles.sort("article_id")
    sentences, tokens = segment.segment(articles)
    raw = entities.spacy_mentions(articles, batch_size=batch_size, n_process=n_process)
    canonical = actors.canonicalise(raw, articles, names.CaseStats.of(tokens))
    mentions = segment.assign_sentence_ids(canonical, sentences).sort("article_id", "mention_id")
    found = quotes.extract_quotes(articles, tokens, sentences, mentions)
    # speakers the NER missed become mentions, so that every speaker is an actor
    mentions = quotes.add_speaker_mentions(canonical, found, articles)
    mentions = segment.assign_sentence_ids(mentions, sentences).sort("article_id", "mention_id")
    genders = gender.article_genders(articles, sentences, mentions, tokens, found)
    mentions = mentions.join(genders, on=["article_id", "actor"], how="left", maintain_order="left")
    return NlpResult(
        sentences=sentences,
        tokens=schemas.conform(tokens, schemas.TOKENS),
        entity_mentions=schemas.conform(mentions, schemas.ENTITY_MENTIONS),
        quotes=found,
    )
