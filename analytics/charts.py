"""Chart builders: DataFrame in, Plotly figure out. No data access, no Streamlit.

Feature modules keep their own builders (e.g. analytics/incidents/charts.py) and share `style_figure`.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

ORIGINATOR_COLOURS = {"UK": "#1d3b6f", "AU": "#c8873a"}
FONT = "Source Sans Pro, Arial, sans-serif"


def style_figure(fig: go.Figure, title: str | None = None, height: int = 420) -> go.Figure:
    # A title gets its own line at the top of the figure, above the horizontal legend, so the two never overlap.
    fig.update_layout(
        title={"text": title, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12}}
        if title
        else None,
        height=height,
        margin={"l": 10, "r": 10, "t": 84 if title else 20, "b": 10},
        font={"family": FONT, "size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        plot_bgcolor="white",
        paper_bgcolor="white",
    )
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#e6e6e6")
    return fig


def counts_by_originator_and_category(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars of incidents per category, split by originating institute."""
    # Imported here: plotly.express (and narwhals) cost the first page after sign-in CPU it never used (issue 20).
    import plotly.express as px

    order = df.groupby("category")["incidents"].sum().sort_values().index.tolist()
    fig = px.bar(
        df,
        y="category",
        x="incidents",
        color="originator",
        orientation="h",
        barmode="group",
        category_orders={"category": order[::-1], "originator": ["UK", "AU"]},
        color_discrete_map=ORIGINATOR_COLOURS,
        labels={"incidents": "Incidents", "category": "", "originator": "Reported by"},
    )
    return style_figure(fig, "Incidents by category and reporting institute", height=460)


# Trace attributes that can carry stored text (category names, titles, system names). Plotly renders a subset of
# HTML (<a href>, <b>, <span style>) in them, so stored text must reach the browser as entities. Templates are
# included: builders interpolate stored values into them (the trend chart's hover put a category name there,
# and escaping stopped at the template), and the formatting tags they use themselves are kept.
_TEXT_ATTRIBUTES = (
    "hovertemplate",
    "texttemplate",
    "x",
    "y",
    "z",
    "text",
    "hovertext",
    "customdata",
    "labels",
    "parents",
    "ids",
    "name",
    "legendgroup",
)


# Plotly's own formatting tags stay (builders use them for line breaks and emphasis, and <extra> names a hover
# box; none can link or restyle); every other "<" becomes an entity, so no <a href>, <img>, <span style> or
# unknown tag survives.
_FORMATTING_TAG = re.compile(r"<(?!/?(?:br|b|i|em|sup|sub|extra)\s*/?>)", re.IGNORECASE)


def _inert(value: object) -> object:
    if isinstance(value, str):
        return _FORMATTING_TAG.sub("&lt;", value) if "<" in value else value
    if isinstance(value, list | tuple):
        return [_inert(v) for v in value]
    return value


def inert_figure(fig: go.Figure) -> go.Figure:
    """`fig` with stored text that could become markup (links, styles) in the browser or in SVG made inert: a
    copy when something needed changing, else `fig` itself (copying a figure re-validates every value, which
    costs more than building it, and almost no figure holds a "<")."""
    changes: list[tuple[int, str, object]] = []
    for k, trace in enumerate(fig.data):
        for attr in _TEXT_ATTRIBUTES:
            value = trace[attr] if attr in trace else None  # noqa: SIM401 - Plotly traces have no .get
            if value is None:
                continue
            plain = value.tolist() if hasattr(value, "tolist") else value
            plain = list(plain) if isinstance(plain, tuple) else plain  # _inert returns lists
            cleaned = _inert(plain)
            if cleaned != plain:
                changes.append((k, attr, cleaned))
    ticks: list[tuple[str, object]] = []
    for axis in [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))]:
        ticktext = fig.layout[axis].ticktext
        if ticktext is not None:
            cleaned = _inert(list(ticktext))
            if cleaned != list(ticktext):
                ticks.append((axis, cleaned))
    if not changes and not ticks:
        return fig
    out = go.Figure(fig)
    for k, attr, cleaned in changes:
        out.data[k][attr] = cleaned
    for axis, cleaned in ticks:
        out.layout[axis].ticktext = cleaned
    return out
