"""Watchlists on screen (issue 20): choosing which saved views to watch (sidebar), and the watch inbox, what
arrived on them since the person's last visit, shown on the first page of each visit.

A visit is a session: `analytics.watchlists.visit` runs once, after sign-in, and marks what it found as seen,
so the inbox keeps its findings for the rest of the session and the next visit starts after them. The rules
(which views, which records, markings) are analytics.watchlists'; this module only draws.
"""

from __future__ import annotations

import streamlit as st

from analytics import session
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.views import list_views
from analytics.watchlists import WatchNews, unwatch, visit, watch, watched_view_ids
from analytics.wording import counted
from pages.ui import inert_markdown, marking_banner

_NEWS = "watch_news"


def watch_controls(viewer: Viewer) -> None:
    """The sidebar's "Watchlist": which of the saved views this person may open they watch."""
    if viewer.role not in RECORD_READERS:
        return
    # the same cached list the sidebar's "Saved views" reads (pages.ui), not a second query on every rerun
    views = {v.id: v for v in session.query(list_views)}
    box = st.sidebar.expander("Watchlist", icon=":material/notifications:")
    if not views:
        box.caption("Save a view to watch it: what newly matches it is shown on your next visit.")
        return
    # read directly: watching writes with changes_data=False (it changes no record), so a cached read would not
    # follow it
    watched = sorted(watched_view_ids(session.cursor(), viewer) & set(views))
    chosen = box.multiselect(
        "Watched views",
        list(views),
        default=watched,
        format_func=lambda vid: views[vid].name,  # a label, never markdown
        key="watched_views",
        help="New incidents matching a watched view, and models crossing a benchmark threshold among its "
        "evaluations, are shown on your next visit, as far as your markings let you read them then.",
    )
    for vid in set(chosen) - set(watched):
        watch(session.store(), viewer, vid)
    for vid in set(watched) - set(chosen):
        unwatch(session.store(), viewer, vid)


def watch_inbox(viewer: Viewer, page_path: str) -> None:
    """What is new on the watched views since the last visit, on the first page of this visit."""
    if viewer.role not in RECORD_READERS:
        return
    if _NEWS not in st.session_state:
        st.session_state[_NEWS] = (visit(session.store(), viewer, session.today()), page_path)
    news, landing = st.session_state[_NEWS]
    if page_path != landing or not news:
        return
    total = sum(n.new_incidents for n in news) + sum(len(n.crossings.data) for n in news)
    label = f"Watchlist: {total:,} new since your last visit"
    with st.expander(label, expanded=True, icon=":material/notifications_active:"):
        for item in news:
            _news_item(item)


def _news_item(item: WatchNews) -> None:
    st.markdown(f"**{inert_markdown(item.view.name)}** · {item.view.page}")
    if item.new_incidents:
        shown = len(item.incidents.data)
        more = f" (the latest {shown} shown)" if shown < item.new_incidents else ""
        st.caption(f"{counted(item.new_incidents, 'new matching incident')}{more}")
        marking_banner(item.incidents.marking, "new incidents")
        st.dataframe(
            item.incidents.data.rename(
                columns={"id": "Id", "title": "Title", "occurred_on": "Occurred", "category": "Category"}
            ),
            hide_index=True,
            column_config={"Occurred": st.column_config.DateColumn(format="D MMM YYYY")},
        )
    if not item.crossings.data.empty:
        st.caption("Models newly at or above a benchmark threshold")
        marking_banner(item.crossings.marking, "threshold crossings")
        st.dataframe(
            item.crossings.data.rename(
                columns={
                    "model": "Model",
                    "benchmark": "Benchmark",
                    "best_score": "Best score",
                    "threshold": "Threshold",
                }
            ),
            hide_index=True,
        )
