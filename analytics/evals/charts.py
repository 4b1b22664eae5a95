"""Chart builders for the Evaluations page, and the tables behind them: DataFrame in, Plotly figure (or the
chart's data as a human-named table for its download) out. No data access, no Streamlit.

Drawn as Epoch AI's Benchmarking Hub draws them, because real data has dozens of developers and a dozen units:
- **Developers**: the TOP_DEVELOPERS with most runs on a chart get their own colour, everyone else is "Other"
  (grey), so a legend never lists 25 names. Colours come from ONE mapping (`developer_colours`): the big labs
  have fixed colours (DEVELOPER_COLOURS, chosen so that e.g. Meta AI and Microsoft, OpenAI and Alibaba differ),
  every other developer takes the next free palette colour in the order of `queries.developer_ranking`, so a
  developer has the same colour in the capability chart, the comparison and any other chart of the page,
  whatever the chart's own order.
- **Units and direction**: `scale_for` turns what the import recorded (Epoch's unit, garak's and
  JailbreakBench's higher_is_better, the metric) into the axis title ("... · higher is better"), the tick and
  hover format (shares as percentages) and the axis type (METR's time horizons in minutes on a log axis: they
  span four orders of magnitude).
- **Names**: long model, developer and line names are shortened with "…" in legends, labels and ticks
  (`shorten`); the hover always carries the full name. Models that moved a frontier are labelled.
- **Legends** sit below the plot in a margin sized for their rows, so more entries make the figure taller,
  never the plot smaller.
Institutes use the shared ORIGINATOR_COLOURS (public results grey). Frontiers are one black step line per
source, metric and task version, told apart by dash; best-of-N results are hollow markers, so a best of several
attempts is never read as a single attempt.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler
from plotly.subplots import make_subplots

from analytics.charts import ORIGINATOR_COLOURS, style_figure

# Kelly's colours of maximum contrast (without white, black and the greys, which mean "Other" and frontiers
# here), then a few of Tableau's: distinct enough to attribute a point without hovering.
PALETTE = (
    "#008856",
    "#F38400",
    "#0067A5",
    "#A1CAF1",
    "#604E97",
    "#8DB600",
    "#F3C300",
    "#BE0032",
    "#882D17",
    "#E68FAC",
    # the free colours, in the order ranked developers take them: the first ones differ most from the above
    "#17becf",
    "#C2B280",
    "#B3446C",
    "#2B3D26",
    "#875692",
    "#654522",
    "#F99379",
    "#DCD300",
    "#E25822",
    "#9467bd",
    # and ten more, less distinct, so that the rarer developers seldom share a colour within a chart
    "#006d77",
    "#4a4e69",
    "#b5838d",
    "#bc6c25",
    "#3a0ca3",
    "#f72585",
    "#7f7f00",
    "#00a896",
    "#9d0208",
    "#ffb4a2",
)
# The developers most often on Epoch's charts keep these colours in every chart, session and filter.
DEVELOPER_COLOURS: dict[str, str] = {
    "OpenAI": "#008856",
    "Anthropic": "#F38400",
    "Google DeepMind": "#0067A5",
    "Google": "#A1CAF1",
    "Meta AI": "#604E97",
    "Microsoft": "#8DB600",
    "Alibaba": "#F3C300",
    "DeepSeek": "#BE0032",
    "Mistral AI": "#882D17",
    "xAI": "#E68FAC",
}
OTHER = "Other"
OTHER_COLOUR = "#b5b5b5"
UNKNOWN_DEVELOPER = "Unknown developer"
UNKNOWN_COLOUR = "#6e6e6e"
TOP_DEVELOPERS = 8
MAX_FRONTIER_LABELS = 10
NAME_LIMIT = 28
FRONTIER_NAME_LIMIT = 36  # "Frontier: institute · accuracy · v1" whole: the task version is the point

INSTITUTE_COLOURS = {**ORIGINATOR_COLOURS, "PUBLIC": "#8c8c8c"}
INSTITUTE_SYMBOLS = {"UK": "circle", "AU": "diamond", "PUBLIC": "square"}
FRONTIER_COLOUR = "#222222"
THRESHOLD_COLOUR = "#c0392b"
MISSING = "—"


def _safe(text: Any) -> str:
    """Stored text (model, developer, benchmark names) for Plotly labels: Plotly renders a subset of HTML in
    names, titles and hover text (including links), so angle brackets are turned into entities it shows as
    text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: Any, limit: int = NAME_LIMIT, *, keep_end: int = 0) -> str:
    """A name cut to `limit` characters with "…" (legends, labels, ticks); the hover shows it whole.
    `keep_end` keeps that many characters of the end (cut in the middle): where names differ at the end, as
    frontier lines of one source that differ only by task version."""
    s = " ".join(str(text).split())
    if len(s) <= limit:
        return s
    if keep_end:
        return s[: limit - keep_end - 1].rstrip(" ,·") + "…" + s[-keep_end:]
    return s[: limit - 1].rstrip(" ,·") + "…"


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return MISSING
    return f"{float(x):.{digits}g}" if abs(float(x)) >= 10 else f"{float(x):.{digits}f}"


# -- units and direction ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How a benchmark's scores read: what is measured, in what unit, which way is better, and how to draw it."""

    quantity: str  # "Share of tasks solved", "Time horizon", ...
    unit: str  # "%", "minutes", "index points", ...
    higher_is_better: bool = True
    log: bool = False  # a log axis (time horizons span four orders of magnitude)
    share: bool = False  # a share in [0, 1]: percent ticks and hover

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def axis_title(self) -> str:
        unit = f"{self.unit}, log scale" if self.log else self.unit
        return f"{self.quantity} ({unit}) · {self.direction}"

    @property
    def short_title(self) -> str:
        """For small panels: the unit and direction only."""
        unit = "share" if self.share else self.unit
        return f"{unit}{', log' if self.log else ''} · {'↑' if self.higher_is_better else '↓'} better"

    @property
    def tickformat(self) -> str:
        return ".0%" if self.share else ""

    @property
    def hover(self) -> str:
        """A Plotly number format for one score."""
        return ".1%" if self.share else ",.4~g"

    def text(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        v = float(value)
        if self.share:
            return f"{v:.1%}"
        return f"{v:,.4g} {self.unit}"


# Epoch's units (details.unit), named for axis titles. Anything else is shown as "Score (<unit>)".
_UNITS: dict[str, tuple[str, str, bool]] = {
    "minutes": ("Time horizon", "minutes", True),
    "ECI": ("Epoch Capabilities Index", "index points", False),
    "Elo": ("Arena rating", "Elo", False),
    "points": ("Score", "points", False),
    "points (0-10)": ("Score", "points out of 10", False),
}
# Share metrics named on the axis when every run of the benchmark reports the same one (lower case, as stored).
_SHARE_METRICS: dict[str, str] = {
    "accuracy": "Accuracy",
    "pass rate": "Pass rate",
    "attack success rate (lower is better)": "Attack success rate",
    "attack success rate": "Attack success rate",
}


def scale_for(unit: str | None, higher_is_better: bool = True, metrics: Sequence[str] = ()) -> Scale:
    """The scale of a benchmark from what its import recorded: Epoch's unit, the runs' direction and metrics."""
    unit = unit or "fraction"
    if unit == "fraction":
        named = {_SHARE_METRICS.get(str(m).lower()) for m in metrics} if metrics else {None}
        quantity = named.pop() if len(named) == 1 and None not in named else "Share of tasks solved"
        return Scale(str(quantity), "%", higher_is_better, share=True)
    quantity, label, log = _UNITS.get(unit, ("Score", _safe(unit), False))
    return Scale(quantity, label, higher_is_better, log=log)


# -- developers and their colours -------------------------------------------------------------------------------


def developer_colours(ranking: Sequence[str] = ()) -> dict[str, str]:
    """One colour per developer for every chart: the fixed DEVELOPER_COLOURS, then the other palette colours in
    the order of `ranking` (queries.developer_ranking: most runs first), cycling if there are more developers
    than colours (the rarest, which a chart's top developers seldom include)."""
    colours = {**DEVELOPER_COLOURS, OTHER: OTHER_COLOUR, UNKNOWN_DEVELOPER: UNKNOWN_COLOUR}
    free = [c for c in PALETTE if c not in DEVELOPER_COLOURS.values()]
    k = 0
    for dev in ranking:
        if dev not in colours:
            colours[dev] = free[k % len(free)]
            k += 1
    return colours


def colour_of(developer: str, colours: Mapping[str, str]) -> str:
    """The developer's colour; one not in the mapping (not ranked) gets a stable one from its name."""
    if developer in colours:
        return colours[developer]
    free = [c for c in PALETTE if c not in DEVELOPER_COLOURS.values()]
    return free[int(hashlib.sha1(developer.encode()).hexdigest(), 16) % len(free)]


def developer_groups(developers: pd.Series, top: int = TOP_DEVELOPERS) -> pd.Series:
    """Each row's group on a chart: its developer if among the `top` with most rows here (ties by name), else
    OTHER. A chart never has more than top + 1 developer groups."""
    counts = developers.value_counts()
    ranked = sorted(counts.index, key=lambda d: (-int(counts[d]), str(d)))
    keep = set(ranked[:top])
    return developers.where(developers.isin(keep), OTHER)


# -- capability over time ---------------------------------------------------------------------------------------

FRONTIER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
X_TITLES = {"release": "Model release date", "evaluation": "Evaluation date"}
LEGEND_ROW = 24  # px per row of a horizontal legend
# entries per row at the narrowest layout (a 1024 px window with the sidebar open: ~545 px of figure)
LEGEND_PER_ROW = 2
LEGEND_ENTRY_WIDTH = 175  # px of text (the symbol adds ~40): two columns fit the narrowest plot (~480 px)


def legend_below(fig: go.Figure, entries: int, plot_height: int, top: int) -> go.Figure:
    """Put the legend under the plot in a bottom margin sized for its rows: the figure grows with the legend,
    the plot keeps `plot_height` pixels whatever the number of entries."""
    rows = max(1, math.ceil(entries / LEGEND_PER_ROW))
    axis = 56  # x tick labels and the x axis title
    bottom = axis + rows * LEGEND_ROW + 8
    fig.update_layout(
        height=top + plot_height + bottom,
        # No automatic margins: Plotly would otherwise add the legend's height to the bottom margin again and
        # take it from the plot (seen in Chromium: 273 px of plot instead of 380 at 1024 px).
        margin={"t": top, "b": bottom, "l": 70, "r": 10, "autoexpand": False},
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
            "entrywidth": LEGEND_ENTRY_WIDTH,
            "font": {"size": 10},
        },
    )
    return fig


def capability_chart(
    points: pd.DataFrame,
    frontier: pd.DataFrame,
    benchmark: str,
    scale: Scale | str,
    colours: Mapping[str, str] | None = None,
    threshold: float | None = None,
    by: str = "release",
) -> go.Figure:
    """Score against model release (or evaluation) date: one marker per run coloured by developer (the top
    TOP_DEVELOPERS, the rest "Other"; shape by who ran it; hollow for best-of-N results), 95% interval whiskers,
    one frontier step line per source, metric and task version (each its own dash) with the models that moved it
    labelled, and the threshold as a dashed line. Each point's customdata starts with its run id, so a click can
    open that run. `scale` may be a unit as stored (see scale_for); without `colours`, the fixed ones and a
    colour from each other developer's name."""
    scale = scale_for(scale) if isinstance(scale, str) else scale
    colours = developer_colours() if colours is None else colours
    fig = go.Figure()
    groups = developer_groups(points["developer"])
    order = list(dict.fromkeys(g for g in _ranked_groups(groups)))
    for dev in order:
        sub = points[groups == dev]
        fig.add_trace(_developer_trace(sub, dev, colour_of(dev, colours), scale))
    lines = list(frontier.groupby("line", sort=True)) if not frontier.empty else []
    for k, (line, sub) in enumerate(lines):
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
                name=_safe(shorten(f"Frontier: {line}", FRONTIER_NAME_LIMIT, keep_end=14)),
                hovertemplate=f"{_safe(line)}<br>frontier %{{y:{scale.hover}}}<br>from %{{x|%d %b %Y}}"
                "<extra></extra>",
            )
        )
    labels = frontier_labels(points, log=scale.log)
    if not labels.empty:
        fig.add_trace(
            go.Scatter(
                x=labels["x"],
                y=labels["score"],
                mode="text",
                text=[_safe(shorten(m, 22)) for m in labels["model"]],
                textposition="top left",
                textfont={"size": LABEL_FONT, "color": "#333333"},
                hoverinfo="skip",
                showlegend=False,
                name="frontier models",
                cliponaxis=False,
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": THRESHOLD_COLOUR, "dash": "dash", "width": 1.5},
            annotation_text=f"threshold {scale.text(threshold)}",
            annotation_position="top left",
            annotation_font_color=THRESHOLD_COLOUR,
        )
    x_title = X_TITLES.get(by, X_TITLES["release"])
    fig.update_xaxes(title_text=x_title, range=date_range(points["x"]))
    fig.update_yaxes(
        title_text=scale.axis_title,
        type="log" if scale.log else "linear",
        tickformat=scale.tickformat,
        dtick=1 if scale.log else None,  # powers of ten only: 2s and 5s crowd a four-decade axis
        range=share_range(points) if scale.share else None,
    )
    title = f"{shorten(benchmark, 44, keep_end=16)}: capability by {x_title.lower()}"
    style_figure(fig, _safe(title))
    fig.update_layout(title={"pad": {"t": 8}})
    return legend_below(fig, len(order) + len(lines), plot_height=380, top=56)


def date_range(x: pd.Series, least_days: int = 120) -> list[pd.Timestamp] | None:
    """An x range at least `least_days` wide: results of one day (a JailbreakBench artifact, one garak run)
    would otherwise be drawn on an axis of milliseconds."""
    dates = pd.to_datetime(x.dropna())
    if dates.empty or (dates.max() - dates.min()).days >= least_days:
        return None
    middle = dates.min() + (dates.max() - dates.min()) / 2
    half = pd.Timedelta(days=least_days / 2)
    return [middle - half, middle + half]


def share_range(points: pd.DataFrame) -> list[float]:
    """0% to a little above the highest score or interval (at most 100%), with room for markers at 0."""
    top = pd.concat([points["score"], points["ci_high"]]).max()
    top = 1.0 if pd.isna(top) else min(1.0, float(top))
    return [-0.03, top + 0.06]


def _ranked_groups(groups: pd.Series) -> list[str]:
    """Legend order: most runs first, "Other" last."""
    counts = groups.value_counts()
    named = sorted((g for g in counts.index if g != OTHER), key=lambda g: (-int(counts[g]), str(g)))
    return named + ([OTHER] if OTHER in counts.index else [])


LABEL_FONT = 10
_LABEL_CHAR_PX = 5.6  # average width of a character of the label font
_NARROW_PLOT_PX = (540, 380)  # the plot area at the narrowest layout: where labels are likeliest to collide


def frontier_labels(
    points: pd.DataFrame, limit: int = MAX_FRONTIER_LABELS, log: bool = False
) -> pd.DataFrame:
    """The models that moved a frontier (each once, where it did so last), newest first, skipping any whose label
    would overlap one already kept at the narrowest layout, at most `limit`: labelled on the chart as Epoch
    labels its frontier models. Upper left of a frontier point is empty by definition (nothing earlier scored
    higher), so each label ends at its point and runs left."""
    if points.empty or "on_frontier" not in points:
        return points.iloc[0:0]
    on = points[points["on_frontier"].fillna(False).astype(bool)]
    # A model that moved several lines (garak's task versions) is labelled once, where it did so last.
    on = on.sort_values(["x", "score"]).drop_duplicates(subset=["model"], keep="last")
    xs = pd.to_datetime(points["x"]).astype("int64")
    x_span = max(float(xs.max() - xs.min()), 1.0)
    ys = points["score"].clip(lower=1e-9).map(math.log10) if log else points["score"]
    y_span = max(float(ys.max() - ys.min()), 1e-9)
    width_px, height_px = _NARROW_PLOT_PX
    line_gap = y_span * (LABEL_FONT + 4) / height_px
    kept: list[tuple[float, float, float]] = []  # (x, y, label width in x units) of kept labels
    keep: list[Any] = []
    at = dict(zip(on.index, pd.to_datetime(on["x"]).astype("int64"), strict=True))
    for idx in reversed(on.index.tolist()):
        x, y = float(at[idx]), float(ys[idx])
        width = len(shorten(on.at[idx, "model"], 22)) * _LABEL_CHAR_PX / width_px * x_span
        # Labels end at their points: a later label (kept first) covers [its x - its width, its x].
        if any(x - width < kx and kx - kw < x and abs(y - ky) < line_gap for kx, ky, kw in kept):
            continue
        kept.append((x, y, width))
        keep.append(idx)
        if len(keep) >= limit:
            break
    return on.loc[[k for k in on.index if k in set(keep)]]


def _developer_trace(sub: pd.DataFrame, group: str, colour: str, scale: Scale) -> go.Scatter:
    """One developer group's runs: markers shaped by who ran them (hollow when best-of-N), 95% whiskers, the
    run id first in customdata; the hover names the model and the developer in full."""
    has_ci = sub["ci_low"].notna()
    err_plus = (sub["ci_high"] - sub["score"]).where(has_ci)
    err_minus = (sub["score"] - sub["ci_low"]).where(has_ci)
    ci_text = [
        f"{scale.text(lo)} – {scale.text(hi)}" if pd.notna(lo) else "not reported"
        for lo, hi in zip(sub["ci_low"], sub["ci_high"], strict=True)
    ]
    best_of = [str(b) if isinstance(b, str) and b else "" for b in sub["best_of"]]
    symbols = [
        INSTITUTE_SYMBOLS.get(i, "circle") + ("-open" if b else "")
        for i, b in zip(sub["institute"], best_of, strict=True)
    ]
    full = sub["developers"] if "developers" in sub else sub["developer"]
    return go.Scatter(
        x=sub["x"],
        y=sub["score"],
        mode="markers",
        name=_safe(shorten(group, 24)),
        legendgroup=_safe(group),
        marker={
            "color": colour,
            "size": 9,
            "symbol": symbols,
            "line": {"color": colour, "width": 1.5},
            "opacity": 0.85,
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
                _wrapped(dev),
                _safe(line),
                "<br>⚑ " + _safe(b) if b else "",
            ]
            for rid, model, ci, src, inst, line, b, dev in zip(
                sub["run_id"],
                sub["model"],
                ci_text,
                sub["source"],
                sub["institute"],
                sub["line"],
                best_of,
                full,
                strict=True,
            )
        ],
        hovertemplate=(
            "<b>%{customdata[1]}</b><br>%{customdata[5]}<br>%{x|%d %b %Y}<br>"
            f"score %{{y:{scale.hover}}}"
            "<br>95% CI %{customdata[2]}<br>source %{customdata[3]} · %{customdata[4]}"
            "<br>line %{customdata[6]}%{customdata[7]}<extra></extra>"
        ),
    )


def capability_table(points: pd.DataFrame, scale: Scale, by: str = "release") -> pd.DataFrame:
    """The capability chart's data with human column names, for its download and for anyone who wants the
    numbers behind a point."""
    frame = pd.DataFrame(
        {
            "Model": points["model"],
            "Developer": points["developers"] if "developers" in points else points["developer"],
            "Drawn as": developer_groups(points["developer"]),
            X_TITLES.get(by, X_TITLES["release"]): points["x"],
            "Model release date": points["release_date"],
            "Evaluation date": points["eval_date"],
            f"Score ({scale.unit})": points["score"],
            "95% CI low": points["ci_low"],
            "95% CI high": points["ci_high"],
            "Metric": points["metric"],
            "Task version": points["task_version"],
            "Source": points["source"],
            "Run by": points["institute"],
            "Moved the frontier": points["on_frontier"].fillna(False).astype(bool),
            "Best of N": points["best_of"],
            "Run id": points["run_id"],
        }
    )
    return frame.loc[:, ~frame.columns.duplicated()]


def _wrapped(text: Any, width: int = 60) -> str:
    """Long stored text for a hover box (escaped), broken at commas so the box stays narrow."""
    safe = _safe(text)
    if len(safe) <= width:
        return safe
    return ",<br>".join(part.strip() for part in safe.split(","))


# -- model comparison -------------------------------------------------------------------------------------------


def comparison_chart(
    scores: pd.DataFrame,
    models: list[str],
    colours: Mapping[str, str] | None = None,
    scales: Mapping[str, Scale] | None = None,
) -> go.Figure:
    """One small panel per benchmark, a dot with its 95% interval per model, coloured by the model's developer
    (the page's one developer mapping). Models keep the same row in every panel, named on the left. Panels
    whose scores are shares of tasks share one 0–100% axis; other units (minutes, index points, Elo) keep their
    own, and every panel's axis says its unit and direction."""
    colours = colours if colours is not None else developer_colours()
    benches = sorted(scores["benchmark"].unique().tolist())
    if scales is None:
        units = scores.groupby("benchmark")["unit"].first() if "unit" in scores else pd.Series(dtype=str)
        scales = {b: scale_for(str(units.get(b, "fraction"))) for b in benches}
    cols = 3 if len(benches) > 2 else max(1, len(benches))
    rows = max(1, -(-len(benches) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_safe(shorten(b, 34)) for b in benches],
        horizontal_spacing=0.16 if cols > 1 else 0.0,
        vertical_spacing=min(0.6 / rows, 0.14),
    )
    shown: set[str] = set()
    # Traces and axis settings go in with one call each: Plotly re-walks the figure on every add_trace and
    # update_yaxes call (one call each is about 15% faster for five models on a dozen benchmarks).
    traces: list[go.Scatter] = []
    at_rows: list[int] = []
    at_cols: list[int] = []
    axes: dict[str, dict[str, Any]] = {}
    order = [_safe(shorten(m, 24)) for m in models][::-1]
    first_share: str | None = None
    for k, bench in enumerate(benches):
        sub = scores[scores["benchmark"] == bench]
        scale = scales.get(bench, scale_for("fraction"))
        r, c = k // cols + 1, k % cols + 1
        for m in models:
            one = sub[sub["model"] == m]
            if one.empty:
                continue
            score, lo, hi = float(one["score"].iloc[0]), one["ci_low"].iloc[0], one["ci_high"].iloc[0]
            dev = str(one["developer"].iloc[0]) if "developer" in one else UNKNOWN_DEVELOPER
            has = pd.notna(lo)
            traces.append(
                go.Scatter(
                    x=[score],
                    y=[_safe(shorten(m, 24))],
                    mode="markers",
                    marker={"color": colour_of(dev, colours), "size": 10},
                    error_x={
                        "type": "data",
                        "array": [float(hi) - score if has else 0.0],
                        "arrayminus": [score - float(lo) if has else 0.0],
                        "thickness": 1.5,
                        "width": 4,
                        "color": colour_of(dev, colours),
                    },
                    name=_safe(shorten(dev, 24)),
                    legendgroup=_safe(dev),
                    showlegend=dev not in shown,
                    customdata=[
                        [
                            scale.text(lo) if has else "none (no per-sample data or standard error)",
                            scale.text(hi) if has else "",
                            one["institute"].iloc[0],
                            _safe(m),
                            _safe(dev),
                        ]
                    ],
                    hovertemplate="<b>%{customdata[3]}</b> (%{customdata[4]})<br>"
                    f"score %{{x:{scale.hover}}}<br>95% CI %{{customdata[0]}} – %{{customdata[1]}}"
                    "<br>%{customdata[2]}<extra></extra>",
                )
            )
            at_rows.append(r)
            at_cols.append(c)
            shown.add(dev)
        suffix = "" if k == 0 else str(k + 1)
        axes[f"yaxis{suffix}"] = {
            "categoryorder": "array",
            "categoryarray": order,
            "range": [-0.6, len(models) - 0.4],
            "showticklabels": c == 1,
            "tickfont": {"size": 11},
            "title": {"text": "Model" if c == 1 else ""},
        }
        xaxis: dict[str, Any] = {
            "title": {"text": scale.short_title, "font": {"size": 11}},
            "tickformat": scale.tickformat,
            "type": "log" if scale.log else "linear",
        }
        if scale.share:
            # Shares of tasks read on one shared 0–100% axis, so a gap means the same in every panel.
            xaxis["range"] = [-0.02, 1.02]
            if first_share is None:
                first_share = f"x{suffix}"
            else:
                xaxis["matches"] = first_share
        axes[f"xaxis{suffix}"] = xaxis
    for k in range(len(benches), rows * cols):  # the grid's empty cells: no bare axes without a title
        axes[f"xaxis{k + 1}"] = {"visible": False}
        axes[f"yaxis{k + 1}"] = {"visible": False}
    if traces:
        fig.add_traces(traces, rows=at_rows, cols=at_cols)
    fig.update_layout(axes)
    fig.update_annotations(font_size=12)
    style_figure(fig, None, height=max(300, (24 * len(models) + 150) * rows + 40))
    fig.update_layout(margin={"t": 70}, legend={"yref": "container", "y": 0.995, "yanchor": "top"})
    return fig


def comparison_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The comparison chart's data with human column names (its download and the table under it)."""
    return pd.DataFrame(
        {
            "Benchmark": scores["benchmark"],
            "Model": scores["model"],
            "Developer": scores.get("developer"),
            "Score": scores["score"],
            "95% CI low": scores["ci_low"],
            "95% CI high": scores["ci_high"],
            "Unit": [scale_for(u).unit for u in scores["unit"]] if "unit" in scores else None,
            "Std. error": scores["stderr"],
            "Samples": scores["n_samples"],
            "Task version": scores["task_version"],
            "Evaluation date": scores["eval_date"],
            "Run by": scores["institute"],
            "Source": scores["source"],
            "Run id": scores["run_id"],
        }
    )


PAIR_NAMES: dict[str, str] = {
    "benchmark": "Benchmark",
    "model_a": "Model A",
    "model_b": "Model B",
    "verdict": "Verdict",
    "diff": "A − B",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "ci_level": "CI level",
    "p_holm": "p (Holm-adjusted)",
    "pairing": "Paired?",
    "test": "Test",
    "n_paired": "Shared samples",
    "score_a": "Score A",
    "score_b": "Score B",
    "p": "p (unadjusted)",
}


# -- cross-institute agreement ----------------------------------------------------------------------------------

_FLAG = {"disagree": "⚠ ", "check": "△ "}
_BAND = {"disagree": "rgba(192, 57, 43, 0.12)", "check": "rgba(230, 160, 40, 0.12)"}


def agreement_chart(df: pd.DataFrame) -> go.Figure:
    """UK and AU scores (95% intervals) for each model and benchmark both ran; disagreements flagged and
    banded. Labels are shortened; the hover names model and benchmark in full."""
    full = [
        f"{m} · {b} (v{v})" for m, b, v in zip(df["model"], df["benchmark"], df["task_version"], strict=True)
    ]
    labels = [
        _safe(f"{_FLAG.get(s, '')}{shorten(m, 22)} · {shorten(b, 26)} (v{v})")
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
                customdata=[[_safe(f)] for f in full],
                hovertemplate=f"{inst} %{{x:.3f}}<br>%{{customdata[0]}}<extra></extra>",
            )
        )
    # Flagged rows get a tinted band, so the ones to follow up stand out in a long list.
    for k, status in enumerate(df["status"]):
        if status in _BAND:
            fig.add_hrect(y0=k - 0.5, y1=k + 0.5, fillcolor=_BAND[status], line_width=0, layer="below")
    fig.update_yaxes(
        type="category",
        range=[len(df) - 0.5, -0.5],  # first row on top, no padding rows above or below
        title_text="Model · benchmark (task version)",
    )
    fig.update_xaxes(title_text="Score of each institute's run (95% interval)")
    return style_figure(fig, None, height=max(320, 26 * len(df) + 120))


AGREEMENT_NAMES: dict[str, str] = {
    "status": "Status",
    "model": "Model",
    "benchmark": "Benchmark",
    "task_version": "Task version",
    "difference": "UK − AU",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "ci_level": "CI level",
    "p_adjusted": "p (BH-adjusted)",
    "pairing": "Paired?",
    "test": "Test",
    "overlap": "Intervals overlap",
    "p_value": "p (unadjusted)",
    "uk_score": "UK score",
    "uk_ci_low": "UK CI low",
    "uk_ci_high": "UK CI high",
    "au_score": "AU score",
    "au_ci_low": "AU CI low",
    "au_ci_high": "AU CI high",
    "uk_run": "UK run",
    "au_run": "AU run",
}


# -- tables as people read them ---------------------------------------------------------------------------------


def human_table(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """The columns of `df` named in `names` (in that order), renamed to them; lists become "a, b" text and
    booleans "yes"/"no", so every cell reads as text a person would write."""
    present = [c for c in names if c in df.columns]
    out = df[present].rename(columns={c: names[c] for c in present}).copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == bool or str(s.dtype) == "boolean":
            out[col] = s.map(lambda v: MISSING if pd.isna(v) else ("yes" if v else "no"))
        elif s.dtype == object and s.map(lambda v: isinstance(v, list | tuple)).any():
            out[col] = s.map(lambda v: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v)
        elif s.dtype == object and s.map(lambda v: hasattr(v, "tolist") and not isinstance(v, str)).any():
            out[col] = s.map(lambda v: ", ".join(map(str, v.tolist())) if hasattr(v, "tolist") else v)
    return out


def styled(df: pd.DataFrame, digits: int = 3) -> Styler:
    """A table for st.dataframe: MISSING ("—") for every missing value (never "None" or "nan"), numbers to
    `digits` decimals, whole numbers without, dates as YYYY-MM-DD."""
    formats: dict[str, Any] = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            formats[col] = "{:%Y-%m-%d}"
        elif pd.api.types.is_integer_dtype(s):
            formats[col] = "{:,}"
        elif pd.api.types.is_float_dtype(s):
            whole = s.dropna().map(float.is_integer).all() and col in _COUNT_COLUMNS
            formats[col] = "{:,.0f}" if whole else f"{{:.{digits}f}}"
        elif s.dtype == object and s.map(lambda v: hasattr(v, "strftime")).any():
            formats[col] = lambda v: v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v)
    return df.style.format(formats, na_rep=MISSING)


_COUNT_COLUMNS = {"Shared samples", "Samples", "Runs", "Models", "Incidents", "Severity"}


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
