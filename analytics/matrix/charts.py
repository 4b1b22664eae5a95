"""Threat-matrix figures: ATLAS tactics as columns in kill-chain order, techniques as cells. No data access.

`matrix_layout` places techniques in cells (a technique under several tactics appears in each column, as in
ATLAS's own matrix; expanded parents are followed by their sub-techniques), and `matrix_heatmap` colours them
for one mode. Counts are coloured on a log scale because a few techniques dominate; the legend shows real counts.
Sixteen columns of technique names are not legible in a dashboard's width, so the kill chain is drawn in bands
of at most four tactics (left to right, then the next band below), one shared colour scale. Four, because the
figure cannot know the screen: at 1024 px with the sidebar open the page's main column is about 560 px, where
eight tactics left 55 px each and their headers and technique names ran into each other (issue 20); four leave
about 120 px, enough for a tactic's name in two lines and a technique's in three.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics.charts import ORIGINATOR_COLOURS, style_figure
from analytics.wording import counted

EMPTY_CELL = "#eef0f3"  # a technique with nothing to count
COVERED_CELL = "#b9dcc3"  # gaps mode: incidents seen, and an evaluation covers them
_INCIDENT_SCALE = ("#fde9d4", "#f7b47a", "#e4682f", "#b3261e", "#6e0f0b")
_COVERAGE_SCALE = ("#d7efdc", "#8fcf9d", "#3f9a5a", "#1e6b37")
_GAP_SCALE = ("#fcd9cf", "#f08a6c", "#c8321f", "#7a0f08")
ROW_HEIGHT = 62
HEADER_HEIGHT = 56
MAX_COLUMNS_PER_BAND = 4  # see the module docstring: usable at 1024 px with the sidebar open


# One line under the figure per mode, saying how to read it (fixed text; shown with st.caption).
MODE_LEGENDS: dict[str, str] = {
    "incidents": "Incidents matching the filters that cite each technique (▸: has sub-techniques, rolled up; "
    "expand them above). Click a cell for its detail.",
    "coverage": "Benchmarks with results you can see that are mapped to each technique (a parent counts its "
    "sub-techniques' benchmarks). Click a cell for its detail.",
    "gaps": "Red: techniques seen in incidents in this period that no evaluation you can see covers (number of "
    "such incidents). Green: seen and covered. Grey: not seen. Incidents citing a retired or unknown ATLAS id "
    "are gaps too, listed under the matrix.",
    "separate": "Incidents reported by UK, by AU, and (last, when any match) from public sources such as "
    "ATLAS case studies and the AI Incident Database, on one colour scale. Public records are never UK or AU.",
    "difference": "Each cell: incidents reported by UK · by AU (institute reporting only: public sources are "
    "not counted). Blue: UK reported more; amber: AU reported more.",
}


@dataclass(frozen=True)
class Cell:
    column: int
    row: int
    technique_id: str
    name: str
    is_sub: bool
    has_subs: bool


def matrix_layout(
    tactics: pd.DataFrame, techniques: pd.DataFrame, expanded: Iterable[str] = ()
) -> list[Cell]:
    """Cells for each tactic column: its parent techniques in ATLAS order, each expanded parent followed by its
    sub-techniques (which share the parent's tactics)."""
    open_parents = set(expanded)
    subs: dict[str, list[tuple[str, str]]] = {}
    for tid, name, parent in zip(techniques["id"], techniques["name"], techniques["parent_id"], strict=True):
        if isinstance(parent, str) and parent:
            subs.setdefault(parent, []).append((str(tid), str(name)))
    cells: list[Cell] = []
    for col, tactic in enumerate(tactics["id"]):
        row = 0
        for tid, name, parent, tacs in zip(
            techniques["id"], techniques["name"], techniques["parent_id"], techniques["tactics"], strict=True
        ):
            if (isinstance(parent, str) and parent) or tactic not in list(tacs):
                continue
            cells.append(Cell(col, row, str(tid), str(name), False, bool(subs.get(str(tid)))))
            row += 1
            if tid in open_parents:
                for sid, sname in subs.get(str(tid), []):
                    cells.append(Cell(col, row, sid, sname, True, False))
                    row += 1
    return cells


def _wrap(text: str, width: int = 13, lines: int = 3) -> str:
    parts = textwrap.wrap(text, width) or [""]
    if len(parts) > lines:
        parts = [*parts[: lines - 1], textwrap.shorten(" ".join(parts[lines - 1 :]), width, placeholder="…")]
    return "<br>".join(parts)


def _log_scale(colours: tuple[str, ...], zmax: float, floor: str = EMPTY_CELL) -> list[list[float | str]]:
    """A colourscale over log1p(count) in [0, zmax]: exactly 0 is `floor`, any count >= 1 starts at colours[0]."""
    if zmax <= 0:
        return [[0.0, floor], [1.0, floor]]
    first = math.log1p(1) / zmax
    cut = first / 2
    scale: list[list[float | str]] = [[0.0, floor], [cut, floor], [cut, colours[0]]]
    for k, c in enumerate(colours[1:], start=1):
        scale.append([first + (1 - first) * k / (len(colours) - 1), c])
    return _ends_at_one(scale)


def _ends_at_one(scale: list[list[float | str]]) -> list[list[float | str]]:
    """The last stop at exactly 1: floating-point sums land on 0.9999999999999998, which Plotly rejects, drawing
    its default scale instead (the Gaps colours once contradicted their caption that way)."""
    scale[-1][0] = 1.0
    return scale


def _log_ticks(max_count: int) -> tuple[list[float], list[str]]:
    ticks = [
        v for v in (1, 3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000) if v <= max_count
    ]
    if max_count not in ticks and max_count > 0:
        ticks.append(max_count)
    return [math.log1p(v) for v in ticks], [f"{v:,}" for v in ticks]


def matrix_heatmap(
    cells: list[Cell],
    tactic_names: list[str],
    values: dict[str, int],
    *,
    mode: str,
    covered: set[str] | frozenset[str] = frozenset(),
    title: str | None = None,
    value_label: str = "incidents",
    diverging: dict[str, tuple[int, int]] | None = None,
    max_count: int | None = None,
) -> go.Figure:
    """The matrix for one mode.

    - mode 'incidents' / 'coverage': `values` per technique on a log (incidents) or linear (benchmarks) scale;
    - mode 'gaps': `values` are gap incidents; techniques in `covered` with incidents are shown green;
    - mode 'difference': `diverging` gives (UK, AU) per technique; colour is UK − AU.

    `max_count` fixes the top of the incidents scale, so two figures shown together share one.
    """
    ncols = len(tactic_names)
    nrows = max((c.row for c in cells), default=0) + 1
    z: list[list[float | None]] = [[None] * ncols for _ in range(nrows)]
    text: list[list[str]] = [[""] * ncols for _ in range(nrows)]
    custom: list[list[list[str]]] = [[["", "", ""] for _ in range(ncols)] for _ in range(nrows)]
    for c in cells:
        marker = "▸ " if c.has_subs else ("↳ " if c.is_sub else "")
        label = _wrap(marker + c.name, 18, 3)
        if mode == "difference" and diverging is not None:
            uk, au = diverging.get(c.technique_id, (0, 0))
            z[c.row][c.column] = float(uk - au)
            text[c.row][c.column] = f"{label}<br><b>{uk:,} · {au:,}</b>"
            detail = f"UK {uk:,} · AU {au:,} (difference {uk - au:+,})"
        else:
            v = int(values.get(c.technique_id, 0))
            if mode == "gaps":
                z[c.row][c.column] = math.log1p(v) if v else (-1.0 if c.technique_id in covered else 0.0)
                shown = f"{v:,} uncovered" if v else ("covered" if c.technique_id in covered else "")
                detail = (
                    f"{counted(v, 'incident')}, no evaluation covers this technique"
                    if v
                    else ("evaluations cover this technique" if c.technique_id in covered else "no incidents")
                )
            elif mode == "coverage":
                z[c.row][c.column] = float(v)
                shown = f"{v} eval{'s' if v != 1 else ''}" if v else ""
                detail = f"{v} benchmark{'s' if v != 1 else ''} with results"
            else:
                z[c.row][c.column] = math.log1p(v)
                shown = f"{v:,}" if v else ""
                detail = f"{v:,} {value_label}"
            text[c.row][c.column] = f"{label}<br><b>{shown}</b>" if shown else label
        custom[c.row][c.column] = [c.technique_id, c.name, detail]

    if mode == "difference":
        present = [v for row in z for v in row if v is not None]
        bound = max([abs(v) for v in present] + [1.0])
        coloraxis: dict[str, Any] = {
            "cmin": -bound,
            "cmax": bound,
            "colorscale": [[0, ORIGINATOR_COLOURS["AU"]], [0.5, "#f7f7f7"], [1, ORIGINATOR_COLOURS["UK"]]],
            "colorbar": {"title": {"text": "UK − AU"}},
        }
    else:
        coloraxis = _colour_axis(mode, z, value_label, max_count)
    coloraxis["colorbar"] = {
        **coloraxis.get("colorbar", {}),
        "thickness": 12,
        "len": min(0.5, 400 / max(1, _height(cells, ncols))),
        "y": 1,
        "yanchor": "top",
    }
    return _banded_figure(cells, tactic_names, z, text, custom, coloraxis, title)


def _colour_axis(
    mode: str, z: list[list[float | None]], value_label: str, max_count: int | None
) -> dict[str, Any]:
    present = [v for row in z for v in row if v is not None]
    if mode == "coverage":
        top = max([*present, 1.0])
        scale: list[list[float | str]] = [[0.0, EMPTY_CELL], [0.5 / top, EMPTY_CELL]]
        scale += [[0.5 / top + (1 - 0.5 / top) * k / 3, c] for k, c in enumerate(_COVERAGE_SCALE)]
        return {
            "cmin": 0,
            "cmax": top,
            "colorscale": _ends_at_one(scale),
            "colorbar": {"title": {"text": "benchmarks"}, "dtick": 1},
        }
    if mode == "gaps":
        top = max([*present, math.log1p(1)])
        span = top + 1  # z runs from -1 (covered) to top
        grey_at = 1 / span  # z = 0
        red_at = (1 + math.log1p(1) / 2) / span
        scale = [
            [0.0, COVERED_CELL],
            [grey_at / 2, COVERED_CELL],
            [grey_at / 2, EMPTY_CELL],
            [red_at, EMPTY_CELL],
            [red_at, _GAP_SCALE[0]],
        ]
        scale += [[red_at + (1 - red_at) * k / 3, c] for k, c in enumerate(_GAP_SCALE) if k]
        return {"cmin": -1, "cmax": top, "colorscale": _ends_at_one(scale), "showscale": False}
    top = max([*present, 0.0, math.log1p(max_count or 0), math.log1p(1)])
    tickvals, ticktext = _log_ticks(round(math.expm1(top)))
    return {
        "cmin": 0,
        "cmax": top,
        "colorscale": _log_scale(_INCIDENT_SCALE, top),
        "colorbar": {"title": {"text": value_label}, "tickvals": tickvals, "ticktext": ticktext},
    }


def _bands(ncols: int) -> list[range]:
    """Tactic columns per band: all in one band when they fit, else split evenly (16 tactics -> 4 x 4)."""
    nbands = max(1, math.ceil(ncols / MAX_COLUMNS_PER_BAND))
    per = math.ceil(ncols / nbands) if ncols else 1
    return [range(k, min(k + per, ncols)) for k in range(0, ncols, per)] or [range(0)]


def _band_rows(cells: list[Cell], band: range) -> int:
    return max((c.row for c in cells if c.column in band), default=0) + 1


def _height(cells: list[Cell], ncols: int) -> int:
    return sum(HEADER_HEIGHT + ROW_HEIGHT * _band_rows(cells, b) for b in _bands(ncols))


def _band_domains(rows: list[int]) -> list[list[float]]:
    """Each band's vertical domain, top band first, with a header's height between bands: the arithmetic of
    plotly's make_subplots(rows=len(rows), cols=1, row_heights=rows, vertical_spacing=...), done here because
    make_subplots and per-axis updates validated every property again (most of the drawing's time at 1M,
    issue 21). tests/analytics/matrix/test_charts.py compares the figure with the make_subplots one."""
    n = len(rows)
    plot_px = sum(ROW_HEIGHT * r for r in rows) + HEADER_HEIGHT * (n - 1)
    spacing = HEADER_HEIGHT / plot_px if n > 1 else 0.0
    total = float(sum(rows))
    heights = [(1.0 - spacing * (n - 1)) * (r / total) for r in rows][::-1]  # bottom band first
    out: list[list[float]] = []
    for k in range(n):
        below = n - 1 - k  # bands under this one
        start = sum(heights[:below]) + below * spacing
        end = start + heights[below]
        out.append([min(max(start, 0.0), 1.0), min(max(end, 0.0), 1.0)])
    return out


def _banded_figure(
    cells: list[Cell],
    tactic_names: list[str],
    z: list[list[float | None]],
    text: list[list[str]],
    custom: list[list[list[str]]],
    coloraxis: dict[str, Any],
    title: str | None,
) -> go.Figure:
    """Kill-chain order left to right, continued in bands below when 16 columns would not be legible. Built as
    one figure dict (validated once by go.Figure), not with make_subplots and an update per band and axis."""
    bands = _bands(len(tactic_names))
    rows = [_band_rows(cells, b) for b in bands]
    title_px = 40 if title else 0
    plot_px = sum(ROW_HEIGHT * r for r in rows) + HEADER_HEIGHT * (len(bands) - 1)
    per = max(len(b) for b in bands)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    for k, (band, nrows, domain) in enumerate(zip(bands, rows, _band_domains(rows), strict=True), start=1):
        cols = list(band)
        suffix = "" if k == 1 else str(k)
        x, y = f"x{suffix}", f"y{suffix}"
        data.append(
            {
                "type": "heatmap",
                "z": [[z[r][c] for c in cols] for r in range(nrows)],
                "text": [[text[r][c] for c in cols] for r in range(nrows)],
                "customdata": [[custom[r][c] for c in cols] for r in range(nrows)],
                "texttemplate": "%{text}",
                "textfont": {"size": 11},
                "hoverinfo": "skip",
                "xgap": 3,
                "ygap": 3,
                "coloraxis": "coloraxis",
                "xaxis": x,
                "yaxis": y,
            }
        )
        # Click targets: Streamlit reports point selections for scatter traces, not heatmap cells, so every
        # technique also gets an invisible marker at its cell's centre carrying its id.
        here = [c for c in cells if c.column in band]
        data.append(
            {
                "type": "scatter",
                "x": [c.column - band.start for c in here],
                "y": [c.row for c in here],
                "customdata": [custom[c.row][c.column] for c in here],
                "mode": "markers",
                "marker": {"size": 44, "opacity": 0, "color": "#000000"},
                "hovertemplate": "<b>%{customdata[0]}</b> %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
                "showlegend": False,
                "xaxis": x,
                "yaxis": y,
            }
        )
        layout[f"xaxis{suffix}"] = {
            "anchor": y,
            "domain": [0.0, 1.0],
            "tickmode": "array",
            "tickvals": list(range(len(cols))),
            "ticktext": [f"<b>{_wrap(tactic_names[c], 18, 2)}</b>" for c in cols],
            "side": "top",
            "tickfont": {"size": 12},
            "range": [-0.5, per - 0.5],
            "zeroline": False,
            "fixedrange": True,
            "tickangle": 0,
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": x,
            "domain": domain,
            "range": [nrows - 0.5, -0.5],
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        }
    layout.update(coloraxis=coloraxis, hovermode="closest", hoverdistance=40)
    fig = go.Figure({"data": data, "layout": layout})
    # The house style (font, colours, title) from analytics.charts; then the matrix's narrower margins.
    style_figure(fig, title, height=plot_px + HEADER_HEIGHT + title_px + 8)
    fig.update_layout(margin={"l": 4, "r": 4, "t": HEADER_HEIGHT + title_px, "b": 8})
    return fig
