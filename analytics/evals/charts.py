"""Chart builders for the Evaluations page: DataFrame in, Plotly figure out. No data access, no Streamlit.

Colours: developers get a fixed qualitative palette in order of first appearance, so a developer keeps its colour
across the capability chart and its legend; institutes use the shared ORIGINATOR_COLOURS (public results grey).
Frontiers are one black step line per source, metric and task version, told apart by dash; best-of-N results
are hollow markers, so a best of several attempts is never read as a single attempt.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts import ORIGINATOR_COLOURS, style_figure

PALETTE = (
    "#1d3b6f",
    "#c8873a",
    "#2a9d8f",
    "#b5446e",
    "#6a4c93",
    "#8ab17d",
    "#e76f51",
    "#457b9d",
    "#9c6644",
    "#5e548e",
)
INSTITUTE_COLOURS = {**ORIGINATOR_COLOURS, "PUBLIC": "#8c8c8c"}
INSTITUTE_SYMBOLS = {"UK": "circle", "AU": "diamond", "PUBLIC": "square"}
FRONTIER_COLOUR = "#222222"
THRESHOLD_COLOUR = "#c0392b"


def _safe(text: Any) -> str:
    """Stored text (model, developer, benchmark names) for Plotly labels: Plotly renders a subset of HTML in
    names, titles and hover text (including links), so angle brackets are turned into entities it shows as
    text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    return f"{float(x):.{digits}g}" if abs(float(x)) >= 10 else f"{float(x):.{digits}f}"


def _axis_title(unit: str) -> str:
    return "Score (share of tasks)" if unit == "fraction" else f"Score ({unit})"


FRONTIER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
X_TITLES = {"release": "Model release date", "evaluation": "Evaluation date"}


def capability_chart(
    points: pd.DataFrame,
    frontier: pd.DataFrame,
    benchmark: str,
    unit: str,
    threshold: float | None = None,
    by: str = "release",
) -> go.Figure:
    """Score against model release (or evaluation) date: one marker per run coloured by developer (shape by
    who ran it; hollow for best-of-N results), 95% interval whiskers, one frontier step line per source, metric
    and task version (each its own dash), and the threshold as a dashed line. Each point's customdata starts
    with its run id, so a click can open that run."""
    fig = go.Figure()
    developers = list(dict.fromkeys(points["developer"].tolist()))
    for k, dev in enumerate(developers):
        fig.add_trace(_developer_trace(points[points["developer"] == dev], dev, PALETTE[k % len(PALETTE)]))
    for k, (line, sub) in enumerate(frontier.groupby("line", sort=True) if not frontier.empty else []):
        fig.add_trace(
            go.Scatter(
                x=sub["x"],
                y=sub["best"],
                mode="lines",
                line={
                    "shape": "hv",
                    "color": FRONTIER_COLOUR,
                    "width": 1.5,
                    "dash": FRONTIER_DASHES[k % len(FRONTIER_DASHES)],
                },
                name=_safe(f"Frontier: {line}"),
                hovertemplate=f"{_safe(line)}<br>frontier %{{y:.3f}}<br>from %{{x|%d %b %Y}}<extra></extra>",
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": THRESHOLD_COLOUR, "dash": "dash", "width": 1.5},
            annotation_text=f"threshold {_fmt(threshold)}",
            annotation_position="top left",
            annotation_font_color=THRESHOLD_COLOUR,
        )
    x_title = X_TITLES.get(by, X_TITLES["release"])
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=_axis_title(unit), rangemode="tozero" if unit == "fraction" else "normal")
    style_figure(fig, f"{_safe(benchmark)}: capability by {x_title.lower()}", height=500)
    # Public data brings dozens of developers: a legend across the top would bury the title, so it goes right.
    fig.update_layout(
        legend={
            "orientation": "v",
            "x": 1.01,
            "y": 1,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 11},
        },
        margin={"r": 10},
    )
    return fig


def _developer_trace(sub: pd.DataFrame, dev: str, colour: str) -> go.Scatter:
    """One developer's runs: markers shaped by who ran them (hollow when best-of-N), 95% whiskers, the run id
    first in customdata."""
    has_ci = sub["ci_low"].notna()
    err_plus = (sub["ci_high"] - sub["score"]).where(has_ci)
    err_minus = (sub["score"] - sub["ci_low"]).where(has_ci)
    ci_text = [
        f"{_fmt(lo)} – {_fmt(hi)}" if pd.notna(lo) else "not reported"
        for lo, hi in zip(sub["ci_low"], sub["ci_high"], strict=True)
    ]
    best_of = [str(b) if isinstance(b, str) and b else "" for b in sub["best_of"]]
    symbols = [
        INSTITUTE_SYMBOLS.get(i, "circle") + ("-open" if b else "")
        for i, b in zip(sub["institute"], best_of, strict=True)
    ]
    return go.Scatter(
        x=sub["x"],
        y=sub["score"],
        mode="markers",
        name=_safe(dev),
        marker={
            "color": colour,
            "size": 9,
            "symbol": symbols,
            "line": {"color": colour, "width": 1.5},
        },
        error_y={
            "type": "data",
            "array": err_plus.tolist(),
            "arrayminus": err_minus.tolist(),
            "thickness": 1,
            "width": 0,
            "color": colour,
        },
        customdata=[
            [
                rid,
                _safe(model),
                ci,
                _safe(src),
                inst,
                _safe(dev),
                _safe(line),
                "<br>⚑ " + _safe(b) if b else "",
            ]
            for rid, model, ci, src, inst, line, b in zip(
                sub["run_id"],
                sub["model"],
                ci_text,
                sub["source"],
                sub["institute"],
                sub["line"],
                best_of,
                strict=True,
            )
        ],
        hovertemplate=(
            "<b>%{customdata[1]}</b><br>%{customdata[5]}<br>%{x|%d %b %Y}<br>score %{y:.3f}"
            "<br>95% CI %{customdata[2]}<br>source %{customdata[3]} · %{customdata[4]}"
            "<br>line %{customdata[6]}%{customdata[7]}<extra></extra>"
        ),
    )


def comparison_chart(scores: pd.DataFrame, models: list[str]) -> go.Figure:
    """One small panel per benchmark (each with its own scale), a dot with its 95% interval per model. Models
    keep the same row and colour in every panel, so a column of dots reads across panels."""
    benches = sorted(scores["benchmark"].unique().tolist())
    cols = 3 if len(benches) > 2 else max(1, len(benches))
    rows = max(1, -(-len(benches) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_safe(b) for b in benches],
        horizontal_spacing=0.16,
        vertical_spacing=min(0.5 / rows, 0.12),
    )
    colour = {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(models)}
    shown: set[str] = set()
    # Traces and axis settings go in with one call each: Plotly re-walks the figure on every add_trace and
    # update_yaxes call (one call each is about 15% faster for five models on a dozen benchmarks).
    traces: list[go.Scatter] = []
    at_rows: list[int] = []
    at_cols: list[int] = []
    axes: dict[str, dict[str, Any]] = {}
    order = [_safe(m) for m in models][::-1]
    for k, bench in enumerate(benches):
        sub = scores[scores["benchmark"] == bench]
        r, c = k // cols + 1, k % cols + 1
        for m in models:
            one = sub[sub["model"] == m]
            if one.empty:
                continue
            score, lo, hi = float(one["score"].iloc[0]), one["ci_low"].iloc[0], one["ci_high"].iloc[0]
            has = pd.notna(lo)
            traces.append(
                go.Scatter(
                    x=[score],
                    y=[_safe(m)],
                    mode="markers",
                    marker={"color": colour[m], "size": 10},
                    error_x={
                        "type": "data",
                        "array": [float(hi) - score if has else 0.0],
                        "arrayminus": [score - float(lo) if has else 0.0],
                        "thickness": 1.5,
                        "width": 4,
                        "color": colour[m],
                    },
                    name=_safe(m),
                    legendgroup=_safe(m),
                    showlegend=m not in shown,
                    customdata=[
                        [_fmt(lo) if has else "–", _fmt(hi) if has else "–", one["institute"].iloc[0]]
                    ],
                    hovertemplate="<b>%{y}</b><br>score %{x:.3f}<br>95% CI %{customdata[0]} – %{customdata[1]}"
                    "<br>%{customdata[2]}<extra></extra>",
                )
            )
            at_rows.append(r)
            at_cols.append(c)
            shown.add(m)
        axes[f"yaxis{'' if k == 0 else k + 1}"] = {
            "categoryorder": "array",
            "categoryarray": order,
            "range": [-0.6, len(models) - 0.4],
            "showticklabels": c == 1,
            "tickfont": {"size": 11},
        }
    if traces:
        fig.add_traces(traces, rows=at_rows, cols=at_cols)
    fig.update_layout(axes)
    fig.update_annotations(font_size=12)
    style_figure(fig, None, height=max(260, (24 * len(models) + 110) * rows + 40))
    fig.update_layout(margin={"t": 70}, legend={"yref": "container", "y": 0.995, "yanchor": "top"})
    return fig


_FLAG = {"disagree": "⚠ ", "check": "△ "}
_BAND = {"disagree": "rgba(192, 57, 43, 0.12)", "check": "rgba(230, 160, 40, 0.12)"}


def agreement_chart(df: pd.DataFrame) -> go.Figure:
    """UK and AU scores (95% intervals) for each model and benchmark both ran; disagreements labelled."""
    labels = [
        _safe(f"{_FLAG.get(s, '')}{m} · {b} (v{v})")
        for m, b, v, s in zip(df["model"], df["benchmark"], df["task_version"], df["status"], strict=True)
    ]
    fig = go.Figure()
    for inst in ("UK", "AU"):
        key = inst.lower()
        score, lo, hi = df[f"{key}_score"], df[f"{key}_ci_low"], df[f"{key}_ci_high"]
        fig.add_trace(
            go.Scatter(
                x=score,
                y=labels,
                mode="markers",
                name=f"{inst} run",
                marker={"color": INSTITUTE_COLOURS[inst], "size": 9, "symbol": INSTITUTE_SYMBOLS[inst]},
                error_x={
                    "type": "data",
                    "array": (hi - score).fillna(0).tolist(),
                    "arrayminus": (score - lo).fillna(0).tolist(),
                    "thickness": 1.2,
                    "width": 3,
                    "color": INSTITUTE_COLOURS[inst],
                },
                hovertemplate=f"{inst} %{{x:.3f}}<br>%{{y}}<extra></extra>",
            )
        )
    # Flagged rows get a tinted band, so the ones to follow up stand out in a long list.
    for k, status in enumerate(df["status"]):
        if status in _BAND:
            fig.add_hrect(y0=k - 0.5, y1=k + 0.5, fillcolor=_BAND[status], line_width=0, layer="below")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="Score")
    return style_figure(fig, None, height=max(300, 26 * len(df) + 90))


def distribution_chart(dist: pd.DataFrame) -> go.Figure:
    """How many samples got each score value (a histogram of the numbers when there are many values)."""
    if len(dist) > 30:
        scored = dist[dist["score"].notna()]
        fig = go.Figure(
            go.Histogram(
                x=scored["score"],
                y=scored["samples"],
                histfunc="sum",
                nbinsx=30,
                marker_color=PALETTE[0],
                hovertemplate="%{x}: %{y} samples<extra></extra>",
            )
        )
        fig.update_xaxes(title_text="Score")
        fig.update_yaxes(title_text="Samples")
        return style_figure(fig, None, height=280)
    labels = [
        _safe(
            f"{v} ({_fmt(s, 2)})" if v is not None and pd.notna(s) else (v if v is not None else "no score")
        )
        for v, s in zip(dist["value"], dist["score"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=dist["samples"],
            marker_color=PALETTE[0],
            hovertemplate="%{x}: %{y} samples<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Score as logged (as a number)", type="category")
    fig.update_yaxes(title_text="Samples")
    return style_figure(fig, None, height=280)
