"""Airflow Assets newsdesk produces (lineage other teams can schedule on).

``MARTS`` is the published marts of the warehouse: the nightly DAG's ``publish`` task
updates it (its event's ``extra`` names the snapshot and the warehouse), and
``newsdesk_marts_export`` is scheduled on it. Both DAG files import it from here so that
they name one Asset.

Its URI is fixed, not the warehouse's path: Airflow keeps one active asset per name in its
metadata database, so a URI taken from ``NEWSDESK_WAREHOUSE`` at parse time made the asset
*inactive* — and ``publish`` fail before it ran — as soon as the same Airflow home had seen
another warehouse (``--warehouse`` on the command line, a moved warehouse). It also kept a
DuckLake DSN, password included, out of Airflow's UI.
"""

from __future__ import annotations

from airflow.sdk import Asset

MART_TABLES = ("mentions_per_actor", "quote_counts_per_source", "activity_per_actor_daily", "co_mentions",
               "quotes_in_context", "top_quotes", "quote_share_by_gender")

MARTS = Asset(name="newsdesk_marts", uri="newsdesk://marts", group="newsdesk", extra={"marts": list(MART_TABLES)})
