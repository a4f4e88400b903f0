"""Column contracts of the frames that flow between pipeline stages.

Every stage reads and writes frames with exactly these columns and dtypes, so that the
stages can be developed, tested and swapped independently, and so that the warehouse
tables (created from the same dictionaries) never drift from what the code produces.

Offsets (``start``/``end``) are always character offsets (Python ``str`` indexing, end
exclusive) into ``articles.text`` of the same ``article_id``.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

# One row per article.  ``text`` is the canonical text all offsets refer to:
# title, standfirst (when there is one) and the body paragraphs, joined by "\n",
# one paragraph per line.
ARTICLES: dict[str, pl.DataType] = {
    "article_id": pl.String(),  # stable: hash of canonical URL, else of title+body
    "batch_id": pl.String(),  # the run that first ingested it
    "source_path": pl.String(),  # input file relative to the input folder
    "source_format": pl.String(),  # txt | json | jsonl | csv | html | feed | warc
    "url": pl.String(),
    "outlet": pl.String(),  # publication the article came from
    "published_at": UTC_TS,
    "author": pl.String(),  # byline, when the input gives one
    "language": pl.String(),  # ISO 639-1 code identified from the text ("en"); NER runs on "en" only
    "title": pl.String(),
    "standfirst": pl.String(),
    "body": pl.String(),  # paragraphs joined by "\n"
    "text": pl.String(),
    "content_hash": pl.String(),  # sha256 of normalised title + body
    "n_chars": pl.Int64(),
    "ingested_at": UTC_TS,
    # the input it was read from (the seen-inputs manifest's key): when that input changes, the
    # articles it gave before are retired, not counted twice (pipeline.dedup)
    "source": pl.String(),
    "input": pl.String(),
    "retired_at": UTC_TS,  # NULL while live; set when a changed input superseded it (kept for audit)
    "superseded_by": pl.String(),  # the article the input gives now (same story id, or its one article)
}

# Ingest's candidate articles carry these too, until de-duplication (pipeline.dedup) decides.
CANDIDATE_EXTRA: dict[str, pl.DataType] = {
    "summary_only": pl.Boolean(),  # a feed item with a summary only: needs the page of its URL
    "id_kind": pl.String(),  # what article_id hashes: url | record_id | content
}

# Rejected inputs: nothing is dropped silently, every rejection is a row here.
QUARANTINE: dict[str, pl.DataType] = {
    "batch_id": pl.String(),
    "input": pl.String(),  # file (and line/record) the row came from
    "stage": pl.String(),  # ingest | validate_raw | nlp | validate_nlp | ...
    "reason": pl.String(),  # short machine-readable reason code
    "detail": pl.String(),  # human-readable explanation
    "article_id": pl.String(),
    "quarantined_at": UTC_TS,
}

# Copies of an article that were not loaded as articles of their own (see pipeline.dedup).
ARTICLE_DUPLICATES: dict[str, pl.DataType] = {
    "duplicate_id": pl.String(),  # stable id of the copy: hash of its input and content
    "article_id": pl.String(),  # the copy's own article id (equals duplicate_of for same_url)
    "duplicate_of": pl.String(),  # the canonical article in ``articles``
    "kind": pl.String(),  # same_url | exact | near
    "similarity": pl.Float64(),  # MinHash Jaccard estimate of the bodies (1.0 for exact)
    "batch_id": pl.String(),
    "source_path": pl.String(),
    "source_format": pl.String(),
    "url": pl.String(),
    "outlet": pl.String(),
    "published_at": UTC_TS,
    "title": pl.String(),
    "content_hash": pl.String(),
    "detected_at": UTC_TS,
}

# The seen-inputs manifest: one row per (source, input) content ever read, so a nightly run
# reads only what is new or changed. Published with the articles, so a killed run leaves none.
INGEST_INPUTS: dict[str, pl.DataType] = {
    "source": pl.String(),  # source name from the source config ("" for a bare folder)
    "input": pl.String(),  # path relative to the source folder, or the feed URL
    "size": pl.Int64(),
    "mtime": UTC_TS,  # modification time when read
    "sha256": pl.String(),  # of the bytes read
    "encoding": pl.String(),  # detected text encoding, when it is text
    "articles": pl.Int64(),  # articles read from it (before de-duplication)
    "rejected": pl.Int64(),  # quarantine rows it produced
    "batch_id": pl.String(),
    "read_at": UTC_TS,
}

# MinHash signatures of published articles (pipeline.dedup), for near-duplicates across runs.
ARTICLE_MINHASH: dict[str, pl.DataType] = {
    "article_id": pl.String(),
    "signature": pl.List(pl.UInt32()),
}

SENTENCES: dict[str, pl.DataType] = {
    "article_id": pl.String(),
    "sentence_id": pl.Int32(),  # 0-based index within the article
    "paragraph_id": pl.Int32(),  # 0 = title line
    "start": pl.Int32(),
    "end": pl.Int32(),
}

TOKENS: dict[str, pl.DataType] = {
    "article_id": pl.String(),
    "token_id": pl.Int32(),  # 0-based index within the article
    "sentence_id": pl.Int32(),
    "start": pl.Int32(),
    "end": pl.Int32(),
    "text": pl.String(),
    "kind": pl.String(),  # word | number | punct | symbol
}

ENTITY_MENTIONS: dict[str, pl.DataType] = {
    "article_id": pl.String(),
    "mention_id": pl.Int32(),  # 0-based index within the article
    "sentence_id": pl.Int32(),
    "start": pl.Int32(),
    "end": pl.Int32(),
    "text": pl.String(),  # surface form as written
    "label": pl.String(),  # PERSON | ORG | LOC
    "actor": pl.String(),  # canonical name within the article ("Donald Trump")
    "actor_type": pl.String(),  # person | organisation | place
    "ner_label": pl.String(),  # the model's label (PERSON, ORG, GPE, ...), ALIAS, SPEAKER or DATELINE
    "is_outlet": pl.Boolean(),  # the actor is a news outlet (masthead shape or reporting context)
    "gender": pl.String(),  # male | female as the article's own pronouns and honorifics say (pipeline.gender)
}

QUOTES: dict[str, pl.DataType] = {
    "quote_id": pl.String(),  # article_id + ":" + start offset of the content
    "article_id": pl.String(),
    "sentence_id": pl.Int32(),
    "paragraph_id": pl.Int32(),
    "start": pl.Int32(),  # content span, quotation marks excluded
    "end": pl.Int32(),
    "quote_text": pl.String(),  # the content, marks excluded
    "speaker": pl.String(),  # canonical actor name, NULL when unattributed
    "speaker_type": pl.String(),  # person | organisation | place, NULL when no speaker
    "speaker_start": pl.Int32(),  # the mention that attributes it (name or pronoun)
    "speaker_end": pl.Int32(),
    "attribution": pl.String(),  # how the speaker was found (see pipeline.quotes)
    "cue": pl.String(),  # the speech verb or phrase as written ("said", "according to")
    "speaker_role": pl.String(),  # the speaker's title/role as written ("Ukrainian President")
    "cited_outlet": pl.String(),  # outlet the words were given to ("told NBC News"), canonical
}


# What the warehouse stores: the NLP frames plus corpus-wide actor ids (pipeline.linking).
LINKED_MENTIONS: dict[str, pl.DataType] = {
    **ENTITY_MENTIONS,
    "actor_id": pl.String(),  # corpus-wide actor (the same person in every article), see actors table
}
LINKED_QUOTES: dict[str, pl.DataType] = {
    **QUOTES,
    "speaker_id": pl.String(),  # actor_id of the speaker, NULL when unattributed
}
# Alias state carried from batch to batch so that later batches reuse earlier actor ids.
ACTOR_ALIASES: dict[str, pl.DataType] = {
    "alias_key": pl.String(),  # normalised surface form ("trump", "donald trump")
    "actor_type": pl.String(),
    "actor_id": pl.String(),
    "alias": pl.String(),  # a written form with that key
    "is_full_name": pl.Boolean(),  # the alias is the actor's full name: safe for exact lookups
    "n_mentions": pl.Int64(),
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the contract's columns, for stages that found nothing."""
    return pl.DataFrame(schema=schema)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def conform(frame: Frame, schema: dict[str, pl.DataType]) -> Frame:
    """Select and cast ``frame`` to the contract, failing loudly on a missing column.

    Casting is strict: a value that does not fit the contract is a bug upstream and must
    not be turned into a NULL on the way to the warehouse.
    """
    names = frame.collect_schema().names()
    missing = [c for c in schema if c not in names]
    if missing:
        raise ValueError(f"frame is missing contract columns {missing}")
    return frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
