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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
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
            else:
                out[name] = int(value)
        if isinstance(out.get("warehouse"), Lake):
            out["lake_data"] = out["warehouse"].data_path
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, written into each run's manifest."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: (str(v) if isinstance(v, Path | Lake) else v) for k, v in values.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return cls._coerce(dict(data))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


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
