"""The alerts log: one JSON object per line, appended by the notifier, read by the CLI and dashboard.

Kept apart from :mod:`pipeline.alerts` (which needs Airflow's notifier base class) so that
readers such as the dashboard do not import Airflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (one ``write`` of a whole line, so concurrent writers never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")


def read_alerts(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` alert lines (newest first); unreadable lines are skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out[::-1]
