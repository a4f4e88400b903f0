"""Run dbt (models and tests) in-process against a run's work database.

``dbtRunner`` avoids needing ``dbt`` on PATH and keeps one Python process per task. dbt's
``target/`` and ``logs/`` go to the run folder (the repository stays read-only at run time)
and anonymous usage statistics are off: nothing leaves the machine.

Parsing the project costs seconds (macros, 40+ tests, contracts); a stage that invokes dbt
more than once (``build``, then ``source freshness``) parses once (``parse_project``) and
hands the manifest to every later invocation (``run_dbt(..., manifest=...)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.runs import atomic_write_text

DBT_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_USE_COLORS": "false",
    "DBT_PRINTER_WIDTH": "100",
}


class DbtFailed(RuntimeError):
    """dbt reported failing models or tests; ``failures`` lists them."""

    def __init__(self, command: str, failures: list[dict[str, Any]]) -> None:
        self.command = command
        self.failures = failures
        lines = "; ".join(f"{f['name']}: {f['status']} {f.get('message') or ''}".strip() for f in failures[:10])
        super().__init__(f"dbt {command} failed ({len(failures)} failing): {lines}")


def _release_duckdb() -> None:
    """Close dbt-duckdb's cached database handle.

    dbt-duckdb keeps one DuckDB instance per process after ``invoke`` returns. When tasks
    share a process (``dag.test()``, tests), the next stage could not open the same file
    with its own settings while that instance lives, so it is closed here.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()


def _behavior_flag_source() -> str:
    """The module that created a dbt behavior flag: what dbt-common's ``_default_source`` finds, cheaply.

    dbt-common asks ``inspect.stack()`` for it, once per behavior flag of the adapter and
    invocation, even when the flag names its source: that reads the source line of every
    frame on the stack, and under Airflow's task runner the stack is deep (0.7-1.7 s per
    dbt invocation in the profile of a one-article night). The first frame outside
    dbt-common's module answers the same, from the frame's globals.
    """
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != "dbt_common.behavior_flags":
            return name
        frame = frame.f_back
    return "Unknown"


def _install_behavior_flag_source() -> None:
    from dbt_common import behavior_flags

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(_behavior_flag_source)


def _progress_callback(prefix: str) -> Callable[[Any], None]:
    """A dbtRunner callback logging nodes done out of the total, models built, and time left.

    dbt announces every node with its index and the total ("12 of 138 START ..."); the line is
    logged at most every few seconds (see :class:`pipeline.progress.Progress`).
    """
    from pipeline.progress import Progress

    bar = Progress(prefix, None, "nodes")
    built = {"models": 0, "tests": 0}

    def on_event(event: Any) -> None:
        name = event.info.name
        if name == "LogStartLine" and bar.total is None:
            bar.total = int(event.data.total) or None
        elif name == "NodeFinished":
            kind = event.data.node_info.resource_type
            if kind == "model":
                built["models"] += 1
            elif kind in ("test", "unit_test"):
                built["tests"] += 1
            bar.update(bar.done + 1, **{"models built": built["models"], "tests run": built["tests"]})

    return on_event


@dataclass
class DbtResult:
    command: str
    passed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    manifest: Any = None  # the parsed project (``dbt parse``), reusable by later invocations


def run_dbt(
    command: list[str], *, project_dir: Path, database: Path | Lake, work_dir: Path, quiet: bool = True,
    target: str | None = None, check: bool = True, progress: str | None = None, lake_version: int | None = None,
    manifest: Any = None,
) -> DbtResult:
    """Invoke ``dbt <command>`` on ``database``; raise :class:`DbtFailed` on any failure.

    ``check=False`` returns failing nodes in ``result.failures`` instead of raising (for
    reports such as source freshness, which must not stop a run). A DuckLake ``database``
    selects the profile's ``lake`` target (dbt-duckdb attaches it), or ``lake_published``
    pinned to ``lake_version``. ``manifest`` (from :func:`parse_project` with the same
    database, target and ``--vars``) skips dbt's parse.
    """
    from dbt.cli.main import dbtRunner  # heavy import, only in the task that needs it

    _install_behavior_flag_source()

    names = [*DBT_ENV, "NEWSDESK_DBT_DATABASE", "NEWSDESK_DBT_LAKE", "NEWSDESK_LAKE_DATA", "NEWSDESK_DBT_LAKE_VERSION"]
    env_before = {k: os.environ.get(k) for k in names}
    os.environ.update(DBT_ENV)
    if isinstance(database, Lake):
        target = target or ("lake" if lake_version is None else "lake_published")
        os.environ.update(NEWSDESK_DBT_LAKE=str(database), NEWSDESK_LAKE_DATA=str(database.data_path) + "/",
                          NEWSDESK_DBT_LAKE_VERSION=str(lake_version or 0), NEWSDESK_DBT_DATABASE=":memory:")
    else:
        os.environ["NEWSDESK_DBT_DATABASE"] = str(database)
    args = [
        *command,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]
    if target:
        args += ["--target", target]
    if quiet:
        args = ["--quiet", *args]
    try:
        res = dbtRunner(manifest=manifest, callbacks=[_progress_callback(progress)] if progress else None).invoke(args)
    finally:
        _release_duckdb()
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    result = DbtResult(command=" ".join(command))
    if res.exception is not None:
        raise DbtFailed(result.command, [{"name": "dbt", "status": "error", "message": str(res.exception)}])
    if command[:1] == ["parse"]:
        result.manifest = res.result
    for r in getattr(res.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        node = {
            "name": r.node.name,
            "resource_type": str(getattr(r.node.resource_type, "value", r.node.resource_type)),
            "status": status,
            "message": r.message,
            "failures": r.failures,
            "seconds": round(r.execution_time or 0.0, 3),
        }
        if hasattr(r, "max_loaded_at"):  # source freshness results
            node.update(max_loaded_at=str(r.max_loaded_at), age_hours=round((r.age or 0.0) / 3600, 2))
        result.nodes.append(node)
        if status in ("error", "fail", "runtime error"):
            result.failures.append(node)
        else:
            result.passed += 1
    if not res.success and not result.failures:
        result.failures.append({"name": "dbt", "status": "error", "message": "dbt reported failure"})
    if result.failures and check:
        raise DbtFailed(result.command, result.failures)
    return result


def parse_project(*, project_dir: Path, database: Path | Lake, work_dir: Path, dbt_vars: dict[str, Any] | None = None,
                  target: str | None = None, cache_dir: Path | None = None) -> Any:
    """``dbt parse`` once, for every later :func:`run_dbt` of the same stage (``manifest=``).

    Pass the same ``dbt_vars`` to the invocations that use the manifest: configs in the
    project's YAML (e.g. the tests' ``where``) are rendered with them at parse time.

    ``cache_dir`` keeps dbt's partial-parse file between runs (each run has its own target
    folder): when the project files, ``--vars``, profile and dbt version are those of the
    last parse, dbt reuses it instead of parsing again (~1 s instead of ~3.5 s a night), and
    re-parses only what changed otherwise; dbt itself decides, from file hashes and its state
    check. The file is keyed by project, database and target, which dbt's check includes.
    """
    extra = ["--vars", json.dumps(dbt_vars)] if dbt_vars else []
    kept = _parse_cache_file(cache_dir, project_dir, database, target) if cache_dir else None
    state = work_dir / "target" / PARTIAL_PARSE_FILE
    if kept is not None and kept.exists():
        state.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, state)
    manifest = run_dbt(["parse", *extra], project_dir=project_dir, database=database, work_dir=work_dir,
                       target=target).manifest
    if kept is not None and state.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        shutil.copyfile(state, tmp)
        os.replace(tmp, kept)
    return manifest


PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # what dbt writes in its target folder after a parse


def _parse_cache_file(cache_dir: Path, project_dir: Path, database: Path | Lake, target: str | None) -> Path:
    key = hashlib.sha1(f"{Path(project_dir).resolve()}|{database}|{target or ''}".encode()).hexdigest()[:16]
    return cache_dir / f"{key}.msgpack"


@dataclass
class BuildRequest:
    """What a night's ``dbt_build`` asks of dbt: one parse, ``build``, then ``source freshness``.

    Plain data, so that a warmed-up dbt process (:mod:`pipeline.dbt_worker`) can run it as
    well as this one; ``parse_key`` says which parse it needs.
    """

    project_dir: Path
    database: Path | Lake
    work_dir: Path
    dbt_vars: dict[str, Any]
    cache_dir: Path | None = None
    full_refresh: bool = False
    progress: str | None = None

    @property
    def parse_key(self) -> tuple[str, str, str]:
        return (str(Path(self.project_dir).resolve()), str(self.database), json.dumps(self.dbt_vars, sort_keys=True))

    def parse(self) -> Any:
        """The parse this request needs (:func:`parse_project`, last night's kept in ``cache_dir``)."""
        return parse_project(project_dir=self.project_dir, database=self.database, work_dir=self.work_dir,
                             dbt_vars=self.dbt_vars, cache_dir=self.cache_dir)


def nightly_build_request(cfg: Settings, work_db: Path | Lake, work_dir: Path, *,
                          progress: str | None = None) -> BuildRequest:
    """The night's dbt work; also what ``airflow_runner.run_dag`` warms a dbt process up for.

    ``NEWSDESK_DBT_FULL_REFRESH=1`` rebuilds the incremental tables (``on_schema_change`` is fail).
    """
    return BuildRequest(project_dir=cfg.dbt_project_dir, database=work_db, work_dir=work_dir,
                        dbt_vars={"tests_scope": "batch"}, cache_dir=cfg.state_dir / "dbt-parse",
                        full_refresh=os.environ.get("NEWSDESK_DBT_FULL_REFRESH", "0") == "1", progress=progress)


@dataclass
class BuildOutcome:
    build: DbtResult
    freshness: DbtResult


def build_project(request: BuildRequest, manifest: Any = None) -> BuildOutcome:
    """Run ``dbt build`` (raising :class:`DbtFailed`) and the freshness report on one parse.

    ``manifest``: a parse of ``request.parse_key`` made earlier (the warm process's); parsed
    here otherwise. Freshness never fails the night (``check=False``): stale sources mean no
    new news came in, not that the batch is wrong, so it goes to run_log and the dashboard's
    health panel.
    """
    if manifest is None:
        manifest = request.parse()
    # dbt's JSON artifacts (manifest.json twice, run_results.json, sources.json) cost ~1-1.5 s a
    # night to write and nothing reads them: the results come back in-process, and what a
    # reader of the run folder wants of them is kept in NODE_RESULTS (compiled SQL is still written)
    command = ["build", "--no-write-json", *(["--full-refresh"] if request.full_refresh else []),
               "--vars", json.dumps(request.dbt_vars)]
    build = run_dbt(command, project_dir=request.project_dir, database=request.database, work_dir=request.work_dir,
                    progress=request.progress, manifest=manifest, check=False)
    if build.failures:
        _keep_node_results(request.work_dir, build)
        raise DbtFailed(build.command, build.failures)
    freshness = run_dbt(["source", "freshness", "--no-write-json"], project_dir=request.project_dir,
                        database=request.database, work_dir=request.work_dir, check=False, manifest=manifest)
    _keep_node_results(request.work_dir, build, freshness)
    return BuildOutcome(build=build, freshness=freshness)


NODE_RESULTS = "node_results.json"  # in the night's dbt folder: every node's status, time and message


def _keep_node_results(work_dir: Path, *results: DbtResult) -> None:
    """Write each command's per-node results to ``work_dir/NODE_RESULTS`` (run_results.json, the part one reads)."""
    atomic_write_text(work_dir / NODE_RESULTS,
                      json.dumps({r.command.split(" --")[0]: r.nodes for r in results}, default=str, indent=1))
