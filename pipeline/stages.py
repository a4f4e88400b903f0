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
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import dbt_worker, dedup, diskspace, gx_worker, quarantine, runlock, schemas, warehouse
from pipeline.config import Settings
from pipeline.dbt import DbtFailed, nightly_build_request
from pipeline.ingest import Rejection, ingest_sources, quarantine_frame
from pipeline.lake import Lake
from pipeline.progress import Progress
from pipeline.runs import (
    Manifest,
    atomic_write_text,
    batch_id_for,
    record_stage,
    sink_parquet_atomic,
    work_db_for,
    worker_identity,
    write_parquet_atomic,
)
from pipeline.sources import load_sources
from pipeline.validate import (
    GX_KEEP_RUNS,
    StageReport,
    gx_results_dir,
    mart_frames,
    nlp_frames,
    nlp_suite_frames,
    prune_results,
    raw_frames,
    warehouse_frames,
)

log = logging.getLogger("newsdesk")

OUTCOME = "outcome.json"
FAIL_HOOK_ENV = "NEWSDESK_FAULT_FAIL_SUITE"  # tests: the named gate (raw, nlp, warehouse, marts) fails
# What the NLP stage writes into the run folder, one parquet part per chunk of articles.
NLP_TABLES = {
    "sentences": schemas.SENTENCES,
    "tokens": schemas.TOKENS,
    "entity_mentions": schemas.LINKED_MENTIONS,
    "quotes": schemas.LINKED_QUOTES,
    "actor_aliases": schemas.ACTOR_ALIASES,
}


SPACY_BATCH = 64  # articles per nlp.pipe batch: a few MB of tensors, keeps both workers busy


class BatchRejected(RuntimeError):
    """The batch failed a data check and was quarantined; retrying cannot help."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def start_run(run_id: str, *, logical_date: datetime | None = None, data_interval_start: datetime | None = None,
              data_interval_end: datetime | None = None, overrides: dict[str, Any] | None = None) -> str:
    """Resolve settings once and write the manifest every later stage reads."""
    settings = Settings.from_env(**(overrides or {}))
    batch_id = batch_id_for(run_id, logical_date)
    # Inputs modified at/after the end of the run's data interval wait for a later run; a
    # manual run (logical date = now) takes everything up to now.
    bounds = [d for d in (data_interval_end, logical_date) if d is not None]
    cutoff = max(bounds) if bounds else datetime.now(UTC)
    runlock.acquire(settings.warehouse, batch_id=batch_id, run_id=run_id)  # one run per warehouse
    _drop_stale_work_dbs(settings, batch_id)
    manifest = Manifest(
        batch_id=batch_id,
        run_id=run_id,
        logical_date=_iso(logical_date),
        data_interval_start=_iso(data_interval_start),
        data_interval_end=_iso(data_interval_end),
        settings=settings.to_dict(),
        created_at=datetime.now(UTC).isoformat(),
        extra={"cutoff": cutoff.astimezone(UTC).isoformat()},
    )
    return str(manifest.save())


# work databases of runs before the work file had a constant name: <batch id>.duckdb
_BATCH_NAMED_WORK_DB = re.compile(r"\d{8}T\d{6}_[0-9a-f]+\.duckdb")


def _drop_stale_work_dbs(settings: Settings, batch_id: str) -> None:
    """Remove the work database a killed run left (runs never overlap: the caller holds the run lock)."""
    work = work_db_for(settings)
    if isinstance(work, Lake) or not settings.build_dir.exists():
        return
    for stale in settings.build_dir.iterdir():
        name = stale.name
        ours = name.startswith(work.name) or (_BATCH_NAMED_WORK_DB.match(name) and not name.startswith(batch_id))
        if ours and stale.is_file():
            stale.unlink(missing_ok=True)


def _check_space(m: Manifest, stage: str) -> None:
    """Refuse a heavy stage up front, with the numbers, when its disks cannot hold what it writes."""
    cfg = m.cfg
    articles = diskspace.size_of(m.articles_path)
    nlp_out = diskspace.size_of(m.nlp_dir)
    needs = {
        "ingest": {m.run_dir: (0, "spilled candidates")},
        "nlp": {m.run_dir: (8 * articles, "NLP output ~8x the batch's articles")},
        "load": {cfg.build_dir: (diskspace.size_of(cfg.warehouse) + 2 * (articles + nlp_out),
                                 "a copy of the published snapshot and the batch")},
        "dbt_build": {cfg.build_dir: (diskspace.size_of(m.work_db) // 2, "dbt's tables ~half the work database")},
    }[stage]
    diskspace.require(stage, needs, cfg.min_free_mb)


def ingest(manifest_path: str) -> str:
    """Read what is new since the last published run; link duplicates; refuse bad inputs."""
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "ingest") as rec:
        _check_space(m, "ingest")
        now = datetime.now(UTC)
        sources = load_sources(cfg.input_dir, cfg.source_policy)
        seen = warehouse.published_table(cfg.warehouse, "ingest_inputs")
        spill, dedup_dir = m.run_dir / "ingest-parts", m.run_dir / "ingest-dedup"
        bar = Progress(f"[{m.batch_id}] ingest", _count_inputs(sources), "inputs")
        try:  # the spilled parts and the dedup database go whether the stage succeeds or fails
            result = ingest_sources(sources, m.batch_id, max_file_bytes=cfg.max_file_bytes, seen=seen,
                                    cutoff=m.cutoff, now=now, spill_dir=spill,
                                    max_records_per_file=cfg.max_records_per_file,
                                    progress=lambda st, n: bar.update(st.inputs, **{"files read": st.read,
                                                                                    "articles": n}))
            held = quarantine.held_article_ids(cfg)
            candidates = result.candidates.join(held.lazy(), on="article_id", how="anti", maintain_order="left")
            resolved = dedup.resolve_duplicates(candidates, cfg.warehouse, now, work_dir=dedup_dir)
            # an input whose articles are held in a quarantined batch is read again until released
            held_rows = result.candidates.join(held.lazy(), on="article_id", how="semi").select(
                "source", "input").collect()
            inputs = result.inputs.join(held_rows.unique(), on=["source", "input"], how="anti")
            tables = m.ingest_tables
            sink_parquet_atomic(resolved.duplicates, tables["article_duplicates"])
            write_parquet_atomic(inputs, tables["ingest_inputs"])
            sink_parquet_atomic(resolved.signatures, tables["article_minhash"])
            sink_parquet_atomic(pl.concat([result.rejections, resolved.rejections]), m.rejected_path)
            rejected = pl.read_parquet(m.rejected_path, columns=["reason"])
            sink_parquet_atomic(resolved.articles, m.articles_path)
            sink_parquet_atomic(resolved.retired, m.retired_path)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
            shutil.rmtree(dedup_dir, ignore_errors=True)
        new = pl.scan_parquet(m.articles_path)
        n_new = new.select(pl.len()).collect().item()
        duplicates = pl.read_parquet(tables["article_duplicates"], columns=["kind"])
        stats = result.stats
        rec.count(
            files=stats.inputs, files_read=stats.read, files_unchanged=stats.unchanged + stats.unchanged_content,
            files_deferred=stats.deferred, articles_read=result.n_candidates,
            already_loaded=resolved.already_loaded, held_in_quarantine=held_rows.height,
            duplicates=duplicates.height, new_articles=n_new, rejected=rejected.height,
            retired=pl.scan_parquet(m.retired_path).select(pl.len()).collect().item(),
        )
        rec.detail["files_by_format"] = stats.by_format
        if duplicates.height:
            rec.detail["duplicates_by_kind"] = dict(duplicates.group_by("kind").len().sort("kind").iter_rows())
        if rejected.height:
            rec.detail["rejected_by_reason"] = dict(rejected.group_by("reason").len().sort("reason").iter_rows())
        if n_new:
            rec.detail["languages"] = dict(new.group_by("language").len().sort("language").collect().iter_rows())
    return manifest_path


def _count_inputs(sources: list) -> int:
    """Inputs ingest will look at (files the sources include, plus one per feed URL): progress's total."""
    from pipeline.ingest import iter_input_files

    total = 0
    for source in sources:
        if source.feed_url:
            total += 1
        elif source.path is not None:
            total += sum(1 for _, rel in iter_input_files(source.path) if source.wants(rel))
    return total


def anything_new(manifest_path: str) -> bool:
    """Whether the batch has anything to load; False ends the run right after ingest.

    A nightly run that finds no new article, no newly refused input and no quarantine rows
    waiting to be loaded would otherwise copy the published warehouse, re-run every check
    and dbt on unchanged data and publish an identical snapshot: minutes of work at 100k
    articles for nothing. Instead it records the outcome ``unchanged`` and the DAG skips the
    remaining stages (an Airflow short-circuit); its stage records reach ``run_log`` with the
    next run that publishes, as a failed run's do.
    """
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    new_articles = pl.scan_parquet(m.articles_path).select(pl.len()).collect().item()
    # quarantine rows count only when the published warehouse does not hold them yet: the
    # rows of a batch quarantined (and released) long ago stay on disk and are loaded once
    pending = [m.rejected_path, *quarantine.pending_rows(cfg)]
    retired = pl.scan_parquet(m.retired_path).select(pl.len()).collect().item() if m.retired_path.exists() else 0
    if new_articles or retired or any(warehouse.unloaded_quarantine_rows(cfg.warehouse, p) for p in pending):
        # dbt_build will run: its dbt imports and parses meanwhile (under `newsdesk run` only)
        dbt_worker.start(nightly_build_request(cfg, m.work_db, m.run_dir / "dbt"), new_articles=new_articles)
        gx_worker.night_size(new_articles)
        return True
    gx_worker.stop()  # nothing will be validated tonight
    atomic_write_text(m.run_dir / OUTCOME, json.dumps(
        {"batch_id": m.batch_id, "status": "unchanged", "at": datetime.now(UTC).isoformat()}))
    log.info("[%s] nothing new to load: the published warehouse stays as it is", m.batch_id)
    return False


def _gate(m: Manifest, stage: str, report: StageReport, rec: Any) -> None:
    """Write the GX report; on failure quarantine the batch and stop the run (warnings never do)."""
    if os.environ.get(FAIL_HOOK_ENV) == stage:  # fault injection (tests): this gate fails as a real one would
        report.success = False
        report.suites["fault_injection"] = {"success": False, "expectations": [
            {"suite": "fault_injection", "type": FAIL_HOOK_ENV, "column": None, "unexpected_count": 1,
             "examples": [], "success": False}]}
    atomic_write_text(m.run_dir / "validation" / f"{stage}.json", report.to_json())
    rec.detail["suites"] = {k: v["success"] for k, v in report.suites.items()}
    rec.count(expectations_failed=len(report.failed_expectations()), warnings=len(report.warnings()))
    if report.warnings():
        rec.detail["warnings"] = [{k: w.get(k) for k in ("suite", "type", "column", "observed_value")}
                                  for w in report.warnings()]
        log.warning("[%s] validate_%s: %d warning(s): %s", m.batch_id, stage, len(report.warnings()),
                    "; ".join(f"{w['suite']} {w['column']}" for w in report.warnings()))
    if not report.success:
        folder = quarantine.quarantine_batch(
            m, f"validate_{stage}", "validation_failed", report.summary(),
            {"failed_expectations": report.failed_expectations()},
        )
        raise BatchRejected(f"{report.summary()} — batch {m.batch_id} quarantined in {folder}")


def _run_gx(m: Manifest, stage: str, frames: dict[str, Any], rec: Any) -> StageReport:
    """Run a stage's suites; results and Data Docs go to ``<state>/gx`` (kept across runs, pruned).

    In the GX process warmed up for this run when there is one (``gx_worker``), here otherwise.
    """
    cfg = m.cfg
    results = gx_results_dir(cfg)
    if stage == "raw":  # once a run, at its first validation: keep the last runs' results only
        prune_results(results, keep_batches=GX_KEEP_RUNS, current=m.batch_id)
    report, rec.detail["gx_process"] = gx_worker.run_suites(
        stage, frames, gx_project_dir=cfg.gx_project_dir, results_dir=results, run_name=f"{m.batch_id}-{stage}")
    return report


def validate_raw(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_raw") as rec:
        frames = raw_frames(m.articles_path, temp_dir=m.run_dir / "duckdb_tmp")
        rec.count(articles=frames["raw.articles"].height)
        _gate(m, "raw", _run_gx(m, "raw", frames, rec), rec)
    return manifest_path


def nlp(manifest_path: str) -> str:
    """The whole NLP stage in this process: every part, then the actor linking.

    What the mapped tasks of the DAG do (``nlp_plan`` → ``nlp_part`` × N → ``nlp_link``), run
    in order here with one set of NER worker processes for all parts (benchmarks, tests).
    """
    from pipeline import entities

    m = Manifest.load(manifest_path)
    parts = nlp_plan(manifest_path)
    with entities.ner_workers(_processes_for(min(_plan(m)["articles"], m.cfg.nlp_batch_size), m.cfg)):
        for part in parts:
            nlp_part(manifest_path, part)
    return nlp_link(manifest_path)


PLAN = "plan.json"
RAW_TABLES = {"entity_mentions": schemas.ENTITY_MENTIONS, "quotes": schemas.QUOTES, "failures": schemas.QUARANTINE}


def _plan(m: Manifest) -> dict[str, Any]:
    return json.loads((m.nlp_work_dir / PLAN).read_text())


def nlp_plan(manifest_path: str) -> list[int]:
    """Cut the batch into parts of ``NEWSDESK_NLP_BATCH`` articles (at least one part); their indices.

    Each part is an Airflow mapped task (``nlp_part``), so parts run on as many workers as
    there are. The plan is written once per run and read by every part and by the linking
    task, so the parts stay the same article ranges even after the linking task has taken
    failed articles out of the batch file. Starting the stage (this task) starts it afresh.
    """
    m = Manifest.load(manifest_path)
    _check_space(m, "nlp")
    n = pl.scan_parquet(m.articles_path).select(pl.len()).collect().item()
    size = m.cfg.nlp_batch_size
    shutil.rmtree(m.nlp_dir, ignore_errors=True)
    shutil.rmtree(m.nlp_work_dir, ignore_errors=True)
    parts = list(range(max(1, -(-n // size))))
    atomic_write_text(m.nlp_work_dir / PLAN, json.dumps({"articles": n, "part_size": size, "parts": len(parts)}))
    return parts


def _part_file(folder: Path, part: int) -> Path:
    return folder / f"part-{part:05d}.parquet"


def _part_done(m: Manifest, part: int) -> Path:
    return m.nlp_work_dir / f"part-{part:05d}.done.json"


def nlp_part(manifest_path: str, part: int, *, attempt: int | None = None) -> str:
    """Sentences, tokens, entities and quotes of one part of the batch (an Airflow mapped task).

    Idempotent: every output is written atomically (a temporary file, then a rename), and the
    ``done`` marker last; a retried part whose marker exists is skipped, one killed midway
    is done again from the start (its half-written files are replaced). Mentions and quotes
    are written before actor linking, which needs every earlier part (``nlp_link``).
    """
    from pipeline import entities
    from pipeline.nlp import run_nlp  # loads spaCy: only the NLP tasks pay

    m = Manifest.load(manifest_path)
    cfg, plan, done = m.cfg, _plan(m), _part_done(m, part)
    if done.exists():
        log.info("[%s] nlp part %d already done on %s: skipped", m.batch_id, part,
                 json.loads(done.read_text()).get("hostname"))
        return manifest_path
    identity = {**worker_identity(), "attempt": attempt}
    atomic_write_text(m.nlp_work_dir / f"part-{part:05d}.started.json", json.dumps(identity))
    with record_stage(m, "nlp_part", key=f"nlp_part-{part:05d}") as rec:
        size = plan["part_size"]
        articles = pl.scan_parquet(m.articles_path).slice(part * size, size).collect()
        if plan["articles"] == 0:  # nothing new: no model to load, empty parts keep the contract
            result = _empty_result()
            bad: list[Rejection] = []
        else:
            with entities.ner_workers(_processes_for(articles.height, cfg)):
                result, bad = _nlp_by_language(run_nlp, articles, cfg)
        failures = quarantine_frame(bad, m.batch_id, "nlp", datetime.now(UTC))
        for table, frame in (("sentences", result.sentences), ("tokens", result.tokens)):
            write_parquet_atomic(frame, _part_file(m.nlp_parts(table), part))
        for table, frame in (("entity_mentions", result.entity_mentions), ("quotes", result.quotes),
                             ("failures", failures)):
            write_parquet_atomic(frame, _part_file(m.nlp_work_dir / table, part))
        counts = {"part": part, "articles": articles.height, "sentences": result.sentences.height,
                  "tokens": result.tokens.height, "nlp_failures": failures.height}
        rec.count(**counts)
        rec.detail.update(identity)
    atomic_write_text(done, json.dumps({**identity, **counts}))
    return manifest_path


def _empty_result() -> Any:
    from pipeline.nlp import NlpResult

    return NlpResult(*(schemas.empty(t) for t in (schemas.SENTENCES, schemas.TOKENS, schemas.ENTITY_MENTIONS,
                                                  schemas.QUOTES)))


def nlp_link(manifest_path: str) -> str:
    """Give actors their corpus-wide ids, part by part in batch order: the ids of a single-process run.

    Each part links its actors to the ids of earlier parts and earlier runs (the published
    ``actor_aliases``), exactly as the single-process stage did chunk by chunk, so one person
    keeps one id across the corpus whichever worker tagged which part. Cheap (no model, no
    text): mentions and quotes only. Records the stage ``nlp`` with the batch's totals.
    """
    from pipeline import entities
    from pipeline.linking import link_actors, merge_aliases
    from pipeline.nlp import NlpResult

    entities.release_workers()  # kept between the parts of an in-process night: not needed from here on
    m = Manifest.load(manifest_path)
    cfg, plan = m.cfg, _plan(m)
    with record_stage(m, "nlp") as rec:
        missing = [p for p in range(plan["parts"]) if not _part_done(m, p).exists()]
        if missing:
            raise RuntimeError(f"NLP parts {missing} of batch {m.batch_id} have not finished")
        known_aliases = warehouse.read_table(cfg.warehouse, "actor_aliases")
        totals = dict.fromkeys(NLP_TABLES, 0)
        failures, workers = [schemas.empty(schemas.QUARANTINE)], []
        if plan["articles"] == 0:  # nothing new (quarantine rows only): empty parts keep the contract
            for table in ("entity_mentions", "quotes", "actor_aliases"):
                write_parquet_atomic(schemas.empty(NLP_TABLES[table]), _part_file(m.nlp_parts(table), 0))
        for part in range(plan["parts"] if plan["articles"] else 0):
            info = json.loads(_part_done(m, part).read_text())
            workers.append({k: info.get(k) for k in ("part", "hostname", "attempt", "articles")})
            raw = {t: pl.read_parquet(_part_file(m.nlp_work_dir / t, part)) for t in RAW_TABLES}
            empty = schemas.empty(schemas.SENTENCES)
            mentions, quotes, aliases = link_actors(NlpResult(empty, empty, raw["entity_mentions"], raw["quotes"]),
                                                    known_aliases)
            known_aliases = merge_aliases(known_aliases, aliases)
            for table, frame in (("entity_mentions", mentions), ("quotes", quotes), ("actor_aliases", aliases)):
                write_parquet_atomic(frame, _part_file(m.nlp_parts(table), part))
                totals[table] += frame.height
            totals["sentences"] += info["sentences"]
            totals["tokens"] += info["tokens"]
            failures.append(raw["failures"])
        failed = pl.concat(failures)
        rec.count(articles=plan["articles"], **totals, nlp_failures=failed.height, parts=plan["parts"])
        rec.detail["parts"] = workers
        rec.detail["workers"] = sorted({w["hostname"] for w in workers})
        if failed.height:
            _move_to_quarantine(m, failed)
    return manifest_path


def _move_to_quarantine(m: Manifest, rows: pl.DataFrame) -> None:
    """Add QUARANTINE ``rows`` to the batch's refusals and take their articles out of the batch.

    The articles file is streamed (a 100k batch is ~300 MB of text) and replaced atomically.
    Rows already there (a retried task) are not added twice.
    """
    known = pl.read_parquet(m.rejected_path)
    rows = rows.join(known.select("article_id", "stage", "reason"), on=["article_id", "stage", "reason"],
                     how="anti", nulls_equal=True)
    write_parquet_atomic(pl.concat([known, rows]), m.rejected_path)
    _drop_articles(m.articles_path, rows.select("article_id"))


def _drop_articles(path: Path, article_ids: pl.DataFrame) -> None:
    """Rewrite a parquet file (streamed, atomically) without the rows of ``article_ids``.

    A file without an ``article_id`` column (the actor_aliases parts) is left as it is.
    """
    frame = pl.scan_parquet(path)
    if "article_id" in frame.collect_schema().names():
        sink_parquet_atomic(frame.join(article_ids.lazy(), on="article_id", how="anti"), path)


ENGLISH = ("en", "und")  # "und": too short to tell; the corpus is English, so NER still runs


def _nlp_by_language(run_nlp: Any, chunk: pl.DataFrame, cfg: Settings) -> tuple[Any, list[Rejection]]:
    """English NER on English articles only; others get sentences and tokens, no entities.

    The spaCy model is English: on Italian or German text it tags nonsense, so non-English
    articles (flagged by ``language`` at ingest) keep their text and segmentation for search
    and counts but add no mentions or quotes.
    """
    from pipeline.nlp import NlpResult
    from pipeline.segment import segment

    english = chunk.filter(pl.col("language").is_in(ENGLISH))
    if english.height == chunk.height:
        return _nlp_chunk(run_nlp, chunk, cfg)
    result, bad = _nlp_chunk(run_nlp, english, cfg)
    sentences, tokens = segment(chunk.filter(~pl.col("language").is_in(ENGLISH)).sort("article_id"))
    return NlpResult(
        sentences=pl.concat([result.sentences, schemas.conform(sentences, schemas.SENTENCES)]),
        tokens=pl.concat([result.tokens, schemas.conform(tokens, schemas.TOKENS)]),
        entity_mentions=result.entity_mentions,
        quotes=result.quotes,
    ), bad


def _processes_for(articles: int, cfg: Settings) -> int:
    """NER processes for a chunk: a second one only pays for itself with a couple of batches each."""
    return cfg.nlp_processes if articles >= 2 * SPACY_BATCH * cfg.nlp_processes else 1


def _nlp_chunk(run_nlp: Any, chunk: pl.DataFrame, cfg: Settings) -> tuple[Any, list[Rejection]]:
    """Run NLP on a chunk; if it raises, isolate the articles that break it.

    One pathological article must not block every nightly run: it is quarantined with the
    error and the rest of the chunk goes on.
    """
    n_process = _processes_for(chunk.height, cfg)
    try:
        return run_nlp(chunk, batch_size=SPACY_BATCH, n_process=n_process), []
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
    return run_nlp(rest, batch_size=SPACY_BATCH, n_process=n_process), bad


# Per-article NLP checks: at most this share of a batch's articles may fail them and be
# quarantined one by one; above it the batch is rejected whole (a systematic fault).
MAX_FAILING_ARTICLE_SHARE = 0.05
ARTICLE_CHECKS = ("spans_outside_text", "spans_not_matching_text", "duplicate_ids", "unknown_speakers",
                  "quotes_outside_sentences")


def validate_nlp(manifest_path: str) -> str:
    """Per-article span checks and row suites of the NLP output.

    A few articles that break a per-article check (say a quote attributed to a name that is
    not among the article's mentions) are quarantined with the failed checks as the reason
    and taken out of the batch, and the suites then run on the rest: at 100k articles a
    night, one odd article must not hold back the other 99,999 (the same rule as an article
    that makes the NLP itself raise). When more than ``MAX_FAILING_ARTICLE_SHARE`` of the
    batch fails (and more than one article: a night of ten articles may hold one odd one),
    it is a fault of the stage, not of the input: the whole batch is quarantined as before.
    """
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_nlp") as rec:
        frames = nlp_frames(m.articles_path, m.nlp_dir)
        checks = frames["nlp.article_checks"]
        failing = checks.filter(pl.any_horizontal(pl.col(*ARTICLE_CHECKS) > 0) | (pl.col("sentences") < 1)
                                | (pl.col("tokens") < 1))
        if 0 < failing.height <= max(1.0, MAX_FAILING_ARTICLE_SHARE * checks.height):
            _quarantine_articles(m, failing)
            rec.count(articles_quarantined=failing.height)
            frames = nlp_frames(m.articles_path, m.nlp_dir)
        rec.count(**{k: v.height for k, v in frames.items()})
        _gate(m, "nlp", _run_gx(m, "nlp", nlp_suite_frames(frames), rec), rec)
    return manifest_path


def _quarantine_articles(m: Manifest, failing: pl.DataFrame) -> None:
    """Move articles out of the batch into quarantine rows that say which checks they failed."""
    parts = [pl.when(pl.col(c) < 1).then(pl.lit(f"no {c}")) for c in ("sentences", "tokens")]
    parts += [pl.when(pl.col(c) > 0).then(pl.format(f"{c}={{}}", pl.col(c))) for c in ARTICLE_CHECKS]
    reasons = failing.select("article_id", pl.concat_str(parts, separator=", ", ignore_nulls=True).alias("detail"))
    paths = pl.read_parquet(m.articles_path, columns=["article_id", "source_path"])
    rows = [Rejection(path, "nlp_check_failed", f"per-article NLP checks failed: {detail}", aid)
            for aid, path, detail in paths.join(reasons, on="article_id").iter_rows()]
    bad_ids = failing.select("article_id")
    _move_to_quarantine(m, quarantine_frame(rows, m.batch_id, "validate_nlp", datetime.now(UTC)))
    for part in m.nlp_dir.glob("*/part-*.parquet"):
        _drop_articles(part, bad_ids)
    log.warning("[%s] validate_nlp: %d article(s) quarantined: %s", m.batch_id, len(rows),
                "; ".join(f"{r.article_id} {r.detail}" for r in rows[:5]))


def _failed_run_records(cfg: Settings, current: str) -> list[dict[str, Any]]:
    """Stage records of earlier runs that never published (failed, or found nothing new), for run_log."""
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
        _check_space(m, "load")
        warehouse.create_work_db(cfg.warehouse, m.work_db)
        retired = warehouse.retire_articles(m.work_db, m.retired_path, batch_id=m.batch_id, now=datetime.now(UTC))
        inserted = warehouse.load_batch(
            m.work_db,
            articles=m.articles_path,
            rejected=m.rejected_path,
            nlp_dir=m.nlp_dir,
            extra_quarantine=quarantine.pending_rows(cfg),
        )
        inserted.update(warehouse.load_ingest_tables(m.work_db, m.ingest_tables))
        with warehouse.connect(m.work_db) as con:
            imported = warehouse.append_run_log(con, _failed_run_records(cfg, m.batch_id))
        rec.count(**{f"{k}_inserted": v for k, v in inserted.items()}, failed_run_log_rows=imported,
                  articles_retired=retired)
    return manifest_path


def validate_warehouse(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_warehouse") as rec:
        with warehouse.connect(m.work_db, read_only=True) as con:
            frames = warehouse_frames(con, m.articles_path)
        rec.count(articles_total=int(frames["warehouse.integrity"]["articles"][0]))
        _gate(m, "warehouse", _run_gx(m, "warehouse", frames, rec), rec)
    return manifest_path


def dbt_build(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    cfg = m.cfg
    with record_stage(m, "dbt_build") as rec:
        _check_space(m, "dbt_build")
        try:
            # tests over the append-only detail tables check this batch's rows only: the batch
            # is named in the work database (build_batch), not in --vars, so that the parsed
            # project is the same every night and dbt reuses last night's parse (state/dbt-parse)
            warehouse.set_build_batch(m.work_db, m.batch_id)
            # in the dbt process warmed up while the first stages ran, when this run has one
            outcome, rec.detail["dbt_process"] = dbt_worker.run_build(
                nightly_build_request(cfg, m.work_db, m.run_dir / "dbt", progress=f"[{m.batch_id}] dbt build"))
            result = outcome.build
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
        unit_tests = sum(1 for n in result.nodes if n["resource_type"] == "unit_test")
        rec.count(models=models, tests=tests, unit_tests=unit_tests, passed=result.passed)
        rec.detail["slowest"] = sorted(result.nodes, key=lambda n: -n["seconds"])[:5]
        keys = ("name", "status", "max_loaded_at", "age_hours", "message")  # reported, never blocking
        rec.detail["freshness"] = [{k: n.get(k) for k in keys} for n in outcome.freshness.nodes]
        warehouse.set_build_batch(m.work_db, None)  # the published schema stays what analysts know
    return manifest_path


def validate_marts(manifest_path: str) -> str:
    m = Manifest.load(manifest_path)
    with record_stage(m, "validate_marts") as rec:
        with warehouse.connect(m.work_db, read_only=True) as con:
            frames = mart_frames(con, m.run_dir / "marts")
        rec.count(**{k: v.height for k, v in frames.items()})
        # tonight's drift measures: the next run compares itself with them (run_log), the dashboard shows them
        rec.detail["drift"] = frames["marts.drift"].to_dicts()[0]
        _gate(m, "marts", _run_gx(m, "marts", frames, rec), rec)
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
        snapshot_id = _free_snapshot_id(cfg.warehouse, m.batch_id)
        rec.detail["snapshots"] = warehouse.publish(m.work_db, cfg.warehouse, snapshot_id=snapshot_id,
                                                    batch_id=m.batch_id, new_articles=new_articles,
                                                    keep=cfg.keep_snapshots)
        atomic_write_text(m.run_dir / OUTCOME, json.dumps(
            {"batch_id": m.batch_id, "status": "published", "snapshot_id": snapshot_id,
             "new_articles": new_articles, "warehouse": str(cfg.warehouse), "at": datetime.now(UTC).isoformat()}))
    return manifest_path


def published_snapshot(manifest_path: str) -> dict[str, Any]:
    """What a published run made: snapshot id, batch, new articles, warehouse (the Asset event's extra)."""
    outcome = read_outcome(Manifest.load(manifest_path).run_dir) or {}
    return {k: outcome.get(k) for k in ("snapshot_id", "batch_id", "new_articles", "warehouse")}


def _free_snapshot_id(warehouse_path: Path, batch_id: str) -> str:
    """The batch id, suffixed when that snapshot exists already.

    A re-run of an interval is the same batch (same run id), e.g. after a run killed just
    after it published: its new snapshot must not collide with the one already on disk.
    """
    from pipeline import lake, snapshots

    if lake.is_lake(warehouse_path):
        taken = lambda c: lake.snapshot_exists(warehouse_path, c)  # noqa: E731
    else:
        folder = snapshots.snapshot_dir(warehouse_path)
        taken = lambda c: (folder / f"{c}{snapshots.SUFFIX}").exists()  # noqa: E731
    candidate, n = batch_id, 1
    while taken(candidate):
        candidate, n = f"{batch_id}.{n}", n + 1
    return candidate


def finalize(manifest_path: str) -> dict[str, Any]:
    """Always runs last: write the outcome of a failed run, drop its work database, give back the run lock."""
    m = Manifest.load(manifest_path)
    try:
        return _finalize(m)
    finally:
        runlock.release(m.cfg.warehouse, m.batch_id)


# What a finished run no longer needs: the batch is in the published warehouse, or in the
# quarantine folder, or (a failed run) read again from the inputs by the next run. Stage
# records, validation reports and the refused inputs stay for run_log and the audit trail.
BULKY = ("nlp", "articles.parquet", "minhash.parquet", "ingest-parts", "ingest-dedup", "duckdb_tmp", "marts")


def _finalize(m: Manifest) -> dict[str, Any]:
    warehouse.remove_db(m.work_db)  # first: on a full disk, writing the outcome may fail
    for name in BULKY:
        path = m.run_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    outcome_path = m.run_dir / OUTCOME
    if outcome_path.exists():
        return json.loads(outcome_path.read_text())
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
    return outcome


def read_outcome(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / OUTCOME
    return json.loads(path.read_text()) if path.exists() else None
