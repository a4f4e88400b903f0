"""The newsdesk dashboard (Streamlit): ``newsdesk dashboard`` starts it on 127.0.0.1.

Every rerun opens the *published* snapshot read-only, reads everything it shows through that
one connection (so a page never mixes two snapshots, and a nightly run publishing meanwhile
is simply picked up on the next rerun), and closes it. It reads marts and the run log only.
"""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from pipeline import snapshots
from pipeline.config import Settings
from pipeline.dashboard import data

st.set_page_config(page_title="newsdesk", page_icon=":newspaper:", layout="wide")
settings = Settings.from_env()
LABELS = alt.Axis(labelLimit=260)  # full actor and outlet names on category axes
SHOWN = 25  # quotations listed at once (the search narrows them down)

st.title("newsdesk: who is mentioned, who is quoted")

try:
    reader = snapshots.connect_analyst(settings.warehouse)  # no file or network access
    con = reader.__enter__()
except snapshots.NothingPublished as exc:
    st.warning(f"{exc}. The dashboard shows the published warehouse once a run has published it.")
    st.stop()

try:
    info = data.snapshot_info(con)
    st.caption(f"Snapshot **{info.snapshot_id}**, published {info.published_at:%Y-%m-%d %H:%M} UTC · "
               f"`{settings.warehouse}` (read-only)")
    cols = st.columns(6)
    cols[0].metric("Articles", f"{info.articles:,}")
    cols[1].metric("Outlets", f"{info.outlets:,}")
    cols[2].metric("Actors", f"{info.actors:,}")
    cols[3].metric("Mentions", f"{info.mentions:,}")
    cols[4].metric("Quotes", f"{info.quotes:,}")
    cols[5].metric("Attributed", f"{info.attributed_quotes / max(info.quotes, 1):.0%}")

    with st.sidebar:
        st.header("Options")
        top = st.slider("Actors in the time chart", 3, 20, 8)
        types = st.multiselect("Actor types", ["person", "organisation", "place"], default=["person", "organisation"])
        top_sources = st.slider("Sources and outlets in the quote charts", 5, 40, 15)
        if st.button("Reload (picks up a newer snapshot)"):
            st.rerun()

    # ---- top actors over time ------------------------------------------------------------
    st.header("Top actors over time")
    grain = "week" if data.days_covered(con) > 62 else "day"  # a year of daily points is noise
    series = data.top_actors_over_time(con, top=top, actor_types=tuple(types) or ("person",), grain=grain)
    if series.is_empty():
        st.info("No mentions of actors of these types yet.")
    elif series["day"].n_unique() == 1:  # one day of news: bars say more than one-point lines
        day = series["day"][0]
        st.altair_chart(
            alt.Chart(series.to_pandas(), title=f"Mentions on {day}").mark_bar().encode(
                x=alt.X("mentions:Q", title="mentions"),
                y=alt.Y("actor:N", sort="-x", title=None, axis=LABELS),
                tooltip=["actor", "mentions", "quotes"],
            ),
            width="stretch",
        )
    else:
        st.altair_chart(
            alt.Chart(series.to_pandas(), title=f"Mentions per {grain}").mark_line(point=True).encode(
                x=alt.X("day:T", title=grain),
                y=alt.Y("mentions:Q", title="mentions"),
                color=alt.Color("actor:N", sort=alt.EncodingSortField("mentions", op="sum", order="descending")),
                tooltip=["day:T", "actor", "mentions", "quotes"],
            ),
            width="stretch",
        )

    # ---- quote counts ----------------------------------------------------------------------
    def quote_bars(frame: pl.DataFrame, category: str, **encodings: object) -> None:
        st.altair_chart(
            alt.Chart(frame.to_pandas()).mark_bar().encode(
                x=alt.X("quotes:Q", title="attributed quotations"),
                y=alt.Y(f"{category}:N", sort="-x", title=None, axis=LABELS),
                tooltip=frame.columns,
                **encodings,
            ),
            width="stretch",
        )

    left, right = st.columns(2)
    with left:
        st.header("Quotes per source")
        quote_bars(data.quotes_per_source(con, top=top_sources), "source",
                   color=alt.Color("source_type:N", title="type"))
    with right:
        st.header("Quotes per outlet")
        quote_bars(data.quotes_per_outlet(con, top=top_sources), "outlet")

    # ---- quote search ------------------------------------------------------------------------
    st.header("Quote search")
    q_col, s_col = st.columns([2, 1])
    text = q_col.text_input("Words in the quotation or its sentence", placeholder="e.g. NATO")
    speaker = s_col.selectbox("Speaker", ["(anyone)", *data.speakers(con)])
    found = data.search_quotes(con, text, None if speaker == "(anyone)" else speaker, limit=SHOWN + 1)
    more = found.height > SHOWN
    st.caption(f"{min(found.height, SHOWN)} quotation(s), newest first"
               + (" (more: narrow the search)" if more else ""))
    st.table(found.head(SHOWN).select("speaker", "quote", "cue", "outlet", "article", "date").to_pandas())

    # ---- health ------------------------------------------------------------------------------
    st.header("Last run's health")
    health = data.last_run_health(con)
    st.caption(f"Run {health['batch_id']} published this snapshot.")
    h_left, h_right = st.columns(2)
    with h_left:
        st.subheader("Stages")
        st.dataframe(pl.DataFrame(health["stages"]), hide_index=True, width="stretch")
    with h_right:
        st.subheader("Validation")
        failed_suites = [v for v in health["validation"] if v["result"] != "passed"]
        dbt = health["dbt"]
        (st.error if failed_suites else st.success)(
            f"Great Expectations: {len(health['validation']) - len(failed_suites)} of "
            f"{len(health['validation'])} suites passed · dbt build: {dbt.get('models')} models, "
            f"{dbt.get('tests')} tests, {dbt.get('passed')} nodes passed")
        if health["validation"]:
            st.dataframe(pl.DataFrame(health["validation"]), hide_index=True, width="stretch")
        st.subheader("Source freshness")
        for f in health["freshness"]:
            shown = {"pass": st.success, "warn": st.warning}.get(f["status"], st.error)
            shown(f"{f['name']}: {f['status']} — newest row loaded {f['max_loaded_at']} "
                  f"({f['age_hours']} h ago)")
        if not health["freshness"]:
            st.info("No freshness result recorded for this run.")
    if health["failed_runs"]:
        st.subheader("Failed runs (recorded by the next good run)")
        st.dataframe(pl.DataFrame(health["failed_runs"]), hide_index=True, width="stretch")
    st.subheader("Snapshots on disk")
    st.dataframe(
        pl.DataFrame([{"snapshot": s.snapshot_id, "published": s.published_at, "MB": round(s.bytes / 2**20, 1),
                       "current": s.current, "open by a reader": s.in_use}
                      for s in snapshots.list_snapshots(settings.warehouse)]),
        hide_index=True, width="stretch")
finally:
    reader.__exit__(None, None, None)
