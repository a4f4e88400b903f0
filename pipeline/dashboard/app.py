"""The newsdesk dashboard (Streamlit): ``newsdesk dashboard`` starts it on 127.0.0.1.

Every rerun resolves the *published* snapshot once and reads everything it shows from that
snapshot file, read-only, so a page never mixes two snapshots and a nightly run publishing
meanwhile is picked up on the next rerun. Query results are cached with ``st.cache_data``
keyed on the snapshot file (its name is the snapshot id) and the arguments: a widget change
re-runs only the queries whose arguments changed, and a new snapshot is a new key.

Views: Overview (top actors, quote counts, the co_mentions and top_quotes marts), Actor
(one actor's page), Share of voice, Quotes (search, paging, CSV), Run health. The filters
in the sidebar (dates, outlets, actor types) apply to every chart and table of every view.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from pipeline import snapshots
from pipeline.alert_log import read_alerts
from pipeline.config import Operations, Settings
from pipeline.dashboard import data
from pipeline.validate import data_docs_index, gx_results_dir

T0 = time.perf_counter()
st.set_page_config(page_title="newsdesk", page_icon=":newspaper:", layout="wide")
settings = Settings.from_env()
LABELS = alt.Axis(labelLimit=260)  # full actor and outlet names on category axes
VIEWS = ("Overview", "Actor", "Share of voice", "Quotes", "Run health")


@st.cache_data(max_entries=512, show_spinner=False)
def _query(snapshot: str, name: str, *args: Any) -> Any:
    """``data.<name>(con, *args)`` on the snapshot file ``snapshot``; cached per snapshot and arguments."""
    with snapshots.connect_snapshot(Path(snapshot)) as con:  # no file, network or extension access
        return getattr(data, name)(con, *args)


def q(name: str, *args: Any) -> Any:
    return _query(str(SNAPSHOT), name, *args)


def download(label: str, frame_or_bytes: Any, file_name: str, key: str) -> None:
    payload = frame_or_bytes if callable(frame_or_bytes) or isinstance(frame_or_bytes, bytes) else data.frame_csv(
        frame_or_bytes)
    st.download_button(label, payload, file_name=file_name, mime="text/csv", key=key, on_click="ignore")


def chart(c: alt.Chart, frame: pl.DataFrame, name: str, **kwargs: Any) -> Any:
    """An Altair chart with a CSV download of exactly the data it draws."""
    event = st.altair_chart(c, width="stretch", **kwargs)
    download(f"Data of this chart (CSV, {frame.height} rows)", frame, f"{name}.csv", key=f"csv_{name}")
    return event


def open_actor(actor_id: str) -> None:
    """Go to the actor's page (a widget's state can only be set before it is drawn: on the next run)."""
    st.session_state["actor_id"] = actor_id
    st.session_state["next_view"] = "Actor"
    st.query_params.update({"view": "Actor", "actor": actor_id})
    st.rerun()


def bars(frame: pl.DataFrame, value: str, category: str, title: str | None = None, **encodings: Any) -> alt.Chart:
    return alt.Chart(frame.to_pandas(), title=title or "").mark_bar().encode(
        x=alt.X(f"{value}:Q", title=value.replace("_", " ")),
        y=alt.Y(f"{category}:N", sort="-x", title=None, axis=LABELS),
        tooltip=frame.columns, **encodings)


def over_time(frame: pl.DataFrame, value: str, color: str | None, grain: str, title: str) -> alt.Chart:
    base = alt.Chart(frame.to_pandas(), title=title)
    enc: dict[str, Any] = {"x": alt.X("day:T", title=grain), "y": alt.Y(f"{value}:Q", title=value),
                           "tooltip": [alt.Tooltip("day:T"), *[c for c in frame.columns if c != "day"]]}
    if color:
        enc["color"] = alt.Color(f"{color}:N", sort=alt.EncodingSortField(value, op="sum", order="descending"))
    return base.mark_line(point=True).encode(**enc)


st.title("newsdesk: who is mentioned, who is quoted")
SNAPSHOT = snapshots.resolve(settings.warehouse)
if SNAPSHOT is None:
    st.warning(f"nothing published yet at {settings.warehouse}. The dashboard shows the published warehouse once "
               "a run has published it.")
    st.stop()

info: data.SnapshotInfo = q("snapshot_info")
cov: data.Coverage = q("coverage")
st.caption(f"Snapshot **{info.snapshot_id}**, published {info.published_at:%Y-%m-%d %H:%M} UTC · "
           f"`{settings.warehouse}` (read-only)")

# ---- page-wide filters -------------------------------------------------------------------
params = st.query_params
if "view" not in st.session_state:
    st.session_state["view"] = params.get("view") if params.get("view") in VIEWS else "Overview"
if "next_view" in st.session_state:
    st.session_state["view"] = st.session_state.pop("next_view")
if "actor_id" not in st.session_state and params.get("actor"):
    st.session_state["actor_id"] = params.get("actor")
with st.sidebar:
    view = st.radio("View", VIEWS, key="view")
    st.header("Filters")
    st.caption("Applied to every chart and table.")
    first, last = cov.first_day or date.today(), cov.last_day or date.today()
    picked = st.date_input("Dates", value=(first, last), min_value=first, max_value=last, key="dates")
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last))
    outlets = st.multiselect("Outlets", cov.outlets, default=[], placeholder="all outlets", key="outlets")
    types = st.multiselect("Actor types", data.ACTOR_TYPES, default=list(data.ACTOR_TYPES), key="types")
    if cov.date_note:
        st.info(cov.date_note)
    if cov.outlet_note:
        st.info(cov.outlet_note)
    if st.button("Reload (picks up a newer snapshot)"):
        st.cache_data.clear()
        st.rerun()
F = data.Filters(start=None if start == first else start, end=None if end == last else end,
                 outlets=tuple(outlets), actor_types=() if set(types) == set(data.ACTOR_TYPES) else tuple(types))
GRAIN = data.pick_grain(F, cov)
if F.narrows_articles or F.actor_types:
    shown = [f"{start} to {end}" if F.start or F.end else None, ", ".join(F.outlets) or None,
             ", ".join(F.actor_types) or None]
    st.info("Filtered: " + " · ".join(s for s in shown if s))

cols = st.columns(6)
cols[0].metric("Articles", f"{info.articles:,}")
cols[1].metric("Outlets", f"{info.outlets:,}")
cols[2].metric("Actors", f"{info.actors:,}")
cols[3].metric("Mentions", f"{info.mentions:,}")
cols[4].metric("Quotes", f"{info.quotes:,}")
cols[5].metric("Attributed", f"{info.attributed_quotes / max(info.quotes, 1):.0%}")
st.caption("Totals of the whole snapshot; every chart and table below follows the filters.")


def time_chart(frame: pl.DataFrame, value: str, color: str | None, title: str, name: str) -> None:
    """A line over time, or bars when the filtered corpus spans one day (one-point lines say nothing)."""
    if frame.is_empty():
        st.info("Nothing within these filters.")
    elif frame["day"].n_unique() == 1:
        day = frame["day"][0]
        category = color or "day"
        chart(bars(frame.with_columns(pl.col("day").cast(pl.String)), value, category,
                   f"{value.capitalize()} on {day} (one day of news: bars, not a line)"), frame, name)
    else:
        chart(over_time(frame, value, color, GRAIN, f"{title} per {GRAIN}"), frame, name)


# ---- views -------------------------------------------------------------------------------
if view == "Overview":
    st.header("Top actors")
    top = st.slider("Actors", 3, 30, 10, key="top_n")
    ranked: pl.DataFrame = q("top_actors", F, top)
    if ranked.is_empty():
        st.info("No mentions within these filters.")
    else:
        sel = alt.selection_point(name="pick", fields=["actor_id"])
        event = chart(bars(ranked, "mentions", "actor", "Most mentioned (click a bar to open the actor)",
                           color=alt.Color("actor_type:N", title="type")).add_params(sel),
                      ranked, "top_actors", on_select="rerun", key="top_actors_chart")
        hit = (event.selection.get("pick") if event and event.selection else None) or []
        if hit and hit[0].get("actor_id"):
            open_actor(hit[0]["actor_id"])
    series: pl.DataFrame = q("top_actors_over_time", F, min(top, 10), GRAIN)
    if not series.is_empty() and series["day"].n_unique() == 1:
        st.caption(f"All of it in one {GRAIN} (from {series['day'][0]}): no time chart, the bars above count it.")
    else:
        time_chart(series, "mentions", "actor", "Mentions", "actors_over_time")
    left, right = st.columns(2)
    with left:
        st.subheader("Quotes per source")
        sources: pl.DataFrame = q("quotes_per_source", F, 15)
        chart(bars(sources, "quotes", "source", color=alt.Color("source_type:N", title="type")), sources,
              "quotes_per_source")
    with right:
        st.subheader("Quotes per outlet")
        per_outlet: pl.DataFrame = q("quotes_per_outlet", F, 15)
        chart(bars(per_outlet, "quotes", "outlet"), per_outlet, "quotes_per_outlet")
    st.header("Who is mentioned with whom (co_mentions)")
    pairs: pl.DataFrame = q("co_mentions_table", F, 50)
    if F.outlets:
        st.caption("The co_mentions mart counts over all outlets: the outlet filter does not narrow it. "
                   "An actor's page counts its co-mentions within every filter.")
    st.dataframe(pairs.to_pandas(), hide_index=True, width="stretch")
    download("co_mentions rows (CSV)", pairs, "co_mentions.csv", "csv_co_mentions")
    st.header("Most reported quotations (top_quotes)")
    tq: pl.DataFrame = q("top_quotes_table", F, 3, 15)
    if F.narrows_articles:
        st.caption("Ranked within the filters, as the top_quotes mart ranks them over the whole corpus.")
    st.dataframe(tq.to_pandas(), hide_index=True, width="stretch",
                 column_config={"url": st.column_config.LinkColumn("link", display_text="open")})
    download("top quotes rows (CSV)", tq, "top_quotes.csv", "csv_top_quotes")

elif view == "Actor":
    st.header("Actor")
    c1, c2 = st.columns([1, 2])
    name = c1.text_input("Find an actor", key="actor_search", placeholder="name, e.g. Putin")
    found: pl.DataFrame = q("find_actors", F, name, 200)
    options = found["actor_id"].to_list()
    current = st.session_state.get("actor_id")
    if current and current not in options and not name.strip() and q("actor_profile", current):
        options = [current, *options]  # opened by a click or a link: keep it while nothing is searched
    labels = dict(zip(found["actor_id"], found["actor"] + " (" + found["actor_type"] + ")", strict=True))
    if not options:
        st.info("No actor matches.")
        st.stop()
    chosen = c2.selectbox("Actor", options, index=options.index(current) if current in options else 0,
                          format_func=lambda a: labels.get(a) or (q("actor_profile", a) or {}).get("actor", a))
    if chosen != current:
        st.session_state["actor_id"] = chosen
        st.query_params.update({"view": "Actor", "actor": chosen})
    profile = q("actor_profile", chosen) or {}
    st.subheader(f"{profile.get('actor')} · {profile.get('actor_type')}")
    m = st.columns(4)
    m[0].metric("Mentions (all time)", f"{profile.get('mentions', 0):,}")
    m[1].metric("Articles (all time)", f"{profile.get('articles', 0):,}")
    outlets_frame: pl.DataFrame = q("actor_outlets", chosen, F)
    m[2].metric("Quotes (filtered)", f"{int(outlets_frame['quotes'].sum() or 0):,}")
    m[3].metric("Outlets (filtered)", f"{outlets_frame.filter(pl.col('mentions') + pl.col('quotes') > 0).height:,}")
    timeline: pl.DataFrame = q("actor_timeline", chosen, F, GRAIN)
    time_chart(timeline.unpivot(index="day", on=["mentions", "quotes"], variable_name="measure", value_name="count"),
               "count", "measure", "Mentions and quotes", "actor_timeline")
    left, right = st.columns(2)
    with left:
        st.subheader("Mentioned with")
        co: pl.DataFrame = q("actor_co_mentions", chosen, F, 20)
        if co.is_empty():
            st.info("Mentioned with nobody within these filters.")
        else:
            chart(bars(co, "articles", "actor", color=alt.Color("actor_type:N", title="type")), co, "actor_co_mentions")
    with right:
        st.subheader("Outlets quoting it")
        quoting = outlets_frame.filter(pl.col("quotes") > 0)
        if quoting.is_empty():
            st.info("No outlet quotes this actor within these filters.")
        else:
            chart(bars(quoting, "quotes", "outlet"), quoting, "actor_outlets")
    st.subheader("Its quotations")
    said: pl.DataFrame = q("actor_quotes", chosen, F, 200)
    if said.is_empty():
        st.info("No quotation attributed to this actor within these filters.")
    else:
        st.dataframe(said.select("date", "quote", "cue", "outlet", "article", "url").to_pandas(), hide_index=True,
                     width="stretch", column_config={"url": st.column_config.LinkColumn("link", display_text="open")})
        download(f"Its quotations (CSV, {said.height} rows)", said, "actor_quotes.csv", "csv_actor_quotes")

elif view == "Share of voice":
    st.header("Share of voice")
    st.subheader("Each group's share of the quotations over time")
    sov: pl.DataFrame = q("share_of_voice", F, GRAIN if GRAIN != "day" else "week", "actor_type")
    if sov.is_empty():
        st.info("No attributed quotation within these filters.")
    else:
        chart(alt.Chart(sov.to_pandas(), title=f"By actor type, per {GRAIN if GRAIN != 'day' else 'week'}")
              .mark_area().encode(x=alt.X("period:T", title=None), y=alt.Y("share:Q", stack="normalize",
                                                                            axis=alt.Axis(format="%")),
                                  color=alt.Color("group:N", title="actor type"),
                                  tooltip=["period:T", "group", "quotes", alt.Tooltip("share:Q", format=".1%")]),
              sov, "share_of_voice_by_type")
    gender = q("gender_source")
    if gender is None:
        st.info("By gender: the warehouse has no speaker gender yet. This chart appears as soon as a mart has a "
                "gender column (quotes_in_context.speaker_gender or mentions_per_actor.gender), which the NLP "
                "work is adding.")
    else:
        by_gender: pl.DataFrame = q("share_of_voice", F, GRAIN if GRAIN != "day" else "week", "gender")
        st.caption(f"Gender from {gender[0]}.{gender[1]}; quotations whose speaker has none count as 'unknown'.")
        chart(alt.Chart(by_gender.to_pandas(), title="By gender").mark_area().encode(
            x=alt.X("period:T", title=None), y=alt.Y("share:Q", stack="normalize", axis=alt.Axis(format="%")),
            color=alt.Color("group:N", title="gender"), tooltip=["period:T", "group", "quotes"]),
              by_gender, "share_of_voice_by_gender")
    st.subheader("Top quoted people per outlet")
    per = q("top_quoted_per_outlet", F, 6, 5)
    if per.is_empty():
        st.info("No person is quoted within these filters.")
    else:
        chart(alt.Chart(per.to_pandas()).mark_bar().encode(
            x=alt.X("quotes:Q"), y=alt.Y("source:N", sort="-x", title=None, axis=LABELS),
            row=alt.Row("outlet:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=per.columns).resolve_scale(y="independent"), per, "top_quoted_per_outlet")

elif view == "Quotes":
    st.header("Quote search")
    q_col, s_col, n_col = st.columns([2, 2, 1])
    text = q_col.text_input("Words in the quotation or its sentence", placeholder="e.g. NATO", key="quote_text")
    speakers: pl.DataFrame = q("find_actors", data.Filters(actor_types=F.actor_types), "", 500)
    speaker = s_col.selectbox("Speaker", [None, *speakers["actor_id"].to_list()], key="quote_speaker",
                              format_func=lambda a: "(anyone)" if a is None else dict(
                                  zip(speakers["actor_id"], speakers["actor"], strict=True)).get(a, a))
    size = n_col.selectbox("Rows per page", (25, 100, 500), key="page_size")
    total = q("count_quotes", F, text, speaker)
    pages = max(1, -(-total // size))
    asked = (F, text, speaker, size)
    if st.session_state.get("asked") != asked or st.session_state.get("page", 1) > pages:
        st.session_state["asked"], st.session_state["page"] = asked, 1  # a new question starts on page 1
    page = st.number_input("Page", 1, pages, key="page", help=f"{pages:,} pages")
    rows: pl.DataFrame = q("search_quotes", F, text, speaker, size, (page - 1) * size)
    st.caption(f"Quotations {min((page - 1) * size + 1, total):,}–{min(page * size, total):,} of {total:,}, "
               "newest first")
    st.dataframe(rows.select("date", "speaker", "quote", "cue", "outlet", "article", "url").to_pandas(),
                 hide_index=True, width="stretch",
                 column_config={"url": st.column_config.LinkColumn("link", display_text="open")})
    snapshot_file, filt = str(SNAPSHOT), F

    def all_rows_csv() -> bytes:  # runs on click, in its own thread: its own connection
        with snapshots.connect_snapshot(Path(snapshot_file)) as con:
            return data.quotes_csv(con, filt, text, speaker)

    download(f"CSV of all {total:,} quotations", all_rows_csv, "quotes.csv", "csv_quotes")

else:  # Run health
    st.header("Last run's health")
    health = q("last_run_health")
    st.caption(f"Run {health['batch_id']} published this snapshot.")
    h_left, h_right = st.columns(2)
    with h_left:
        st.subheader("Stages")
        st.dataframe(pl.DataFrame(health["stages"]).to_pandas(), hide_index=True, width="stretch")
        st.subheader("Drift against the last published run")
        drift = health["drift"]
        if drift:
            d = st.columns(2)
            for col, (key, label) in zip(d, (("attributed_share", "Attributed quotes"),
                                             ("untyped_actor_share", "Untyped actors")), strict=True):
                now, change = drift.get(key), drift.get(f"{key}_change")
                col.metric(label, "–" if now is None else f"{now:.1%}",
                           None if change is None else f"{change * 100:+.1f} pts", delta_color="off")
        for w in health["warnings"]:
            st.warning(f"Warning ({w['stage']}, {w['suite']}): {w['column']} = {w.get('observed_value')} — "
                       "moved more than the tolerance; the night was still published.")
        if drift and not health["warnings"]:
            st.success("Drift within the tolerance (NEWSDESK_DRIFT_TOLERANCE).")
    with h_right:
        st.subheader("Validation")
        failed_suites = [v for v in health["validation"] if v["result"] != "passed"]
        dbt = health["dbt"]
        (st.error if failed_suites else st.success)(
            f"Great Expectations: {len(health['validation']) - len(failed_suites)} of "
            f"{len(health['validation'])} suites passed · dbt build: {dbt.get('models')} models, "
            f"{dbt.get('tests')} tests, {dbt.get('unit_tests') or 0} unit tests, {dbt.get('passed')} nodes passed")
        if health["validation"]:
            st.dataframe(pl.DataFrame(health["validation"]).to_pandas(), hide_index=True, width="stretch")
        docs = data_docs_index(gx_results_dir(settings))
        st.caption(f"Data Docs: `{docs}`" if docs.exists() else "Data Docs: not built yet (newsdesk docs)")
        st.subheader("Source freshness")
        for f in health["freshness"]:
            shown = {"pass": st.success, "warn": st.warning}.get(f["status"], st.error)
            shown(f"{f['name']}: {f['status']} — newest row loaded {f['max_loaded_at']} "
                  f"({f['age_hours']} h ago)")
        if not health["freshness"]:
            st.info("No freshness result recorded for this run.")
    alerts_log = Operations.from_env().alerts_log
    alerts = read_alerts(alerts_log, limit=10) if alerts_log else []
    st.subheader("Recent alerts")
    if alerts:
        st.dataframe(pl.DataFrame([{"at": a.get("at"), "alert": a.get("text") or a.get("event")} for a in alerts])
                     .to_pandas(), hide_index=True, width="stretch")
    else:
        st.info(f"No alerts in {alerts_log}.")
    if health["failed_runs"]:
        st.subheader("Failed runs (recorded by the next good run)")
        st.dataframe(pl.DataFrame(health["failed_runs"]).to_pandas(), hide_index=True, width="stretch")
    st.subheader("Snapshots on disk")
    st.dataframe(
        pl.DataFrame([{"snapshot": s.snapshot_id, "published": s.published_at, "MB": round(s.bytes / 2**20, 1),
                       "current": s.current, "open by a reader": s.in_use}
                      for s in snapshots.list_snapshots(settings.warehouse)]).to_pandas(),
        hide_index=True, width="stretch")

st.caption(f"Page computed in {time.perf_counter() - T0:.2f} s")
