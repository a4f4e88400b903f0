"""What the dashboard shows, as queries over one read-only connection to the published snapshot.

Kept apart from the Streamlit script so that every number on the page can be tested without
a browser, and so that one page render reads one snapshot: the app opens a connection,
calls these functions, and closes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from pipeline.warehouse import query_frame, scalar


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


def days_covered(con: duckdb.DuckDBPyConnection) -> int:
    """Days from the oldest to the newest article (to pick a daily or weekly time axis)."""
    return int(scalar(con, "SELECT coalesce(max(day) - min(day), 0) FROM activity_per_actor_daily") or 0)


def top_actors_over_time(con: duckdb.DuckDBPyConnection, top: int = 8,
                         actor_types: tuple[str, ...] = ("person", "organisation", "place"),
                         grain: str = "day") -> pl.DataFrame:
    """Mentions and quotes per day (or week) of the ``top`` most mentioned actors of the chosen types."""
    if grain not in ("day", "week", "month"):
        raise ValueError(f"grain must be day, week or month, not {grain!r}")
    return query_frame(con, f"""
        WITH top AS (
            SELECT actor_id FROM mentions_per_actor WHERE list_contains(?, actor_type)
            ORDER BY mentions DESC, actor LIMIT ?)
        SELECT date_trunc('{grain}', day)::DATE AS day, any_value(actor) AS actor,
               sum(mentions)::BIGINT AS mentions, sum(quotes)::BIGINT AS quotes
        FROM activity_per_actor_daily JOIN top USING (actor_id)
        GROUP BY 1, actor_id ORDER BY 1, mentions DESC, actor""", [list(actor_types), top])


def quotes_per_source(con: duckdb.DuckDBPyConnection, top: int = 15) -> pl.DataFrame:
    """Quotations per source (all outlets), most quoted first."""
    return query_frame(con, """
        SELECT any_value(source) AS source, any_value(source_type) AS source_type, sum(quotes)::BIGINT AS quotes,
               sum(articles)::BIGINT AS articles, count(DISTINCT outlet)::BIGINT AS outlets
        FROM quote_counts_per_source GROUP BY source_id ORDER BY quotes DESC, source LIMIT ?""", [top])


def quotes_per_outlet(con: duckdb.DuckDBPyConnection, top: int = 15) -> pl.DataFrame:
    """Attributed quotations and distinct sources per outlet."""
    return query_frame(con, """
        SELECT outlet, sum(quotes)::BIGINT AS quotes, count(DISTINCT source_id)::BIGINT AS sources
        FROM quote_counts_per_source GROUP BY outlet ORDER BY quotes DESC, outlet LIMIT ?""", [top])


def speakers(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT speaker FROM quotes_in_context WHERE speaker IS NOT NULL "
                       "GROUP BY speaker ORDER BY count(*) DESC, speaker").fetchall()
    return [r[0] for r in rows]


def search_quotes(con: duckdb.DuckDBPyConnection, text: str = "", speaker: str | None = None,
                  limit: int = 200) -> pl.DataFrame:
    """Quotations whose words (or sentence) contain ``text``, optionally of one speaker, newest first."""
    pattern = f"%{text.strip()}%" if text.strip() else "%"
    return query_frame(con, """
        SELECT coalesce(speaker, '(unattributed)') AS speaker, quote_text AS quote, cue, outlet,
               title AS article, url, strftime(seen_at, '%Y-%m-%d') AS date, sentence, article_id
        FROM quotes_in_context
        WHERE (quote_text ILIKE ? OR sentence ILIKE ?) AND (? IS NULL OR speaker = ?)
        ORDER BY seen_at DESC, article_id, quote_id LIMIT ?""", [pattern, pattern, speaker, speaker, limit])


def last_run_health(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The run that published this snapshot: stages, row counts, validation, dbt, freshness.

    Also the failed runs since the previous publish (they are logged by the next good run).
    """
    batch = scalar(con, "SELECT batch_id FROM publish_log ORDER BY published_at DESC LIMIT 1")
    stages = con.execute("""
        SELECT stage, status, seconds, rows, detail FROM run_log WHERE batch_id = ? ORDER BY started_at""",
                         [batch]).fetchall()
    table, suites, dbt, freshness = [], [], {}, []
    for stage, status, seconds, rows, detail in stages:
        rows_d, detail_d = json.loads(rows or "{}"), json.loads(detail or "{}")
        table.append({"stage": stage, "status": status, "seconds": round(seconds or 0.0, 2),
                      "rows": ", ".join(f"{k}={v}" for k, v in rows_d.items())})
        for suite, ok in (detail_d.get("suites") or {}).items():
            suites.append({"stage": stage, "suite": suite, "result": "passed" if ok else "FAILED"})
        if stage == "dbt_build":
            dbt = {k: rows_d.get(k) for k in ("models", "tests", "passed")}
            freshness = detail_d.get("freshness") or []
    failed = con.execute("""
        SELECT batch_id, stage, error, finished_at FROM run_log
        WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 10""").fetchall()
    return {
        "batch_id": batch,
        "stages": table,
        "validation": suites,
        "dbt": dbt,
        "freshness": freshness,
        "failed_runs": [{"batch_id": b, "stage": s, "error": (e or "")[:300], "at": t} for b, s, e, t in failed],
    }
