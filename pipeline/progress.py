"""Progress lines for long stages: how far, how fast, and an estimate of the time left.

A stage calls :meth:`Progress.update` as often as it likes; a line is logged at most every
``every`` seconds (and at the end), so a 100k-article ingest prints a few dozen lines, not
a hundred thousand. The estimate is the plain rate so far (done / elapsed), good enough to
tell twenty seconds from twenty minutes. The rate is measured from the first update, not
from the start, so set-up time (dbt parsing the project, spaCy loading) does not inflate it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("newsdesk")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """``[batch] ingest: 40/100 files read (40%), 40,000 articles, ~12 s left``."""

    def __init__(self, prefix: str, total: int | None, unit: str, *, every: float = 5.0) -> None:
        self.prefix, self.total, self.unit, self.every = prefix, total, unit, every
        self.last = time.monotonic()
        self.first: tuple[float, int] | None = None  # (time, done) of the first update
        self.done = 0

    def eta(self) -> float | None:
        if not self.total or self.first is None:
            return None
        elapsed, progressed = time.monotonic() - self.first[0], self.done - self.first[1]
        if progressed <= 0 or elapsed <= 0:
            return None
        return elapsed / progressed * max(self.total - self.done, 0)

    def line(self, **extra: Any) -> str:
        where = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        more = "".join(f", {v:,} {k}" if isinstance(v, int) else f", {k} {v}" for k, v in extra.items())
        eta = self.eta()
        left = f", ~{_duration(eta)} left" if eta is not None and self.done < (self.total or 0) else ""
        return f"{self.prefix}: {where} {self.unit}{share}{more}{left}"

    def update(self, done: int, *, force: bool = False, **extra: Any) -> None:
        self.done = done
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
            self.last = now
        finished = self.total is not None and done >= self.total
        if force or finished or now - self.last >= self.every:
            self.last = now
            log.info(self.line(**extra))
