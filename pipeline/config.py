"""Where things live, resolved once from the environment (and CLI/DAG overrides).

Tasks never rely on a current directory or a module-level global: every path a task uses
comes from a :class:`Settings` built here and written into the run's manifest, so that the
same DAG runs under ``dag.test()``, ``airflow standalone`` or a Celery/Kubernetes executor
(where the state folder and warehouse must then sit on storage every worker sees).

Environment variables (all optional):

``NEWSDESK_PROJECT_DIR``   repository root (dbt_project/, expectations/, dags/); default: this checkout
``NEWSDESK_INPUT``         folder of input articles; default ``<project>/seeds``
``NEWSDESK_WAREHOUSE``     published DuckDB file analysts read; default ``<project>/warehouse/newsdesk.duckdb``;
                           or a DuckLake warehouse, ``ducklake:postgres:dbname=... host=... user=...``
                           (``pipeline.lake``; the password from PGPASSWORD/PGPASSFILE)
``NEWSDESK_LAKE_DATA``     the DuckLake's data folder (storage every worker sees); needed with ``ducklake:``
``NEWSDESK_STATE``         run folders, quarantine, Airflow home for the CLI; default ``<project>/.newsdesk``
``NEWSDESK_MAX_FILE_BYTES``   larger input files are quarantined; default 20 MiB
``NEWSDESK_NLP_BATCH``     articles per NLP part, one Airflow mapped task each (bounds memory: the peak of
                           a run is the peak of one part, whatever N; more parts spread over more workers);
                           default 1000
``NEWSDESK_NLP_PROCESSES`` spaCy worker processes; default 2 (or the CPU count, if lower): NER is
                           ~95 % of the NLP stage and scales ~1.9× on two cores
``NEWSDESK_KEEP_SNAPSHOTS`` published snapshots kept besides the current one (for readers still on them); default 2
``NEWSDESK_MAX_RECORDS_PER_FILE`` a JSON/JSONL/CSV file or feed with more records is refused (too_many_records);
                           default 50,000
``NEWSDESK_SOURCE_ROOTS``  folders (``:``-separated) a sources.yaml found in the input folder may read besides
                           its own folder; default none
``NEWSDESK_ALLOW_FETCH``   ``1`` lets a sources.yaml found in the input folder fetch feeds and pages; default off
``NEWSDESK_FETCH_PRIVATE`` networks (CIDR, comma-separated) that may be fetched although private or loopback
                           (an intranet feed server); default none
``NEWSDESK_MIN_FREE_MB``   free disk space a heavy stage keeps in reserve beyond its estimate; default 64

Operations (read where the scheduler parses the DAG and where alerts are sent; see :class:`Operations`):

``NEWSDESK_TASK_TIMEOUTS``       per-task ``execution_timeout`` in minutes, e.g. ``nlp=300,dbt_build=90``
                                 (over the defaults in ``TASK_TIMEOUT_MINUTES``)
``NEWSDESK_DAGRUN_TIMEOUT_HOURS`` a run still going after this is failed, so the next night can start; default 12
``NEWSDESK_PUBLISH_BY``          UTC time of day by which the night must be published (deadline alert), ``HH:MM``;
                                 default 06:30, ``off`` disables it
``NEWSDESK_ALERTS_LOG``          alert lines (JSON, one per alert); default ``<state>/alerts.log``
``NEWSDESK_ALERT_WEBHOOK``       URL an alert is POSTed to as JSON (Slack-style ``text`` included)
``NEWSDESK_ALERT_SMTP``          ``host:port`` of a mail server alerts are sent through
``NEWSDESK_ALERT_EMAIL_TO``      comma-separated recipients; ``NEWSDESK_ALERT_EMAIL_FROM`` the sender
``NEWSDESK_ALERT_SMTP_USER``, ``NEWSDESK_ALERT_SMTP_PASSWORD``, ``NEWSDESK_ALERT_SMTP_STARTTLS`` (1/0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from pipeline.lake import SCHEME as LAKE_SCHEME
from pipeline.lake import Lake

PACKAGE_DIR = Path(__file__).resolve().parent


def _default_project_dir() -> Path:
    return Path(os.environ.get("NEWSDESK_PROJECT_DIR") or PACKAGE_DIR.parent).resolve()


@dataclass(frozen=True)
class Settings:
    """Resolved locations and knobs of one pipeline run (all paths absolute)."""

    project_dir: Path
    input_dir: Path
    warehouse: Path | Lake  # a DuckDB file (the default), or a DuckLake
    state_dir: Path
    max_file_bytes: int = 20 * 1024 * 1024
    nlp_batch_size: int = 1000
    nlp_processes: int = min(2, os.cpu_count() or 1)
    keep_snapshots: int = 2
    max_records_per_file: int = 50_000
    source_roots: str = ""
    allow_fetch: bool = False
    fetch_private: str = ""
    min_free_mb: int = 64
    lake_data: Path | None = None

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def gx_project_dir(self) -> Path:
        return self.project_dir / "expectations"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def quarantine_dir(self) -> Path:
        return self.state_dir / "quarantine"

    @property
    def build_dir(self) -> Path:
        """Work databases live beside the published file so that publishing is one rename.

        (A DuckLake's work is its own head; the folder then only holds scratch files.)
        """
        if isinstance(self.warehouse, Lake):
            return self.state_dir / "build"
        return self.warehouse.parent / ".build"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Build settings from ``NEWSDESK_*`` variables; non-None ``overrides`` win."""
        project = Path(overrides.pop("project_dir", None) or _default_project_dir()).resolve()
        env = os.environ
        values: dict[str, Any] = {
            "project_dir": project,
            "input_dir": env.get("NEWSDESK_INPUT") or project / "seeds",
            "warehouse": env.get("NEWSDESK_WAREHOUSE") or project / "warehouse" / "newsdesk.duckdb",
            "state_dir": env.get("NEWSDESK_STATE") or project / ".newsdesk",
            "max_file_bytes": env.get("NEWSDESK_MAX_FILE_BYTES") or cls.max_file_bytes,
            "nlp_batch_size": env.get("NEWSDESK_NLP_BATCH") or cls.nlp_batch_size,
            "nlp_processes": env.get("NEWSDESK_NLP_PROCESSES") or cls.nlp_processes,
            "keep_snapshots": env.get("NEWSDESK_KEEP_SNAPSHOTS") or cls.keep_snapshots,
            "max_records_per_file": env.get("NEWSDESK_MAX_RECORDS_PER_FILE") or cls.max_records_per_file,
            "source_roots": env.get("NEWSDESK_SOURCE_ROOTS") or cls.source_roots,
            "allow_fetch": env.get("NEWSDESK_ALLOW_FETCH") or cls.allow_fetch,
            "fetch_private": env.get("NEWSDESK_FETCH_PRIVATE") or cls.fetch_private,
            "min_free_mb": env.get("NEWSDESK_MIN_FREE_MB") or cls.min_free_mb,
            "lake_data": env.get("NEWSDESK_LAKE_DATA") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._coerce(values)

    @classmethod
    def _coerce(cls, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name == "warehouse":
                out[name] = _warehouse(value, values.get("lake_data"))
            elif name in ("project_dir", "input_dir", "state_dir"):
                out[name] = Path(value).expanduser().resolve()
            elif name == "lake_data":
                out[name] = Path(value).expanduser().resolve() if value else None
            elif isinstance(known[name].default, bool):
                out[name] = _flag(name, value)
            elif isinstance(known[name].default, str):
                out[name] = str(value)
            else:
                out[name] = int(value)
        if isinstance(out.get("warehouse"), Lake):
            out["lake_data"] = out["warehouse"].data_path
        return cls(**out)

    @property
    def source_policy(self) -> Any:
        """What a sources.yaml found in the input folder may do (pipeline.sources.Policy)."""
        from pipeline.sources import Policy

        return Policy.from_settings(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, written into each run's manifest."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: (str(v) if isinstance(v, Path | Lake) else v) for k, v in values.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return cls._coerce(dict(data))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _flag(name: str, value: Any) -> bool:
    """A yes/no setting, strictly: a typo must not read as "on"."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"setting {name} must be 1/0, true/false, yes/no or on/off, not {value!r}")


# Per-task execution_timeout (minutes). Generous for a first load of a large corpus (the
# whole 100k-article first run took ~23 min of NLP and ~1.5 min of dbt here): a timeout is
# for a task that hangs, not one that is slow; NEWSDESK_TASK_TIMEOUTS tightens or widens them.
TASK_TIMEOUT_MINUTES: dict[str, int] = {
    "start_run": 10, "ingest": 90, "anything_new": 10, "validate_raw": 30, "nlp_plan": 10, "nlp_part": 120,
    "nlp_link": 60, "validate_nlp": 60,
    "load": 60, "validate_warehouse": 30, "dbt_build": 90, "validate_marts": 30, "publish": 15, "finalize": 15,
    "export_marts": 30,
}
ENVIRONMENT: dict[str, str] = {  # every variable newsdesk reads (listed by `newsdesk --help`)
    "NEWSDESK_INPUT": "input folder or sources.yaml (default seeds/)",
    "NEWSDESK_WAREHOUSE": "published DuckDB file (default warehouse/newsdesk.duckdb)",
    "NEWSDESK_STATE": "runs, quarantine, alerts, GX results, Airflow home (default .newsdesk/)",
    "NEWSDESK_PROJECT_DIR": "repository root with dbt_project/, expectations/, dags/ (default: this checkout)",
    "NEWSDESK_NLP_BATCH": "articles per NLP chunk (default 1000)",
    "NEWSDESK_NLP_PROCESSES": "spaCy worker processes (default 2)",
    "NEWSDESK_NER_MODEL": "NER model folder or package (default models/newsdesk_ner)",
    "NEWSDESK_MAX_FILE_BYTES": "larger inputs are quarantined (default 20 MiB)",
    "NEWSDESK_MAX_RECORDS_PER_FILE": "a file or feed with more records is refused as too_many_records (default 50,000)",
    "NEWSDESK_SOURCE_ROOTS": "folders (:-separated) a sources.yaml found in the input may read besides its own",
    "NEWSDESK_ALLOW_FETCH": "1 lets a sources.yaml found in the input folder fetch feeds and pages (default off)",
    "NEWSDESK_FETCH_PRIVATE": "networks (CIDR, comma-separated) that may be fetched although private or loopback",
    "NEWSDESK_MIN_FREE_MB": "free disk space a heavy stage keeps in reserve beyond its estimate (default 64)",
    "NEWSDESK_LAKE_DATA": "data folder of a DuckLake warehouse (NEWSDESK_WAREHOUSE=ducklake:postgres:...)",
    "NEWSDESK_RUN_LOCK_GRACE": "seconds a scheduler run's lock may go untouched before another run takes it (900)",
    "NEWSDESK_KEEP_SNAPSHOTS": "older snapshots kept for readers (default 2)",
    "NEWSDESK_DUCKDB_MEMORY": "DuckDB memory limit per connection (default 512MB)",
    "NEWSDESK_DBT_WARM": "0: no warm dbt process; `newsdesk run`'s dbt_build then imports and parses dbt in-process",
    "NEWSDESK_GX_WARM": "0: no warm GX process; `newsdesk run`'s four validation stages then run GX in-process",
    "NEWSDESK_DBT_THREADS": "dbt threads (default 1)",
    "NEWSDESK_DBT_FULL_REFRESH": "1: rebuild dbt's incremental tables in full on the next run (after a schema change)",
    "NEWSDESK_TASK_RETRIES": "Airflow retries per task (default 2)",
    "NEWSDESK_RETRY_DELAY_SECONDS": "first retry delay (default 120; the CLI uses 5)",
    "NEWSDESK_TASK_TIMEOUTS": "per-task timeouts in minutes, e.g. nlp=300,dbt_build=90",
    "NEWSDESK_DAGRUN_TIMEOUT_HOURS": "a run still going after this fails (default 12)",
    "NEWSDESK_PUBLISH_BY": "UTC HH:MM by which a night must be published, or off (default 06:30)",
    "NEWSDESK_ALERTS_LOG": "alert lines, JSON (default <state>/alerts.log)",
    "NEWSDESK_ALERT_WEBHOOK": "URL alerts are POSTed to (JSON with a Slack-style text)",
    "NEWSDESK_ALERT_SMTP": "host:port of the mail server for alerts",
    "NEWSDESK_ALERT_EMAIL_TO": "comma-separated alert recipients",
    "NEWSDESK_ALERT_EMAIL_FROM": "alert sender (default newsdesk@localhost)",
    "NEWSDESK_ALERT_SMTP_USER": "SMTP login, with NEWSDESK_ALERT_SMTP_PASSWORD",
    "NEWSDESK_ALERT_SMTP_PASSWORD": "SMTP password",
    "NEWSDESK_ALERT_SMTP_STARTTLS": "1 to STARTTLS before login",
    "NEWSDESK_DRIFT_TOLERANCE": "largest nightly move of a drift share before a warning (default 0.10)",
    "NEWSDESK_EXPORT_DIR": "where newsdesk_marts_export writes (default <state>/exports)",
    "NEWSDESK_SHARED_DATA": "public corpora for tests and benchmarks (default ../shared/data)",
}


@dataclass(frozen=True)
class Operations:
    """How the scheduler bounds a run and whom it tells when a night goes wrong.

    Read from the environment where the DAG file is parsed (timeouts, deadline) and where
    an alert is sent (the notifier reads it at alert time, so a changed webhook needs no
    DAG reload). Kept apart from :class:`Settings`, which is per run and goes into the
    manifest: none of this changes what a run computes.
    """

    task_timeouts: dict[str, timedelta] = field(default_factory=dict)
    dagrun_timeout: timedelta = timedelta(hours=12)
    publish_by: time | None = time(6, 30)
    alerts_log: Path | None = None
    webhook: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    email_to: tuple[str, ...] = ()
    email_from: str = "newsdesk@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Operations:
        """Parse the ``NEWSDESK_*`` operations variables; a malformed value raises ValueError naming it."""
        env = dict(os.environ if env is None else env)
        minutes = dict(TASK_TIMEOUT_MINUTES)
        for item in filter(None, (x.strip() for x in env.get("NEWSDESK_TASK_TIMEOUTS", "").split(","))):
            task, eq, value = item.partition("=")
            if not eq or not value.strip().isdigit() or int(value) <= 0:
                raise ValueError(f"NEWSDESK_TASK_TIMEOUTS: {item!r} is not TASK=MINUTES")
            minutes[task.strip()] = int(value)
        publish_by = env.get("NEWSDESK_PUBLISH_BY", "06:30").strip()
        try:
            by = None if publish_by.lower() in ("", "off", "none") else time.fromisoformat(publish_by)
        except ValueError as exc:
            raise ValueError(f"NEWSDESK_PUBLISH_BY: {publish_by!r} is not HH:MM (UTC) or 'off'") from exc
        smtp = env.get("NEWSDESK_ALERT_SMTP", "").strip()
        host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
        state = Path(env.get("NEWSDESK_STATE") or _default_project_dir() / ".newsdesk")
        return cls(
            task_timeouts={k: timedelta(minutes=v) for k, v in minutes.items()},
            dagrun_timeout=timedelta(hours=float(env.get("NEWSDESK_DAGRUN_TIMEOUT_HOURS") or 12)),
            publish_by=by,
            alerts_log=Path(env.get("NEWSDESK_ALERTS_LOG") or state / "alerts.log").expanduser(),
            webhook=env.get("NEWSDESK_ALERT_WEBHOOK") or None,
            smtp_host=host or None,
            smtp_port=int(port or 25),
            email_to=tuple(a.strip() for a in env.get("NEWSDESK_ALERT_EMAIL_TO", "").split(",") if a.strip()),
            email_from=env.get("NEWSDESK_ALERT_EMAIL_FROM") or cls.email_from,
            smtp_user=env.get("NEWSDESK_ALERT_SMTP_USER") or None,
            smtp_password=env.get("NEWSDESK_ALERT_SMTP_PASSWORD") or None,
            smtp_starttls=env.get("NEWSDESK_ALERT_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes"),
        )

    def publish_deadline_after(self, scheduled: time) -> timedelta | None:
        """How long after a run scheduled at ``scheduled`` (UTC) its night must be published."""
        if self.publish_by is None:
            return None
        start = timedelta(hours=scheduled.hour, minutes=scheduled.minute)
        by = timedelta(hours=self.publish_by.hour, minutes=self.publish_by.minute)
        return (by - start) % timedelta(days=1) or timedelta(days=1)


def _warehouse(value: Any, lake_data: Any) -> Path | Lake:
    """A DuckLake spec (``ducklake:...``) or a DuckDB file path.

    A file path is a symlink to the current snapshot: its folder is resolved, not the link.
    """
    if isinstance(value, Lake):
        return value
    if str(value).startswith(LAKE_SCHEME):
        return Lake.parse(str(value), lake_data)
    path = Path(value).expanduser()
    return path.parent.resolve() / path.name
