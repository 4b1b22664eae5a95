"""Figures for the incident explorer and the overview: aggregated DataFrames in, Plotly figures out.

No data access and no Streamlit. Clickable traces carry `customdata` that names the filters a click narrows,
as flat pairs [field, value, field, value, ...] (field "dates" has value "YYYY-MM-DD/YYYY-MM-DD"), and
`filter_updates` turns the points of a Plotly selection event back into typed filter values. Keeping the
encoding here means the page only moves the result into the sidebar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.special import ndtr

from analytics.access.markings import INSTITUTES
from analytics.charts import ORIGINATOR_COLOURS, style_figure
from analytics.filters import source_label, value_label
from analytics.periods import period_end
from analytics.sources import PUBLIC_ORIGINATOR, PUBLIC_SOURCES, public_source
from analytics.stats.anomalies import bh_adjust
from analytics.vocab import SEVERITY_LABELS
from analytics.wording import counted

PALETTE = [
    "#1d3b6f",
    "#c8873a",
    "#3a8d7a",
    "#8c4a86",
    "#b8483f",
    "#5b8cc9",
    "#8a8d3a",
    "#6d6d6d",
    "#d2a679",
]
OTHER = "Other"
OTHER_COLOUR = "#c9c9c9"
SEVERITY_COLOURS = {1: "#c6d7e8", 2: "#8fb3d4", 3: "#f0c36b", 4: "#e07b39", 5: "#b8281f"}
FLAG_COLOUR = "#b8281f"
# Public sources are drawn in greys and greens, apart from the institutes' blue and amber.
PUBLIC_COLOURS = ["#7a7a7a", "#3a8d7a", "#a9a9a9", "#6b8e23", "#4f4f4f", "#9fc5b8"]
ROLLING = {"week": 4, "month": 3, "quarter": 2}
GRAIN_WORDS = {"week": "week", "month": "month", "quarter": "quarter"}

# Filter fields a click may narrow, and the type their values take.
CLICK_FIELDS: dict[str, type] = {
    "categories": str,
    "originators": str,
    "sources": str,
    "sectors": str,
    "severities": int,
    "actor_types": str,
}


def _pairs(*kv: str) -> list[str]:
    return list(kv)


def period_label(p: pd.Timestamp | date, grain: str) -> str:
    ts = pd.Timestamp(p)
    if grain == "week":
        return f"w/c {ts.day} {ts.strftime('%b %Y')}"
    if grain == "quarter":
        return f"Q{(ts.month - 1) // 3 + 1} {ts.year}"
    return ts.strftime("%b %Y")


def _dates(p: pd.Timestamp, grain: str, start: date | None, end: date | None) -> str:
    lo = pd.Timestamp(p).date()
    hi = period_end(lo, grain)
    if start and lo < start:
        lo = start
    if end and hi > end:
        hi = end
    return f"{lo.isoformat()}/{hi.isoformat()}"


def top_values(df: pd.DataFrame, col: str = "value", limit: int = 8) -> list[str]:
    """The `limit` values with most incidents (ties by name); the rest are folded into OTHER."""
    totals = df.groupby(col)["n"].sum().reset_index().sort_values(["n", col], ascending=[False, True])
    return [str(v) for v in totals[col].head(limit)]


def _value_label(value: str, dimension: str) -> str:
    if dimension == "severity" and value.isdigit():
        return f"{value} {SEVERITY_LABELS.get(int(value), '')}".strip()
    if dimension == "source":
        return source_label(value)
    if dimension == "originator" and value == PUBLIC_ORIGINATOR:
        return "Public sources"
    return value_label({"sector": "sectors", "actor": "actor_types"}.get(dimension, ""), value)


def trend_chart(
    totals: pd.DataFrame,
    trend: pd.DataFrame,
    anomalies: pd.DataFrame,
    *,
    grain: str,
    dimension: str,
    dimension_field: str,
    mode: str = "stacked",
    start: date | None = None,
    end: date | None = None,
    limit: int = 8,
) -> go.Figure:
    """Incidents per period split by a dimension (stacked bars or one line per value), the rolling average
    of all incidents, and a marker above each period flagged as breaking from its baseline."""
    fig = go.Figure()
    keep = top_values(trend, limit=limit)
    order = keep + ([OTHER] if trend["value"].nunique() > len(keep) else [])
    named = trend.assign(value=trend["value"].astype(str).where(trend["value"].astype(str).isin(keep), OTHER))
    df = named.groupby(["period", "value"], as_index=False)["n"].sum()
    periods = pd.DatetimeIndex(totals["period"])
    labels = [period_label(p, grain) for p in periods]
    partial = dict(zip(periods, totals["partial"], strict=True))
    for k, value in enumerate(order):
        s = df[df["value"] == value].set_index("period")["n"].reindex(periods, fill_value=0)
        custom = [
            _pairs(
                "dates", _dates(p, grain, start, end), *((dimension_field, value) if value != OTHER else ())
            )
            for p in periods
        ]
        style = {
            "x": labels,
            "y": s.to_numpy(),
            "name": _value_label(value, dimension),
            "customdata": custom,
            # the value reaches the hover through the trace name, which inert_figure escapes; never interpolated
            "hovertemplate": "<b>%{fullData.name}</b><br>%{x}: %{y:,} incidents<extra></extra>",
        }
        colour = OTHER_COLOUR if value == OTHER else PALETTE[k % len(PALETTE)]
        if mode == "lines":
            fig.add_trace(
                go.Scatter(
                    **style, mode="lines+markers", line={"color": colour, "width": 2}, marker={"size": 6}
                )
            )
        else:
            opacity = [0.45 if partial[p] else 1.0 for p in periods]
            fig.add_trace(go.Bar(**style, marker={"color": colour, "opacity": opacity}))
    fig.add_trace(_rolling_trace(totals, labels, grain))
    # Flags sit above the stack, or above the highest line.
    heights = df.groupby("period")["n"].max() if mode == "lines" else totals.set_index("period")["n"]
    flags = _flag_trace(heights, anomalies, periods, grain)
    if flags is not None:
        fig.add_trace(flags)
    return _trend_layout(fig, totals, labels, grain)


def _rolling_trace(totals: pd.DataFrame, labels: list[str], grain: str) -> go.Scatter:
    """The rolling average of all incidents over complete periods (a partial one would drag it down)."""
    window = ROLLING[grain]
    complete = totals["n"].where(~totals["partial"])
    rolling = complete.rolling(window, min_periods=window).mean()
    return go.Scatter(
        x=labels,
        y=rolling.round(1).to_numpy(),
        name=f"All incidents, {window}-{GRAIN_WORDS[grain]} average",
        mode="lines",
        line={"color": "#222222", "width": 2, "dash": "dot"},
        hovertemplate=f"%{{x}}: %{{y:,.1f}} ({window}-{GRAIN_WORDS[grain]} average)<extra></extra>",
    )


def _flag_trace(
    heights: pd.Series, anomalies: pd.DataFrame, periods: pd.DatetimeIndex, grain: str
) -> go.Scatter | None:
    """A marker at each flagged period's height, naming what broke from its baseline."""
    if anomalies.empty:
        return None
    flagged = anomalies[anomalies["period"].isin(periods)]
    if flagged.empty:
        return None
    by_period = flagged.groupby("period")["series"].apply(lambda s: ", ".join(map(str, s)))
    return go.Scatter(
        x=[period_label(p, grain) for p in by_period.index],
        y=[float(heights.get(p, 0)) for p in by_period.index],
        name="Breaks from its baseline",
        mode="markers",
        marker={"symbol": "triangle-down", "size": 13, "color": FLAG_COLOUR},
        text=list(by_period.to_numpy()),
        hovertemplate="<b>Flagged</b> %{x}: %{text}<extra></extra>",
        cliponaxis=False,
    )


def _trend_layout(fig: go.Figure, totals: pd.DataFrame, labels: list[str], grain: str) -> go.Figure:
    style_figure(fig, None, height=440)
    fig.update_layout(
        barmode="stack",
        hovermode="closest",
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
        yaxis={"title": f"Incidents per {GRAIN_WORDS[grain]}", "rangemode": "tozero"},
        legend={"y": 1.02, "yanchor": "bottom"},
        margin={"t": 60},
    )
    if len(labels) > 30:
        fig.update_xaxes(nticks=16)
    if int(totals["n"].max() if len(totals) else 0) <= 8:
        fig.update_yaxes(dtick=1)  # counts are whole incidents: no 0.2 ticks on a small chart
    return fig


# What every UK–AU comparison counts, said under each one (explorer, overview, matrix).
COMPARISON_SCOPE = (
    "UK and AU count institute reporting only: public sources (ATLAS case studies, the AI Incident Database "
    "and other public data, 'Reported by PUBLIC') are never counted as either institute; and of the "
    "partner's reporting, only records releasable to you."
)


CHANCE_ALPHA = 0.05  # a difference whose adjusted p is at least this "could be chance" (docs/methods.md)


def originator_differences(by_originator: pd.DataFrame, limit: int = 5) -> pd.DataFrame:
    """Categories whose share of each institute's incidents differs most (UK share minus AU share, in
    points), with a two-proportion z test for each, so that small differences between big numbers are not
    overstated: `p_value` two-sided, `adjusted_p` Benjamini–Hochberg over EVERY category compared (not only
    the `limit` listed), and `could_be_chance` when adjusted_p >= CHANCE_ALPHA (docs/methods.md, "UK–AU
    differences"; the same family-wise screening as the evaluations' UK–AU agreement table).

    Institute reporting only: rows of public sources (originator PUBLIC) are neither UK nor AU reporting, so
    they are left out of both the counts and the list of categories (COMPARISON_SCOPE says so on the page)."""
    columns = ["category", "uk", "au", "uk_share", "au_share", "difference", "z", "p_value", "adjusted_p"]
    institutes = by_originator[by_originator["originator"].isin(INSTITUTES)]
    wide = institutes.pivot_table(
        index="category", columns="originator", values="n", aggfunc="sum", fill_value=0
    )
    for inst in INSTITUTES:
        if inst not in wide.columns:
            wide[inst] = 0
    n_uk, n_au = int(wide["UK"].sum()), int(wide["AU"].sum())
    if n_uk == 0 or n_au == 0:
        return pd.DataFrame(columns=[*columns, "could_be_chance"])
    p_uk = wide["UK"] / n_uk
    p_au = wide["AU"] / n_au
    pooled = (wide["UK"] + wide["AU"]) / (n_uk + n_au)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_uk + 1 / n_au))
    z = ((p_uk - p_au) / se.replace(0, np.nan)).fillna(0).to_numpy()
    # the normal's upper tail, as scipy.stats.norm.sf computes it (ndtr(-z)), without importing scipy.stats:
    # that import alone cost the first page after sign-in 1.4 s of CPU on a fresh server
    p_value = 2 * ndtr(-np.abs(z))
    out = pd.DataFrame(
        {
            "category": wide.index.astype(str),
            "uk": wide["UK"].astype("int64").to_numpy(),
            "au": wide["AU"].astype("int64").to_numpy(),
            "uk_share": p_uk.to_numpy(),
            "au_share": p_au.to_numpy(),
            "difference": (p_uk - p_au).to_numpy(),
            "z": z,
            "p_value": p_value,
            "adjusted_p": bh_adjust(p_value),
        }
    )
    out["could_be_chance"] = out["adjusted_p"] >= CHANCE_ALPHA
    out = out.assign(_abs=out["difference"].abs()).sort_values(["_abs", "category"], ascending=[False, True])
    return out.drop(columns="_abs").head(limit).reset_index(drop=True)


def reporters(by_originator: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Who reported the rows of a (category, originator, source, n) frame, as (label, filter field, value):
    UK, then AU, then each public source as its own series named from the registry ("Public — AI Incident
    Database"), so public data is drawn beside the institutes, never inside UK or AU."""
    out = [(inst, "originators", inst) for inst in INSTITUTES if (by_originator["originator"] == inst).any()]
    public = by_originator.loc[by_originator["originator"] == PUBLIC_ORIGINATOR, "source"]
    for key in sorted({str(k) for k in public}, key=_registry_order):
        out.append((public_label(key), "sources", key))
    return out


def public_label(key: str) -> str:
    """A public source's series name: "Public — " and its registered name (the key when unregistered;
    "Public sources" when the source is not known at all)."""
    if not key:
        return "Public sources"
    known = public_source(key)
    return f"Public — {known.name if known else key}"


def _registry_order(key: str) -> tuple[int, str]:
    keys = [s.key for s in PUBLIC_SOURCES]
    return (keys.index(key) if key in keys else len(keys), key)


def _reporter_rows(by_originator: pd.DataFrame, field: str, value: str) -> pd.Series:
    """The rows of one reporter: an institute (`originators`) or a public source (`sources`)."""
    if field == "originators":
        return by_originator["originator"] == value
    return (by_originator["originator"] == PUBLIC_ORIGINATOR) & (by_originator["source"] == value)


def originator_chart(by_originator: pd.DataFrame) -> go.Figure:
    """Each institute's incidents by category as a share of its own total, side by side, and each public
    source's as a series of its own."""
    fig = go.Figure()
    totals = by_originator.groupby("category")["n"].sum().sort_values()
    order = [str(c) for c in totals.index]
    # Horizontal grouped bars stack a group's traces bottom-up: added in reverse (and listed reversed), so UK's
    # bar is on top of each group as UK is first in the legend.
    for k, (label, field, value) in reversed(list(enumerate(reporters(by_originator)))):
        rows = by_originator[_reporter_rows(by_originator, field, value)]
        sub = rows.groupby("category")["n"].sum().reindex(order).fillna(0)
        total = sub.sum()
        share = sub / total if total else sub * 0.0
        colour = ORIGINATOR_COLOURS.get(value, PUBLIC_COLOURS[k % len(PUBLIC_COLOURS)])
        fig.add_trace(
            go.Bar(
                y=order,
                x=share.to_numpy(),
                name=f"{label} ({counted(int(total), 'incident')})",
                orientation="h",
                marker={"color": colour},
                customdata=[_pairs("categories", c, field, value) for c in order],
                text=[f"{v:.0%}" for v in share],
                textposition="outside",
                # the label reaches the hover through the trace name, which inert_figure escapes
                hovertemplate="<b>%{fullData.name}</b> · %{y}<br>%{x:.1%} of its incidents<extra></extra>",
                cliponaxis=False,
            )
        )
    style_figure(fig, None, height=max(320, 46 * len(order) + 80))
    fig.update_layout(
        barmode="group",
        xaxis={"tickformat": ".0%", "title": "Share of the institute's incidents"},
        legend={"traceorder": "reversed"},
        margin={"r": 50},  # room for the share printed past the longest bar
    )
    return fig


def _cells(df: pd.DataFrame, rows: str, cols: str) -> tuple[list[str], list[str]]:
    r = df.groupby(rows)["n"].sum().sort_values(ascending=False).index.astype(str).tolist()
    c = df.groupby(cols)["n"].sum().sort_values(ascending=False).index.astype(str).tolist()
    return r, c


def heatmap_chart(heat: pd.DataFrame) -> go.Figure:
    """Category × sector as a grid of squares (a scatter, so a click selects a cell)."""
    rows, cols = _cells(heat, "category", "sector")
    n = heat["n"].astype(float)
    vmax = float(n.max()) if len(n) else 1.0
    # Squares small enough for every column to fit beside the category names at 1024 px (~320 px of plot), and
    # never below what a three-digit count needs.
    size = max(24, min(40, 320 // max(1, len(cols))))
    fig = go.Figure(
        go.Scatter(
            x=[value_label("sectors", s) for s in heat["sector"].astype(str)],
            y=heat["category"].astype(str),
            mode="markers+text",
            marker={
                "symbol": "square",
                "size": size,
                "color": n,
                "colorscale": [[0, "#eef3f9"], [0.5, "#6f95c4"], [1, "#1d3b6f"]],
                "cmin": 0,
                "cmax": vmax,
                "line": {"width": 1, "color": "white"},
                "colorbar": {"title": {"text": "Incidents"}, "thickness": 12},
            },
            text=[f"{int(v):,}" for v in n],
            textfont={
                "size": 11,
                "color": ["white" if v > 0.55 * vmax else "#1a1a1a" for v in n],
            },
            customdata=[
                _pairs("categories", str(c), "sectors", str(s))
                for c, s in zip(heat["category"], heat["sector"], strict=True)
            ],
            hovertemplate="<b>%{y}</b> in <b>%{x}</b><br>%{marker.color:,} incidents<extra></extra>",
            showlegend=False,
        )
    )
    style_figure(fig, None, height=max(360, 44 * len(rows) + 120))
    fig.update_xaxes(
        categoryorder="array",
        categoryarray=[value_label("sectors", c) for c in cols],
        side="top",
        tickangle=-45,
        showgrid=False,
    )
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1], showgrid=False)
    fig.update_layout(margin={"t": 90})
    return fig


def bars_chart(
    df: pd.DataFrame, col: str, field: str | None, *, title_x: str = "Incidents", colours: Any = None
) -> go.Figure:
    """Horizontal bars of n by `col`, largest on top; clickable when `field` names a filter."""
    data = df.sort_values("n")
    labels = data[col].astype(str).tolist()
    shown = [value_label(field, v) for v in labels] if field else labels
    if field == "severities":
        shown = [f"{v} {SEVERITY_LABELS.get(int(v), '')}" for v in labels]
    colour: Any = "#1d3b6f"
    if colours is not None:
        colour = [colours.get(int(v), "#1d3b6f") for v in labels]
    fig = go.Figure(
        go.Bar(
            y=shown,
            x=data["n"].to_numpy(),
            orientation="h",
            marker={"color": colour},
            text=[f"{v:,}" for v in data["n"]],
            textposition="outside",
            customdata=[_pairs(field, v) for v in labels] if field else None,
            hovertemplate="%{y}: %{x:,} incidents<extra></extra>",
            cliponaxis=False,
        )
    )
    style_figure(fig, None, height=max(240, 34 * len(labels) + 70))
    fig.update_layout(xaxis={"title": title_x}, margin={"r": 50})
    return fig


def severity_chart(severities: pd.DataFrame) -> go.Figure:
    df = severities.sort_values("severity", ascending=False)
    fig = bars_chart(df.assign(severity=df["severity"].astype(str)), "severity", "severities")
    colours = [SEVERITY_COLOURS.get(int(v), "#1d3b6f") for v in df.sort_values("n")["severity"]]
    fig.data[0].marker.color = colours
    # Keep the scale in order (5 at the top) rather than by count.
    order = [f"{v} {SEVERITY_LABELS.get(int(v), '')}" for v in sorted(df["severity"])]
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    return fig


def filter_updates(points: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Filter values named by the clicked/selected points' customdata: {field: [values...]}, plus "dates":
    [(from, to)] spanning every selected period. Unknown fields and malformed values are ignored."""
    out: dict[str, list[Any]] = {}
    spans: list[tuple[date, date]] = []
    for p in points:
        custom = p.get("customdata")
        if not isinstance(custom, list | tuple):
            continue
        for field, value in zip(custom[::2], custom[1::2], strict=False):
            if field == "dates" and isinstance(value, str) and "/" in value:
                try:
                    lo, hi = (date.fromisoformat(x) for x in value.split("/", 1))
                except ValueError:
                    continue
                spans.append((lo, hi))
            elif field in CLICK_FIELDS:
                try:
                    typed = CLICK_FIELDS[field](value)
                except (TypeError, ValueError):
                    continue
                bucket = out.setdefault(str(field), [])
                if typed not in bucket:
                    bucket.append(typed)
    if spans:
        out["dates"] = [(min(s[0] for s in spans), max(s[1] for s in spans))]
    return out


def sparkline_values(weekly: pd.DataFrame) -> list[int]:
    return [int(v) for v in weekly["n"]]


# The category public importers write when a record supports none of vocab.CATEGORIES (ingest.atlas's
# UNMAPPED_CATEGORY; analytics.incidents may not import the importers, and a test holds the two equal).
UNMAPPED_CATEGORY = "Unmapped"


def without_unmapped(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of a (originator, category, incidents) frame the overview's category chart draws, and how many
    incidents it leaves out: public records whose data supports none of the product's categories (category
    `Unmapped`: about 1,370 AIID and AVID records) are no category at all, and as one bar they dwarfed every
    real one. The page says how many were left out; the figures above it still count them."""
    unmapped = df["category"] == UNMAPPED_CATEGORY
    return df[~unmapped].reset_index(drop=True), int(df.loc[unmapped, "incidents"].sum())


def category_by_originator_chart(df: pd.DataFrame) -> go.Figure:
    """Incidents per category (rows: originator, category, incidents, and `source` when public records are
    among them), one bar per institute and one per public source ("Public — AI Incident Database"; "Public
    sources" when the frame does not name them), largest on top. No figure title: the page's heading names
    it, and a title would collide with the legend."""
    order = df.groupby("category")["incidents"].sum().sort_values().index.astype(str).tolist()
    rows = df.rename(columns={"incidents": "n"})
    if "source" not in rows.columns:
        rows = rows.assign(source="")
    fig = go.Figure()
    # drawn bottom-up, so UK sits above AU, and the institutes above the public sources, within each category
    for k, (label, field, value) in reversed(list(enumerate(reporters(rows)))):
        sub = rows[_reporter_rows(rows, field, value)].groupby("category")["n"].sum().reindex(order).fillna(0)
        name = f"Reported by {label}" if field == "originators" else label
        fig.add_trace(
            go.Bar(
                y=order,
                x=sub.to_numpy(),
                name=name,
                orientation="h",
                marker={"color": ORIGINATOR_COLOURS.get(value, PUBLIC_COLOURS[k % len(PUBLIC_COLOURS)])},
                hovertemplate="<b>%{fullData.name}</b> · %{y}: %{x:,} incidents<extra></extra>",
            )
        )
    style_figure(fig, None, height=max(320, 40 * len(order) + 90))
    fig.update_layout(
        barmode="group",
        xaxis={"title": "Incidents"},
        legend={"traceorder": "reversed", "y": 1.0, "yanchor": "bottom"},
    )
    return fig
