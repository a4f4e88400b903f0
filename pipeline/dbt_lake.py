"""dbt-duckdb plugin of the ``lake`` profile target: load the DuckLake and postgres extensions offline.

dbt-duckdb installs extensions it is told about by name (a download). The DuckLake target
instead names this module as a plugin; dbt-duckdb calls :meth:`Plugin.configure_connection`
on its connection before it runs the profile's ``attach`` (the ``ducklake:postgres:...``
path), and the plugin loads both extensions from the files of their registry packages.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from pipeline.lake import load_extensions


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        load_extensions(conn)
