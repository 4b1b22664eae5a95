"""Overview: the picture in ten seconds, for everyone and as the policymakers' landing page.

Summaries only (no record tables): the last 30 and 90 days against the periods before, a weekly sparkline,
what is rising fastest (guarded against tiny numbers), periods flagged as breaking from their baseline, and
the split by category and institute for the sidebar's period.

`main()` draws the page, one function per section. The data is `analytics.incidents.overview`'s (one
statement); the latest assessments are `analytics.assessments.reads`'."""

from datetime import date

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import Scoped
from analytics.access.pages import EVERYONE
from analytics.assessments.reads import latest_approved
from analytics.filters import Filters, value_label
from analytics.incidents import charts as incident_charts
from analytics.incidents import grids
from analytics.incidents import overview as incident_overview
from analytics.incidents.overview import OverviewData
from analytics.stats.anomalies import DEFAULT_RULE
from analytics.stats.rising import DEFAULT_RISING_RULE
from analytics.wording import MISSING, counted
from pages.parts.currency import currency_line, incident_currency
from pages.ui import (
    change,
    chart,
    empty_state,
    inert_markdown,
    marking_banner,
    metric_row,
    page_to_slide,
)


def main() -> None:
    session.require_role(*EVERYONE)
    f = session.filters()
    today = session.today()
    st.title("Overview")
    currency = incident_currency()
    currency_line(known=currency)
    summary = session.query(incident_overview.overview_summary, f, today, currency=currency)
    marking_banner(summary.marking.combine(summary.by_category.marking), "everything on this page")
    figures(summary, f, today)
    rising_section(summary)
    breaks_section(summary)
    by_category_section(summary.by_category)
    latest_assessments()


def figures(summary: OverviewData, f: Filters, today: date) -> None:
    """The 30- and 90-day figures against the periods before, and the sidebar's total."""
    others = f.describe(today).split("; ", 1)
    st.caption(
        incident_overview.windows_note(summary)
        + (f" Filters: {inert_markdown(others[1])}." if len(others) > 1 else "")
        + " The 30- and 90-day figures ignore the sidebar's period; the last chart follows it."
    )
    w30, w90 = summary.windows
    row = metric_row()  # wraps to two rows on a narrow screen rather than truncate
    last30 = last90 = high90 = total_col = row
    last30.metric(
        "Last 30 days",
        f"{w30.incidents:,}",
        **change(w30.adjusted, w30.prev_adjusted),
        delta_description="vs prior 30 days, adjusted",
        help=incident_overview.adjustment_note(w30),
        border=True,
        height="stretch",
        width="stretch",
    )
    last90.metric(
        "Last 90 days",
        f"{w90.incidents:,}",
        **change(w90.adjusted, w90.prev_adjusted),
        delta_description="vs prior 90 days, adjusted",
        chart_data=incident_charts.sparkline_values(summary.weekly),
        chart_type="bar",
        help=f"Bars: incidents per week over the {incident_overview.SPARK_WEEKS} weeks to the last complete day "
        "(the last week may be partial). " + incident_overview.adjustment_note(w90),
        border=True,
        height="stretch",
        width="stretch",
    )
    high90.metric(
        "High or critical, 90 days",
        f"{w90.high_share:.0%}" if w90.high_share is not None else MISSING,
        **change(w90.high_share, w90.prev_high_share, points=True),
        delta_description="vs prior 90 days",
        help="Share of incidents with severity 4 (high) or 5 (critical).",
        border=True,
        height="stretch",
        width="stretch",
    )
    total_col.metric(
        "Incidents",
        f"{int(summary.by_category.data['incidents'].sum()):,}",
        help="Every incident you may see under the sidebar filters, in the sidebar's period.",
        border=True,
        height="stretch",
        width="stretch",
    )


def rising_section(summary: OverviewData) -> None:
    st.subheader("Rising fastest")
    st.caption(DEFAULT_RISING_RULE.describe())
    # Side by side when there is room, one above the other on a narrow screen (in two fixed columns at 1024 px
    # the tables were cut off at the right).
    with st.container(horizontal=True, gap="medium"):
        for title, df, label in (
            ("Categories", summary.rising_categories, "Category"),
            ("Sectors", summary.rising_sectors, "Sector"),
        ):
            with st.container(width="stretch"):
                st.markdown(f"**{title}**")
                _rising_table(df, label)


def _rising_table(df: pd.DataFrame, label: str) -> None:
    if df.empty:
        st.caption("Nothing has risen clearly over the previous 90 days.")
        return
    st.dataframe(
        df.assign(
            value=[value_label("sectors" if label == "Sector" else "categories", v) for v in df["value"]],
            change=df["change"] * 100,
        )[["value", "n", "prev", "change"]],
        hide_index=True,
        width="stretch",
        column_config={
            "value": st.column_config.TextColumn(label, pinned=True),
            "n": st.column_config.NumberColumn("Last 90 d", format="%d", width="small"),
            "prev": st.column_config.NumberColumn("90 d before", format="%d", width="small"),
            "change": st.column_config.NumberColumn("Change", format="%+.0f%%", width="small"),
        },
    )


def breaks_section(summary: OverviewData) -> None:
    st.subheader("Breaks from the recent pattern")
    st.caption(
        f"Whole months among the last {incident_overview.OVERVIEW_ANOMALY_MONTHS} to the last complete day, "
        "flagged by category; each category is tested from its own first month, and a month still in progress "
        "is never flagged. "
        f"{DEFAULT_RULE.describe()} {grids.FLAGS_SCOPE}"
    )
    if summary.anomalies.empty:
        st.caption("No category broke from its recent baseline.")
        return
    flagged = summary.anomalies.assign(
        period=lambda d: [incident_charts.period_label(p, "month") for p in d["period"]]
    )
    st.dataframe(
        flagged[["period", "series", "count", "expected", "ratio"]],
        hide_index=True,
        width="stretch",
        column_config={
            "period": "Month",
            "series": "Category",
            "count": st.column_config.NumberColumn("Incidents", format="%d"),
            "expected": st.column_config.NumberColumn(
                "Baseline",
                format="%.1f",
                help=f"Mean of up to {DEFAULT_RULE.window} months before.",
            ),
            "ratio": st.column_config.NumberColumn("× baseline", format="%.1f×"),
        },
    )


def by_category_section(by_cat: Scoped[pd.DataFrame]) -> None:
    st.subheader("By category and institute")
    total = int(by_cat.data["incidents"].sum())
    marking_banner(by_cat.marking, f"{counted(total, 'incident')} in the sidebar's period")
    drawn, unmapped = incident_charts.without_unmapped(by_cat.data)
    left_out = (
        f" Not drawn: {counted(unmapped, 'public record')} that fit none of the categories ('Unmapped'); "
        "the figures above count them."
        if unmapped
        else ""
    )
    # public sources are a series of their own, never UK or AU
    st.caption(incident_charts.COMPARISON_SCOPE + left_out)
    if drawn.empty:
        empty_state("No incidents in a category match these filters.")
        return
    by_cat_fig = incident_charts.category_by_originator_chart(drawn)
    chart(
        by_cat_fig,
        key="by_category",
        marking=by_cat.marking,
        export_title="Incidents by category and reporting institute",
    )
    page_to_slide(
        "Incidents by category and reporting institute", [(by_cat_fig, by_cat.marking)], key="ov_slide"
    )


def latest_assessments() -> None:
    st.subheader("Latest approved joint assessments")
    latest = session.query(latest_approved, 5)
    if latest.data.empty:
        st.caption("No approved joint assessment you are cleared for yet.")
        return
    marking_banner(latest.marking, f"{counted(len(latest.data), 'approved assessment')}")
    for row in latest.data.itertuples():
        with st.container(border=True):
            st.markdown(f"**{inert_markdown(str(row.title))}**")
            st.caption(f"Approved {row.approved_at:%d %B %Y} · TLP:{row.tlp}")
            st.text(str(row.bluf))
            st.page_link(
                "pages/assessments_read.py",
                label="Read the assessment",
                icon=":material/verified:",
                query_params={"a": str(row.id)},
            )


main()
