"""Versioned, read-only snapshots of the warehouse, and how every reader opens them.

DuckDB lets one process write a file, and no other process may even open it read-only
meanwhile. So nothing a reader opens is ever written: each successful run publishes a new
file, and the path analysts open is a symlink that is swapped atomically to it::

    warehouse/newsdesk.duckdb                    -> newsdesk.snapshots/<snapshot_id>.duckdb
    warehouse/newsdesk.snapshots/<id>.duckdb     one file per published run, never written again
    warehouse/.build/<batch>.duckdb              work databases of runs in progress
    warehouse/newsdesk.duckdb.lock               serialises publishers

``NEWSDESK_WAREHOUSE`` stays "the path analysts open": ``duckdb -readonly
warehouse/newsdesk.duckdb`` follows the symlink, and the kernel resolves it at open time, so
a reader gets either the old or the new snapshot, never a mix. Python readers here resolve
the link first (:func:`connect_published`) so DuckDB's per-path instance cache can never
hand them a connection to an older file.

**Pruning.** The last ``keep`` snapshots before the current one stay, older ones are deleted
only when no process has them open. "Open" is decided by the lock DuckDB itself takes: every
DuckDB client (Python, the CLI, dbt, R...) puts a shared POSIX lock on the database file it
opens, read-only included. The pruner asks for an exclusive open-file-description lock
(``F_OFD_SETLK``), which conflicts with those locks whatever process or user holds them,
including this one; it deletes the file while holding that lock. Scanning ``/proc/*/fd``
instead would miss other users' processes (their fd tables are private) and race with
readers opening the file; a lock probe needs no cooperation from readers and cannot be
fooled by permissions.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

SUFFIX = ".duckdb"


class NothingPublished(FileNotFoundError):
    """No snapshot has been published at this warehouse path yet."""


def snapshot_dir(warehouse: Path) -> Path:
    """``<folder>/<stem>.snapshots``: per warehouse path, so two warehouses in one folder never prune each other."""
    return warehouse.with_name(warehouse.stem + ".snapshots")


def resolve(warehouse: Path) -> Path | None:
    """The snapshot file the warehouse path points to now (None if nothing is published).

    A warehouse from before snapshots existed is a plain file; it is its own snapshot.
    """
    try:
        return Path(os.path.realpath(warehouse, strict=True))
    except (FileNotFoundError, OSError):
        return None


def snapshot_id(path: Path) -> str:
    return path.name.removesuffix(SUFFIX)


# Analyst connections (newsdesk sql, shell, dashboard, export) run SQL that someone typed: the
# snapshot is all they may read. No file system or network access (read_text('/etc/passwd'),
# COPY ... TO, ATTACH of another file), no extension install or load, and the settings locked
# so that no statement can turn any of it back on.
LOCKED_DOWN = {"enable_external_access": "false", "autoload_known_extensions": "false",
               "autoinstall_known_extensions": "false", "allow_community_extensions": "false",
               "allow_unsigned_extensions": "false"}
SNAPSHOT_MODE = 0o444  # published snapshots are never written again: read-only on disk too


def connect_snapshot(snapshot: Path) -> duckdb.DuckDBPyConnection:
    """One published snapshot file (not the link), read-only and locked down like every analyst
    connection: the dashboard pins its page to the snapshot it resolved once."""
    from pipeline.warehouse import connect

    return connect(snapshot, read_only=True, extra_config={**LOCKED_DOWN, "lock_configuration": "true"})


def connect_analyst(warehouse: Path) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """:func:`connect_published` for SQL an analyst or a dashboard writes: see ``LOCKED_DOWN``."""
    return connect_published(warehouse, locked_down=True)


@contextmanager
def connect_published(warehouse: Path, *, attempts: int = 5,
                      locked_down: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the current snapshot, pinned to it until closed.

    A snapshot may be pruned between resolving the link and opening it only if several
    newer ones were published in that instant; the link is then resolved again.
    """
    from pipeline import lake
    from pipeline.warehouse import connect

    if lake.is_lake(warehouse):  # pinned to the version of the latest publish commit
        with lake.connect_published(warehouse) as con:
            yield con
        return
    last_error: Exception | None = None
    for attempt in range(attempts):
        path = resolve(warehouse)
        if path is None:
            raise NothingPublished(f"nothing published yet at {warehouse}; run `newsdesk run` first")
        try:
            con = connect(path, read_only=True,
                          extra_config={**LOCKED_DOWN, "lock_configuration": "true"} if locked_down else None)
        except duckdb.IOException as exc:  # pruned or being pruned right now: take the new link
            last_error = exc
            time.sleep(0.05 * (attempt + 1))
            continue
        try:
            yield con
        finally:
            con.close()
        return
    raise RuntimeError(f"could not open the published snapshot of {warehouse}: {last_error}")


# ---------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------


def install(work_db: Path, warehouse: Path, snapshot: str) -> Path:
    """Move a finished, checkpointed work database into the snapshot folder and point the link at it.

    The caller holds the publish lock. Both renames are atomic; the link is replaced by
    ``os.replace`` of a new symlink, so at every instant the warehouse path names a complete
    snapshot (or, before the first publish, nothing).
    """
    folder = snapshot_dir(warehouse)
    folder.mkdir(parents=True, exist_ok=True)
    adopt_legacy_file(warehouse)
    dest = folder / f"{snapshot}{SUFFIX}"
    if dest.exists():
        raise FileExistsError(f"snapshot {snapshot} is already published ({dest})")
    now = time.time()
    os.utime(work_db, (now, now))  # mtime = publish order, which pruning keeps by
    _fsync(work_db)
    os.replace(work_db, dest)
    os.chmod(dest, SNAPSHOT_MODE)
    _fsync_dir(folder)
    _point_link(warehouse, dest)
    return dest


def adopt_legacy_file(warehouse: Path) -> Path | None:
    """Turn a pre-snapshot warehouse (a plain file) into a snapshot, without a moment of absence.

    The file is hard-linked into the snapshot folder first, then the symlink replaces the
    plain file, so a reader opening the path meanwhile finds one or the other.
    """
    if not warehouse.exists() or warehouse.is_symlink():
        return None
    from pipeline.warehouse import connect, latest_snapshot

    with connect(warehouse, read_only=True) as con:
        try:
            name = latest_snapshot(con)
        except duckdb.CatalogException:  # no publish_log: a file made by hand
            name = None
    name = name or f"legacy-{datetime.fromtimestamp(warehouse.stat().st_mtime, UTC):%Y%m%dT%H%M%S}"
    dest = snapshot_dir(warehouse) / f"{name}{SUFFIX}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        os.link(warehouse, dest)
    _point_link(warehouse, dest)
    return dest


def _point_link(warehouse: Path, target: Path) -> None:
    tmp = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, warehouse.parent), tmp)
    os.replace(tmp, warehouse)
    _fsync_dir(warehouse.parent)


# ---------------------------------------------------------------------------------------
# Listing and pruning
# ---------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    snapshot_id: str
    path: Path
    published_at: datetime
    bytes: int
    current: bool
    in_use: bool
    orphan: bool = False  # moved into the folder but never made current (a run killed before the link swap)


def published_ids(warehouse: Path) -> set[str] | None:
    """Ids of every snapshot ever published at this path (the current one's publish_log), or None."""
    current = resolve(warehouse)
    if current is None:
        return None
    from pipeline.warehouse import connect

    try:
        con = connect(current, read_only=True)
        try:
            return {r[0] for r in con.execute("SELECT snapshot_id FROM publish_log").fetchall()}
        finally:
            con.close()
    except duckdb.Error:  # a warehouse from before publish_log existed
        return None


def _is_orphan(path: Path, current: Path | None, ids: set[str] | None) -> bool:
    """A file the publish_log of the current snapshot never names: its run died between moving it
    into the folder and swapping the link (``install``), so no reader ever saw it."""
    sid = snapshot_id(path)
    return ids is not None and path != current and sid not in ids and not sid.startswith("legacy-")


def list_snapshots(warehouse: Path) -> list[Snapshot]:
    """Every snapshot file of this warehouse, newest first, with whether a reader has it open.

    For a DuckLake: its published snapshots still in the lake (``path`` names the lake version).
    """
    from pipeline import lake

    if lake.is_lake(warehouse):
        return _lake_snapshots(warehouse)
    current = resolve(warehouse)
    ids = published_ids(warehouse)
    out = []
    for path in snapshot_dir(warehouse).glob(f"*{SUFFIX}"):
        st = path.stat()
        out.append(Snapshot(snapshot_id(path), path, datetime.fromtimestamp(st.st_mtime, UTC), st.st_size,
                            path == current, in_use(path), _is_orphan(path, current, ids)))
    return sorted(out, key=lambda s: (s.published_at, s.snapshot_id), reverse=True)


def _lake_snapshots(warehouse) -> list[Snapshot]:
    from pipeline import lake

    with lake.connect(warehouse, read_only=True) as con:
        published = lake.published_snapshots(con)
    return [Snapshot(sid, Path(f"{warehouse}@v{version}"), at, 0, i == 0, False)
            for i, (version, sid, at) in enumerate(published)]


def location(warehouse) -> str:
    """What a reader of the warehouse opens now: the snapshot file, or the DuckLake version."""
    from pipeline import lake

    if lake.is_lake(warehouse):
        with lake.connect(warehouse, read_only=True) as con:
            return f"{warehouse} at DuckLake version {lake.published_version(con)}"
    return str(resolve(warehouse))


@dataclass
class PruneReport:
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # due for removal, but a reader has it open

    def as_dict(self) -> dict[str, list[str]]:
        return {"kept": self.kept, "removed": self.removed, "busy": self.busy}


def prune(warehouse: Path, *, keep: int) -> PruneReport:
    """Delete snapshots older than the current one and the ``keep`` before it, unless open.

    A busy snapshot is left for a later run to retry; it costs only disk space.
    """
    if keep < 0:
        raise ValueError("keep must be >= 0")
    report = PruneReport()
    current = resolve(warehouse)
    ids = published_ids(warehouse)
    files = sorted(snapshot_dir(warehouse).glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in [p for p in files if _is_orphan(p, current, ids)]:  # never published: not kept, removed if unused
        files.remove(path)
        (report.removed if _remove_unless_open(path) else report.busy).append(snapshot_id(path))
    older = [p for p in files if p != current]
    report.kept = [snapshot_id(p) for p in files if p == current] + [snapshot_id(p) for p in older[:keep]]
    for path in older[keep:]:
        if _remove_unless_open(path):
            report.removed.append(snapshot_id(path))
        else:
            report.busy.append(snapshot_id(path))
    return report


def in_use(path: Path) -> bool:
    """Whether any process (this one included) has the DuckDB file open."""
    fd = _lock_if_unused(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def _remove_unless_open(path: Path) -> bool:
    fd = _lock_if_unused(path)
    if fd is None:
        return False
    try:  # delete while holding the lock: no reader can lock it in between
        path.unlink()
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def _lock_if_unused(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if any process has the file open."""
    return None if _open_in_this_process(path) else _exclusive_probe(path)


def _open_in_this_process(path: Path) -> bool:
    """Checked without opening the file: closing any descriptor of a file drops every POSIX
    lock this process holds on it, which would unprotect this process's own DuckDB readers."""
    target = os.path.realpath(path)
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return False
    for fd in fd_dir.iterdir():
        with suppress(OSError):
            if os.readlink(fd) == target:
                return True
    return False


# struct flock on Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (int), padded to 32 bytes
_FLOCK = "hh4xqqi4x"


def _exclusive_probe(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if a reader's lock conflicts."""
    try:
        fd = _open_for_lock(path)
    except FileNotFoundError:
        return None
    try:
        if hasattr(fcntl, "F_OFD_SETLK"):
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        else:  # not Linux: classic POSIX lock (sees other processes' readers)
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def _open_for_lock(path: Path) -> int:
    """An O_RDWR descriptor (a write lock needs one) of a snapshot that is read-only on disk.

    Its owner may open it for writing only after adding the write bit, which is taken away
    again at once: the lock is held through the descriptor, not the mode.
    """
    try:
        return os.open(path, os.O_RDWR)
    except PermissionError:
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o200)
        try:
            return os.open(path, os.O_RDWR)
        finally:
            os.chmod(path, mode)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
