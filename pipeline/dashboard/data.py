"""What the dashboard shows, as queries over one read-only connection to a published snapshot.

Kept apart from the Streamlit script so that every number on the page can be tested without
a browser. Every function takes the page-wide :class:`Filters` (date range, outlets, actor
types) and applies them in SQL, so every chart and table answers the same question. The app
caches each result keyed on the snapshot (see ``app.py``): a new snapshot is a new key.

Counts come from the marts: ``activity_per_actor_daily`` (mentions and quotes per actor,
outlet and day) for every count that a date or outlet filter must cut, ``quotes_in_context``
for quotations, ``mentions_per_actor`` for actors, ``co_mentions`` and ``top_quotes`` as
built by dbt when no date or outlet filter asks for a narrower count (then they are counted
the same way from the detail the marts are built from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl

from pipeline.warehouse import query_frame, scalar

ACTOR_TYPES = ("person", "organisation", "place")
GRAINS = ("day", "week", "month")
# Where speaker gender may appear once the NLP work adds it: (mart, column, key to join on).
GENDER_COLUMNS = (("quotes_in_context", "speaker_gender", None), ("mentions_per_actor", "gender", "actor_id"),
                  ("actors", "gender", "actor_id"), ("quotes_in_context", "gender", None))
QUOTE_COLUMNS = ("date", "speaker", "speaker_type", "quote", "cue", "outlet", "article", "url", "sentence",
                 "quote_id", "article_id")


@dataclass(frozen=True)
class Filters:
    """The page-wide filters. Empty tuples mean "all"; ``None`` dates mean "open-ended"."""

    start: date | None = None
    end: date | None = None
    outlets: tuple[str, ...] = ()
    actor_types: tuple[str, ...] = ()

    @property
    def narrows_articles(self) -> bool:
        """Whether the filter leaves out some articles (by date or outlet), not only some actors."""
        return bool(self.start or self.end or self.outlets)

    def sql(self, *, day: str | None = "day", outlet: str | None = "outlet",
            actor_type: str | None = "actor_type") -> tuple[str, list[Any]]:
        """``(where-clause, params)`` over the named columns (a None column is not filtered)."""
        parts, params = ["true"], []
        if day and self.start:
            parts.append(f"{day} >= ?")
            params.append(self.start)
        if day and self.end:
            parts.append(f"{day} <= ?")
            params.append(self.end)
        if outlet and self.outlets:
            parts.append(f"list_contains(?, {outlet})")
            params.append(list(self.outlets))
        if actor_type and self.actor_types:
            parts.append(f"list_contains(?, {actor_type})")
            params.append(list(self.actor_types))
        return " AND ".join(parts), params


# the UTC day of a quotation's article, as activity_per_actor_daily counts it
QUOTE_DAY = "cast(timezone('UTC', seen_at) AS DATE)"


# ---- the snapshot as a whole ------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str | None
    published_at: Any
    articles: int
    mentions: int
    quotes: int
    attributed_quotes: int
    actors: int
    outlets: int


def snapshot_info(con: duckdb.DuckDBPyConnection) -> SnapshotInfo:
    row = con.execute("""
        SELECT (SELECT snapshot_id FROM publish_log ORDER BY published_at DESC LIMIT 1),
               (SELECT max(published_at) FROM publish_log),
               (SELECT count(*) FROM articles),
               (SELECT count(*) FROM entity_mentions),
               (SELECT count(*) FROM quotes),
               (SELECT count(*) FROM quotes WHERE speaker IS NOT NULL),
               (SELECT count(*) FROM mentions_per_actor),
               (SELECT count(DISTINCT outlet) FROM stg_articles)
    """).fetchall()[0]
    return SnapshotInfo(*row)


@dataclass(frozen=True)
class Coverage:
    """What the corpus can say: dates, outlets. The page says so where it cannot."""

    articles: int
    with_published_date: int
    with_outlet: int
    first_day: date | None
    last_day: date | None
    outlets: tuple[str, ...]

    @property
    def date_note(self) -> str | None:
        if self.articles and not self.with_published_date:
            return "No publication dates in this corpus: ingestion dates are shown."
        if self.with_published_date < self.articles:
            missing = 1 - self.with_published_date / self.articles
            return f"{missing:.0%} of articles have no publication date: their ingestion date is used."
        return None

    @property
    def outlet_note(self) -> str | None:
        if self.articles and not self.with_outlet:
            return "No outlet in the inputs: every article counts as \"(unknown outlet)\"."
        if self.with_outlet < self.articles:
            return f"{1 - self.with_outlet / self.articles:.0%} of articles name no outlet: \"(unknown outlet)\"."
        return None

    @property
    def one_day(self) -> bool:
        return self.first_day is not None and self.first_day == self.last_day


def coverage(con: duckdb.DuckDBPyConnection) -> Coverage:
    row = con.execute("""
        SELECT count(*), count(published_at), count(outlet) FILTER (WHERE outlet <> '(unknown outlet)'),
               min(cast(timezone('UTC', seen_at) AS DATE)), max(cast(timezone('UTC', seen_at) AS DATE))
        FROM stg_articles""").fetchall()[0]
    outlets = [r[0] for r in con.execute(
        "SELECT outlet FROM stg_articles GROUP BY outlet ORDER BY count(*) DESC, outlet").fetchall()]
    return Coverage(int(row[0]), int(row[1]), int(row[2]), row[3], row[4], tuple(outlets))


def pick_grain(f: Filters, cov: Coverage) -> str:
    """Days for a couple of months, weeks up to two years, then months (a year of days is noise)."""
    first, last = f.start or cov.first_day, f.end or cov.last_day
    span = (last - first).days if first and last else 0
    return "day" if span <= 62 else "week" if span <= 730 else "month"


# ---- overview ---------------------------------------------------------------------------


def top_actors(con: duckdb.DuckDBPyConnection, f: Filters, top: int = 20) -> pl.DataFrame:
    """The most mentioned actors within the filters, with their quotes and articles."""
    where, params = f.sql()
    return query_frame(con, f"""
        SELECT actor_id, any_value(actor) AS actor, any_value(actor_type) AS actor_type,
               sum(mentions)::BIGINT AS mentions, sum(articles_mentioning)::BIGINT AS articles,
               sum(quotes)::BIGINT AS quotes
        FROM activity_per_actor_daily WHERE {where}
        GROUP BY actor_id ORDER BY mentions DESC, actor LIMIT ?""", [*params, top])


def top_actors_over_time(con: duckdb.DuckDBPyConnection, f: Filters, top: int = 8, grain: str = "day") -> pl.DataFrame:
    """Mentions and quotes per day (week, month) of the ``top`` most mentioned actors within the filters."""
    _check_grain(grain)
    where, params = f.sql()
    return query_frame(con, f"""
        WITH rows AS (SELECT * FROM activity_per_actor_daily WHERE {where}),
        top AS (SELECT actor_id FROM rows GROUP BY actor_id ORDER BY sum(mentions) DESC, any_value(actor) LIMIT ?)
        SELECT date_trunc('{grain}', day)::DATE AS day, any_value(actor) AS actor,
               sum(mentions)::BIGINT AS mentions, sum(quotes)::BIGINT AS quotes
        FROM rows JOIN top USING (actor_id)
        GROUP BY 1, actor_id ORDER BY 1, mentions DESC, actor""", [*params, top])


def quotes_per_source(con: duckdb.DuckDBPyConnection, f: Filters, top: int = 15) -> pl.DataFrame:
    """Attributed quotations per source (the quoted actor), most quoted first."""
    where, params = f.sql()
    return query_frame(con, f"""
        SELECT any_value(actor) AS source, any_value(actor_type) AS source_type, sum(quotes)::BIGINT AS quotes,
               sum(articles_quoting)::BIGINT AS articles, count(DISTINCT outlet) FILTER (WHERE quotes > 0) AS outlets
        FROM activity_per_actor_daily WHERE {where} AND quotes > 0
        GROUP BY actor_id ORDER BY quotes DESC, source LIMIT ?""", [*params, top])


def quotes_per_outlet(con: duckdb.DuckDBPyConnection, f: Filters, top: int = 15) -> pl.DataFrame:
    """Attributed quotations and distinct sources per outlet."""
    where, params = f.sql()
    return query_frame(con, f"""
        SELECT outlet, sum(quotes)::BIGINT AS quotes, count(DISTINCT actor_id)::BIGINT AS sources
        FROM activity_per_actor_daily WHERE {where} AND quotes > 0
        GROUP BY outlet ORDER BY quotes DESC, outlet LIMIT ?""", [*params, top])


# ---- share of voice ---------------------------------------------------------------------


def gender_source(con: duckdb.DuckDBPyConnection) -> tuple[str, str, str | None] | None:
    """The first mart column that holds speaker gender, if the NLP work has added one."""
    found = {(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'").fetchall()}
    return next(((t, c, k) for t, c, k in GENDER_COLUMNS if (t, c) in found), None)


def share_of_voice(con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "week",
                   by: str = "actor_type") -> pl.DataFrame:
    """Each group's share of the attributed quotations per period: by actor type, or by gender.

    ``by="gender"`` reads the gender column :func:`gender_source` finds (quotations whose
    speaker has none count as "unknown"); it raises LookupError when there is none yet.
    """
    _check_grain(grain)
    if by == "actor_type":
        where, params = f.sql()
        counts = f"""
            SELECT date_trunc('{grain}', day)::DATE AS period, actor_type AS "group", sum(quotes) AS quotes
            FROM activity_per_actor_daily WHERE {where} AND quotes > 0 GROUP BY ALL"""
    elif by == "gender":
        source = gender_source(con)
        if source is None:
            raise LookupError("no gender column in the marts yet")
        table, column, key = source
        where, params = f.sql(day=QUOTE_DAY.replace("seen_at", "q.seen_at"), outlet="q.outlet",
                              actor_type="q.speaker_type")
        gender = f"q.{column}" if key is None else f"g.{column}"
        join = "" if key is None else f"LEFT JOIN {table} AS g ON g.{key} = q.speaker_id"
        counts = f"""
            SELECT date_trunc('{grain}', {QUOTE_DAY.replace('seen_at', 'q.seen_at')})::DATE AS period,
                   coalesce(CAST({gender} AS VARCHAR), 'unknown') AS "group", count(*) AS quotes
            FROM quotes_in_context AS q {join}
            WHERE q.speaker_id IS NOT NULL AND {where} GROUP BY ALL"""
    else:
        raise ValueError(f"share of voice by actor_type or gender, not {by!r}")
    return query_frame(con, f"""
        WITH c AS ({counts})
        SELECT period, "group", quotes::BIGINT AS quotes,
               round(quotes / sum(quotes) OVER (PARTITION BY period), 4) AS share
        FROM c ORDER BY period, "group" """, params)


def top_quoted_per_outlet(con: duckdb.DuckDBPyConnection, f: Filters, outlets: int = 6,
                          per_outlet: int = 5) -> pl.DataFrame:
    """The most quoted people of the most quoting outlets (Gender Gap Tracker's "top sources")."""
    where, params = f.sql()
    return query_frame(con, f"""
        WITH q AS (
            SELECT outlet, actor_id, any_value(actor) AS source, sum(quotes)::BIGINT AS quotes
            FROM activity_per_actor_daily
            WHERE {where} AND actor_type = 'person' AND quotes > 0 GROUP BY outlet, actor_id),
        o AS (SELECT outlet, sum(quotes) AS total FROM q GROUP BY outlet ORDER BY total DESC, outlet LIMIT ?),
        ranked AS (
            SELECT q.*, o.total, row_number() OVER (PARTITION BY q.outlet ORDER BY q.quotes DESC, q.source) AS rank
            FROM q JOIN o USING (outlet))
        SELECT outlet, rank, source, quotes, round(quotes / total, 4) AS share_of_outlet
        FROM ranked WHERE rank <= ? ORDER BY total DESC, outlet, rank""", [*params, outlets, per_outlet])


# ---- quotations -------------------------------------------------------------------------


def _quote_where(f: Filters, text: str, speaker_id: str | None) -> tuple[str, list[Any]]:
    where, params = f.sql(day=QUOTE_DAY, actor_type="speaker_type")
    if text.strip():
        pattern = f"%{text.strip()}%"
        where += " AND (quote_text ILIKE ? OR sentence ILIKE ?)"
        params += [pattern, pattern]
    if speaker_id:
        where += " AND speaker_id = ?"
        params.append(speaker_id)
    return where, params


def _quote_select(where: str) -> str:
    return f"""
        SELECT strftime(seen_at, '%Y-%m-%d') AS date, coalesce(speaker, '(unattributed)') AS speaker, speaker_type,
               quote_text AS quote, cue, outlet, title AS article, url, sentence, quote_id, article_id
        FROM quotes_in_context WHERE {where}
        ORDER BY seen_at DESC, article_id, quote_id"""


def count_quotes(con: duckdb.DuckDBPyConnection, f: Filters, text: str = "", speaker_id: str | None = None) -> int:
    where, params = _quote_where(f, text, speaker_id)
    return int(scalar(con, f"SELECT count(*) FROM quotes_in_context WHERE {where}", params) or 0)


def search_quotes(con: duckdb.DuckDBPyConnection, f: Filters, text: str = "", speaker_id: str | None = None,
                  limit: int = 25, offset: int = 0) -> pl.DataFrame:
    """One page of the quotations within the filters (words in the quote or its sentence, a speaker), newest first."""
    where, params = _quote_where(f, text, speaker_id)
    return query_frame(con, _quote_select(where) + " LIMIT ? OFFSET ?", [*params, limit, offset])


def quotes_csv(con: duckdb.DuckDBPyConnection, f: Filters, text: str = "", speaker_id: str | None = None) -> bytes:
    """Every quotation the filters and search select, as CSV (not only the page on screen)."""
    where, params = _quote_where(f, text, speaker_id)
    return frame_csv(query_frame(con, _quote_select(where), params))


def frame_csv(frame: pl.DataFrame) -> bytes:
    """A frame as UTF-8 CSV with a header (what every download button of the page gives).

    Polars' writer, not Python's ``csv`` row loop: 633k quotations with their sentences
    took 137 s through ``csv.writer`` on the loaded 100k bench machine.
    """
    return frame.write_csv().encode("utf-8")


# ---- actors -----------------------------------------------------------------------------


def find_actors(con: duckdb.DuckDBPyConnection, f: Filters, name: str = "", limit: int = 200) -> pl.DataFrame:
    """Actors to pick from: of the filtered types, matching ``name``, most mentioned first."""
    where, params = f.sql(day=None, outlet=None)
    if name.strip():
        where += " AND actor ILIKE ?"
        params.append(f"%{name.strip()}%")
    return query_frame(con, f"""
        SELECT actor_id, actor, actor_type, mentions, articles FROM mentions_per_actor
        WHERE {where} ORDER BY mentions DESC, actor LIMIT ?""", [*params, limit])


def actor_profile(con: duckdb.DuckDBPyConnection, actor_id: str) -> dict[str, Any] | None:
    rows = query_frame(con, "SELECT * FROM mentions_per_actor WHERE actor_id = ?", [actor_id]).to_dicts()
    return rows[0] if rows else None


def actor_timeline(con: duckdb.DuckDBPyConnection, actor_id: str, f: Filters, grain: str = "day") -> pl.DataFrame:
    """The actor's mentions and quotes per day (week, month) within the date and outlet filters."""
    _check_grain(grain)
    where, params = f.sql(actor_type=None)
    return query_frame(con, f"""
        SELECT date_trunc('{grain}', day)::DATE AS day, sum(mentions)::BIGINT AS mentions,
               sum(quotes)::BIGINT AS quotes, sum(articles_mentioning)::BIGINT AS articles
        FROM activity_per_actor_daily WHERE actor_id = ? AND {where} GROUP BY 1 ORDER BY 1""", [actor_id, *params])


def actor_outlets(con: duckdb.DuckDBPyConnection, actor_id: str, f: Filters) -> pl.DataFrame:
    """The outlets that quote (and mention) the actor, most quoting first."""
    where, params = f.sql(actor_type=None)
    return query_frame(con, f"""
        SELECT outlet, sum(quotes)::BIGINT AS quotes, sum(articles_quoting)::BIGINT AS articles_quoting,
               sum(mentions)::BIGINT AS mentions
        FROM activity_per_actor_daily WHERE actor_id = ? AND {where}
        GROUP BY outlet ORDER BY quotes DESC, mentions DESC, outlet""", [actor_id, *params])


def actor_co_mentions(con: duckdb.DuckDBPyConnection, actor_id: str, f: Filters, top: int = 20) -> pl.DataFrame:
    """Who the actor is mentioned with: the ``co_mentions`` mart, or counted in the filtered articles.

    Without a date or outlet filter the mart answers (both directions of its pairs); with
    one, the articles that pass it are counted from the mentions the mart is built from.
    """
    if not f.narrows_articles:
        where, params = f.sql(day=None, outlet=None, actor_type="other_type")
        return query_frame(con, f"""
            WITH pairs AS (
                SELECT actor_b_id AS other_id, actor_b AS other, actor_b_type AS other_type, articles, sentences,
                       last_seen FROM co_mentions WHERE actor_a_id = ?
                UNION ALL
                SELECT actor_a_id, actor_a, actor_a_type, articles, sentences, last_seen
                FROM co_mentions WHERE actor_b_id = ?)
            SELECT other_id AS actor_id, other AS actor, other_type AS actor_type, articles, sentences, last_seen
            FROM pairs WHERE {where} ORDER BY articles DESC, sentences DESC, actor LIMIT ?""",
                           [actor_id, actor_id, *params, top])
    where, params = f.sql(day="cast(timezone('UTC', a.seen_at) AS DATE)", outlet="a.outlet", actor_type=None)
    types, type_params = ("list_contains(?, t.actor_type)", [list(f.actor_types)]) if f.actor_types else ("true", [])
    return query_frame(con, f"""
        WITH mine AS (  -- the actor's mentions in the articles the filters keep
            SELECT m.article_id, m.sentence_id FROM stg_entity_mentions AS m
            JOIN stg_articles AS a USING (article_id) WHERE m.actor_id = ? AND {where}),
        others AS (
            SELECT m.actor_id, m.article_id, bool_or(s.sentence_id IS NOT NULL) AS same_sentence
            FROM stg_entity_mentions AS m
            JOIN (SELECT DISTINCT article_id FROM mine) USING (article_id)
            LEFT JOIN (SELECT DISTINCT article_id, sentence_id FROM mine) AS s
              ON s.article_id = m.article_id AND s.sentence_id = m.sentence_id
            WHERE m.actor_id <> ? GROUP BY m.actor_id, m.article_id)
        SELECT o.actor_id, any_value(t.name) AS actor, any_value(t.actor_type) AS actor_type,
               count(*)::BIGINT AS articles, count(*) FILTER (WHERE same_sentence)::BIGINT AS sentences,
               NULL::TIMESTAMPTZ AS last_seen
        FROM others AS o JOIN actors AS t USING (actor_id) WHERE {types}
        GROUP BY o.actor_id ORDER BY articles DESC, sentences DESC, actor LIMIT ?""",
                       [actor_id, *params, actor_id, *type_params, top])


def actor_quotes(con: duckdb.DuckDBPyConnection, actor_id: str, f: Filters, limit: int = 200) -> pl.DataFrame:
    """The actor's quotations within the date and outlet filters, newest first, with their articles."""
    return search_quotes(con, Filters(f.start, f.end, f.outlets, ()), "", actor_id, limit=limit)


# ---- the marts the exposure names ---------------------------------------------------------


def co_mentions_table(con: duckdb.DuckDBPyConnection, f: Filters, top: int = 50) -> pl.DataFrame:
    """The ``co_mentions`` mart's strongest pairs: both actors of the filtered types, seen within the dates.

    The mart counts over all outlets, so an outlet filter cannot narrow it (the page says so).
    """
    parts, params = ["true"], []
    if f.actor_types:
        parts.append("list_contains(?, actor_a_type) AND list_contains(?, actor_b_type)")
        params += [list(f.actor_types), list(f.actor_types)]
    if f.start:
        parts.append("cast(timezone('UTC', last_seen) AS DATE) >= ?")
        params.append(f.start)
    if f.end:
        parts.append("cast(timezone('UTC', first_seen) AS DATE) <= ?")
        params.append(f.end)
    return query_frame(con, f"""
        SELECT actor_a, actor_a_type, actor_b, actor_b_type, articles, sentences,
               strftime(first_seen, '%Y-%m-%d') AS first_seen, strftime(last_seen, '%Y-%m-%d') AS last_seen
        FROM co_mentions WHERE {" AND ".join(parts)}
        ORDER BY articles DESC, sentences DESC, actor_a, actor_b LIMIT ?""", [*params, top])


def top_quotes_table(con: duckdb.DuckDBPyConnection, f: Filters, per_speaker: int = 3,
                     speakers: int = 15) -> pl.DataFrame:
    """Each of the most quoted speakers' most reported quotations.

    Without a date or outlet filter this is the ``top_quotes`` mart; with one, the same
    ranking (articles, outlets, length, earliest) over the quotations that pass it.
    """
    if not f.narrows_articles:
        where, params = f.sql(day=None, outlet=None, actor_type="p.actor_type")
        return query_frame(con, f"""
            WITH speakers AS (
                SELECT c.source_id AS speaker_id, sum(c.quotes) AS total FROM quote_counts_per_source AS c
                JOIN mentions_per_actor AS p ON p.actor_id = c.source_id WHERE {where}
                GROUP BY c.source_id ORDER BY total DESC, any_value(c.source) LIMIT ?)
            SELECT t.speaker, t.rank, t.quote_text AS quote, t.articles, t.outlets, t.outlet AS first_outlet,
                   t.title AS first_article, t.url
            FROM top_quotes AS t JOIN speakers AS s USING (speaker_id)
            WHERE t.rank <= ? ORDER BY s.total DESC, t.speaker, t.rank""", [*params, speakers, per_speaker])
    where, params = f.sql(day=QUOTE_DAY, actor_type="speaker_type")
    return query_frame(con, f"""
        WITH q AS (SELECT *, lower(regexp_replace(trim(quote_text), '\\s+', ' ', 'g')) AS quote_key
                   FROM quotes_in_context WHERE speaker_id IS NOT NULL AND {where}),
        speakers AS (SELECT speaker_id, count(*) AS total FROM q GROUP BY speaker_id
                     ORDER BY total DESC, any_value(speaker) LIMIT ?),
        grouped AS (
            SELECT speaker_id, any_value(speaker) AS speaker, quote_key, count(DISTINCT article_id) AS articles,
                   count(DISTINCT outlet) AS outlets, min(seen_at) AS first_quoted,
                   first(quote_id ORDER BY seen_at, quote_id) AS quote_id
            FROM q JOIN speakers USING (speaker_id) GROUP BY speaker_id, quote_key),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY speaker_id ORDER BY articles DESC, outlets DESC,
                                         length(quote_key) DESC, first_quoted, quote_key) AS rank FROM grouped)
        SELECT r.speaker, r.rank, q.quote_text AS quote, r.articles, r.outlets, q.outlet AS first_outlet,
               q.title AS first_article, q.url
        FROM ranked AS r JOIN q USING (quote_id) JOIN speakers AS s ON s.speaker_id = r.speaker_id
        WHERE r.rank <= ? ORDER BY s.total DESC, r.speaker, r.rank""",
                       [*params, speakers, per_speaker])


# ---- health -----------------------------------------------------------------------------


def last_run_health(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The run that published this snapshot: stages, row counts, validation, drift, dbt, freshness.

    Also the failed runs since the previous publish (they are logged by the next good run).
    """
    batch = scalar(con, "SELECT batch_id FROM publish_log ORDER BY published_at DESC LIMIT 1")
    stages = con.execute("""
        SELECT stage, status, seconds, rows, detail FROM run_log WHERE batch_id = ? ORDER BY started_at""",
                         [batch]).fetchall()
    table, suites, dbt, freshness, drift, warnings = [], [], {}, [], {}, []
    for stage, status, seconds, rows, detail in stages:
        rows_d, detail_d = json.loads(rows or "{}"), json.loads(detail or "{}")
        table.append({"stage": stage, "status": status, "seconds": round(seconds or 0.0, 2),
                      "rows": ", ".join(f"{k}={v}" for k, v in rows_d.items())})
        for suite, ok in (detail_d.get("suites") or {}).items():
            suites.append({"stage": stage, "suite": suite, "result": "passed" if ok else "FAILED"})
        warnings += [{"stage": stage, **w} for w in detail_d.get("warnings") or []]
        if stage == "validate_marts":
            drift = detail_d.get("drift") or {}
        if stage == "dbt_build":
            dbt = {k: rows_d.get(k) for k in ("models", "tests", "unit_tests", "passed")}
            freshness = detail_d.get("freshness") or []
    failed = con.execute("""
        SELECT batch_id, stage, error, finished_at FROM run_log
        WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 10""").fetchall()
    return {
        "batch_id": batch,
        "stages": table,
        "validation": suites,
        "warnings": warnings,
        "drift": drift,
        "dbt": dbt,
        "freshness": freshness,
        "failed_runs": [{"batch_id": b, "stage": s, "error": (e or "")[:300], "at": t} for b, s, e, t in failed],
    }


def _check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise ValueError(f"grain must be day, week or month, not {grain!r}")
