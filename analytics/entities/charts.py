"""The entity page's timeline figure: its incidents and evaluation runs per month, side by side.

Why a figure of its own: incidents and runs are counted on different dates (occurred vs evaluated) and in very
different numbers, so they share the time axis but each keeps its own bars; a month with no record is drawn as
zero, not skipped, so gaps read as gaps. DataFrame in, figure out; no data access.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics.charts import style_figure

SERIES_COLOURS = {"Incidents": "#1d3b6f", "Evaluation runs": "#c8873a"}


def timeline_chart(df: pd.DataFrame, name: str) -> go.Figure:
    """Bars per month for each series in `df` (month, series, count), on one time axis."""
    fig = go.Figure()
    if not df.empty:
        months = pd.date_range(pd.Timestamp(df["month"].min()), pd.Timestamp(df["month"].max()), freq="MS")
        for series, colour in SERIES_COLOURS.items():
            part = df[df["series"] == series]
            if part.empty:
                continue
            counts = part.assign(month=pd.to_datetime(part["month"])).set_index("month")["count"]
            counts = counts.reindex(months, fill_value=0)
            fig.add_bar(
                x=list(months),
                y=[int(v) for v in counts],
                name=series,
                marker_color=colour,
                hovertemplate="%{x|%b %Y}: %{y:,}<extra>" + series + "</extra>",
            )
    fig.update_layout(barmode="group", bargap=0.1)
    fig.update_yaxes(title_text="Records per month", rangemode="tozero")
    return style_figure(fig, title=f"Timeline of {name}", height=320)
