"""``newsdesk cluster up|status|run|env|down``: the nightly DAG on Airflow's CeleryExecutor, on this machine.

What ``up`` starts, each a process group of its own, logs in ``<state>/cluster/logs/``:

==============  ===========================================================================
postgres        Debian's PostgreSQL: Airflow's metadata DB (``airflow``; SQLite cannot serve
                several processes) and the DuckLake catalog (``newsdesk_lake``)
redis           Debian's redis-server: Celery's broker
api-server      Airflow's UI/REST API and the execution API that tasks on workers talk to
scheduler       schedules runs and tasks, sends tasks to Celery
dag-processor   parses ``dags/`` into the metadata DB
worker-1..N     ``airflow celery worker --concurrency 1``: one task at a time each, its own
                log-server port
==============  ===========================================================================

Every port is picked free at ``up`` (never Airflow's or the servers' defaults: other people's
tests share this machine), all on 127.0.0.1. Every Airflow process gets the same generated
JWT secret, API secret key, Fernet key and ``execution_api_server_url`` (a worker whose task
runner cannot verify the API server's tokens fails every task). They are written with the
ports and pids to ``<state>/cluster/cluster.json`` (mode 0600) so that ``status``, ``run`` and
``down`` find them; ``down`` stops everything ``up`` started, ``down --purge`` also deletes the
databases and the lake.

The DAG runs with ``NEWSDESK_NLP_PROCESSES=1`` (each worker is one NLP process; more workers,
not more processes per task, is how this scales out) and, unless ``--file-warehouse``,
publishes to a DuckLake warehouse: catalog in this PostgreSQL, data files in
``<state>/cluster/lake`` (``newsdesk cluster env`` prints the settings readers need).
Nothing is installed at run time: the servers come from Debian packages (``.ci/run``
installs them), Airflow's Celery provider from the lock.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import services
from pipeline.airflow_runner import WAREHOUSE_POOL
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.services import Postgres, Redis, ServiceError

DAG_ID = "newsdesk_nightly"
LAKE_DB = "newsdesk_lake"
AIRFLOW_DB = "airflow"
AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor")


class ClusterError(RuntimeError):
    pass


def cluster_dir(settings: Settings) -> Path:
    return settings.state_dir / "cluster"


@dataclass
class Cluster:
    """The cluster's state file and what can be derived from it."""

    root: Path
    info: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.root / "cluster.json"

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, settings: Settings) -> Cluster:
        root = cluster_dir(settings)
        path = root / "cluster.json"
        if not path.exists():
            raise ClusterError(f"no cluster under {root}: start one with `newsdesk cluster up`")
        return cls(root, json.loads(path.read_text()))

    # ---- parts -----------------------------------------------------------------------
    @property
    def postgres(self) -> Postgres:
        p = self.info["postgres"]
        return Postgres(self.root / "pg" / "data", p["port"], p["password"], self.info["pids"].get("postgres"))

    @property
    def redis(self) -> Redis:
        r = self.info["redis"]
        return Redis(self.root / "redis", r["port"], r["password"], self.info["pids"].get("redis"))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.info['ports']['api']}"

    @property
    def workers(self) -> list[str]:
        return [f"worker-{i + 1}" for i in range(self.info["workers"])]

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def warehouse_env(self) -> dict[str, str]:
        """The NEWSDESK_* settings of the cluster's warehouse (DuckLake unless --file-warehouse)."""
        if self.info["warehouse"] == "file":
            return {"NEWSDESK_WAREHOUSE": self.info["file_warehouse"]}
        return {"NEWSDESK_WAREHOUSE": "ducklake:postgres:" + self.postgres.dsn(LAKE_DB),
                "NEWSDESK_LAKE_DATA": str(self.root / "lake"), "PGPASSFILE": str(self.root / "pgpass")}

    def airflow_env(self, settings: Settings) -> dict[str, str]:
        """The environment every Airflow process of the cluster shares (same secrets, same URLs)."""
        from pipeline.airflow_runner import airflow_env

        pg, rd, ports, keys = self.postgres, self.redis, self.info["ports"], self.info["secrets"]
        home = self.root / "airflow"
        env = {**os.environ, **airflow_env(settings, quiet=False)}
        env.update({
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url(AIRFLOW_DB),
            "AIRFLOW__CELERY__BROKER_URL": rd.url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg.url(AIRFLOW_DB),  # psycopg2, named: SQLAlchemy 2.1's
            # default PostgreSQL driver is psycopg 3
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt"],
            "AIRFLOW__API__SECRET_KEY": keys["api"],
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(ports["api"]),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["log_servers"][0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.info["heartbeat_timeout"]),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "NEWSDESK_NLP_PROCESSES": str(self.info["nlp_processes"]),
            **self.info["newsdesk_env"],
            **self.warehouse_env(),
        })
        return env

    def worker_env(self, settings: Settings, index: int) -> dict[str, str]:
        name = self.workers[index]
        return {**self.airflow_env(settings),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.info["ports"]["log_servers"][index]),
                "NEWSDESK_WORKER_HOSTNAME": f"{name}@{socket.gethostname()}"}


def _airflow(cluster: Cluster, settings: Settings, *args: str, timeout: float = 600) -> str:
    proc = subprocess.run([sys.executable, "-m", "airflow", *args], env=cluster.airflow_env(settings),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _health(cluster: Cluster) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{cluster.api_url}/api/v2/monitor/health", timeout=15) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _healthy(cluster: Cluster, component: str) -> bool:
    health = _health(cluster)
    return bool(health) and (health.get(component) or {}).get("status") == "healthy"


def _log_says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def _dag_parsed(cluster: Cluster) -> bool:
    try:
        return cluster.postgres.sql(f"SELECT count(*) FROM serialized_dag WHERE dag_id = '{DAG_ID}'",
                                    AIRFLOW_DB) not in ("", "0")
    except ServiceError:
        return False


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def up(settings: Settings, *, workers: int = 2, file_warehouse: bool = False, nlp_processes: int = 1,
       heartbeat_timeout: int = 60, timeout: float = 300.0) -> Cluster:
    """Start every component (reusing the databases of an earlier ``up``); seconds each took to be ready."""
    root = cluster_dir(settings)
    try:
        existing = Cluster.load(settings)
    except ClusterError:
        existing = None
    if existing and any(services.pid_alive(pid) for pid in existing.info["pids"].values()):
        raise ClusterError(f"a cluster is already running from {root} (newsdesk cluster status; "
                           "newsdesk cluster down)")
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "logs", ignore_errors=True)  # each `up` starts its logs afresh
    os.chmod(root, 0o755)  # PostgreSQL (user postgres when we are root) must reach its folder
    previous = existing.info if existing else {}
    free = services.free_port
    info: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "project_dir": str(settings.project_dir),
        "workers": workers,
        "nlp_processes": nlp_processes,
        "heartbeat_timeout": heartbeat_timeout,
        "warehouse": "file" if file_warehouse else "ducklake",
        "file_warehouse": str(settings.project_dir / "warehouse" / "newsdesk.duckdb"
                              if isinstance(settings.warehouse, Lake) else settings.warehouse),
        "postgres": {"port": free(), "password": previous.get("postgres", {}).get("password")
                     or secrets.token_urlsafe(18)},
        "redis": {"port": free(), "password": secrets.token_urlsafe(18)},
        "ports": {"api": free(), "log_servers": [free() for _ in range(workers)], "trigger_logs": free()},
        "secrets": previous.get("secrets") or {"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32),
                                               "fernet": _fernet_key()},
        "newsdesk_env": {k: v for k, v in os.environ.items() if k.startswith("NEWSDESK_")
                         and k not in ("NEWSDESK_WAREHOUSE", "NEWSDESK_LAKE_DATA", "NEWSDESK_NLP_PROCESSES")},
        "pids": {},
        "startup_seconds": {},
    }
    cluster = Cluster(root, info)
    cluster.save()
    try:
        _start_all(cluster, settings, timeout)
    except BaseException:
        down(settings)
        raise
    return cluster


def _timed(cluster: Cluster, name: str, seconds: float) -> None:
    cluster.info["startup_seconds"][name] = round(seconds, 2)
    cluster.save()


def _start_all(cluster: Cluster, settings: Settings, timeout: float) -> None:
    root, info = cluster.root, cluster.info
    t0 = time.monotonic()
    data = root / "pg" / "data"
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(root / "pg", ignore_errors=True)
        Postgres.create(data, info["postgres"]["port"], info["postgres"]["password"])
    pg = cluster.postgres
    pg.start(timeout=timeout)
    info["pids"]["postgres"] = pg.pid
    for db in (AIRFLOW_DB, LAKE_DB):
        pg.create_database(db)
    pgpass = root / "pgpass"  # for the DuckLake catalog connections (libpq reads PGPASSFILE)
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{services.PG_SUPERUSER}:{pg.password}\n")
    os.chmod(pgpass, 0o600)
    _timed(cluster, "postgres", time.monotonic() - t0)

    t0 = time.monotonic()
    rd = cluster.redis
    rd.data_dir.mkdir(parents=True, exist_ok=True)
    rd.start(timeout=timeout)
    info["pids"]["redis"] = rd.pid
    _timed(cluster, "redis", time.monotonic() - t0)

    t0 = time.monotonic()
    marker = root / "airflow" / ".migrated"
    from pipeline.airflow_runner import _airflow_version

    if not marker.exists() or marker.read_text() != _airflow_version():
        (root / "airflow").mkdir(parents=True, exist_ok=True)
        _airflow(cluster, settings, "db", "migrate")
        marker.write_text(_airflow_version())
    _airflow(cluster, settings, "pools", "set", *WAREHOUSE_POOL)
    _timed(cluster, "airflow db migrate + pool", time.monotonic() - t0)

    env = cluster.airflow_env(settings)
    airflow = [sys.executable, "-m", "airflow"]
    t0 = time.monotonic()
    api = services.spawn([*airflow, "api-server", "--port", str(info["ports"]["api"]), "--host", "127.0.0.1",
                          "--workers", "1"], cluster.log("api-server"), env=env)
    info["pids"]["api-server"] = api.pid
    cluster.save()
    services.wait_for(lambda: _health(cluster) is not None, "Airflow api-server", timeout, proc=api,
                      log=cluster.log("api-server"))
    _timed(cluster, "api-server", time.monotonic() - t0)

    t0 = time.monotonic()
    procs = {}
    for name in ("scheduler", "dag-processor"):
        procs[name] = services.spawn([*airflow, name], cluster.log(name), env=env)
        info["pids"][name] = procs[name].pid
    for i, name in enumerate(cluster.workers):
        procs[name] = start_worker(cluster, settings, i, wait=False)
    cluster.save()
    for name in ("scheduler", "dag-processor"):
        key = name.replace("-", "_")
        services.wait_for(lambda key=key: _healthy(cluster, key), f"Airflow {name}", timeout, proc=procs[name],
                          log=cluster.log(name))
        _timed(cluster, name, time.monotonic() - t0)
    for name in cluster.workers:
        services.wait_for(lambda name=name: _log_says(cluster.log(name), " ready."), f"Celery {name}", timeout,
                          proc=procs[name], log=cluster.log(name))
        _timed(cluster, name, time.monotonic() - t0)
    services.wait_for(lambda: _dag_parsed(cluster), f"DAG {DAG_ID} parsed", timeout, proc=procs["dag-processor"],
                      log=cluster.log("dag-processor"))
    _timed(cluster, "dag parsed", time.monotonic() - t0)


def start_worker(cluster: Cluster, settings: Settings, index: int, *, wait: bool = True,
                 timeout: float = 300.0) -> subprocess.Popen:
    """Start Celery worker ``index`` (again): ``airflow celery worker --concurrency 1``, its own log port."""
    name = cluster.workers[index]
    log = cluster.log(name)
    log.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "airflow", "celery", "worker", "--concurrency", "1",
            "--celery-hostname", f"{name}@%h"]
    proc = services.spawn(argv, log, env=cluster.worker_env(settings, index))
    cluster.info["pids"][name] = proc.pid
    cluster.save()
    if wait:
        services.wait_for(lambda: _log_says(log, " ready."), f"Celery {name}", timeout, proc=proc, log=log)
    return proc


def stop_worker(cluster: Cluster, name: str, *, kill: bool = False) -> None:
    """Stop one worker and the tasks it runs (``kill``: SIGKILL to all of it at once, as if its machine died)."""
    pid = cluster.info["pids"].get(name)
    if kill and pid:
        for victim in [pid, *services.descendants(pid)]:
            with suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
    services.stop_group(pid, timeout=0 if kill else 30)
    cluster.info["pids"].pop(name, None)
    cluster.save()


def status(settings: Settings) -> list[dict[str, Any]]:
    """One row per component: pid, whether it runs, and what it answers."""
    cluster = Cluster.load(settings)
    health = _health(cluster) or {}
    rows = []
    for name, pid in cluster.info["pids"].items():
        alive = services.pid_alive(pid)
        detail = ""
        if name == "postgres":
            detail = f"127.0.0.1:{cluster.postgres.port} " + ("accepting connections" if alive and
                                                              cluster.postgres.ready() else "not answering")
        elif name == "redis":
            detail = f"127.0.0.1:{cluster.redis.port} " + ("PONG" if alive and cluster.redis.ready() else "no PONG")
        elif name == "api-server":
            detail = f"{cluster.api_url} " + ("healthy" if health else "no answer")
        elif name in ("scheduler", "dag-processor"):
            detail = (health.get(name.replace("-", "_")) or {}).get("status") or "unknown"
        elif name.startswith("worker-"):
            i = cluster.workers.index(name)
            detail = f"concurrency 1, log server :{cluster.info['ports']['log_servers'][i]}"
        rows.append({"component": name, "pid": pid, "running": alive, "detail": detail})
    return rows


def down(settings: Settings, *, purge: bool = False) -> list[str]:
    """Stop everything ``up`` started (workers first: their tasks die with them), then the servers."""
    try:
        cluster = Cluster.load(settings)
    except ClusterError:
        return []
    pids = cluster.info["pids"]
    order = [*cluster.workers, *reversed(AIRFLOW_PROCESSES)]
    stopped = []
    for name in order:
        if name in pids:
            services.stop_group(pids[name], timeout=15)
            stopped.append(name)
    if "redis" in pids:
        services.stop_group(pids["redis"], timeout=10)
        stopped.append("redis")
    if "postgres" in pids:
        cluster.postgres.stop()
        stopped.append("postgres")
    cluster.info["pids"] = {}
    cluster.info["stopped_at"] = datetime.now(UTC).isoformat()
    cluster.save()
    if purge:
        shutil.rmtree(cluster.root, ignore_errors=True)
    return stopped


def env_lines(settings: Settings) -> str:
    """``export`` lines that point newsdesk's readers (sql, shell, dashboard, export) at the cluster's warehouse."""
    cluster = Cluster.load(settings)
    return "\n".join(f"export {k}={_shell_quote(v)}" for k, v in cluster.warehouse_env().items())


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------


def trigger(settings: Settings, input_dir: Path, *, run_id: str | None = None, warehouse: Path | None = None) -> str:
    """Create a DAG run on the cluster's scheduler (``airflow dags trigger``); its run id.

    ``warehouse`` (a DuckDB file) replaces the cluster's warehouse for this run (benchmarks).
    """
    cluster = Cluster.load(settings)
    run_id = run_id or f"cluster__{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    conf = json.dumps({"input_dir": str(input_dir), **({"warehouse": str(warehouse)} if warehouse else {})})
    _airflow(cluster, settings, "dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", conf)
    return run_id


def run_state(settings: Settings, run_id: str) -> str | None:
    cluster = Cluster.load(settings)
    return cluster.postgres.sql(f"SELECT state FROM dag_run WHERE dag_id = '{DAG_ID}' AND run_id = '{run_id}'",
                                AIRFLOW_DB) or None


def wait(settings: Settings, run_id: str, *, timeout: float = 1800.0, interval: float = 2.0) -> str:
    """Poll the run until it succeeded or failed; its final state (raises after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run_state(settings, run_id)
        if state in ("success", "failed"):
            return state
        time.sleep(interval)
    raise ClusterError(f"run {run_id} not finished after {timeout:.0f}s (state {run_state(settings, run_id)})")


def task_instances(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    """The run's task instances as Airflow recorded them (task, map index, try, state, seconds)."""
    cluster = Cluster.load(settings)
    out = cluster.postgres.sql(
        "SELECT task_id, map_index, try_number, state, coalesce(hostname, ''), "
        "coalesce(round(extract(epoch FROM end_date - start_date)::numeric, 2)::text, '') "
        f"FROM task_instance WHERE dag_id = '{DAG_ID}' AND run_id = '{run_id}' ORDER BY start_date NULLS LAST, "
        "task_id, map_index", AIRFLOW_DB)
    keys = ("task_id", "map_index", "try_number", "state", "hostname", "seconds")
    return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines() if line]
