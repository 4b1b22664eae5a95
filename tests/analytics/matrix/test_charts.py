"""The matrix figure built from one dict equals the one make_subplots and per-axis updates built (issue 21).

`_old_banded_figure` below is analytics/matrix/charts.py's builder before 2026-12-06, kept verbatim as the oracle:
the new builder only changes how the figure is made (validated once, not ~35 times), never what the browser gets.
"""

from __future__ import annotations

import json
import math
from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from analytics.charts import style_figure
from analytics.matrix import charts, taxonomy
from analytics.matrix.charts import HEADER_HEIGHT, ROW_HEIGHT, Cell, _band_rows, _bands, _wrap
from analytics.store.database import Store


def _old_banded_figure(
    cells: list[Cell],
    tactic_names: list[str],
    z: list[list[float | None]],
    text: list[list[str]],
    custom: list[list[list[str]]],
    coloraxis: dict[str, Any],
    title: str | None,
) -> go.Figure:
    """Kill-chain order left to right, continued in bands below when 16 columns would not be legible."""
    bands = _bands(len(tactic_names))
    rows = [_band_rows(cells, b) for b in bands]
    title_px = 40 if title else 0
    plot_px = sum(ROW_HEIGHT * r for r in rows) + HEADER_HEIGHT * (len(bands) - 1)
    fig = make_subplots(
        rows=len(bands),
        cols=1,
        row_heights=[float(r) for r in rows],
        vertical_spacing=HEADER_HEIGHT / plot_px if len(bands) > 1 else 0.0,
    )
    per = max(len(b) for b in bands)
    for k, (band, nrows) in enumerate(zip(bands, rows, strict=True), start=1):
        cols = list(band)
        fig.add_trace(
            go.Heatmap(
                z=[[z[r][c] for c in cols] for r in range(nrows)],
                text=[[text[r][c] for c in cols] for r in range(nrows)],
                customdata=[[custom[r][c] for c in cols] for r in range(nrows)],
                texttemplate="%{text}",
                textfont={"size": 11},
                hoverinfo="skip",
                xgap=3,
                ygap=3,
                coloraxis="coloraxis",
            ),
            row=k,
            col=1,
        )
        # Click targets: Streamlit reports point selections for scatter traces, not heatmap cells, so every
        # technique also gets an invisible marker at its cell's centre carrying its id.
        here = [c for c in cells if c.column in band]
        fig.add_trace(
            go.Scatter(
                x=[c.column - band.start for c in here],
                y=[c.row for c in here],
                customdata=[custom[c.row][c.column] for c in here],
                mode="markers",
                marker={"size": 44, "opacity": 0, "color": "#000000"},
                hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
                showlegend=False,
            ),
            row=k,
            col=1,
        )
        fig.update_xaxes(
            tickmode="array",
            tickvals=list(range(len(cols))),
            ticktext=[f"<b>{_wrap(tactic_names[c], 18, 2)}</b>" for c in cols],
            side="top",
            tickfont={"size": 12},
            range=[-0.5, per - 0.5],
            row=k,
            col=1,
        )
        fig.update_yaxes(range=[nrows - 0.5, -0.5], row=k, col=1)
    style_figure(fig, title, height=plot_px + HEADER_HEIGHT + title_px + 8)
    fig.update_xaxes(showgrid=False, zeroline=False, fixedrange=True, tickangle=0)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, fixedrange=True)
    fig.update_layout(
        margin={"l": 4, "r": 4, "t": HEADER_HEIGHT + title_px, "b": 8},
        coloraxis=coloraxis,
        hovermode="closest",
        hoverdistance=40,
    )
    return fig


def _inputs(store: Store, ntactics: int, mode: str, expanded: bool) -> tuple[Any, ...]:
    """What matrix_heatmap hands the builder, for the first `ntactics` tactics of the demo store's taxonomy."""
    con = store.cursor()
    tactics = taxonomy.tactics(con).head(ntactics)
    techs = taxonomy.techniques(con)
    parents = [t for t, p in zip(techs["id"], techs["parent_id"], strict=True) if not isinstance(p, str)]
    cells = charts.matrix_layout(tactics, techs, parents if expanded else ())
    names = list(tactics["name"])
    ncols = len(names)
    nrows = max((c.row for c in cells), default=0) + 1
    z: list[list[float | None]] = [[None] * ncols for _ in range(nrows)]
    text = [[""] * ncols for _ in range(nrows)]
    custom = [[["", "", ""] for _ in range(ncols)] for _ in range(nrows)]
    for k, c in enumerate(cells):
        z[c.row][c.column] = math.log1p(k * 37 % 1000)
        text[c.row][c.column] = f"{_wrap(c.name, 18, 3)}<br><b>{k}</b>"
        custom[c.row][c.column] = [c.technique_id, c.name, f"{k} incidents"]
    return cells, names, z, text, custom, charts._colour_axis(mode, z, "incidents", None)


@pytest.mark.parametrize(
    ("ntactics", "mode", "expanded", "title"),
    [
        (16, "incidents", False, None),  # what the page opens with: four bands
        (16, "gaps", True, "Reported by UK"),  # sub-techniques shown, a title above
        (4, "coverage", False, None),  # one band: no spacing between bands
        (5, "incidents", True, "Public sources"),  # bands of uneven width
        (1, "incidents", False, None),
    ],
)
def test_matrix_figure_equals_the_make_subplots_figure(
    demo_store: Store, ntactics: int, mode: str, expanded: bool, title: str | None
) -> None:
    cells, names, z, text, custom, coloraxis = _inputs(demo_store, ntactics, mode, expanded)
    assert len(names) == ntactics  # the demo taxonomy has all sixteen tactics
    old = _old_banded_figure(cells, names, z, text, custom, dict(coloraxis), title)
    new = charts._banded_figure(cells, names, z, text, custom, dict(coloraxis), title)
    assert json.loads(new.to_json()) == json.loads(old.to_json())


def test_band_domains_match_make_subplots_for_many_band_shapes() -> None:
    """The domain arithmetic against plotly's own, beyond the shapes the demo taxonomy gives."""
    for rows in ([1], [3, 1], [12, 2, 7, 9], [1, 1, 1, 1, 1], [30, 1, 1, 25, 4, 8]):
        plot_px = sum(ROW_HEIGHT * r for r in rows) + HEADER_HEIGHT * (len(rows) - 1)
        fig = make_subplots(
            rows=len(rows),
            cols=1,
            row_heights=[float(r) for r in rows],
            vertical_spacing=HEADER_HEIGHT / plot_px if len(rows) > 1 else 0.0,
        )
        expected = [list(fig.layout[f"yaxis{'' if k == 1 else k}"].domain) for k in range(1, len(rows) + 1)]
        assert charts._band_domains(rows) == expected, rows
