"""Threat-matrix figures: ATLAS tactics as columns in kill-chain order, techniques as cells. No data access.

`matrix_layout` places techniques in cells (a technique under several tactics appears in each column, as in
ATLAS's own matrix; expanded parents are followed by their sub-techniques), and `matrix_heatmap` colours them
for one mode. Counts are coloured on a log scale because a few techniques dominate; the legend shows real counts.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.charts import ORIGINATOR_COLOURS, style_figure

EMPTY_CELL = "#eef0f3"  # a technique with nothing to count
COVERED_CELL = "#b9dcc3"  # gaps mode: incidents seen, and an evaluation covers them
_INCIDENT_SCALE = ("#fde9d4", "#f7b47a", "#e4682f", "#b3261e", "#6e0f0b")
_COVERAGE_SCALE = ("#d7efdc", "#8fcf9d", "#3f9a5a", "#1e6b37")
_GAP_SCALE = ("#fcd9cf", "#f08a6c", "#c8321f", "#7a0f08")
ROW_HEIGHT = 52
HEADER_HEIGHT = 70


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
        label = _wrap(marker + c.name)
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
                    f"{v:,} incidents, no evaluation covers this technique"
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

    trace = go.Heatmap(
        z=z,
        text=text,
        customdata=custom,
        texttemplate="%{text}",
        textfont={"size": 10},
        hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
        xgap=3,
        ygap=3,
        hoverongaps=False,
    )
    present = [v for row in z for v in row if v is not None]
    if mode == "difference":
        bound = max([abs(v) for v in present] + [1.0])
        trace.update(
            zmin=-bound,
            zmax=bound,
            colorscale=[[0, ORIGINATOR_COLOURS["AU"]], [0.5, "#f7f7f7"], [1, ORIGINATOR_COLOURS["UK"]]],
            colorbar={"title": {"text": "UK − AU"}, "thickness": 12, "len": 0.5, "y": 1, "yanchor": "top"},
        )
    elif mode == "coverage":
        top = max([*present, 1.0])
        scale: list[list[float | str]] = [[0.0, EMPTY_CELL], [0.5 / top, EMPTY_CELL]]
        scale += [[0.5 / top + (1 - 0.5 / top) * k / 3, c] for k, c in enumerate(_COVERAGE_SCALE)]
        trace.update(
            zmin=0,
            zmax=top,
            colorscale=scale,
            colorbar={"title": {"text": "benchmarks"}, "thickness": 12, "len": 0.5, "y": 1, "yanchor": "top"},
        )
    elif mode == "gaps":
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
        trace.update(zmin=-1, zmax=top, colorscale=scale, showscale=False)
    else:
        top = max([*present, 0.0, math.log1p(max_count or 0)])
        tickvals, ticktext = _log_ticks(round(math.expm1(top)))
        trace.update(
            zmin=0,
            zmax=max(top, math.log1p(1)),
            colorscale=_log_scale(_INCIDENT_SCALE, max(top, math.log1p(1))),
            colorbar={
                "title": {"text": value_label},
                "tickvals": tickvals,
                "ticktext": ticktext,
                "thickness": 12,
                "len": 0.5,
                "y": 1,
                "yanchor": "top",
            },
        )
    fig = go.Figure(trace)
    style_figure(fig, title, height=HEADER_HEIGHT + ROW_HEIGHT * nrows + (40 if title else 0))
    fig.update_layout(margin={"l": 4, "r": 4, "t": HEADER_HEIGHT + (40 if title else 0), "b": 4})
    fig.update_xaxes(
        tickmode="array",
        tickvals=list(range(ncols)),
        ticktext=[_wrap(n, 12, 3) for n in tactic_names],
        side="top",
        tickfont={"size": 11},
        showgrid=False,
        zeroline=False,
        range=[-0.5, ncols - 0.5],
        fixedrange=True,
    )
    fig.update_yaxes(
        autorange="reversed", showticklabels=False, showgrid=False, zeroline=False, fixedrange=True
    )
    return fig
