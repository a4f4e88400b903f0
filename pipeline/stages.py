"""The nightly run's stages, one function each, independent of Airflow.

Every stage takes the manifest path, reads what earlier stages wrote in the run folder,
writes its own output there (or to the run's work database), records its timing and row
counts, and returns the manifest path. The Airflow DAG (dags/newsdesk_nightly.py) is a thin
shell that calls these in order; a stage is safe to retry because it rebuilds its output
from its inputs.

Failures come in two kinds. A *data* failure (a validation or dbt test fails) quarantines
the batch and raises :class:`BatchRejected`, which the DAG turns into a non-retryable task
failure. Anything else is an ordinary exception: Airflow retries it, and if it still fails
the batch stays un-published and the next run takes the same articles again.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import quarantine, schemas, warehouse
from pipeline.config import Settings
from pipeline.dbt import DbtFailed, run_dbt
from pipeline.ingest import Rejection, ingest_folder, quarantine_frame
from pipeline.runs import Manifest, atomic_write_text, batch_id_for, record_stage
from pipeline.validate import (
    StageReport,
    mart_frames,
    nlp_frames,
    raw_frames,
    run_suites,
    warehouse_frames,
)

log = logging.getLogger("newsdesk")

OUTCOME = "outcome.json"
# What the NLP stage writes into the run folder, one parquet part per chunk of articles.
NLP_TABLES = {
    "sentences": schemas.SENTENCES,
    "tokens": schemas.TOKENS,
    "entity_mentions": schemas.LINKED_MENTIONS,
    "quotes": schemas.LINKED_QUOTES,
    "actor_aliases": schemas.ACTOR_ALIASES,
}


class BatchRejected(RuntimeError):
    """The batch failed a data check and was quarantined; retrying cannot help."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def start_run(run_id: str, *, logical_date: datetime | None = None, data_interval_start: datetime | None = None,
              data_interval_end: datetime | None = None, overrides: dict[str, Any] | None = None) -> str:
    """Resolve settings once and write the manifest every later stage reads."""
    settings = Settings.from_env(**(overrides or {}))
    batch_id = batch_id_for(run_id, logical_date)
    manifest = Manifest(
        batch_id=batch_id,
        run_id=run_id,
        logical_date=_iso(logical_date),
        data_interval_start=_iso(data_interval_start),
        data_interval_end=_iso(data_interval_end),
        settings=settings.to_dict(),
        created_at=datetime.now(UTC).isoformat(),
    )
    return str(manifest.save())


def ingest(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "ingest") as rec:
        result = ingest_folder(cfg.input_dir, m.batch_id, max_file_bytes=cfg.max_file_bytes)
        known = warehouse.known_article_ids(cfg.warehouse)
        held = quarantine.held_article_ids(cfg)
        articles = result.articles.join(known, on="article_id", how="anti")
        already = result.articles.height - articles.height
        fresh = articles.join(held, on="article_id", how="anti")
        rec.count(
            files=result.files,
            articles_read=result.articles.height,
            already_loaded=already,
            held_in_quarantine=articles.height - fresh.height,
            new_articles=fresh.height,
            rejected=result.rejected.height,
        )
        if result.rejected.height:
            rec.detail["rejected_by_reason"] = dict(
                result.rejected.group_by("reason").len().sort("reason").iter_rows()
            )
        fresh.write_parquet(m.articles_path)
        result.rejected.write_parquet(m.rejected_path)
    return manifest_path


def _gate(m: Manifest, stage: str, report: StageReport, rec: Any) -> None:
    """Write the GX report; on failure quarantine the batch and stop the run."""
    atomic_write_text(m.run_dir / "validation" / f"{stage}.json", report.to_json())
    rec.detail["suites"] = {k: v["success"] for k, v in report.suites.items()}
    rec.count(expectations_failed=len(report.failed_expectations()))
    if not report.success:
        folder = quarantine.quarantine_batch(
            m, f"validate_{stage}", "validation_failed", report.summary(),
            {"failed_expectations": report.failed_expectations()},
        )
        raise BatchRejected(f"{report.summary()} — batch {m.batch_id} quarantined in {folder}")


def _run_gx(m: Manifest, stage: str, frames: dict[str, pl.DataFrame]) -> StageReport:
    cfg = m.cfg
    return run_suites(stage, frames, gx_project_dir=cfg.gx_project_dir,
                      results_dir=m.run_dir / "gx", run_name=f"{m.batch_id}-{stage}")


def validate_raw(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_raw") as rec:
        articles = pl.read_parquet(m.articles_path)
        rec.count(articles=articles.height)
        _gate(m, "raw", _run_gx(m, "raw", raw_frames(articles)), rec)
    return manifest_path


def nlp(manifest_path: str) -> str:
    """Sentences, tokens, entities and quotes, chunk by chunk so memory stays flat.

    Chunks run in order: each links its actors to the ids of earlier chunks and earlier
    runs (the published ``actor_aliases``), so one person keeps one id across the corpus.
    """
    from pipeline.linking import link_actors, merge_aliases  # loads spaCy: only this task pays
    from pipeline.nlp import run_nlp

    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "nlp") as rec:
        shutil.rmtree(m.nlp_dir, ignore_errors=True)
        for t in NLP_TABLES:
            m.nlp_parts(t).mkdir(parents=True, exist_ok=True)
        totals = dict.fromkeys(NLP_TABLES, 0)
        failures: list[Rejection] = []
        known_aliases = warehouse.read_table(cfg.warehouse, "actor_aliases")
        articles = pl.scan_parquet(m.articles_path)
        n = articles.select(pl.len()).collect().item()
        if n == 0:  # nothing new: no model to load, empty parts keep the contract
            for t, schema in NLP_TABLES.items():
                schemas.empty(schema).write_parquet(m.nlp_parts(t) / "part-00000.parquet")
        for part, offset in enumerate(range(0, n, cfg.nlp_batch_size)):
            chunk = articles.slice(offset, cfg.nlp_batch_size).collect()
            result, bad = _nlp_chunk(run_nlp, chunk, cfg)
            failures.extend(bad)
            mentions, quotes, aliases = link_actors(result, known_aliases)
            known_aliases = merge_aliases(known_aliases, aliases)
            frames = {"sentences": result.sentences, "tokens": result.tokens, "entity_mentions": mentions,
                      "quotes": quotes, "actor_aliases": aliases}
            for t, frame in frames.items():
                frame.write_parquet(m.nlp_parts(t) / f"part-{part:05d}.parquet")
                totals[t] += frame.height
            log.info("[%s] nlp: %d/%d articles", m.batch_id, min(offset + cfg.nlp_batch_size, n), n)
        rec.count(articles=n, **totals, nlp_failures=len(failures))
        if failures:
            rows = quarantine_frame(failures, m.batch_id, "nlp", datetime.now(UTC))
            bad_ids = rows.select("article_id")
            pl.concat([pl.read_parquet(m.rejected_path), rows]).write_parquet(m.rejected_path)
            pl.read_parquet(m.articles_path).join(bad_ids, on="article_id", how="anti").write_parquet(m.articles_path)
    return manifest_path


def _nlp_chunk(run_nlp: Any, chunk: pl.DataFrame, cfg: Settings) -> tuple[Any, list[Rejection]]:
    """Run NLP on a chunk; if it raises, isolate the articles that break it.

    One pathological article must not block every nightly run: it is quarantined with the
    error and the rest of the chunk goes on.
    """
    try:
        return run_nlp(chunk, n_process=cfg.nlp_processes), []
    except Exception:
        if chunk.height <= 1:
            raise
    good, bad = [], []
    for row in chunk.iter_slices(1):
        try:
            run_nlp(row, n_process=1)
            good.append(row)
        except Exception as exc:
            bad.append(Rejection(row["source_path"][0], "nlp_error", f"{type(exc).__name__}: {exc}"[:2000],
                                 row["article_id"][0]))
    rest = pl.concat(good) if good else chunk.clear()
    return run_nlp(rest, n_process=cfg.nlp_processes), bad


def validate_nlp(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_nlp") as rec:
        frames = nlp_frames(m.articles_path, m.nlp_dir)
        rec.count(**{k: v.height for k, v in frames.items()})
        _gate(m, "nlp", _run_gx(m, "nlp", frames), rec)
    return manifest_path


def _failed_run_records(cfg: Settings, current: str) -> list[dict[str, Any]]:
    """Stage records of earlier runs that never published, for the run_log table."""
    records = []
    for outcome in sorted(cfg.runs_dir.glob(f"*/{OUTCOME}")):
        info = json.loads(outcome.read_text())
        if info.get("status") != "published" and info.get("batch_id") != current:
            run_manifest = outcome.parent / "manifest.json"
            if run_manifest.exists():
                records.extend(Manifest.load(run_manifest).stage_records())
    return records


def load(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "load") as rec:
        warehouse.create_work_db(cfg.warehouse, m.work_db)
        inserted = warehouse.load_batch(
            m.work_db,
            articles=m.articles_path,
            rejected=m.rejected_path,
            nlp_dir=m.nlp_dir,
            extra_quarantine=quarantine.pending_rows(cfg),
        )
        with warehouse.connect(m.work_db) as con:
            imported = warehouse.append_run_log(con, _failed_run_records(cfg, m.batch_id))
        rec.count(**{f"{k}_inserted": v for k, v in inserted.items()}, failed_run_log_rows=imported)
    return manifest_path


def validate_warehouse(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_warehouse") as rec:
        with warehouse.connect(m.work_db, read_only=True) as con:
            frames = warehouse_frames(con, m.articles_path)
        rec.count(articles_total=int(frames["warehouse.integrity"]["articles"][0]))
        _gate(m, "warehouse", _run_gx(m, "warehouse", frames), rec)
    return manifest_path


def dbt_build(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "dbt_build") as rec:
        try:
            result = run_dbt(["build"], project_dir=cfg.dbt_project_dir, database=m.work_db,
                             work_dir=m.run_dir / "dbt")
        except DbtFailed as exc:
            rec.detail["failures"] = exc.failures
            failed_tests = [f for f in exc.failures if f.get("resource_type") == "test"]
            if failed_tests:  # data problem: the batch breaks a model test
                folder = quarantine.quarantine_batch(m, "dbt_build", "dbt_test_failed", str(exc),
                                                     {"failures": exc.failures})
                raise BatchRejected(f"{exc} — batch {m.batch_id} quarantined in {folder}") from exc
            raise
        models = sum(1 for n in result.nodes if n["resource_type"] == "model")
        tests = sum(1 for n in result.nodes if n["resource_type"] == "test")
        rec.count(models=models, tests=tests, passed=result.passed)
        rec.detail["slowest"] = sorted(result.nodes, key=lambda n: -n["seconds"])[:5]
        rec.detail["freshness"] = source_freshness(m)
    return manifest_path


def source_freshness(m: Manifest) -> list[dict[str, Any]]:
    """``dbt source freshness`` on the work database, reported and never blocking.

    Stale sources mean no new news came in, not that this batch is wrong: the result goes
    to run_log (and the dashboard's health panel) instead of failing the run.
    """
    result = run_dbt(["source", "freshness"], project_dir=m.cfg.dbt_project_dir, database=m.work_db,
                     work_dir=m.run_dir / "dbt", check=False)
    keys = ("name", "status", "max_loaded_at", "age_hours", "message")
    return [{k: n.get(k) for k in keys} for n in result.nodes]


def validate_marts(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_marts") as rec:
        with warehouse.connect(m.work_db, read_only=True) as con:
            frames = mart_frames(con)
        rec.count(**{k: v.height for k, v in frames.items()})
        _gate(m, "marts", _run_gx(m, "marts", frames), rec)
    return manifest_path


def publish(manifest_path: str) -> str:
    """Record the run in run_log, then swap the work database in as the published one."""
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "publish") as rec:
        new_articles = pl.scan_parquet(m.articles_path).select(pl.len()).collect().item()
        rec.count(new_articles=new_articles)
        with warehouse.connect(m.work_db) as con:
            records = m.stage_records()
            # this stage's own row: timed up to the swap, which itself takes microseconds
            records.append({**records[-1], "stage": "publish", "status": "success",
                            "started_at": datetime.now(UTC).isoformat(),
                            "finished_at": datetime.now(UTC).isoformat(), "seconds": 0.0,
                            "rows": {"new_articles": new_articles}, "detail": {}, "error": None})
            warehouse.append_run_log(con, records)
        rec.detail["snapshots"] = warehouse.publish(m.work_db, cfg.warehouse, snapshot_id=m.batch_id,
                                                    batch_id=m.batch_id, new_articles=new_articles,
                                                    keep=cfg.keep_snapshots)
        atomic_write_text(m.run_dir / OUTCOME, json.dumps(
            {"batch_id": m.batch_id, "status": "published", "at": datetime.now(UTC).isoformat()}))
    return manifest_path


def finalize(manifest_path: str) -> dict[str, Any]:
    """Always runs last: write the outcome of a failed run and drop its work database."""
    m = Manifest.load(manifest_path)
    outcome_path = m.run_dir / OUTCOME
    if outcome_path.exists():
        outcome = json.loads(outcome_path.read_text())
    else:
        failed = [r for r in m.stage_records() if r["status"] == "failed"]
        q = m.cfg.quarantine_dir / m.batch_id / "reason.json"
        outcome = {
            "batch_id": m.batch_id,
            "status": "quarantined" if q.exists() else "failed",
            "failed_stage": failed[-1]["stage"] if failed else None,
            "error": failed[-1]["error"] if failed else "run stopped before a stage recorded a failure",
            "quarantine": str(q.parent) if q.exists() else None,
            "at": datetime.now(UTC).isoformat(),
        }
        atomic_write_text(outcome_path, json.dumps(outcome, indent=2))
        warehouse.remove_db(m.work_db)
    return outcome


def read_outcome(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / OUTCOME
    return json.loads(path.read_text()) if path.exists() else None
