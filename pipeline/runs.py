"""The run folder: manifest, per-stage records, and the files stages hand to each other.

Airflow tasks exchange only the manifest path through XCom; everything else a stage needs
(settings, where the previous stage wrote its output) is in the manifest, so a task can be
retried, or run on another worker that sees the same state folder, without hidden state.

Layout of ``<state>/runs/<batch_id>/``::

    manifest.json           settings + identity of the run (written once by ingest)
    articles.parquet        new articles of this batch (ARTICLES contract)
    rejected.parquet        ingest-time quarantine rows (QUARANTINE contract)
    duplicates.parquet      copies linked to their canonical article (ARTICLE_DUPLICATES)
    inputs.parquet          the inputs read, for the seen-inputs manifest (INGEST_INPUTS)
    minhash.parquet         MinHash signatures of the new articles (ARTICLE_MINHASH)
    nlp/<table>/part-*.parquet   NLP output, one part per chunk of articles
    nlp-parts/plan.json     the parts of the batch (article ranges); part-*.done.json: a part finished
    nlp-parts/<table>/part-*.parquet   a part's mentions and quotes before actor linking, its failures
    stages/<stage>.json     timing, row counts and status of each stage
    validation/<stage>.json GX results of each validation stage
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.lake import Lake

log = logging.getLogger("newsdesk")

STAGES = (
    "ingest",
    "validate_raw",
    "nlp_part",  # one record per part of the batch (mapped tasks), then "nlp": the actor linking and totals
    "nlp",
    "validate_nlp",
    "load",
    "validate_warehouse",
    "dbt_build",
    "validate_marts",
    "publish",
)


def batch_id_for(run_id: str, logical_date: datetime | None) -> str:
    """A file-system-safe id that is the same on every retry of the same Airflow run."""
    stamp = (logical_date or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha1(run_id.encode()).hexdigest()[:8]
    return f"{stamp}_{digest}"


@dataclass
class Manifest:
    """Identity and locations of one run; the only thing passed between tasks (by path)."""

    batch_id: str
    run_id: str
    logical_date: str | None
    data_interval_start: str | None
    data_interval_end: str | None
    settings: dict[str, Any]
    created_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- locations -------------------------------------------------------------------
    @property
    def cfg(self) -> Settings:
        return Settings.from_dict(self.settings)

    @property
    def run_dir(self) -> Path:
        return self.cfg.runs_dir / self.batch_id

    @property
    def path(self) -> Path:
        return self.run_dir / "manifest.json"

    @property
    def articles_path(self) -> Path:
        return self.run_dir / "articles.parquet"

    @property
    def rejected_path(self) -> Path:
        return self.run_dir / "rejected.parquet"

    @property
    def ingest_tables(self) -> dict[str, Path]:
        """Files of the tables the ingest stage adds beside articles, by warehouse table."""
        return {"article_duplicates": self.run_dir / "duplicates.parquet",
                "ingest_inputs": self.run_dir / "inputs.parquet",
                "article_minhash": self.run_dir / "minhash.parquet"}

    @property
    def retired_path(self) -> Path:
        """Published articles this batch's changed inputs supersede (article_id, superseded_by)."""
        return self.run_dir / "retired.parquet"

    @property
    def cutoff(self) -> datetime | None:
        """Inputs modified at or after this instant belong to a later data interval."""
        value = self.extra.get("cutoff")
        return datetime.fromisoformat(value) if value else None

    @property
    def nlp_dir(self) -> Path:
        return self.run_dir / "nlp"

    def nlp_parts(self, table: str) -> Path:
        return self.nlp_dir / table

    @property
    def nlp_work_dir(self) -> Path:
        """What the mapped NLP parts hand to the linking task (``nlp-parts/``)."""
        return self.run_dir / "nlp-parts"

    @property
    def work_db(self) -> Path | Lake:
        """The run's work database: a file beside the warehouse, or a DuckLake's own head."""
        return work_db_for(self.cfg)

    # ---- persistence -----------------------------------------------------------------
    def save(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(asdict(self), indent=2, sort_keys=True))
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        return cls(**json.loads(Path(path).read_text()))

    # ---- stage records ---------------------------------------------------------------
    def stage_records(self) -> list[dict[str, Any]]:
        """All stage records of this run, in pipeline order."""
        folder = self.run_dir / "stages"
        records = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.exists() else []
        order = {s: i for i, s in enumerate(STAGES)}
        return sorted(records, key=lambda r: (order.get(r["stage"], 99), r["started_at"]))


def work_db_for(cfg: Settings) -> Path | Lake:
    """Where a warehouse's runs build: the same file name every night.

    Runs of one warehouse never overlap (the run lock), and a constant path keeps dbt's
    profile, and so its parsed project, the same from night to night (dbt reparses
    everything when the database path changes). The name is the warehouse's own, so two
    warehouses in one folder do not share it. A DuckLake's work is its own head.
    """
    if isinstance(cfg.warehouse, Lake):
        return cfg.warehouse
    stem = re.sub(r"[^A-Za-z0-9_]", "_", cfg.warehouse.stem)
    if stem != cfg.warehouse.stem:  # e.g. "news-v2" and "news_v2" beside each other
        stem += "_" + hashlib.sha1(cfg.warehouse.name.encode()).hexdigest()[:8]
    return cfg.build_dir / f"{stem}_work.duckdb"


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed task never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_parquet_atomic(frame: Any, path: Path) -> None:
    """Write a Polars frame via a temporary file and rename (a kill leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)


def sink_parquet_atomic(frame: Any, path: Path, *, row_group_size: int = 1000) -> None:
    """Stream a Polars LazyFrame to parquet via a temporary file and rename (never whole in memory).

    Polars' default row group is the whole output, which its parquet sink buffers: memory
    then grows with the rows. Small row groups keep the sink's memory at one group's.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.sink_parquet(tmp, engine="streaming", row_group_size=row_group_size)
    os.replace(tmp, path)


KILL_HOOK_ENV = "NEWSDESK_FAULT_KILL_STAGE"


def _fault_hook(stage: str) -> None:
    """Fault-injection hook for the kill tests (tests/test_fault_injection.py), inert otherwise.

    When ``NEWSDESK_FAULT_KILL_STAGE`` names this stage, the process SIGKILLs itself after
    the stage's work is done but before its success is recorded: the worst moment, when
    outputs (files, the work database, even the published warehouse for ``publish``) are
    written and nothing says so yet.
    """
    if os.environ.get(KILL_HOOK_ENV) == stage:
        import signal

        log.warning("fault injection: SIGKILL inside stage %s", stage)
        os.kill(os.getpid(), signal.SIGKILL)


def _status_mb(field_name: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB; None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _reset_peak_rss() -> None:
    """Start a new peak-RSS window for this process (Linux: ``5`` > ``/proc/self/clear_refs``).

    Under ``dag.test`` every task runs in one process, so without the reset a stage's
    peak would be the largest of all the stages before it.
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def release_memory() -> None:
    """Hand freed heap back to the OS after a stage (glibc ``malloc_trim``, Arrow's pool).

    Under ``dag.test`` the next stage runs in the same process; without this, the pages a
    finished stage freed stay resident and add to every later stage's peak. pandas frames
    for GX are built through pyarrow, whose own allocator keeps what it freed.

    What survives the collection is then frozen (``gc.freeze``): the libraries Airflow, dbt,
    GX and spaCy leave in the process are millions of objects, and a full collection walked
    all of them after every stage (0.5–1 s each, ~7 s a night). Later collections walk only
    what was made since; garbage is still freed as it was (by reference counting, and by
    collection for cycles made after the freeze).
    """
    gc.collect()
    gc.freeze()
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


# Objects allocated (net) between two youngest-generation collections when a whole run shares
# one process (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc_for_one_process_run() -> None:
    """Before ``dag.test`` runs every task here: freeze the heap imported so far, collect less often.

    Measured on a one-article night (gc callbacks, machine under load): the collector took
    9.0 s of ~72 s, 6.5 s of it in 27 full collections, each walking every object of Airflow,
    then of dbt, GX and spaCy as they were imported. Freezing what Airflow and the DAG file
    left (none of it is garbage the run could free): 6.5 s; with a young-generation threshold
    of 10,000 instead of 700 (each import creates tens of thousands of objects that live on):
    4.3 s. Garbage is still freed: by reference counting at once, and cycles by the
    collector, a little later than before (a few MB at most).
    """
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def stage_memory() -> dict[str, float | None]:
    """This process's RSS now and its peak since the stage began, plus its children's peak.

    ``children_peak_rss_mb`` is the largest RSS of any reaped child (the NER workers), over
    the process's life, not only this stage (the kernel keeps no per-window value).
    """
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"rss_mb": _status_mb("VmRSS"), "peak_rss_mb": _status_mb("VmHWM"),
            "children_peak_rss_mb": round(children, 1)}


class StageRecord:
    """Mutable record a stage fills in (row counts, notes) while it runs."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.rows: dict[str, int] = {}
        self.detail: dict[str, Any] = {}

    def count(self, **rows: int) -> None:
        self.rows.update({k: int(v) for k, v in rows.items()})


def worker_identity() -> dict[str, Any]:
    """Which worker runs this: the Celery node name (``worker-1@host``, set by ``newsdesk cluster``
    per worker) or the host name, and the process."""
    import socket

    return {"hostname": os.environ.get("NEWSDESK_WORKER_HOSTNAME") or socket.gethostname(), "pid": os.getpid()}


@contextmanager
def record_stage(manifest: Manifest, stage: str, *, key: str | None = None) -> Iterator[StageRecord]:
    """Time a stage and write ``stages/<key or stage>.json`` whether it succeeds or fails.

    The record is what the run-log table and the CLI summary are built from; ``key`` names
    the records of a stage that runs several times in a run (the NLP parts).
    """
    from pipeline import runlock

    runlock.touch(manifest.cfg.warehouse, manifest.batch_id, manifest.run_id)  # this process now works for the run
    rec = StageRecord(stage)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    status, error = "success", None
    log.info("[%s] %s: started", manifest.batch_id, stage)
    _reset_peak_rss()
    rss_start = _status_mb("VmRSS")
    try:
        yield rec
        _fault_hook(stage)
    except BaseException as exc:
        from pipeline import diskspace

        if diskspace.is_disk_full(exc) and not isinstance(exc, diskspace.DiskFull):  # say so, with the numbers
            full = diskspace.explain(stage, exc, [manifest.run_dir, manifest.cfg.build_dir])
            status, error = "failed", f"{type(full).__name__}: {full}"
            raise full from exc
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        seconds = round(time.perf_counter() - t0, 3)
        rec.detail.setdefault("hostname", worker_identity()["hostname"])
        rec.detail["memory"] = {"rss_start_mb": rss_start, **stage_memory()}
        release_memory()
        payload = {
            "batch_id": manifest.batch_id,
            "run_id": manifest.run_id,
            "stage": stage,
            "status": status,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "seconds": seconds,
            "rows": rec.rows,
            "detail": rec.detail,
            "error": error,
        }
        atomic_write_text(manifest.run_dir / "stages" / f"{key or stage}.json", json.dumps(payload, indent=2))
        counts = ", ".join(f"{k}={v}" for k, v in rec.rows.items())
        log.info("[%s] %s: %s in %.2fs %s", manifest.batch_id, stage, status, seconds, counts)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]
