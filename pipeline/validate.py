"""Great Expectations gates between stages.

The suites, validation definitions and checkpoints are a file-based GX 1.x project in
``expectations/gx`` (the JSON files are the source of truth; edit them there). Suites are
named ``<stage>.<frame>``; a stage passes when every checkpoint of that stage passes.

GX 1.x cannot validate Polars frames and its SQL datasource fails on DuckDB, so every frame
is handed to GX as pandas. Per-row checks of the big tables (tokens, sentences) run as
DuckDB SQL that reduces them to one row of counts per article (and, row by row, as dbt
tests); GX then checks those counts. Small frames (articles, mentions, quotes, marts) are
validated row by row.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.warehouse import query_frame

log = logging.getLogger("newsdesk")

STAGE_SUITES: dict[str, tuple[str, ...]] = {
    "raw": ("raw.articles",),
    "nlp": ("nlp.article_checks", "nlp.entity_mentions", "nlp.quotes"),
    "warehouse": ("warehouse.integrity",),
    "marts": ("marts.mentions_per_actor", "marts.quote_counts_per_source", "marts.totals"),
}


class ValidationFailed(RuntimeError):
    """A GX checkpoint failed; ``report`` says which expectations and shows examples."""

    def __init__(self, report: StageReport) -> None:
        self.report = report
        super().__init__(report.summary())


@dataclass
class StageReport:
    stage: str
    success: bool = True
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)

    def failed_expectations(self) -> list[dict[str, Any]]:
        return [e for s in self.suites.values() for e in s["expectations"] if not e["success"]]

    def summary(self) -> str:
        failed = self.failed_expectations()
        if not failed:
            return f"validation of stage {self.stage!r} passed"
        parts = [
            f"{e['suite']}: {e['type']}({e['column'] or ''}) unexpected={e['unexpected_count']}"
            + (f" e.g. {e['examples'][:3]}" if e["examples"] else "")
            for e in failed[:8]
        ]
        return f"validation of stage {self.stage!r} FAILED {len(failed)} expectation(s): " + "; ".join(parts)

    def to_json(self) -> str:
        return json.dumps({"stage": self.stage, "success": self.success, "suites": self.suites}, default=str,
                          indent=2)


_CONTEXT: Any = None
_CONTEXT_KEY: tuple[str, str] | None = None


def gx_context(gx_project_dir: Path, results_dir: Path) -> Any:
    """The file-based GX context, with validation results written under ``results_dir``.

    ``great_expectations.yml`` reads the results location from ``NEWSDESK_GX_RESULTS``, so
    the committed project is never written at run time.
    """
    global _CONTEXT, _CONTEXT_KEY
    key = (str(gx_project_dir), str(results_dir))
    if _CONTEXT is not None and key == _CONTEXT_KEY:
        return _CONTEXT
    os.environ["NEWSDESK_GX_RESULTS"] = str(results_dir)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    results_dir.mkdir(parents=True, exist_ok=True)
    import great_expectations as gx  # heavy import, only in tasks that validate

    _CONTEXT = gx.get_context(mode="file", project_root_dir=str(gx_project_dir))
    _CONTEXT_KEY = key
    return _CONTEXT


def run_suites(
    stage: str, frames: dict[str, pl.DataFrame], *, gx_project_dir: Path, results_dir: Path, run_name: str
) -> StageReport:
    """Validate each frame with its checkpoint; return the report (raise nothing)."""
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = gx_context(gx_project_dir, results_dir)
    expected = set(STAGE_SUITES[stage])
    if set(frames) != expected:
        raise ValueError(f"stage {stage!r} validates {sorted(expected)}, got frames {sorted(frames)}")
    report = StageReport(stage=stage)
    for suite_name in STAGE_SUITES[stage]:
        checkpoint = ctx.checkpoints.get(suite_name)
        result = checkpoint.run(
            batch_parameters={"dataframe": frames[suite_name].to_pandas()},
            run_id=RunIdentifier(run_name=run_name),
        )
        expectations = []
        for vr in result.run_results.values():
            for r in vr.results:
                cfg = r.expectation_config
                res = r.result or {}
                expectations.append({
                    "suite": suite_name,
                    "type": cfg.type,
                    "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_A")
                    or ",".join(cfg.kwargs.get("column_list", []) or []),
                    "success": bool(r.success),
                    "unexpected_count": res.get("unexpected_count"),
                    "observed_value": res.get("observed_value"),
                    "examples": [str(x) for x in (res.get("partial_unexpected_list") or [])[:5]],
                    "exception": (r.exception_info or {}).get("exception_message")
                    if isinstance(r.exception_info, dict) else None,
                })
        report.suites[suite_name] = {
            "success": bool(result.success),
            "rows": frames[suite_name].height,
            "expectations": expectations,
        }
        report.success = report.success and bool(result.success)
    return report


# ---------------------------------------------------------------------------------------
# Frames each stage validates
# ---------------------------------------------------------------------------------------


def raw_frames(articles: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Articles plus columns that state the invariants ingest promises."""
    checks = articles.with_columns(
        (pl.col("text") == pl.concat_str(["title", "standfirst", "body"], separator="\n", ignore_nulls=True))
        .alias("text_is_title_standfirst_body"),
        (pl.col("n_chars") == pl.col("text").str.len_chars()).alias("n_chars_is_text_length"),
        pl.col("title").str.len_chars().alias("title_chars"),
        pl.col("body").str.len_chars().alias("body_chars"),
    )
    return {"raw.articles": checks}


def nlp_frames(articles: Path, nlp_dir: Path) -> dict[str, pl.DataFrame]:
    """Per-article span checks computed by DuckDB over the NLP parquet files, plus rows."""
    con = duckdb.connect()
    try:
        def parts(table: str) -> str:
            return f"read_parquet('{nlp_dir / table}/*.parquet', union_by_name=true)"

        for table in ("sentences", "tokens", "entity_mentions", "quotes"):
            if not any((nlp_dir / table).glob("*.parquet")):
                raise FileNotFoundError(f"NLP output {nlp_dir / table} has no parquet parts")
        con.execute(f"CREATE VIEW a AS SELECT article_id, text, n_chars FROM read_parquet('{articles}')")
        con.execute(f"CREATE VIEW s AS SELECT * FROM {parts('sentences')}")
        con.execute(f"CREATE VIEW t AS SELECT * FROM {parts('tokens')}")
        con.execute(f"CREATE VIEW m AS SELECT * FROM {parts('entity_mentions')}")
        con.execute(f"CREATE VIEW q AS SELECT * FROM {parts('quotes')}")
        span_checks = """
            SELECT x.article_id,
                   count(*) AS n,
                   count(*) FILTER (WHERE x."start" < 0 OR x."end" <= x."start" OR x."end" > a.n_chars)
                       AS outside_text,
                   count(*) FILTER (WHERE x.span IS NOT NULL
                       AND substring(a.text, x."start" + 1, x."end" - x."start") != x.span) AS text_mismatch,
                   count(*) - count(DISTINCT x.id) AS duplicate_ids
            FROM ({src}) x JOIN a USING (article_id) GROUP BY x.article_id"""

        def spans(text_col: str, id_col: str, view: str) -> str:
            src = f'SELECT article_id, "start", "end", {text_col} AS span, {id_col} AS id FROM {view}'
            return span_checks.format(src=src)
        checks = query_frame(con, f"""
            WITH
            sc AS ({spans("NULL", "sentence_id", "s")}),
            tc AS ({spans("text", "token_id", "t")}),
            mc AS ({spans("text", "mention_id", "m")}),
            qc AS ({spans("quote_text", "quote_id", "q")}),
            orphans AS (
                SELECT count(*) AS n FROM (
                    SELECT article_id FROM s UNION ALL SELECT article_id FROM t
                    UNION ALL SELECT article_id FROM m UNION ALL SELECT article_id FROM q)
                WHERE article_id NOT IN (SELECT article_id FROM a)),
            unknown_speakers AS (
                SELECT q.article_id, count(*) AS n FROM q
                WHERE q.speaker IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM m WHERE m.article_id = q.article_id AND m.actor = q.speaker)
                GROUP BY q.article_id)
            SELECT a.article_id,
                   coalesce(sc.n, 0)::BIGINT AS sentences,
                   coalesce(tc.n, 0)::BIGINT AS tokens,
                   (coalesce(sc.outside_text, 0) + coalesce(tc.outside_text, 0) + coalesce(mc.outside_text, 0)
                    + coalesce(qc.outside_text, 0))::BIGINT AS spans_outside_text,
                   (coalesce(tc.text_mismatch, 0) + coalesce(mc.text_mismatch, 0)
                    + coalesce(qc.text_mismatch, 0))::BIGINT AS spans_not_matching_text,
                   (coalesce(sc.duplicate_ids, 0) + coalesce(tc.duplicate_ids, 0) + coalesce(mc.duplicate_ids, 0)
                    + coalesce(qc.duplicate_ids, 0))::BIGINT AS duplicate_ids,
                   coalesce(us.n, 0)::BIGINT AS unknown_speakers,
                   (SELECT n FROM orphans)::BIGINT AS orphan_rows_in_batch
            FROM a
            LEFT JOIN sc USING (article_id) LEFT JOIN tc USING (article_id)
            LEFT JOIN mc USING (article_id) LEFT JOIN qc USING (article_id)
            LEFT JOIN unknown_speakers us USING (article_id)
            ORDER BY a.article_id""")
        mentions = query_frame(con, "SELECT * FROM m")
        quotes = query_frame(con, "SELECT *, length(quote_text) AS quote_chars FROM q")
    finally:
        con.close()
    return {"nlp.article_checks": checks, "nlp.entity_mentions": mentions, "nlp.quotes": quotes}


def warehouse_frames(con: duckdb.DuckDBPyConnection, batch_articles: Path) -> dict[str, pl.DataFrame]:
    """One row of integrity counts over the whole work database after loading."""
    frame = query_frame(
        con,
        """
        SELECT
          (SELECT count(*) - count(DISTINCT article_id) FROM articles) AS duplicate_articles,
          (SELECT count(*) FROM read_parquet(?) b
             WHERE b.article_id NOT IN (SELECT article_id FROM articles)) AS batch_articles_missing,
          (SELECT count(*) FROM entity_mentions WHERE article_id NOT IN (SELECT article_id FROM articles))
            AS orphan_mentions,
          (SELECT count(*) FROM quotes WHERE article_id NOT IN (SELECT article_id FROM articles)) AS orphan_quotes,
          (SELECT count(*) FROM tokens WHERE article_id NOT IN (SELECT article_id FROM articles)) AS orphan_tokens,
          (SELECT count(*) FROM articles WHERE article_id NOT IN (SELECT DISTINCT article_id FROM tokens))
            AS articles_without_tokens,
          (SELECT count(*) - count(DISTINCT quote_id) FROM quotes) AS duplicate_quote_ids,
          (SELECT count(*) FROM (SELECT article_id, mention_id FROM entity_mentions GROUP BY ALL
             HAVING count(*) > 1)) AS duplicate_mention_ids,
          (SELECT count(*) FROM articles) AS articles
        """,
        [str(batch_articles)],
    )
    return {"warehouse.integrity": frame}


def mart_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The marts row by row, and one row comparing their totals with the detail tables."""
    totals = query_frame(
        con,
        """
        SELECT
          (SELECT coalesce(sum(mentions), 0) FROM mentions_per_actor)::BIGINT AS mart_mentions,
          (SELECT count(*) FROM entity_mentions WHERE actor IS NOT NULL)::BIGINT AS detail_mentions,
          (SELECT coalesce(sum(quotes), 0) FROM quote_counts_per_source)::BIGINT AS mart_quotes,
          (SELECT count(*) FROM quotes WHERE speaker_id IS NOT NULL)::BIGINT AS detail_quotes,
          -- actors after corpus-level resolution (dbt's actor_resolution maps the raw ids)
          (SELECT count(DISTINCT r.actor_id) FROM entity_mentions m JOIN actor_resolution r
             ON r.raw_actor_id = m.actor_id WHERE m.actor IS NOT NULL)::BIGINT AS detail_actors,
          (SELECT count(*) FROM mentions_per_actor)::BIGINT AS mart_actors
        """,
    )
    return {
        "marts.mentions_per_actor": query_frame(con, "SELECT * FROM mentions_per_actor"),
        "marts.quote_counts_per_source": query_frame(con, "SELECT * FROM quote_counts_per_source"),
        "marts.totals": totals,
    }
