"""The DuckDB warehouse: table contract, work copies, loading, and atomic publishing.

DuckDB allows one writer process per file, and a reader cannot open a file another process
is writing. So the file analysts and dashboards open (the *published* warehouse) is never
written in place: each run copies the current snapshot to a work database, loads and builds
there, and only when every validation has passed publishes it as a new read-only snapshot
(see :mod:`pipeline.snapshots`: a new file, then an atomic swap of the warehouse symlink).
Readers that already have the old snapshot open keep reading it; new readers see the new
one. A failed run publishes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipeline import lake, schemas, snapshots
from pipeline.lake import Lake, is_lake, sql_string

# Detail tables loaded by Python; dbt builds staging views and marts on top of them.
TABLES: dict[str, dict[str, pl.DataType]] = {
    "articles": schemas.ARTICLES,
    "quarantine": schemas.QUARANTINE,
    "sentences": schemas.SENTENCES,
    "tokens": schemas.TOKENS,
    "entity_mentions": schemas.LINKED_MENTIONS,
    "quotes": schemas.LINKED_QUOTES,
    "actor_aliases": schemas.ACTOR_ALIASES,
    "article_duplicates": schemas.ARTICLE_DUPLICATES,
    "ingest_inputs": schemas.INGEST_INPUTS,
    "article_minhash": schemas.ARTICLE_MINHASH,
}
# Per-article rows: inserted for the batch's new articles only.
NLP_TABLES = ("sentences", "tokens", "entity_mentions", "quotes")

RUN_LOG_DDL = """
CREATE TABLE IF NOT EXISTS run_log (
    batch_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    seconds DOUBLE,
    rows JSON,
    detail JSON,
    error VARCHAR
)"""

PUBLISH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS publish_log (
    snapshot_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    base_snapshot VARCHAR,
    published_at TIMESTAMPTZ NOT NULL,
    articles BIGINT,
    new_articles BIGINT
)"""

_DUCK_TYPES = {
    pl.String: "VARCHAR",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.UInt32: "UINTEGER",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
}


class PublishConflict(RuntimeError):
    """Another run published since this run started; publishing would lose its data."""


def duck_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    if isinstance(dtype, pl.List):
        return duck_type(dtype.inner) + "[]"
    for pl_type, sql in _DUCK_TYPES.items():
        if dtype == pl_type:
            return sql
    raise TypeError(f"no DuckDB type for {dtype}")


# Per connection, and dbt's (dbt_project/profiles.yml says the same). 512MB, not 1GB: under
# ``dag.test`` dbt runs in the process that already holds the earlier stages' libraries
# (~800 MB), and at 10k articles 1GB put the run's peak at 1.7 GB for no speed gain.
DUCKDB_MEMORY_DEFAULT = "512MB"


def duckdb_config(temp_dir: Path | None = None) -> dict[str, str]:
    """Settings of every DuckDB connection newsdesk opens.

    No extension downloads (no network at run time), and a memory limit: DuckDB's default is
    80 % of RAM, and at 100k articles the loads and checks over tens of millions of token
    rows let its buffer pool grow by gigabytes. ``NEWSDESK_DUCKDB_MEMORY`` (default 512MB)
    bounds it; bigger operators spill to ``temp_dir`` (DuckDB's default for a file database
    is a ``.tmp`` folder beside it).
    """
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "true",
              "memory_limit": os.environ.get("NEWSDESK_DUCKDB_MEMORY", DUCKDB_MEMORY_DEFAULT)}
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    return config


def connect(path: Path | Lake, *, read_only: bool = False, extra_config: dict[str, str] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """Open a warehouse file with extension downloads disabled and bounded memory.

    A file another DuckDB version wrote (2.x files are unreadable by 1.x) raises
    :class:`WarehouseVersionError`, which says how to carry the warehouse over. A DuckLake
    opens at its head (a run's work in progress, see :mod:`pipeline.lake`).
    """
    if is_lake(path):
        return lake.connect(path, read_only=read_only)
    config = {**duckdb_config(), **(extra_config or {})}  # extra last: lock_configuration must come after the rest
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:
        unreadable = _version_error(path, exc)
        if unreadable is None:
            raise
        raise unreadable from exc


class WarehouseVersionError(RuntimeError):
    """The warehouse file was written by a DuckDB this one cannot read; retrying cannot help."""


def file_writer(path: Path) -> tuple[int, str] | None:
    """``(storage version number, DuckDB version)`` from a database file's header; None if it is none.

    The header is read as bytes (magic ``DUCK`` at 8, the storage number at 12, the
    writer's version string at 52), so it works on files this DuckDB refuses to open.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(84)
    except OSError:
        return None
    if len(head) < 84 or head[8:12] != b"DUCK":
        return None
    return int.from_bytes(head[12:20], "little"), head[52:84].split(b"\0", 1)[0].decode("ascii", "replace")


def _version_error(path: Path, exc: Exception) -> WarehouseVersionError | None:
    writer = file_writer(path)
    if writer is None:
        return None
    number, version = writer
    ours = f"v{duckdb.__version__}"
    if version.split(".")[0] == ours.split(".")[0] and "version number" not in str(exc):
        return None
    return WarehouseVersionError(
        f"{path} was written by DuckDB {version} (storage version {number}); newsdesk uses DuckDB {ours}, "
        "which cannot read it. Either rebuild it from your inputs (move the warehouse folder aside and run "
        "`newsdesk run`: every input is read again), or carry it over: with a Python whose duckdb is "
        f"{version.lstrip('v')}, run `python -m pipeline.migrate export {path} EXPORT_DIR` in this repository, "
        "then `newsdesk migrate-warehouse EXPORT_DIR`. See docs/scaling.md (DuckDB version)."
    )


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    """First value of a query's single row (fetching it completely, as DuckDB 2 requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a query and hand the result to Polars through Arrow (no row-by-row Python)."""
    return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, and add columns the contract gained since the file was made."""
    for table, schema in TABLES.items():
        cols = ", ".join(f'"{c}" {duck_type(t)}' for c, t in schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        existing = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='main' AND table_name=?",
            [table],
        ).fetchall()}
        for c, t in schema.items():
            if c not in existing:
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{c}" {duck_type(t)}')
    con.execute(RUN_LOG_DDL)
    con.execute(PUBLISH_LOG_DDL)


def current_snapshot(warehouse: Path) -> str | None:
    """Id of the published snapshot, or None when nothing was published yet."""
    if not warehouse.exists():
        return None
    with snapshots.connect_published(warehouse) as con:
        return latest_snapshot(con) if _has_table(con, "publish_log") else None


def published_table(warehouse: Path, table: str, columns: list[str] | None = None) -> pl.DataFrame:
    """A published table cast to its contract (an empty frame of the contract when there is none)."""
    schema = TABLES[table]
    cols = columns or list(schema)
    empty = pl.DataFrame(schema={c: schema[c] for c in cols})
    if not warehouse.exists():
        return empty
    with snapshots.connect_published(warehouse) as con:
        if not _has_table(con, table):
            return empty
        select = ", ".join(f'"{c}"' for c in cols)
        frame = query_frame(con, f"SELECT {select} FROM {table}")
    # DuckDB hands TIMESTAMPTZ back as "Etc/UTC"; the contracts say "UTC"
    return frame.select([pl.col(c).cast(empty.schema[c]) for c in cols])


# Stages that quarantine single articles (the rest of their batch is published).
ARTICLE_QUARANTINE_STAGES = ("nlp", "validate_nlp")


def quarantined_article_ids(warehouse: Path) -> pl.DataFrame:
    """article_id of single articles the NLP stages quarantined (their batch was published).

    Ingest holds them back like the articles of a quarantined batch: read again every night
    they would fail the same way and spend NLP on it each time.
    """
    empty = pl.DataFrame(schema={"article_id": pl.String})
    if not warehouse.exists():
        return empty
    with snapshots.connect_published(warehouse) as con:
        if not _has_table(con, "quarantine"):
            return empty
        stages = ", ".join(f"'{s}'" for s in ARTICLE_QUARANTINE_STAGES)
        return query_frame(con, "SELECT DISTINCT article_id FROM quarantine WHERE article_id IS NOT NULL"
                                f" AND stage IN ({stages})")


def unloaded_quarantine_rows(warehouse: Path, rejected: Path) -> int:
    """Rows of a QUARANTINE parquet file the published warehouse does not hold yet.

    Same identity as :func:`load_batch` uses to skip them (input, stage, reason, detail), so
    a bad file that is refused again every night is not "new" after its first night.
    """
    if not rejected.exists():
        return 0
    if not warehouse.exists():
        return pl.scan_parquet(rejected).select(pl.len()).collect().item()
    with snapshots.connect_published(warehouse) as con:
        if not _has_table(con, "quarantine"):
            return pl.scan_parquet(rejected).select(pl.len()).collect().item()
        return int(scalar(con, f"SELECT count(*) FROM read_parquet({sql_string(str(rejected))}) n WHERE NOT EXISTS ("
                               f"SELECT 1 FROM quarantine x WHERE {QUARANTINE_KEY})"))


def set_build_batch(work_db: Path | Lake, batch_id: str | None) -> None:
    """Name the batch dbt builds for in the work database's ``build_batch`` table (None: drop it).

    dbt's tests on the append-only detail tables check that batch's rows only; they read its
    id from this table at run time, so that nothing of the night is in dbt's parsed project.
    """
    with connect(work_db) as con:
        if batch_id is None:
            con.execute("DROP TABLE IF EXISTS build_batch")
        else:
            con.execute(f"CREATE OR REPLACE TABLE build_batch AS SELECT {sql_string(batch_id)} AS batch_id")


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    # no bound parameter: binding one makes DuckDB import pandas (~0.5 s), which a night
    # with nothing new would otherwise pay for this one lookup
    names = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()
    return (table,) in names


def read_table(warehouse: Path, table: str) -> pl.DataFrame | None:
    """A whole (small) table of the published warehouse, or None if there is none yet."""
    if not warehouse.exists():
        return None
    with snapshots.connect_published(warehouse) as con:
        return query_frame(con, f"SELECT * FROM {table}") if _has_table(con, table) else None


def remove_db(path: Path | Lake) -> None:
    """Drop a run's work database and what DuckDB or a copy leaves beside it (WAL, spill folder,
    half a copy); for a DuckLake: undo the run's commits since the published snapshot."""
    if is_lake(path):
        lake.reset_to_published(path)
        return
    for p in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".copying")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


def create_work_db(warehouse: Path | Lake, work_db: Path | Lake) -> None:
    """Start (or restart, on a retry) the run's work database from the published snapshot.

    A DuckLake has no copy: its head is reset to the published snapshot (a no-op unless an
    earlier attempt or run left commits there), then the run builds on it.
    """
    remove_db(work_db)
    if is_lake(work_db):
        with connect(work_db) as con:
            ensure_schema(con)
        return
    work_db.parent.mkdir(parents=True, exist_ok=True)
    published = snapshots.resolve(warehouse)
    if published is not None:
        tmp = work_db.with_name(work_db.name + ".copying")
        shutil.copyfile(published, tmp)
        os.replace(tmp, work_db)
    with connect(work_db) as con:
        ensure_schema(con)


def retire_articles(work_db: Path, retired: Path, *, batch_id: str, now: datetime) -> int:
    """Retire the published articles a changed input supersedes (``retired``: article_id, superseded_by).

    Their rows stay, for the audit trail, with ``retired_at`` set, and dbt's staging models
    leave them out of every mart. Each is renamed to a retired id (``left(sha256(id ||
    ':retired:' || batch), 16)``) in every table that holds its rows (its NLP rows, signature,
    duplicate links, dbt's per-article tables), so its id is free for the input's new version:
    an updated page keeps the id of its URL. Returns the articles retired.
    """
    if not retired.exists():
        return 0
    with connect(work_db) as con:
        con.execute("BEGIN")
        con.execute("CREATE TEMP TABLE r AS SELECT n.article_id, n.superseded_by, "
                    "left(sha256(n.article_id || ':retired:' || ?), 16) AS new_id FROM read_parquet(?) n "
                    "JOIN articles a ON a.article_id = n.article_id AND a.retired_at IS NULL", [batch_id, str(retired)])
        n = int(scalar(con, "SELECT count(*) FROM r"))
        if n:
            con.execute("UPDATE articles AS a SET retired_at = ?, superseded_by = r.superseded_by FROM r "
                        "WHERE a.article_id = r.article_id", [now])
            cols = con.execute("""SELECT table_name, column_name FROM information_schema.columns c
                JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
                WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_name != 'quarantine'
                  AND column_name IN ('article_id', 'duplicate_of', 'quote_id')""").fetchall()
            for table, column in cols:
                if column == "quote_id":  # article_id || ':' || start
                    con.execute(f'UPDATE "{table}" AS t SET quote_id = r.new_id || substr(t.quote_id, 17) FROM r '
                                "WHERE left(t.quote_id, 16) = r.article_id AND substr(t.quote_id, 17, 1) = ':'")
                else:
                    con.execute(f'UPDATE "{table}" AS t SET "{column}" = r.new_id FROM r '
                                f'WHERE t."{column}" = r.article_id')
        con.execute("COMMIT")
    return n


def _parquet_glob(folder: Path) -> str | None:
    files = sorted(folder.glob("*.parquet"))
    return str(folder / "*.parquet") if files else None


def load_batch(
    work_db: Path, *, articles: Path, rejected: Path, nlp_dir: Path, extra_quarantine: list[Path]
) -> dict[str, int]:
    """Insert a batch's new articles, their NLP rows and its quarantine rows.

    Articles already in the warehouse are skipped (and so are their NLP rows), so loading
    the same batch twice adds nothing. Returns the rows inserted per table.
    """
    inserted: dict[str, int] = {}
    with connect(work_db) as con:
        con.execute("BEGIN")
        con.execute(
            "CREATE TEMP TABLE new_ids AS SELECT DISTINCT a.article_id FROM read_parquet(?) a "
            "WHERE NOT EXISTS (SELECT 1 FROM articles b WHERE b.article_id = a.article_id)",
            [str(articles)],
        )
        inserted["articles"] = con.execute(
            "INSERT INTO articles BY NAME SELECT * FROM read_parquet(?) "
            "WHERE article_id IN (SELECT article_id FROM new_ids)",
            [str(articles)],
        ).fetchall()[0][0]
        for table in NLP_TABLES:
            glob = _parquet_glob(nlp_dir / table)
            if glob is None:
                inserted[table] = 0
                continue
            inserted[table] = con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?, union_by_name=true) "
                "WHERE article_id IN (SELECT article_id FROM new_ids)",
                [glob],
            ).fetchall()[0][0]
        inserted["actor_aliases"] = _merge_aliases(con, nlp_dir / "actor_aliases")
        q_files = [str(p) for p in [rejected, *extra_quarantine] if p.exists()]
        inserted["quarantine"] = 0
        if q_files:
            inserted["quarantine"] = _insert_new(con, "quarantine", "read_parquet(?)", QUARANTINE_KEY, [q_files])
        con.execute("COMMIT")
    return {k: int(v) for k, v in inserted.items()}


def _insert_new(
    con: duckdb.DuckDBPyConnection, table: str, source: str, key: str, params: list | None = None, where: str = ""
) -> int:
    """Insert the rows of ``source`` (alias ``n``) that ``table`` (alias ``x``) has no row for.

    ``key`` says when two rows are the same; every load is an insert of what is new, so a
    re-run (a retried task, a batch loaded twice) adds nothing.
    """
    return int(con.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM {source} n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {key}) {where}",
        params or [],
    ).fetchall()[0][0])


# A refused input is the same quarantine row when it is refused again for the same reason.
QUARANTINE_KEY = ("x.input = n.input AND x.stage = n.stage AND x.reason = n.reason "
                  "AND x.detail IS NOT DISTINCT FROM n.detail")  # fmt: skip
# Tables the ingest stage adds beside the articles, with the key that makes loading idempotent.
INGEST_TABLE_KEYS = {
    "article_duplicates": "x.duplicate_id = n.duplicate_id",
    "ingest_inputs": "x.source = n.source AND x.input = n.input AND x.sha256 IS NOT DISTINCT FROM n.sha256 "
                     "AND x.mtime IS NOT DISTINCT FROM n.mtime",
    "article_minhash": "x.article_id = n.article_id",
}


def load_ingest_tables(work_db: Path, files: dict[str, Path]) -> dict[str, int]:
    """Insert the ingest stage's duplicates, input manifest and MinHash signatures.

    Rows already present are skipped (re-loading a batch adds nothing). Duplicates and
    signatures are only kept for articles that are in ``articles`` (an article dropped by a
    later stage takes its links with it).
    """
    inserted: dict[str, int] = {}
    with connect(work_db) as con:
        con.execute("BEGIN")
        for table, key in INGEST_TABLE_KEYS.items():
            path = files.get(table)
            if path is None or not path.exists():
                inserted[table] = 0
                continue
            only_loaded = {
                "article_duplicates": "AND n.duplicate_of IN (SELECT article_id FROM articles)",
                "article_minhash": "AND n.article_id IN (SELECT article_id FROM articles)",
            }.get(table, "")
            inserted[table] = _insert_new(con, table, "read_parquet(?)", key, [str(path)], only_loaded)
        con.execute("COMMIT")
    return inserted


ALIAS_KEY = "x.alias_key = n.alias_key AND x.actor_type = n.actor_type AND x.actor_id = n.actor_id"


def _merge_aliases(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Upsert the batch's actor aliases: counts add up, the first written form stays."""
    glob = _parquet_glob(folder)
    if glob is None:
        return 0
    con.execute(
        "CREATE TEMP TABLE batch_aliases AS SELECT alias_key, actor_type, actor_id,"
        " first(alias ORDER BY alias) AS alias, bool_or(is_full_name) AS is_full_name,"
        " sum(n_mentions)::BIGINT AS n_mentions"
        " FROM read_parquet(?) GROUP BY alias_key, actor_type, actor_id",
        [glob],
    )
    con.execute(
        "UPDATE actor_aliases AS x SET n_mentions = x.n_mentions + n.n_mentions,"
        f" is_full_name = x.is_full_name OR n.is_full_name FROM batch_aliases AS n WHERE {ALIAS_KEY}"
    )
    added = _insert_new(con, "actor_aliases", "batch_aliases", ALIAS_KEY)
    con.execute("DROP TABLE batch_aliases")
    return added


def append_run_log(con: duckdb.DuckDBPyConnection, records: list[dict]) -> int:
    """Add stage records (see pipeline.runs.record_stage) not yet in run_log."""
    if not records:
        return 0
    frame = pl.DataFrame(
        [
            {
                "batch_id": r["batch_id"],
                "run_id": r["run_id"],
                "stage": r["stage"],
                "status": r["status"],
                "started_at": r["started_at"],
                "finished_at": r["finished_at"],
                "seconds": float(r["seconds"]),
                "rows": json.dumps(r.get("rows") or {}),
                "detail": json.dumps(r.get("detail") or {}, default=str),
                "error": r.get("error"),
            }
            for r in records
        ]
    ).with_columns(pl.col("started_at", "finished_at").str.to_datetime(time_zone="UTC"))
    con.register("new_log", frame.to_arrow())
    n = _insert_new(con, "run_log", "new_log",
                    "x.batch_id = n.batch_id AND x.stage = n.stage AND x.started_at = n.started_at")  # fmt: skip
    con.unregister("new_log")
    return n


@contextmanager
def exclusive_file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created, with its folder) for the block; others wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def publish_lock(warehouse: Path) -> Iterator[None]:
    """Serialise publishers of one warehouse (a second run waits, then re-checks its base)."""
    with exclusive_file_lock(warehouse.with_name(warehouse.name + ".lock")):
        yield


def latest_snapshot(con: duckdb.DuckDBPyConnection) -> str | None:
    return scalar(con, "SELECT snapshot_id FROM publish_log ORDER BY published_at DESC LIMIT 1")


def publish(work_db: Path | Lake, warehouse: Path | Lake, *, snapshot_id: str, batch_id: str, new_articles: int,
            keep: int = 2) -> dict[str, list[str]]:
    """Stamp the work database as a snapshot, atomically make it the published one, prune old ones.

    The work database was copied from the snapshot recorded last in its publish_log; if the
    published file is no longer that snapshot, another run published meanwhile and swapping
    this one in would silently drop that run's articles, so it refuses instead. Returns
    which snapshots were kept, removed, or left because a reader still has them open.
    A DuckLake publishes with one commit (:func:`pipeline.lake.publish`).
    """
    if is_lake(warehouse):
        return lake.publish(warehouse, snapshot_id=snapshot_id, batch_id=batch_id, new_articles=new_articles,
                            keep=keep)
    with connect(work_db) as con:
        base_snapshot = latest_snapshot(con)
        total = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        con.execute(
            "INSERT INTO publish_log VALUES (?, ?, ?, ?, ?, ?)",
            [snapshot_id, batch_id, base_snapshot, datetime.now(UTC), total, new_articles],
        )
        con.execute("CHECKPOINT")
    with publish_lock(warehouse):
        now_published = current_snapshot(warehouse)
        if now_published != base_snapshot:
            raise PublishConflict(
                f"the published warehouse moved from {base_snapshot} to {now_published} while this run "
                "was building; re-run to build on top of it"
            )
        snapshots.install(work_db, warehouse, snapshot_id)
        return snapshots.prune(warehouse, keep=keep).as_dict()
