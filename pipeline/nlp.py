"""The NLP stage as one call: what the Airflow NLP task runs on each batch of articles.

Order matters: NER (spaCy, the costly step) needs only the texts, so it is queued on the
stage's worker processes first; while they tag, this process segments the articles and
finds the quotations, whose few parses are queued behind the NER. Then the per-article
actors (which need the entities) and the quotes' speakers (which need actors and
parses). On one process the same steps run one after the other. Deterministic: the same
articles give the same frames, row order included, on any number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline import actors, entities, gender, names, quotes, schemas, segment, syntax


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
    entities_of = entities.start_mentions(articles, batch_size=batch_size, n_process=n_process)
    sentences, tokens = segment.segment(articles)
    spans = quotes.find_quote_spans(tokens, sentences)
    parse_of = syntax.start_parse(syntax.frame_tokens(tokens, sentences, spans))
    canonical = actors.canonicalise(entities_of(), articles, names.CaseStats.of(tokens))
    mentions = segment.assign_sentence_ids(canonical, sentences).sort("article_id", "mention_id")
    found = quotes.extract_quotes(articles, tokens, sentences, mentions, parse=parse_of(), spans=spans)
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
