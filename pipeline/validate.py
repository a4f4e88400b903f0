"""Great Expectations gates between stages.

The suites, validation definitions and checkpoints are a file-based GX 1.x project in
``expectations/gx`` (the JSON files are the source of truth; edit them there). Suites are
named ``<stage>.<frame>``; a stage passes when every checkpoint of that stage passes.

GX 1.x cannot validate Polars frames and its SQL datasource fails on DuckDB, so every frame
is handed to GX as pandas. Per-row checks of the big tables (tokens, sentences) run as
DuckDB SQL that reduces them to one row of counts per article (and, row by row, as dbt
tests); GX then checks those counts. Mentions and quotes are validated row by row, but
part by part (:class:`Chunks`): a 100k-article batch has millions of mention rows, and
one pandas copy of them all cost more memory than the whole NLP stage. A part holds whole
articles, so the per-row and per-article-unique expectations of those suites mean the same
chunked as whole; results are merged into one report per suite. The raw articles are
validated a slice of rows at a time (:class:`Slices`) for the same reason, and what must
hold across the whole batch (unique ids and URLs, one batch id) is counted by DuckDB into a
one-row frame: GX's uniqueness check on a column holds every value in pandas at once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.warehouse import duckdb_config, query_frame

log = logging.getLogger("newsdesk")

STAGE_SUITES: dict[str, tuple[str, ...]] = {
    "raw": ("raw.articles", "raw.batch_checks"),
    "nlp": ("nlp.article_checks", "nlp.entity_mentions", "nlp.quotes"),
    "warehouse": ("warehouse.integrity",),
    "marts": ("marts.mentions_per_actor", "marts.quote_counts_per_source", "marts.totals", "marts.drift"),
}
# How far a drift measure (a share, 0..1) may move from the last published run before its
# warning-level expectation fails (NEWSDESK_DRIFT_TOLERANCE). A warning never stops a night.
DRIFT_TOLERANCE_DEFAULT = 0.10
WARNING = "warning"


def drift_tolerance() -> float:
    return float(os.environ.get("NEWSDESK_DRIFT_TOLERANCE") or DRIFT_TOLERANCE_DEFAULT)


class ValidationFailed(RuntimeError):
    """A GX checkpoint failed; ``report`` says which expectations and shows examples."""

    def __init__(self, report: StageReport) -> None:
        self.report = report
        super().__init__(report.summary())


@dataclass
class StageReport:
    """One stage's GX results. Expectations of severity ``warning`` that fail are warnings:
    recorded (and shown on the dashboard) but the stage still passes."""

    stage: str
    success: bool = True
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)

    def failed_expectations(self) -> list[dict[str, Any]]:
        return [e for s in self.suites.values() for e in s["expectations"]
                if not e["success"] and e.get("severity") != WARNING]

    def warnings(self) -> list[dict[str, Any]]:
        return [e for s in self.suites.values() for e in s["expectations"]
                if not e["success"] and e.get("severity") == WARNING]

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
        return json.dumps({"stage": self.stage, "success": self.success, "warnings": self.warnings(),
                           "suites": self.suites}, default=str, indent=2)


GX_KEEP_RUNS = 30  # batches whose validation results (and Data Docs pages) are kept


def gx_results_dir(settings: Any) -> Path:
    """Where validation results and Data Docs live: ``<state>/gx`` (shared by every run)."""
    return Path(settings.state_dir) / "gx"


def data_docs_index(results_dir: Path) -> Path:
    return results_dir / "data_docs" / "index.html"


def prune_results(results_dir: Path, *, keep_batches: int, current: str) -> list[str]:
    """Delete stored results (and their Data Docs pages) of all but the newest ``keep_batches`` batches.

    Run names are ``<batch_id>-<stage>[-partN]`` and batch ids start with their UTC time, so
    name order is time order. Bounded, the Data Docs index (rebuilt from every stored result
    at each update) stays quick however many nights have run.
    """
    import re
    import shutil

    run_dir = re.compile(r"^(\d{8}T\d{6}_[0-9a-f]+(?:\.\d+)?)-")
    stores = [results_dir / "validations", results_dir / "data_docs" / "validations"]
    runs = [(m.group(1), p) for store in stores if store.exists() for p in store.rglob("*")
            if p.is_dir() and (m := run_dir.match(p.name))]
    batches = sorted({b for b, _ in runs} | {current}, reverse=True)
    keep = set(batches[:keep_batches]) | {current}
    removed = sorted({b for b, _ in runs} - keep)
    for batch, path in runs:
        if batch in removed:
            shutil.rmtree(path, ignore_errors=True)
    return removed


_CONTEXT: Any = None
_CONTEXT_KEY: tuple[str, str] | None = None


def gx_env(results_dir: Path) -> None:
    """The environment GX's project file reads: where results go (and no analytics calls)."""
    os.environ["NEWSDESK_GX_RESULTS"] = str(results_dir)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def gx_context(gx_project_dir: Path, results_dir: Path) -> Any:
    """The file-based GX context, with validation results and Data Docs under ``results_dir``.

    ``great_expectations.yml`` reads the results location from ``NEWSDESK_GX_RESULTS``, so
    the committed project is never written at run time. The pipeline points it at
    ``<state>/gx``: results are kept across runs (pruned to the last ``KEEP_RUNS`` batches)
    and every checkpoint's ``UpdateDataDocsAction`` adds its result to the Data Docs site
    ``<state>/gx/data_docs/index.html`` (one build per stage: :func:`deferred_data_docs`).
    """
    global _CONTEXT, _CONTEXT_KEY
    key = (str(gx_project_dir), str(results_dir))
    gx_env(results_dir)
    if _CONTEXT is not None and key == _CONTEXT_KEY:
        return _CONTEXT
    results_dir.mkdir(parents=True, exist_ok=True)
    import great_expectations as gx  # heavy import, only in tasks that validate

    _CONTEXT = gx.get_context(mode="file", project_root_dir=str(gx_project_dir))
    _CONTEXT_KEY = key
    return _CONTEXT


def run_suites(
    stage: str, frames: dict[str, pl.DataFrame | Chunks | Slices], *, gx_project_dir: Path, results_dir: Path,
    run_name: str,
) -> StageReport:
    """Validate each frame with its checkpoint; return the report (raise nothing).

    A suite passes when every expectation of severity other than ``warning`` passes.
    """
    ctx = gx_context(gx_project_dir, results_dir)
    with deferred_data_docs(ctx):
        return check_suites(ctx, stage, frames, run_name)


def check_suites(ctx: Any, stage: str, frames: dict[str, pl.DataFrame | Chunks | Slices],
                 run_name: str) -> StageReport:
    """The checkpoints of ``stage`` over its frames, in ``ctx`` (Data Docs as the caller arranged)."""
    expected = set(STAGE_SUITES[stage])
    if set(frames) != expected:
        raise ValueError(f"stage {stage!r} validates {sorted(expected)}, got frames {sorted(frames)}")
    report = StageReport(stage=stage)
    for suite_name in STAGE_SUITES[stage]:
        _run_suite(ctx, suite_name, frames[suite_name], run_name, report)
    return report


DocsWanted = dict[tuple[str, ...], list[Any]]  # site names -> the resources to render there


@contextmanager
def deferred_data_docs(ctx: Any, *, render: bool = True) -> Iterator[DocsWanted]:
    """Within the block, the checkpoints' ``UpdateDataDocsAction`` builds run once, at its end.

    Each checkpoint run's action rebuilds the Data Docs site, index included (the index
    reads every stored result): ~0.5 s per checkpoint run, i.e. per chunk, a dozen times a
    night at least. Here the context's ``build_data_docs`` only notes what each action asks
    to render, and the block's end renders all of it in one call: the same pages, one index
    build per stage, also when a suite raised. The checkpoints themselves stay as saved
    (GX refuses to run a checkpoint that differs from its stored configuration).

    With ``render=False`` the block yields what is to be rendered and leaves the rendering
    to the caller (:func:`render_data_docs`): the warm GX process answers the stage first.
    """
    build = ctx.build_data_docs
    wanted: DocsWanted = {}

    def note(site_names: list[str] | None = None, resource_identifiers: list | None = None, dry_run: bool = False,
             build_index: bool = True) -> dict[str, str]:
        if dry_run:
            return build(site_names=site_names, resource_identifiers=resource_identifiers, dry_run=True,
                         build_index=build_index)
        ids = wanted.setdefault(tuple(site_names or ()), [])
        ids += [r for r in resource_identifiers or [] if r not in ids]
        return {}

    ctx.build_data_docs = note
    try:
        yield wanted
    finally:
        del ctx.build_data_docs  # the class's method again
        if render:
            render_data_docs(ctx, wanted)


def render_data_docs(ctx: Any, wanted: DocsWanted) -> None:
    """Render the Data Docs pages ``deferred_data_docs`` noted, and the index once per site."""
    for site_names, ids in wanted.items():
        ctx.build_data_docs(site_names=list(site_names) or None, resource_identifiers=ids or None, build_index=True)


def _run_suite(ctx: Any, suite_name: str, frame: pl.DataFrame | Chunks | Slices, run_name: str,
               report: StageReport) -> None:
    """One suite over its frame, chunk by chunk; its merged result goes into ``report``."""
    from great_expectations.core.run_identifier import RunIdentifier

    checkpoint = ctx.checkpoints.get(suite_name)
    columns = _suite_columns(ctx.suites.get(suite_name))
    success, expectations = True, None
    for i, chunk in enumerate([frame] if isinstance(frame, pl.DataFrame) else frame):
        result = checkpoint.run(
            batch_parameters={"dataframe": chunk.select(c for c in chunk.columns if c in columns).to_pandas()
                              if columns else chunk.to_pandas()},
            expectation_parameters={"drift_min": -drift_tolerance(), "drift_max": drift_tolerance()},
            run_id=RunIdentifier(run_name=run_name if i == 0 else f"{run_name}-part{i}"),
        )
        found = [_expectation(suite_name, r) for vr in result.run_results.values() for r in vr.results]
        success = success and all(e["success"] or e["severity"] == WARNING for e in found)
        expectations = found if expectations is None else [_merge(a, b) for a, b in zip(expectations, found,
                                                                                          strict=True)]
    report.suites[suite_name] = {"success": success, "rows": frame.height, "expectations": expectations or []}
    report.success = report.success and success


def _suite_columns(suite: Any) -> set[str] | None:
    """The columns a suite's expectations name, or None when one looks at the whole table.

    GX's pandas engine filters the frame per expectation, copying every column: handing it
    only the columns it checks keeps a chunk's cost to what is validated.
    """
    columns: set[str] = set()
    for e in suite.expectations:
        named = [getattr(e, k, None) for k in ("column", "column_A", "column_B")]
        named += list(getattr(e, "column_list", None) or [])
        if not any(named) and e.expectation_type != "expect_table_row_count_to_equal":
            return None
        columns.update(c for c in named if c)
    return columns


def _expectation(suite_name: str, r: Any) -> dict[str, Any]:
    cfg = r.expectation_config
    res = r.result or {}
    return {
        "suite": suite_name,
        "type": cfg.type,
        "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_A")
        or ",".join(cfg.kwargs.get("column_list", []) or []),
        "success": bool(r.success),
        "severity": str(getattr(getattr(cfg, "severity", None), "value", None) or "critical"),
        "unexpected_count": res.get("unexpected_count"),
        "observed_value": res.get("observed_value"),
        "examples": [str(x) for x in (res.get("partial_unexpected_list") or [])[:5]],
        "exception": (r.exception_info or {}).get("exception_message")
        if isinstance(r.exception_info, dict) else None,
    }


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One expectation's result over two chunks: fails if either fails, counts add up."""
    counts = [x["unexpected_count"] for x in (a, b) if x["unexpected_count"] is not None]
    return {
        **a,
        "success": a["success"] and b["success"],
        "unexpected_count": sum(counts) if counts else None,
        "observed_value": a["observed_value"] if not a["success"] or b["success"] else b["observed_value"],
        "examples": (a["examples"] + b["examples"])[:5],
        "exception": a["exception"] or b["exception"],
    }


@dataclass
class Chunks:
    """A frame validated part by part: the parquet parts of one NLP table, each whole articles.

    Consecutive parts are joined up to ``max_rows`` so that GX's fixed cost per checkpoint
    run is paid a few times per batch, not once per part.
    """

    parts: list[Path]
    prepare: Callable[[pl.DataFrame], pl.DataFrame]
    max_rows: int = 100_000

    @property
    def height(self) -> int:
        return sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in self.parts)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        batch: list[pl.DataFrame] = []
        rows = 0
        for p in self.parts:
            frame = pl.read_parquet(p)
            if batch and rows + frame.height > self.max_rows:
                yield self.prepare(pl.concat(batch, how="vertical_relaxed"))
                batch, rows = [], 0
            batch.append(frame)
            rows += frame.height
        if batch:
            yield self.prepare(pl.concat(batch, how="vertical_relaxed"))


@dataclass
class Slices:
    """A frame validated ``rows`` rows at a time, for suites whose every check is per row."""

    source: pl.LazyFrame
    rows: int = 10_000

    @property
    def height(self) -> int:
        return self.source.select(pl.len()).collect().item()

    def __iter__(self) -> Iterator[pl.DataFrame]:
        for offset in range(0, self.height, self.rows):
            yield self.source.slice(offset, self.rows).collect(engine="streaming")


# ---------------------------------------------------------------------------------------
# Frames each stage validates
# ---------------------------------------------------------------------------------------


TEXT_COLUMNS = ("title", "standfirst", "body", "text")


def raw_frames(articles: Path, *, temp_dir: Path | None = None) -> dict[str, pl.DataFrame | Slices]:
    """The batch's articles as rows stating ingest's invariants, plus one row of batch-wide counts.

    The invariants about the texts (text = title + standfirst + body, n_chars = its length,
    title and body lengths) are computed in Polars, so GX receives each text column as its
    length in characters (NULL stays NULL, which is all the suite asks of them): the texts
    never make a pandas copy, and the rows reach GX a slice at a time from the parquet file.
    Duplicate article ids and URLs and the number of batch ids are counted by DuckDB with
    grouping that spills to ``temp_dir``, so no check needs the whole batch in memory.
    """
    rows = pl.scan_parquet(articles).with_columns(
        (pl.col("text") == pl.concat_str(["title", "standfirst", "body"], separator="\n", ignore_nulls=True))
        .alias("text_is_title_standfirst_body"),
        (pl.col("n_chars") == pl.col("text").str.len_chars()).alias("n_chars_is_text_length"),
        pl.col("title").str.len_chars().alias("title_chars"),
        pl.col("body").str.len_chars().alias("body_chars"),
    ).with_columns(pl.col(*TEXT_COLUMNS).str.len_chars())
    con = duckdb.connect(config=duckdb_config(temp_dir=temp_dir))
    try:
        con.execute(f"CREATE TEMP VIEW a AS SELECT article_id, url, batch_id FROM read_parquet('{articles}')")
        batch = query_frame(con, f"""
            SELECT
              {_extra_copies("a WHERE article_id IS NOT NULL", "article_id")} AS duplicate_article_ids,
              {_extra_copies("a WHERE url IS NOT NULL", "url")} AS duplicate_urls,
              (SELECT count(*) FROM (SELECT batch_id FROM a WHERE batch_id IS NOT NULL GROUP BY 1))::BIGINT
                 AS batch_ids
            """)
    finally:
        con.close()
    return {"raw.articles": Slices(rows), "raw.batch_checks": batch}


def _extra_copies(source: str, key: str) -> str:
    """SQL for the number of rows of ``source`` that repeat an earlier row's ``key``.

    A GROUP BY (which spills to disk) rather than ``count(DISTINCT)`` (which cannot).
    """
    return f"(SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {source} GROUP BY {key} " \
           f"HAVING n > 1))::BIGINT"


def nlp_frames(articles: Path, nlp_dir: Path) -> dict[str, pl.DataFrame | Chunks]:
    """Per-article span checks computed by DuckDB over the NLP parquet files, plus rows (by part).

    The checks run part by part: a part holds whole articles (one NLP chunk), so each check
    means the same on it as on the batch, and a 100k batch's ~60M tokens are never one hash
    table. Over the whole batch at once, ``count(DISTINCT)`` per article (which cannot
    spill) ran out of DuckDB's memory limit at 100k articles.
    """
    tables = {"s": "sentences", "t": "tokens", "m": "entity_mentions", "q": "quotes"}
    for table in tables.values():
        if not any((nlp_dir / table).glob("*.parquet")):
            raise FileNotFoundError(f"NLP output {nlp_dir / table} has no parquet parts")

    def every_part(table: str) -> str:
        return f"read_parquet('{nlp_dir / table}/*.parquet', union_by_name=true, filename=true)"

    con = duckdb.connect(config=duckdb_config(temp_dir=nlp_dir.parent / "duckdb_tmp"))
    try:
        ids = " UNION ALL ".join(f"SELECT article_id, parse_filename(filename) AS part FROM {every_part(t)}"
                                 for t in tables.values())
        # one pass over every NLP row: which part holds each article, and how many rows it has
        con.execute(f"CREATE TEMP TABLE part_of AS SELECT article_id, part, count(*) AS n FROM ({ids}) GROUP BY ALL")
        orphans = con.execute(f"""
            SELECT coalesce(sum(n), 0) FROM part_of
            WHERE article_id NOT IN (SELECT article_id FROM read_parquet('{articles}'))
        """).fetchone()[0]
        # each part's articles lie in a narrow range of the batch file's rows (NLP reads it in
        # slices): reading that range alone skips the other row groups, and no copy of all the
        # texts is ever made (a temp table or sorted copy of them filled DuckDB's memory limit)
        parts = con.execute(f"""
            SELECT p.part, min(x.file_row_number), max(x.file_row_number)
            FROM read_parquet('{articles}', file_row_number=true) x
            JOIN part_of p USING (article_id)  -- one row per article and part already
            GROUP BY p.part ORDER BY p.part""").fetchall()
        per_part = []
        for part, first, last in parts:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE a AS SELECT x.article_id, x.text, x.n_chars
                FROM read_parquet('{articles}', file_row_number=true) x
                WHERE x.file_row_number BETWEEN {first} AND {last}
                  AND x.article_id IN (SELECT article_id FROM part_of WHERE part = '{part}')""")
            for view, table in tables.items():
                f = nlp_dir / table / part
                src = f"read_parquet('{f}')" if f.exists() else f"(SELECT * FROM {every_part(table)} LIMIT 0)"
                con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {src}")
            per_part.append(_article_checks(con))
        batch = query_frame(con, f"SELECT article_id FROM read_parquet('{articles}')")
    finally:
        con.close()
    found = pl.concat(per_part) if per_part else None
    checks = batch if found is None else batch.join(found, on="article_id", how="left")
    checks = checks.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in ARTICLE_CHECK_COLUMNS if c in checks.columns]
        + [pl.lit(0, dtype=pl.Int64).alias(c) for c in ARTICLE_CHECK_COLUMNS if c not in checks.columns]
        + [pl.lit(orphans, dtype=pl.Int64).alias("orphan_rows_in_batch")]
    ).select("article_id", *ARTICLE_CHECK_COLUMNS, "orphan_rows_in_batch").sort("article_id")
    mentions = Chunks(sorted((nlp_dir / "entity_mentions").glob("*.parquet")), as_read)
    quotes = Chunks(sorted((nlp_dir / "quotes").glob("*.parquet")), quote_lengths)
    return {"nlp.article_checks": checks, "nlp.entity_mentions": mentions, "nlp.quotes": quotes}


def as_read(frame: pl.DataFrame) -> pl.DataFrame:
    """A part as its suite takes it (a module function, not a lambda: frames go to the warm GX process)."""
    return frame


def quote_lengths(frame: pl.DataFrame) -> pl.DataFrame:
    """Quotes as their suite takes them: the quote's length instead of its text (NULL stays NULL).

    The suite asks of the text only that it is there and how long it is, as with the raw
    texts; 250k quote texts in pandas, copied by GX's per-expectation filtering, cost more
    memory than the rest of the stage together.
    """
    return frame.with_columns(pl.col("quote_text").str.len_chars().alias("quote_chars"),
                              pl.col("quote_text").str.len_chars())


def nlp_suite_frames(frames: dict[str, pl.DataFrame | Chunks]) -> dict[str, pl.DataFrame | Chunks | Slices]:
    """``nlp_frames`` as GX receives them: the per-article checks a slice at a time too.

    The checks frame is one row per article (the stage reads it whole to find failing
    articles); its suite is per row, and its ids are unique by construction (one row per
    article of the batch file, whose ids validate_raw found unique).
    """
    return {**frames, "nlp.article_checks": Slices(frames["nlp.article_checks"].lazy())}


ARTICLE_CHECK_COLUMNS = ("sentences", "tokens", "spans_outside_text", "spans_not_matching_text", "duplicate_ids",
                         "unknown_speakers", "quotes_outside_sentences")


def _article_checks(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per-article span checks over the table ``a`` (the part's articles) and views ``s``/``t``/``m``/``q``."""
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
    return query_frame(con, f"""
        WITH
        sc AS ({spans("NULL", "sentence_id", "s")}),
        tc AS ({spans("text", "token_id", "t")}),
        mc AS ({spans("text", "mention_id", "m")}),
        qc AS ({spans("quote_text", "quote_id", "q")}),
        unknown_speakers AS (
            SELECT q.article_id, count(*) AS n FROM q
            WHERE q.speaker IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM m WHERE m.article_id = q.article_id AND m.actor = q.speaker)
            GROUP BY q.article_id),
        quotes_outside_sentences AS (  -- quotes_in_context shows each quote in its sentence(s)
            SELECT q.article_id, count(*) AS n FROM q
            WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.article_id = q.article_id
                              AND s."start" < q."end" AND s."end" > q."start")
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
               coalesce(qs.n, 0)::BIGINT AS quotes_outside_sentences
        FROM a
        LEFT JOIN sc USING (article_id) LEFT JOIN tc USING (article_id)
        LEFT JOIN mc USING (article_id) LEFT JOIN qc USING (article_id)
        LEFT JOIN unknown_speakers us USING (article_id)
        LEFT JOIN quotes_outside_sentences qs USING (article_id)
        """)


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


def mart_frames(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, pl.DataFrame | Slices]:
    """The marts row by row (a slice at a time), and one row of totals and uniqueness counts.

    The marts have a row per actor or source, which grows with the corpus: they are written
    to parquet in ``out_dir`` and reach GX in slices, and their keys' uniqueness is counted
    here by DuckDB (dbt's unique tests check the same, row by row, before this stage).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    marts = {}
    for mart in ("mentions_per_actor", "quote_counts_per_source"):
        path = out_dir / f"{mart}.parquet"
        con.execute(f"COPY (SELECT * FROM {mart}) TO '{path}' (FORMAT parquet)")
        marts[f"marts.{mart}"] = Slices(pl.scan_parquet(path))
    totals = query_frame(
        con,
        f"""
        SELECT
          (SELECT coalesce(sum(mentions), 0) FROM mentions_per_actor)::BIGINT AS mart_mentions,
          -- detail rows of live articles (the staging views leave out retired ones, as the marts do)
          (SELECT count(*) FROM stg_entity_mentions)::BIGINT AS detail_mentions,
          (SELECT coalesce(sum(quotes), 0) FROM quote_counts_per_source)::BIGINT AS mart_quotes,
          (SELECT count(*) FROM stg_quotes WHERE speaker_id IS NOT NULL)::BIGINT AS detail_quotes,
          -- actors after corpus-level resolution (stg_entity_mentions carries the resolved id)
          (SELECT count(DISTINCT actor_id) FROM stg_entity_mentions)::BIGINT AS detail_actors,
          (SELECT count(*) FROM mentions_per_actor)::BIGINT AS mart_actors,
          {_extra_copies("mentions_per_actor", "actor_id")} AS duplicate_actor_ids,
          {_extra_copies("mentions_per_actor", "actor, actor_type")} AS duplicate_actor_names,
          {_extra_copies("quote_counts_per_source", "source_id, outlet")} AS duplicate_source_outlets
        """,
    )
    return {**marts, "marts.totals": totals, "marts.drift": drift_frame(con)}


# Labels the NER model gives; a mention with another ner_label (ALIAS, SPEAKER, DATELINE) was
# found by a later step, which also chose its type
MODEL_LABELS = ("PERSON", "ORG", "LOC", "GPE", "FAC", "NORP", "MISC")


def drift_measures(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """Shares that should move slowly from night to night (a sudden jump is an NLP or input fault).

    ``attributed_share``: quotations with a speaker, of all quotations. ``untyped_actor_share``:
    actors none of whose mentions the NER model itself typed (every one was found by the
    alias, speaker or dateline steps, which also chose the type), of all actors.
    """
    labels = ", ".join(f"'{x}'" for x in MODEL_LABELS)
    row = con.execute(f"""
        SELECT
          (SELECT count(*) FILTER (WHERE speaker_id IS NOT NULL) / nullif(count(*), 0) FROM quotes),
          (SELECT count(*) FILTER (WHERE NOT typed) / nullif(count(*), 0) FROM (
              SELECT r.actor_id, bool_or(m.ner_label IN ({labels})) AS typed
              FROM entity_mentions m JOIN actor_resolution r ON r.raw_actor_id = m.actor_id
              WHERE m.actor IS NOT NULL GROUP BY r.actor_id))
    """).fetchall()[0]
    return {"attributed_share": row[0], "untyped_actor_share": row[1]}


def last_published_drift(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """The drift measures the last published run recorded (its validate_marts stage in run_log)."""
    try:
        rows = con.execute("""
            SELECT r.detail FROM run_log r JOIN publish_log p USING (batch_id)
            WHERE r.stage = 'validate_marts' AND r.status = 'success'
            ORDER BY p.published_at DESC LIMIT 1""").fetchall()
    except duckdb.CatalogException:  # no run log yet: nothing was published before
        rows = []
    found = json.loads(rows[0][0] or "{}").get("drift") if rows else None
    return {k: (found or {}).get(k) for k in ("attributed_share", "untyped_actor_share")}


def drift_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row: tonight's drift measures, the last published run's, and the change (NULL on a first run)."""
    now, before = drift_measures(con), last_published_drift(con)
    row: dict[str, float | None] = {}
    for k, v in now.items():
        row[k] = v
        row[f"{k}_previous"] = before[k]
        row[f"{k}_change"] = None if v is None or before[k] is None else v - before[k]
    return pl.DataFrame([row], schema=dict.fromkeys(row, pl.Float64))
