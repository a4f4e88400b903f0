"""Where things live, resolved once from the environment (and CLI/DAG overrides).

Tasks never rely on a current directory or a module-level global: every path a task uses
comes from a :class:`Settings` built here and written into the run's manifest, so that the
same DAG runs under ``dag.test()``, ``airflow standalone`` or a Celery/Kubernetes executor
(where the state folder and warehouse must then sit on storage every worker sees).

Environment variables (all optional):

``NEWSDESK_PROJECT_DIR``   repository root (dbt_project/, expectations/, dags/); default: this checkout
``NEWSDESK_INPUT``         folder of input articles; default ``<project>/seeds``
``NEWSDESK_WAREHOUSE``     published DuckDB file analysts read; default ``<project>/warehouse/newsdesk.duckdb``
``NEWSDESK_STATE``         run folders, quarantine, Airflow home for the CLI; default ``<project>/.newsdesk``
``NEWSDESK_MAX_FILE_BYTES``   larger input files are quarantined; default 20 MiB
``NEWSDESK_NLP_BATCH``     articles per NLP chunk (bounds memory: the peak of a run is the peak of one
                           chunk, whatever N); default 1000
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
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def _default_project_dir() -> Path:
    return Path(os.environ.get("NEWSDESK_PROJECT_DIR") or PACKAGE_DIR.parent).resolve()


@dataclass(frozen=True)
class Settings:
    """Resolved locations and knobs of one pipeline run (all paths absolute)."""

    project_dir: Path
    input_dir: Path
    warehouse: Path
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
        """Work databases live beside the published file so that publishing is one rename."""
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
            if name == "warehouse":  # a symlink to the current snapshot: resolve its folder, not the link
                path = Path(value).expanduser()
                out[name] = path.parent.resolve() / path.name
            elif name in ("project_dir", "input_dir", "state_dir"):
                out[name] = Path(value).expanduser().resolve()
            elif isinstance(known[name].default, bool):
                out[name] = _flag(name, value)
            elif isinstance(known[name].default, str):
                out[name] = str(value)
            else:
                out[name] = int(value)
        return cls(**out)

    @property
    def source_policy(self) -> Any:
        """What a sources.yaml found in the input folder may do (pipeline.sources.Policy)."""
        from pipeline.sources import Policy

        return Policy.from_settings(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, written into each run's manifest."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

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
