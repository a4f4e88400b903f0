"""``newsdesk docs``: the dbt docs site and the Great Expectations Data Docs, side by side.

The dbt site is generated from the published snapshot (:mod:`pipeline.dbt_docs`); the GX
Data Docs are built by the runs themselves (every checkpoint's ``UpdateDataDocsAction``
adds its result to ``<state>/gx/data_docs``) and rebuilt here only when missing. With
``--serve`` both are served from one small HTTP server on loopback: ``/`` links them,
``/dbt/`` is the dbt site, ``/gx/`` the Data Docs.
"""

from __future__ import annotations

import functools
import html
import http.server
import os
from pathlib import Path

from pipeline.config import Settings
from pipeline.validate import data_docs_index, gx_context, gx_results_dir

LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>newsdesk docs</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:3em auto}}a{{font-size:1.2em}}li{{margin:.8em 0}}</style>
</head><body><h1>newsdesk documentation</h1><ul>
<li><a href="/dbt/index.html">dbt docs</a>: every table and column, tests, contracts, lineage (snapshot {snapshot})</li>
<li><a href="/gx/index.html">Great Expectations Data Docs</a>: the validation results of every stage, run by run</li>
</ul></body></html>"""


def gx_data_docs(settings: Settings) -> Path:
    """The Data Docs index of the state folder, built from the stored results if it is not there yet."""
    index = data_docs_index(gx_results_dir(settings))
    if not index.exists():
        gx_context(settings.gx_project_dir, gx_results_dir(settings)).build_data_docs(site_names=["local_site"])
    return index


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files: ``/dbt/…`` from the dbt site, ``/gx/…`` from the Data Docs, ``/`` the landing page."""

    def __init__(self, *args, roots: dict[str, Path], landing: str, **kwargs) -> None:
        self.roots, self.landing = roots, landing
        super().__init__(*args, directory=str(next(iter(roots.values()))), **kwargs)

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/", "/index.html"):
            body = self.landing.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, root in self.roots.items():
            if clean == f"/{prefix}" or clean.startswith(f"/{prefix}/"):
                rel = clean[len(prefix) + 2:]
                target = (root / rel).resolve()
                if target == root.resolve() or root.resolve() in target.parents:
                    return str(target)
        return os.devnull  # anything else: not found

    def log_message(self, *args) -> None:
        pass


def make_server(dbt_site: Path, gx_site: Path, snapshot: str, *, address: str = "127.0.0.1",
                port: int = 0) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Handler, roots={"dbt": dbt_site, "gx": gx_site},
                                landing=LANDING.format(snapshot=html.escape(snapshot)))
    return http.server.ThreadingHTTPServer((address, port), handler)
