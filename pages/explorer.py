"""Incident explorer: headline figures, trend with anomaly flags, UK and AU side by side, breakdowns, and the
incident table with its detail. Every chart narrows the shared sidebar filters when clicked.

`main()` draws the page: one function per section and tab. The data is `analytics.incidents.explorer`'s (one
statement per filter change); the figures are `analytics.incidents.charts`'."""

from datetime import date
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import Marking
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.incidents import charts as incident_charts
from analytics.incidents import explorer as incident_explorer
from analytics.incidents import grids
from analytics.incidents.explorer import ExplorerData
from analytics.stats.anomalies import DEFAULT_RULE
from analytics.vocab import SEVERITY_LABELS
from analytics.wording import MISSING, counted
from pages.parts import incident_detail
from pages.parts.currency import currency_line, incident_currency
from pages.ui import (
    change,
    chart,
    empty_state,
    inert_markdown,
    marking_banner,
    metric_row,
    page_to_slide,
    request_filter_change,
    selection_points,
)

TABS = ["Trend", "UK and AU", "Breakdowns", "Incidents"]
GRAIN_LABELS = {"week": "Week", "month": "Month", "quarter": "Quarter"}
MODE_LABELS = {"stacked": "Stacked bars", "lines": "Lines"}
# Developer and releasability are in the detail; the table keeps to what fits at a glance.
TABLE_ORDER = [
    "id",
    "occurred_on",
    "title",
    "originator",
    "category",
    "severity",
    "actor_type",
    "sectors",
    "affected_system",
    "status",
    "tlp",
]


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    f = session.filters()
    today = session.today()
    incident_id = st.query_params.get("incident")
    st.title("Incident explorer")
    currency = incident_currency()
    currency_line(known=currency)
    st.caption(inert_markdown(f.describe(today)))
    # The split and period of the trend live in the Trend tab but shape the one query behind the whole page.
    grain = st.session_state.get("xp_grain") or "month"
    dimension = st.session_state.get("xp_dim") or "category"
    data = session.query(
        incident_explorer.explorer_summary, f, today, grain, dimension, data_end=currency.complete_to
    )
    marking_banner(data.marking, f"{counted(data.headline.incidents, 'incident')}")
    headline(data)
    if data.empty:
        empty_state("No incidents match these filters. Widen the period or remove a filter in the sidebar.")
        if incident_id:
            show_detail(str(incident_id))
        return

    if incident_id and st.session_state.get("xp_opened") != incident_id:
        st.session_state["xp_tab"] = "Incidents"  # a link or a row choice names an incident: show it
    st.session_state["xp_opened"] = incident_id
    tab_trend, tab_orig, tab_break, tab_table = st.tabs(TABS, key="xp_tab", on_change="rerun")
    if tab_trend.open:
        with tab_trend:
            trend_tab(data)
            whats_new(data)
    if tab_orig.open:
        with tab_orig:
            originators_tab(data)
    if tab_break.open:
        with tab_break:
            breakdowns_tab(data)
    if tab_table.open:
        with tab_table:
            incident_id = incidents_tab(viewer, f, today, data, incident_id)
    if incident_id:
        show_detail(str(incident_id))  # a dialog over the page, not a panel above the table controls


def clicked(event: Any, key: str) -> None:
    """A click or box selection on a chart narrows the sidebar filters (and shows as filter chips)."""
    updates = incident_charts.filter_updates(selection_points(event))
    if updates:
        # A fresh chart key next run, so the old selection is not applied again after the chip is removed.
        st.session_state[f"xp_gen_{key}"] = st.session_state.get(f"xp_gen_{key}", 0) + 1
        request_filter_change(updates)


def clickable(fig: Any, key: str, marking: Marking) -> None:
    gen = st.session_state.get(f"xp_gen_{key}", 0)
    event = chart(
        fig,
        key=f"{key}_{gen}",
        marking=marking,
        on_select="rerun",
        selection_mode=("points", "box"),
    )
    clicked(event, key)


def headline(data: ExplorerData) -> None:
    """Four figures, each against the previous period of equal length when the range has one."""
    h = data.headline
    prev_words = "vs the previous period of equal length" if h.prev_incidents is not None else None
    if h.incomplete_after is not None:
        prev_words = (
            f"No change shown: the range runs past {h.incomplete_after.day} {h.incomplete_after:%b %Y}, the last day "
            "the data is "
            "complete to, and reports still to come would read as a fall."
        )
    row = metric_row()  # wraps to two rows on a narrow screen rather than truncate
    incidents_col = high_col = sectors_col = flags_col = row
    incidents_col.metric(
        "Incidents",
        f"{h.incidents:,}",
        **change(h.incidents, h.prev_incidents),
        help=prev_words,
        width="stretch",
    )
    high_col.metric(
        "High or critical",
        f"{h.high_share:.0%}" if h.high_share is not None else MISSING,
        **change(h.high_share, h.prev_high_share, points=True),
        help="Share of incidents with severity 4 (high) or 5 (critical). " + (prev_words or ""),
        width="stretch",
    )
    sectors_col.metric(
        "Sectors affected",
        f"{h.sectors:,}",
        **change(h.sectors, h.prev_sectors),
        help=prev_words,
        width="stretch",
    )
    flags = data.anomalies
    flags_col.metric(
        "Periods flagged",
        f"{flags['period'].nunique():,}" if not flags.empty else "0",
        help=DEFAULT_RULE.describe(),
        width="stretch",
    )
    if h.prev_incidents is None:
        st.caption("Choose a period in the sidebar to compare with the period of equal length before it.")


def trend_tab(data: ExplorerData) -> None:
    """The trend split by a dimension, with its controls; a click narrows the filters."""
    # Two rows: three controls in one row ran past their columns at 1024 px (each segmented control needs ~200 px)
    grain_col, mode_col = st.columns(2)
    split_col, _ = st.columns(2)
    grain_col.segmented_control(
        "Period",
        list(GRAIN_LABELS),
        format_func=GRAIN_LABELS.__getitem__,
        default="month",
        key="xp_grain",
        required=True,
        persist_state="page",
    )
    split_col.selectbox(
        "Split by",
        list(incident_explorer.DIMENSIONS),
        format_func=lambda d: incident_explorer.DIMENSIONS[d].label,
        key="xp_dim",
        persist_state="page",
    )
    mode = mode_col.segmented_control(
        "Show",
        list(MODE_LABELS),
        format_func=MODE_LABELS.__getitem__,
        default="stacked",
        key="xp_mode",
        required=True,
        persist_state="page",
    )
    dim = incident_explorer.DIMENSIONS[data.dimension]
    marking_banner(data.baseline_marking, "trend and flags (includes the baseline periods)")
    trend_fig = incident_charts.trend_chart(
        data.totals,
        data.trend,
        data.anomalies,
        grain=data.grain,
        dimension=data.dimension,
        dimension_field=dim.filter_attr,
        mode=mode or "stacked",
        start=data.start,
        end=data.end,
    )
    clickable(trend_fig, "trend", data.baseline_marking)
    page_to_slide(
        f"Incidents per {data.grain} by {data.dimension}",
        [(trend_fig, data.baseline_marking)],
        key="xp_slide",
    )
    notes = ["Click a bar or point to narrow the filters to that period and value."]
    if data.totals["partial"].any():
        notes.append(
            "Paler bars are periods only partly inside the range, not over yet, or past the last complete "
            "day of data; they are never flagged."
        )
    if left_out := grids.left_out_note(data.imprecise, data.grain):  # month/year-only dates (issue 15)
        notes.append(left_out)
    if dim.unnest:
        notes.append("An incident with several sectors counts once in each.")
    if data.not_drawn and data.drawn_from is not None and data.earliest is not None:
        notes.append(
            f"All time is drawn from {incident_charts.period_label(data.drawn_from, data.grain)}: the "
            f"{counted(data.not_drawn, 'earlier incident')} (from {data.earliest.year}) count in the figures "
            "above but would squash the chart; choose a custom period to draw them."
        )
    st.caption(" ".join(notes))


def whats_new(data: ExplorerData) -> None:
    """The periods flagged as breaking from their recent baseline."""
    st.subheader("What's new")
    st.caption(f"{DEFAULT_RULE.describe()} {grids.FLAGS_SCOPE} See docs/incident-analysis.md.")
    flags = data.anomalies
    if flags.empty:
        st.caption("No period in this view breaks from its recent baseline.")
        return
    severity_split = data.dimension == "severity"
    shown = flags.head(12).assign(
        period=lambda d: [incident_charts.period_label(p, data.grain) for p in d["period"]],
        series=lambda d: [
            f"{v} {SEVERITY_LABELS.get(int(v), '')}" if severity_split and v.isdigit() else v
            for v in d["series"]
        ],
    )
    st.dataframe(
        shown[["period", "series", "count", "expected", "ratio"]],
        hide_index=True,
        width="stretch",
        column_config={
            "period": st.column_config.TextColumn(GRAIN_LABELS[data.grain]),
            "series": st.column_config.TextColumn(
                incident_explorer.DIMENSIONS[data.dimension].label + " (or all incidents)"
            ),
            "count": st.column_config.NumberColumn("Incidents", format="%d"),
            "expected": st.column_config.NumberColumn("Baseline (mean)", format="%.1f"),
            "ratio": st.column_config.NumberColumn("× baseline", format="%.1f×"),
        },
    )


def originators_tab(data: ExplorerData) -> None:
    """Each institute's incidents by category, and the categories where their pictures differ most."""
    marking_banner(data.marking)
    st.info(
        "Compares institute reporting only: your institute's records with **only the partner's records "
        "releasable to you**, so the partner's picture here can be narrower than its own. Public sources (ATLAS "
        "case studies, the AI Incident Database and other public data) are never counted as UK or AU.",
        icon=":material/info:",
    )
    by_orig = data.by_originator
    # One above the other: side by side, the differences table was cut off at the right at 1024 px.
    left = right = st.container()
    with left:
        st.markdown(
            "**Each institute's incidents by category** (share of its own total; each public source apart)"
        )
        clickable(incident_charts.originator_chart(by_orig), "originators", data.marking)
        st.caption("Click a bar to narrow the filters to that institute (or public source) and category.")
    with right:
        st.markdown("**Where their pictures differ most** (UK − AU, institute reporting only)")
        if not {"UK", "AU"} <= set(by_orig["originator"]):
            st.caption(
                "The incidents matching these filters are not reported by both institutes; there is nothing "
                "to compare."
            )
            return
        diff = incident_charts.originator_differences(by_orig)
        st.dataframe(
            diff.assign(
                uk_share=diff["uk_share"] * 100,
                au_share=diff["au_share"] * 100,
                difference=diff["difference"] * 100,
                could_be_chance=["could be chance" if c else "—" for c in diff["could_be_chance"]],
            )[["category", "difference", "could_be_chance", "uk_share", "au_share", "uk", "au"]],
            hide_index=True,
            width="stretch",
            column_config={
                "category": st.column_config.TextColumn("Category", pinned=True),
                "difference": st.column_config.NumberColumn("UK − AU", format="%+.1f pts"),
                "could_be_chance": st.column_config.TextColumn(
                    "Chance?",
                    help="Two-proportion test per category, Benjamini–Hochberg-adjusted over every category "
                    f"compared; 'could be chance' when the adjusted p ≥ {incident_charts.CHANCE_ALPHA:.2f} "
                    "(docs/methods.md).",
                ),
                "uk_share": st.column_config.NumberColumn("UK share", format="%.1f%%"),
                "au_share": st.column_config.NumberColumn("AU share", format="%.1f%%"),
                "uk": st.column_config.NumberColumn("UK n", format="%d"),
                "au": st.column_config.NumberColumn("AU n", format="%d"),
            },
        )
        chance = int(diff["could_be_chance"].sum())
        st.caption(
            f"{chance} of these {counted(len(diff), 'difference')} could be chance (adjusted p ≥ "
            f"{incident_charts.CHANCE_ALPHA:.2f}, over all categories compared)."
            if chance
            else "None of these differences is likely to be chance (adjusted p < "
            f"{incident_charts.CHANCE_ALPHA:.2f}, over all categories compared)."
        )


def breakdowns_tab(data: ExplorerData) -> None:
    """Category × sector, actor types, severities, and the most affected systems and developers."""
    marking_banner(data.marking)
    st.markdown("**Category × sector** (click a cell to narrow the filters)")
    clickable(incident_charts.heatmap_chart(data.heatmap), "heatmap", data.marking)
    left, right = st.columns(2)
    with left:
        st.markdown("**By actor type**")
        clickable(
            incident_charts.bars_chart(data.actors, "actor_type", "actor_types"), "actors", data.marking
        )
    with right:
        st.markdown("**By severity**")
        clickable(incident_charts.severity_chart(data.severities), "severity", data.marking)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Top {incident_explorer.TOP_SYSTEMS} affected systems**")
        chart(incident_charts.bars_chart(data.systems, "affected_system", None), "systems", data.marking)
    with right:
        st.markdown(f"**Top {incident_explorer.TOP_SYSTEMS} developers**")
        chart(incident_charts.bars_chart(data.developers, "developer", None), "developers", data.marking)


def incidents_tab(
    viewer: Viewer, f: Filters, today: date, data: ExplorerData, incident_id: str | None
) -> str | None:
    """The matching incidents, sorted and paged in SQL; the incident to open (a chosen row, or the link's)."""
    total = data.headline.incidents
    # Two rows: four controls in one row ran past their columns at 1024 px (the Order buttons need ~190 px)
    sort_col, order_col = st.columns(2)
    size_col, pages_col = st.columns([1, 2])
    sort = sort_col.selectbox(
        "Sort by", list(incident_explorer.SORT_COLUMNS), key="xp_sort", persist_state="page"
    )
    descending = order_col.segmented_control(
        "Order",
        [True, False],
        format_func=lambda v: "Descending" if v else "Ascending",
        default=True,
        required=True,
        key="xp_desc",
        persist_state="page",
    )
    size = size_col.selectbox(
        "Rows per page", incident_explorer.PAGE_SIZES, index=1, key="xp_size", persist_state="page"
    )
    pages = incident_explorer.page_count(total, size)
    # A new sort, page size or filter starts again at page 1 (and forgets the row chosen on the old page).
    view = f"{sort}_{descending}_{size}_{abs(hash(f)) % 10**8}"
    with pages_col:
        st.markdown("&nbsp;")
        page = st.pagination(pages, key=f"xp_page_{view}", max_visible_pages=5, persist_state="page")
    page = max(1, min(int(page or 1), pages))
    rows = session.query(incident_explorer.incident_page, f, today, sort, bool(descending), page, size)
    marking_banner(data.marking, f"all {counted(total, 'matching incident')}")
    first = (page - 1) * size + 1
    st.caption(
        f"Rows {first:,}–{first + len(rows.data) - 1:,} of {total:,}, sorted over all of them. "
        "Choose a row to open the incident."
    )
    picked = _table(rows.data, key=f"xp_table_{st.session_state.get('xp_gen_table', 0)}_{view}_{page}")
    # Only a new choice opens an incident: the row chosen before stays chosen while a link in the detail opens
    # another incident, and must not take the detail back to itself.
    if picked != st.session_state.get("xp_picked"):
        st.session_state["xp_picked"] = picked
        if picked is not None:
            st.query_params["incident"] = picked
            incident_id = picked
    _download(viewer, f, today, sort, bool(descending), data)
    return incident_id


def _table(rows: pd.DataFrame, key: str) -> str | None:
    """One page of incidents; the id of the row chosen, if any."""
    event = st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        height=min(36 * (len(rows) + 1) + 2, 640),
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        column_order=TABLE_ORDER,
        column_config={
            "id": st.column_config.TextColumn(
                "Id", pinned=True
            ),  # stays in view when the table scrolls sideways
            "occurred_on": st.column_config.DateColumn("Date"),
            "title": st.column_config.TextColumn("Title", width="large"),
            "originator": "By",
            "category": "Category",
            "severity": st.column_config.NumberColumn("Severity", format="%d"),
            "actor_type": "Actor type",
            "sectors": st.column_config.ListColumn("Sectors"),
            "affected_system": "Affected system",
            "developer": "Developer",
            "status": "Status",
            "tlp": "TLP",
            "releasable_to": st.column_config.ListColumn("Releasable to"),
        },
    )
    chosen = getattr(getattr(event, "selection", None), "rows", None) or []
    if chosen and 0 <= chosen[0] < len(rows):
        return str(rows.iloc[chosen[0]]["id"])
    return None


def _download(
    viewer: Viewer, f: Filters, today: date, sort: str, descending: bool, data: ExplorerData
) -> None:
    """The marked CSV of every matching incident in the table's order (at most EXPORT_ROW_LIMIT)."""
    total, limit = data.headline.incidents, incident_explorer.EXPORT_ROW_LIMIT
    # Built only when the button is pressed (the file can run to 250k rows), with this viewer's scope.
    export_csv = partial(
        table_export.incidents_csv, session.store(), viewer, f, today, sort, descending, at_least=data.marking
    )
    limit_note = f" (the first {limit:,} in this order)" if total > limit else ""
    st.download_button(
        f"Download {counted(min(total, limit), 'row')} as CSV{limit_note}",
        data=export_csv,
        file_name=table_export.export_filename("incidents", data.marking, "csv", today),
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="xp_csv",
    )


def _closed() -> None:
    """The detail was dismissed: forget the incident and the chosen row, so neither opens it again."""
    if "incident" in st.query_params:
        del st.query_params["incident"]
    st.session_state["xp_gen_table"] = st.session_state.get("xp_gen_table", 0) + 1


@st.dialog("Incident", width="large", on_dismiss=_closed)
def show_detail(incident: str) -> None:
    """One incident in a dialog over the table, where the eye is (issue 20): every field, its techniques, related
    incidents and linked evaluations, each related thing a link. An id that does not exist and one this viewer may
    not see get the same answer."""
    incident_detail.show(incident)
    if st.button("Close", icon=":material/close:", key="xp_close"):
        _closed()
        st.rerun()


main()
