"""What a person reads after a run: counts, top actors and sources, stage timings.

Everything is read from the *published* snapshot, opened read-only, so the summary shows
exactly what analysts and dashboards see.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline import snapshots, warehouse


def warehouse_summary(path: Path, *, top: int = 8) -> dict[str, Any]:
    """Totals and top lists of the published warehouse."""
    with snapshots.connect_published(path) as con:
        def one(sql: str) -> object:
            return warehouse.scalar(con, sql)

        return {
            "warehouse": str(path),
            "snapshot": warehouse.latest_snapshot(con),
            "articles": one("SELECT count(*) FROM articles"),
            "mentions": one("SELECT count(*) FROM entity_mentions"),
            "actors": one("SELECT count(*) FROM mentions_per_actor"),
            "quotes": one("SELECT count(*) FROM quotes"),
            "attributed_quotes": one("SELECT count(*) FROM quotes WHERE speaker IS NOT NULL"),
            "quarantined_inputs": one("SELECT count(*) FROM quarantine"),
            "top_actors": con.execute(
                "SELECT actor, actor_type, mentions, articles FROM mentions_per_actor "
                f"ORDER BY mentions DESC, actor LIMIT {int(top)}").fetchall(),
            "top_sources": con.execute(
                "SELECT source, outlet, quotes, articles FROM quote_counts_per_source "
                f"ORDER BY quotes DESC, source LIMIT {int(top)}").fetchall(),
            "quotes_sample": con.execute(
                "SELECT coalesce(speaker, '(unattributed)'), attribution, cue, quote_text FROM quotes "
                f"ORDER BY article_id, \"start\" LIMIT {int(top) * 2}").fetchall(),
        }


def stage_table(records: list[dict[str, Any]]) -> list[tuple[str, str, float, str]]:
    return [
        (r["stage"], r["status"], r["seconds"], ", ".join(f"{k}={v}" for k, v in (r.get("rows") or {}).items()))
        for r in records
    ]


def format_summary(s: dict[str, Any], records: list[dict[str, Any]] | None = None) -> str:
    lines = []
    if records:
        lines.append("Stages:")
        for stage, status, seconds, rows in stage_table(records):
            lines.append(f"  {stage:<19} {status:<8} {seconds:7.2f}s  {rows}")
        lines.append("")
    lines += [
        f"Warehouse  {s['warehouse']}  (snapshot {s['snapshot']})",
        f"Articles   {s['articles']}",
        f"Mentions   {s['mentions']} of {s['actors']} actors",
        f"Quotes     {s['quotes']} ({s['attributed_quotes']} attributed to a speaker)",
        f"Quarantine {s['quarantined_inputs']} input(s) refused (see: newsdesk quarantine)",
        "",
        "Top actors (mentions / articles):",
        *[f"  {a:<32} {t:<13} {m:>5} / {n}" for a, t, m, n in s["top_actors"]],
        "",
        "Top quoted sources (quotes / articles, outlet):",
        *[f"  {src:<32} {q:>5} / {n}  {o}" for src, o, q, n in s["top_sources"]],
        "",
        "Quotes:",
        *[f"  {sp} [{how}, {cue}]: “{_clip(text)}”" for sp, how, cue, text in s["quotes_sample"]],
    ]
    return "\n".join(lines)


def _clip(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def as_json(s: dict[str, Any]) -> str:
    return json.dumps(s, default=str, indent=2)
