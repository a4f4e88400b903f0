"""Corpus-wide actor identity: the same person is one ``actor_id`` in every article.

The NLP stage resolves names *within* an article ("Trump" → "Donald Trump"). Across
articles, :func:`pipeline.actors.assign_actor_ids` gives each actor a stable id, reusing the
ids of full names seen in earlier batches (the ``actor_aliases`` table is that memory) and
refusing to merge a bare surname when two known people share it. This module applies it to
one NLP result and carries the alias state from chunk to chunk and run to run.
"""

from __future__ import annotations

import polars as pl

from pipeline import actors, schemas
from pipeline.nlp import NlpResult


def link_actors(
    result: NlpResult, known_aliases: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(mentions, quotes, aliases)`` of a batch: mentions with ``actor_id``, quotes with
    ``speaker_id``, and the batch's alias rows (to merge into the state)."""
    _, aliases, mentions = actors.assign_actor_ids(result.entity_mentions, known_aliases)
    speaker_ids = (
        mentions.sort("article_id", "mention_id")
        .select("article_id", pl.col("actor").alias("speaker"), pl.col("actor_id").alias("speaker_id"))
        .unique(subset=["article_id", "speaker"], keep="first", maintain_order=True)
    )
    quotes = result.quotes.join(speaker_ids, on=["article_id", "speaker"], how="left", maintain_order="left")
    return (
        schemas.conform(mentions, schemas.LINKED_MENTIONS),
        schemas.conform(quotes, schemas.LINKED_QUOTES),
        schemas.conform(aliases, schemas.ACTOR_ALIASES),
    )


def merge_aliases(known: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    """Alias state after a batch: one row per (key, type, actor), counts summed.

    The first written form is kept so that ids and names stay stable as the corpus grows.
    """
    both = new if known is None else pl.concat([known, new], how="vertical_relaxed")
    return schemas.conform(
        both.group_by("alias_key", "actor_type", "actor_id", maintain_order=True)
        .agg(pl.col("alias").first(), pl.col("is_full_name").any(), pl.col("n_mentions").sum())
        .sort("alias_key", "actor_type", "actor_id"),
        schemas.ACTOR_ALIASES,
    )
