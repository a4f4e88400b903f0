"""``newsdesk shell``: an interactive SQL prompt on the published snapshot.

The DuckDB CLI (``duckdb-cli`` on PyPI, 1.5.x like newsdesk's pin) opens a path and knows
nothing of published snapshots, so this is the standard library's :mod:`cmd` shell (readline
editing and history, tab completion of commands) around one read-only connection. Statements
end with ``;`` and may span lines; dot commands mirror the DuckDB CLI's. The connection stays
on the snapshot it opened, so a long session sees one consistent state while nightly runs
publish; ``.refresh`` moves it to the newest snapshot.
"""

from __future__ import annotations

import cmd
import io
import os
import sys
from contextlib import ExitStack, redirect_stdout, suppress
from pathlib import Path

import duckdb

from pipeline import snapshots, warehouse

HELP = """\
SQL statements end with ';' and may span several lines (read-only: SELECT, DESCRIBE, SUMMARIZE,
PRAGMA ...; no file or network access: `newsdesk export` writes Parquet). Dot commands:
  .tables            tables and views with their row counts
  .schema TABLE      columns and types of TABLE
  .snapshot          which snapshot this session reads
  .refresh           move to the newest published snapshot
  .maxrows N         rows shown per result (default 40)
  .quit              leave (also Ctrl-D)
Table reference: docs/analysts.md, or `newsdesk docs` for the dbt docs site."""


class SqlShell(cmd.Cmd):
    intro = "newsdesk SQL shell on the published snapshot. Type .help for help, .quit to leave."
    prompt = "newsdesk> "
    continuation = "     ...> "

    def __init__(self, warehouse_path: Path, history: Path | None = None, stdin=None, stdout=None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        if stdin is not None:
            self.use_rawinput = False
        self.warehouse_path = warehouse_path
        self.history = history
        self.max_rows = 40
        self.buffer: list[str] = []
        self._stack = ExitStack()
        self.con: duckdb.DuckDBPyConnection | None = None
        self._open()

    # ---- connection ----------------------------------------------------------------
    def _open(self) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self.con = self._stack.enter_context(snapshots.connect_analyst(self.warehouse_path))
        self.snapshot = warehouse.latest_snapshot(self.con)

    def close(self) -> None:
        self._stack.close()

    # ---- input handling --------------------------------------------------------------
    def precmd(self, line: str) -> str:
        stripped = line.strip()
        if not self.buffer and stripped.startswith("."):
            return stripped[1:]
        if stripped == "EOF":
            return "EOF"
        self.buffer.append(line)
        if not stripped.endswith(";"):
            self.prompt = self.continuation
            return ""
        sql, self.buffer = "\n".join(self.buffer), []
        self.prompt = type(self).prompt
        return "SQL " + sql

    def emptyline(self) -> bool:
        return False

    def do_SQL(self, sql: str) -> None:
        try:
            rel = self.con.sql(sql)
        except duckdb.Error as exc:
            self._say(f"Error: {exc}")
            return
        if rel is None:
            self._say("OK")
            return
        self._say(_shown(rel, self.max_rows))

    def default(self, line: str) -> None:
        self._say(f"unknown command {line.split()[0]!r}; .help lists the dot commands")

    # ---- dot commands ----------------------------------------------------------------
    def do_help(self, arg: str) -> None:
        self._say(HELP)

    def do_tables(self, arg: str) -> None:
        rows = self.con.execute(
            "SELECT table_name, lower(replace(table_type, 'BASE ', '')) FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_type, table_name").fetchall()
        width = max((len(n) for n, _ in rows), default=10)
        for name, kind in rows:
            n = warehouse.scalar(self.con, f'SELECT count(*) FROM "{name}"')
            self._say(f"  {name:<{width}}  {kind:<5} {n:>10,} rows")

    def do_schema(self, arg: str) -> None:
        if not arg.strip():
            self._say("usage: .schema TABLE")
            return
        self.do_SQL(f'DESCRIBE "{arg.strip()}"')

    def do_snapshot(self, arg: str) -> None:
        self._say(f"snapshot {self.snapshot} ({snapshots.location(self.warehouse_path)})")

    def do_refresh(self, arg: str) -> None:
        self._open()
        self.do_snapshot("")

    def do_maxrows(self, arg: str) -> None:
        with suppress(ValueError):
            self.max_rows = max(1, int(arg))
        self._say(f"showing up to {self.max_rows} rows")

    def do_quit(self, arg: str) -> bool:
        return True

    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        self._say("")
        return True

    def _say(self, text: str) -> None:
        self.stdout.write(text + "\n")


def _shown(rel: duckdb.DuckDBPyRelation, max_rows: int) -> str:
    """DuckDB's own box rendering, captured (it prints to sys.stdout)."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        rel.show(max_width=int(os.environ.get("COLUMNS", "160")), max_rows=max_rows)
    return buf.getvalue().rstrip("\n")


def run_shell(warehouse_path: Path, history: Path) -> int:
    """Run the interactive shell; history is kept in ``history`` between sessions."""
    try:
        import readline
    except ImportError:  # not on every platform; the shell works without it
        readline = None
    if readline is not None:
        with suppress(OSError):
            readline.read_history_file(history)
    shell = SqlShell(warehouse_path, history)
    try:
        shell.cmdloop()
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        shell.close()
        if readline is not None:
            history.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(2000)
            with suppress(OSError):
                readline.write_history_file(history)
    return 0
