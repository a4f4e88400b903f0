"""``newsdesk docs``: the dbt documentation site of the published warehouse, as one HTML file.

``dbt docs generate --static`` reads the project (models, sources, tests, exposures and every
column description) and the catalog (column types, row counts) of the current snapshot,
opened read-only through the profile's ``published`` target, and writes a self-contained
``static_index.html``: open it from disk, no server needed, nothing is fetched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline import lake, snapshots
from pipeline.config import Settings
from pipeline.dbt import run_dbt


def generate_docs(settings: Settings, out_dir: Path | None = None) -> Path:
    """Build the site for the current snapshot; return the path of its ``index.html``."""
    work = settings.state_dir / "docs"
    if lake.is_lake(settings.warehouse):  # the version of the latest publish commit, read-only
        with lake.connect(settings.warehouse, read_only=True) as con:
            version = lake.published_version(con)
        if version is None:
            raise snapshots.NothingPublished(f"nothing published yet at {settings.warehouse}")
        run_dbt(["docs", "generate", "--static"], project_dir=settings.dbt_project_dir, database=settings.warehouse,
                work_dir=work, lake_version=version)
    else:
        snapshot = snapshots.resolve(settings.warehouse)
        if snapshot is None:
            raise snapshots.NothingPublished(f"nothing published yet at {settings.warehouse}; run `newsdesk run` first")
        run_dbt(["docs", "generate", "--static"], project_dir=settings.dbt_project_dir, database=snapshot,
                work_dir=work, target="published")
    out_dir = out_dir or work / "site"
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    shutil.copyfile(work / "target" / "static_index.html", index)
    return index
