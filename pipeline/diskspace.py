"""Free disk space: checked before the stages that write a lot, and named when it runs out.

With the state on a 40 MB tmpfs, a night failed deep inside DuckDB with a bare "database or
disk is full", left its 15 MB work database behind, and so the next night failed the same
way. Now a heavy stage first compares what it will write (estimated from what is already
on disk: the published snapshot it copies, the batch files it loads) plus a reserve
(``NEWSDESK_MIN_FREE_MB``) with the free space of each file system it writes to, and refuses
with the numbers; a disk that fills up anyway is reported the same way (:func:`explain`).
``finalize`` removes the work database and the run's bulky files on every outcome, so the
next night starts with the space back.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

MB = 1024 * 1024
_FULL = ("no space left on device", "database or disk is full", "disk is full", "not enough space")


class DiskFull(OSError):
    """Not enough free disk space for a stage (a human must free some; retrying later may pass)."""


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize


def size_of(path: Path | object) -> int:
    """Bytes of a file (following a symlink) or of everything under a folder; 0 when absent (and for a
    DuckLake warehouse, which a run does not copy)."""
    if not isinstance(path, Path):
        return 0
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB"


def require(stage: str, needs: dict[Path, tuple[int, str]], reserve_mb: int) -> None:
    """Raise :class:`DiskFull` unless every file system has room for what ``stage`` will write.

    ``needs`` maps a folder the stage writes to onto (bytes it will write there, how that was
    estimated); folders on one file system are added up.
    """
    by_fs: dict[int, tuple[Path, int, list[str]]] = {}
    for folder, (n, why) in needs.items():
        dev = os.stat(_existing(folder)).st_dev
        first, total, whys = by_fs.get(dev, (folder, 0, []))
        by_fs[dev] = (first, total + n, [*whys, f"{why} {_mb(n)}"])
    for folder, total, whys in by_fs.values():
        free, need = free_bytes(folder), total + reserve_mb * MB
        if free < need:
            raise DiskFull(errno.ENOSPC, f"not enough free disk space for {stage}: {_mb(free)} free on the file "
                                         f"system of {_existing(folder)}, it needs about {_mb(need)} ("
                                         + " + ".join([*whys, f"reserve {reserve_mb} MB (NEWSDESK_MIN_FREE_MB)"])
                                         + "). Free some space (old runs in the state folder, old snapshots) or "
                                           "move NEWSDESK_STATE / NEWSDESK_WAREHOUSE to a larger disk; the next "
                                           "run takes the same inputs again")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return any(s in text for s in _FULL)


def explain(stage: str, exc: BaseException, folders: list[Path]) -> DiskFull:
    """A disk-full error of ``stage`` restated with the free space of the folders it writes to."""
    where = ", ".join(f"{_mb(free_bytes(f))} free on {_existing(f)}" for f in dict.fromkeys(folders))
    return DiskFull(errno.ENOSPC, f"{stage}: the disk filled up ({where}): {str(exc).splitlines()[0][:300]}. Free "
                                  "some space or move NEWSDESK_STATE / NEWSDESK_WAREHOUSE to a larger disk; the "
                                  "work database was removed and the next run takes the same inputs again")
