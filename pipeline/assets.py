"""Airflow Assets newsdesk produces (lineage other teams can schedule on).

``MARTS`` is the published marts of the warehouse: the nightly DAG's ``publish`` task
updates it (its event's ``extra`` names the snapshot), and ``newsdesk_marts_export`` is
scheduled on it. Both DAG files import it from here so that they name one Asset.
"""

from __future__ import annotations

from airflow.sdk import Asset

from pipeline.config import Settings

MART_TABLES = ("mentions_per_actor", "quote_counts_per_source", "activity_per_actor_daily", "co_mentions",
               "quotes_in_context", "top_quotes")

MARTS = Asset(name="newsdesk_marts", uri=f"file://{Settings.from_env().warehouse}", group="newsdesk",
              extra={"marts": list(MART_TABLES)})
