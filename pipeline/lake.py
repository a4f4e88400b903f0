"""The DuckLake warehouse: a PostgreSQL catalog and Parquet data files in a folder every machine sees.

Selected by configuration instead of the embedded DuckDB file (which stays the default)::

    NEWSDESK_WAREHOUSE="ducklake:postgres:dbname=newsdesk_lake host=db.example port=5432 user=newsdesk"
    NEWSDESK_LAKE_DATA=/shared/newsdesk/lake      # data files; the same path on every machine
    PGPASSWORD=... (or PGPASSFILE)                # libpq reads it; no password in the setting

The tables, dbt models (dbt-duckdb attaches the lake: profile target ``lake``), GX checks and
analyst commands are the same; what differs is how a run publishes, mapped from the file
backend (``pipeline.snapshots``):

=============================  =============================================================
file backend                   DuckLake
=============================  =============================================================
work database: a copy          the lake's head: every commit since the published snapshot
publish: rename + link swap    one commit adding the ``publish_log`` row, with the commit
                               message ``newsdesk publish <snapshot_id>``
readers open the linked file   readers attach ``READ_ONLY, SNAPSHOT_VERSION`` of the latest
                               publish commit: a run's load and dbt commits in between are
                               never seen, the old or the new snapshot, never a mix
failed run: work file dropped  the head is reset to the published snapshot (rows a failed run
                               added are deleted, tables it replaced restored), at finalize
                               and again before the next run builds
prune: unopened old files      DuckLake snapshots older than the kept published ones expire;
                               their files are deleted an hour later (readers still on them)
=============================  =============================================================

DuckDB's extensions come from registry packages (``duckdb-extension-ducklake``,
``duckdb-extension-postgres-scanner``, pinned with DuckDB 1.5.5) and are loaded by the path of
their files: nothing is downloaded at run time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # duckdb is imported where it is used: the CLI reads settings (this module) at start
    import duckdb

SCHEME = "ducklake:"
ALIAS = "lake"
META = f"__ducklake_metadata_{ALIAS}"
PUBLISH = "newsdesk publish "
AUTHOR = "newsdesk"
FILE_GRACE = "1 hour"  # expired snapshots' files outlive them this long (readers may still be on them)


class LakeError(RuntimeError):
    """The DuckLake warehouse is misconfigured or unreachable."""


@dataclass(frozen=True)
class Lake:
    """Where a DuckLake warehouse lives: its catalog (after ``ducklake:``) and its data folder."""

    catalog: str
    data_path: Path

    @classmethod
    def parse(cls, spec: str, data_path: str | Path | None) -> Lake:
        catalog = spec.removeprefix(SCHEME).strip()
        if not catalog.startswith("postgres:"):
            raise LakeError(f"DuckLake here needs a PostgreSQL catalog (ducklake:postgres:dbname=... host=...), "
                            f"not {spec!r}: readers attach while a run commits, which a DuckDB-file catalog refuses")
        if not data_path:
            raise LakeError("a DuckLake warehouse needs NEWSDESK_LAKE_DATA: the folder (on storage every worker "
                            "sees) that holds its data files")
        return cls(catalog, Path(data_path).expanduser().resolve())

    def __str__(self) -> str:
        return SCHEME + self.catalog

    @property
    def name(self) -> str:
        return str(self)

    def exists(self) -> bool:
        """Whether a run has published here (the CLI's "nothing published yet" check)."""
        import duckdb

        try:
            return _published_or_none(self) is not None
        except duckdb.Error:
            return False


def is_lake(target: object) -> bool:
    return isinstance(target, Lake)


# ---------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------


def extension_files() -> list[Path]:
    """The postgres and DuckLake extension files shipped by their registry packages, for this DuckDB."""
    import duckdb
    import duckdb_extension_ducklake
    import duckdb_extension_postgres_scanner

    files = []
    for module in (duckdb_extension_postgres_scanner, duckdb_extension_ducklake):
        folder = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
        found = sorted(folder.glob("*.duckdb_extension"))
        if not found:
            raise LakeError(f"no DuckDB extension for DuckDB {duckdb.__version__} in {folder.parent}: the "
                            "duckdb-extension-* pins must match the duckdb pin")
        files.append(found[0])
    return files


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    for path in extension_files():
        con.execute(f"LOAD '{path}'")


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal (for DDL such as ATTACH, and paths in queries: binding a
    parameter makes DuckDB's Python client import pandas, half a second on a short night)."""
    return "'" + text.replace("'", "''") + "'"


def attach_sql(lake: Lake, alias: str = ALIAS, *, read_only: bool = False, version: int | None = None) -> str:
    options = ["READ_ONLY"] if read_only else [f"DATA_PATH {sql_string(str(lake.data_path) + '/')}"]
    if version is not None:
        options.append(f"SNAPSHOT_VERSION {int(version)}")
    return f"ATTACH {sql_string(str(lake))} AS {alias} ({', '.join(options)})"


def _open(lake: Lake, *, read_only: bool, version: int | None = None) -> duckdb.DuckDBPyConnection:
    import duckdb

    from pipeline.warehouse import duckdb_config

    con = duckdb.connect(config=duckdb_config())
    try:
        load_extensions(con)
        if not read_only:
            lake.data_path.mkdir(parents=True, exist_ok=True)
        con.execute(attach_sql(lake, read_only=read_only, version=version))
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def connect(lake: Lake, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The lake's head (what a run builds on), with ``USE lake`` so table names need no prefix."""
    return _open(lake, read_only=read_only)


def published_version(con: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> int | None:
    """DuckLake snapshot id of the latest publish commit, None when nothing was published."""
    rows = con.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots('{alias}') "
                       f"WHERE starts_with(commit_message, '{PUBLISH}')").fetchall()
    return rows[0][0] if rows and rows[0][0] is not None else None


def head_version(con: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> int:
    return con.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots('{alias}')").fetchall()[0][0]


@contextmanager
def connect_published(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection pinned to the published snapshot until closed."""
    from pipeline.snapshots import NothingPublished

    version = _published_or_none(lake)
    if version is None:
        raise NothingPublished(f"nothing published yet at {lake}; run `newsdesk run` first")
    con = _open(lake, read_only=True, version=version)
    try:
        yield con
    finally:
        con.close()


def _published_or_none(lake: Lake) -> int | None:
    """The published version; None also when the lake was never created (no run wrote it yet)."""
    import duckdb

    try:
        with _open(lake, read_only=True) as probe:
            return published_version(probe)
    except duckdb.InvalidInputException as exc:
        if "does not exist" in str(exc):
            return None
        raise


def attach_published(con: duckdb.DuckDBPyConnection, lake: Lake, alias: str) -> bool:
    """Attach the published snapshot to another connection as ``alias``; False if nothing is published."""
    version = _published_or_none(lake)
    if version is None:
        return False
    load_extensions(con)
    con.execute(attach_sql(lake, alias, read_only=True, version=version))
    return True


# ---------------------------------------------------------------------------------------
# A run's writes: reset, publish, expire
# ---------------------------------------------------------------------------------------


def _alive(alias: str, version: int | None) -> str:
    """SQL: the catalog row ``alias`` is live at ``version`` (None: at the head)."""
    if version is None:
        return f"{alias}.end_snapshot IS NULL"
    return f"{alias}.begin_snapshot <= {version} AND ({alias}.end_snapshot IS NULL OR {alias}.end_snapshot > {version})"


def _objects(con: duckdb.DuckDBPyConnection, kind: str, version: int | None) -> dict[str, int]:
    """``{name: id}`` of the main schema's tables (or views) at ``version`` (None: the head), from the catalog."""
    return dict(con.execute(f"""
        SELECT o.{kind}_name, o.{kind}_id FROM {META}.ducklake_{kind} o JOIN {META}.ducklake_schema s USING (schema_id)
        WHERE s.schema_name = 'main' AND {_alive('o', version)} AND {_alive('s', version)}""").fetchall())


def _touched_since(con: duckdb.DuckDBPyConnection, version: int) -> set[str]:
    """Table ids (as text) whose rows a commit after ``version`` inserted or deleted."""
    keys = ("tables_inserted_into", "tables_deleted_from", "inlined_insert", "inlined_delete")
    touched: set[str] = set()
    for (changes,) in con.execute(f"SELECT changes FROM ducklake_snapshots('{ALIAS}') WHERE snapshot_id > ?",
                                  [version]).fetchall():
        for key in keys:
            touched.update(changes.get(key) or [])
    return touched


def _columns(con: duckdb.DuckDBPyConnection, table: str, version: int | None) -> list[str]:
    at = f" AT (VERSION => {version})" if version is not None else ""
    return [d[0] for d in con.execute(f'SELECT * FROM "{table}"{at} LIMIT 0').description]


RESET = "newsdesk reset to "


def _settled(con: duckdb.DuckDBPyConnection, published: int | None) -> bool:
    """Whether the head holds what the published snapshot holds: it is that publish commit, or a
    reset to it with nothing committed after."""
    rows = con.execute(f"SELECT snapshot_id, commit_message FROM ducklake_snapshots('{ALIAS}') "
                       "ORDER BY snapshot_id DESC LIMIT 1").fetchall()
    head, message = rows[0]
    if published is None:
        return not _objects(con, "table", None) and not _objects(con, "view", None)
    return head == published or message == f"{RESET}{published}"


def reset_to_published(lake: Lake) -> dict[str, Any]:
    """Undo every commit since the published snapshot (a failed or killed run's writes), in one commit.

    In a table that is still the one published, the rows a later commit inserted or updated
    are deleted and the published versions of the rows it deleted or updated are put back
    (``ducklake_table_changes``: DuckLake keeps a row's id through updates), so the cost is
    the size of the failed run's changes, not of the table. A table replaced since (dbt
    rebuilds marts as new tables) or whose columns changed is restored whole from the
    snapshot; tables and views created since are dropped. A no-op when the head already holds
    the published snapshot (the usual case: the last run published).
    """
    with connect(lake) as con:
        published = published_version(con)
        if _settled(con, published):
            return {"reset": False}
        head = head_version(con)
        then = _objects(con, "table", published) if published is not None else {}
        now = _objects(con, "table", None)
        views_then = _objects(con, "view", published) if published is not None else {}
        touched = _touched_since(con, published) if published is not None else set()
        done: dict[str, str] = {}
        con.execute("BEGIN")
        for view in set(_objects(con, "view", None)) - set(views_then):
            con.execute(f'DROP VIEW "{view}"')
            done[view] = "dropped"
        for table, table_id in now.items():
            if table not in then:
                con.execute(f'DROP TABLE "{table}"')
                done[table] = "dropped"
            elif then[table] != table_id or _columns(con, table, None) != _columns(con, table, published):
                con.execute(f'CREATE OR REPLACE TABLE "{table}" AS FROM "{table}" AT (VERSION => {published})')
                done[table] = "restored"
            elif str(table_id) in touched:
                changes = f"ducklake_table_changes('{ALIAS}', 'main', '{table}', {published + 1}, {head})"
                # the rows to put back are read before the delete: in the same transaction, a
                # time-travel scan of the table sees the transaction's own deletes
                con.execute(f'CREATE TEMP TABLE restore AS SELECT * FROM "{table}" AT (VERSION => {published}) '
                            f"WHERE rowid IN (SELECT rowid FROM {changes} "
                            "WHERE change_type IN ('delete', 'update_preimage'))")
                con.execute(f'DELETE FROM "{table}" WHERE rowid IN (SELECT rowid FROM {changes} '
                            "WHERE change_type IN ('insert', 'update_postimage'))")
                con.execute(f'INSERT INTO "{table}" SELECT * FROM temp.restore')
                con.execute("DROP TABLE temp.restore")
                done[table] = "rolled back"
        for table in set(then) - set(now):
            con.execute(f'CREATE TABLE "{table}" AS FROM "{table}" AT (VERSION => {published})')
            done[table] = "restored"
        con.execute(f"CALL {ALIAS}.set_commit_message('{AUTHOR}', '{RESET}{published}')")
        con.execute("COMMIT")
        return {"reset": True, "from_version": head, "to_version": published, "tables": done}


def published_snapshots(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, datetime]]:
    """``(DuckLake version, snapshot id, time)`` of every publish commit still in the lake, newest first."""
    rows = con.execute(f"SELECT snapshot_id, commit_message, snapshot_time FROM ducklake_snapshots('{ALIAS}') "
                       f"WHERE starts_with(commit_message, '{PUBLISH}') ORDER BY snapshot_id DESC").fetchall()
    return [(v, msg.removeprefix(PUBLISH), t) for v, msg, t in rows]


def publish(lake: Lake, *, snapshot_id: str, batch_id: str, new_articles: int, keep: int) -> dict[str, list[str]]:
    """The publish commit: the publish_log row, tagged so readers find it; then expire old snapshots."""
    from pipeline.warehouse import latest_snapshot, scalar

    with connect(lake) as con:
        base = latest_snapshot(con)
        total = scalar(con, "SELECT count(*) FROM articles")
        con.execute("BEGIN")
        con.execute("INSERT INTO publish_log VALUES (?, ?, ?, ?, ?, ?)",
                    [snapshot_id, batch_id, base, datetime.now(UTC), total, new_articles])
        extra = json.dumps({"batch_id": batch_id, "base": base})
        con.execute(f"CALL {ALIAS}.set_commit_message('{AUTHOR}', ?, extra_info => ?)", [PUBLISH + snapshot_id, extra])
        con.execute("COMMIT")
        return expire(con, keep=keep)


def expire(con: duckdb.DuckDBPyConnection, *, keep: int) -> dict[str, list[str]]:
    """Expire DuckLake snapshots older than the ``keep`` publishes before the current one.

    Their data files become garbage, deleted once expired for ``FILE_GRACE`` (a reader that
    opened an old snapshot before it expired keeps working meanwhile).
    """
    published = published_snapshots(con)
    kept, gone = published[: keep + 1], published[keep + 1:]
    if gone:
        oldest_kept = kept[-1][0]
        versions = [v for (v,) in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{ALIAS}') "
                                              "WHERE snapshot_id < ?", [oldest_kept]).fetchall()]
        if versions:
            con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', versions => {versions})")
    con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => now() - INTERVAL '{FILE_GRACE}')")
    return {"kept": [s for _, s, _ in kept], "removed": [s for _, s, _ in gone], "busy": []}


def snapshot_exists(lake: Lake, snapshot_id: str) -> bool:
    with connect(lake, read_only=True) as con:
        return any(s == snapshot_id for _, s, _ in published_snapshots(con))
