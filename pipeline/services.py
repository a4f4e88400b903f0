"""PostgreSQL and Redis from Debian's packages, run as private processes on loopback.

The Celery cluster (``pipeline.cluster``) and the tests need a real PostgreSQL (Airflow's
metadata database, the DuckLake catalog) and a real Redis (Celery's broker). Other people's
test runs share this machine, so every server here gets a free port picked at start (never
5432 or 6379), its data under a folder of its own, a generated password, and listens on
127.0.0.1 only; nothing is installed or started system-wide. ``.ci/run`` installs the packages
(``postgresql``, ``redis-server``) the way it installs Chromium.

PostgreSQL refuses to run as root (``initdb`` says so): as root its processes run as the
``postgres`` user the Debian package creates, and the data folder is given to that user.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

PG_SUPERUSER = "newsdesk"


class ServiceError(RuntimeError):
    """A server could not be found, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it: bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) is not alive
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop_group(pid: int | None, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Signal a process group (every server here leads its own), then SIGKILL what is left after ``timeout``.

    What is left includes the processes below the leader in groups of their own: Airflow puts
    each task process in a new process group, which a signal to the worker's group misses.
    """
    if not pid:
        return
    tree = descendants(pid)
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        time.sleep(0.2)
    tree += descendants(pid)  # and what the leader started meanwhile (a task taken while shutting down)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for child in tree:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)


def wait_for(check, what: str, timeout: float, *, proc: subprocess.Popen | None = None, log: Path | None = None,
             interval: float = 0.25) -> float:
    """Poll ``check()`` until true; seconds it took. Fails early if ``proc`` exited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}{_tail(log)}")
        time.sleep(interval)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s{_tail(log)}")


def _tail(log: Path | None, chars: int = 2500) -> str:
    if log is None or not log.exists():
        return ""
    return f"; end of {log}:\n" + log.read_text(errors="replace")[-chars:]


def spawn(argv: list[str], log: Path, *, env: dict[str, str] | None = None, user: str | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start a server in a session (process group) of its own, detached from the caller's terminal."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, user=user, start_new_session=True)


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    """A PostgreSQL server program (Debian keeps them under /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise ServiceError(f"PostgreSQL's {name} not found: install Debian's postgresql package "
                           "(apt-get install postgresql; .ci/run does)")
    return path


def _server_user() -> str | None:
    """The user PostgreSQL runs as: the Debian ``postgres`` user when we are root, else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


def _reachable_by(user: str, folder: Path) -> bool:
    """Whether ``user`` can enter ``folder`` (every parent must be searchable by others)."""
    return all(os.stat(p).st_mode & 0o001 for p in [folder, *folder.parents] if p.exists())


@dataclass
class Postgres:
    """A private PostgreSQL server: data in ``data_dir``, TCP on 127.0.0.1:``port``, password auth."""

    data_dir: Path
    port: int
    password: str
    pid: int | None = None

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def dsn(self, dbname: str) -> str:
        """libpq keyword form (what DuckDB's postgres extension takes), password left to PGPASSWORD."""
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user={PG_SUPERUSER}"

    def url(self, dbname: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{PG_SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @classmethod
    def create(cls, data_dir: Path, port: int | None = None, password: str | None = None) -> Postgres:
        """``initdb`` a new cluster in ``data_dir`` (must not exist or be empty)."""
        pg = cls(data_dir, port or free_port(), password or secrets.token_urlsafe(18))
        user = _server_user()
        data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            if not _reachable_by(user, data_dir.parent):
                raise ServiceError(f"PostgreSQL runs as user {user} (it refuses root) and cannot reach {data_dir}: "
                                   "make its parent folders searchable by others (chmod o+x) or use another "
                                   "state folder")
            shutil.chown(data_dir, user, user)
            os.chmod(data_dir, 0o700)
        pwfile = data_dir.parent / f".pgpass-init-{os.getpid()}"
        pwfile.write_text(pg.password + "\n")
        try:
            if user:
                shutil.chown(pwfile, user, user)
            os.chmod(pwfile, 0o600)
            proc = subprocess.run([pg_bin("initdb"), "-D", str(data_dir), "-U", PG_SUPERUSER, f"--pwfile={pwfile}",
                                   "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-instructions"],
                                  capture_output=True, text=True, user=user, check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServiceError(f"initdb failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return pg

    def start(self, timeout: float = 60.0) -> float:
        """Start the server (its own process group); seconds until it accepts connections."""
        if self.pid and pid_alive(self.pid):
            return 0.0
        if port_open(self.port):
            raise ServiceError(f"port {self.port} is taken; `up` picks free ports each time")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        user = _server_user()
        if user and not self.log.exists():
            self.log.touch()
        argv = [pg_bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=200", "-c", "logging_collector=off"]
        proc = spawn(argv, self.log, user=user)
        self.pid = proc.pid
        return wait_for(self.ready, f"PostgreSQL on port {self.port}", timeout, proc=proc, log=self.log)

    def ready(self) -> bool:
        return subprocess.run([pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                              check=False).returncode == 0

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run one statement with ``psql`` (no driver needed); its output, unaligned."""
        proc = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_SUPERUSER, "-d", dbname,
                               "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                              env={**os.environ, "PGPASSWORD": self.password}, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise ServiceError(f"psql failed on {statement[:200]!r}: {proc.stderr.strip()[-2000:]}")
        return proc.stdout.strip()

    def create_database(self, name: str) -> None:
        if not self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.sql(f'CREATE DATABASE "{name}"')

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, then exit)."""
        stop_group(self.pid, sig=signal.SIGINT, timeout=timeout)
        self.pid = None


# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------


@dataclass
class Redis:
    """A private redis-server: no persistence, TCP on 127.0.0.1:``port``, a password."""

    data_dir: Path
    port: int
    password: str
    pid: int | None = None

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    @classmethod
    def create(cls, data_dir: Path, port: int | None = None, password: str | None = None) -> Redis:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir, port or free_port(), password or secrets.token_urlsafe(18))

    def start(self, timeout: float = 30.0) -> float:
        if self.pid and pid_alive(self.pid):
            return 0.0
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise ServiceError("redis-server not found: install Debian's redis-server package "
                               "(apt-get install redis-server; .ci/run does)")
        if port_open(self.port):
            raise ServiceError(f"port {self.port} is taken; `up` picks free ports each time")
        conf = self.data_dir / "redis.conf"  # the password in a file, not on a command line `ps` shows
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {self.password}\n"
                        f"dir {self.data_dir}\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n")
        os.chmod(conf, 0o600)
        proc = spawn([server, str(conf)], self.log)
        self.pid = proc.pid
        return wait_for(self.ready, f"redis-server on port {self.port}", timeout, proc=proc, log=self.log)

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                reply = b""
                while b"PONG" not in reply and len(reply) < 200:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    reply += chunk
                return b"PONG" in reply
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        stop_group(self.pid, timeout=timeout)
        self.pid = None
