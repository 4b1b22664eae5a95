"""Stored text in figures is inert wherever it lands, hover templates included. The trend chart put a category
(sector, actor) value straight into its hover template, and `inert_figure` left templates alone, so
`<img src=x onerror=...>` reached Plotly's hover box as markup. Built from a real store, as the page builds it."""

from __future__ import annotations

import json

import pytest

from analytics.charts import inert_figure
from analytics.filters import Filters
from analytics.incidents import charts as incident_charts
from analytics.incidents import explorer as incident_explorer
from tests.conftest import TODAY, UK_ANALYST, StoreBuilder

PAYLOAD = "<img src=x onerror=alert(document.domain)>"


@pytest.mark.parametrize(("dimension", "field"), [("category", "category"), ("actor", "actor_type")])
@pytest.mark.parametrize("mode", ["stacked", "lines"])
def test_trend_chart_text_is_inert_in_every_attribute(
    store: StoreBuilder, dimension: str, field: str, mode: str
) -> None:
    for _ in range(3):
        store.incident(**{field: PAYLOAD})
    store.incident(category="Jailbreak")
    data = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(), TODAY, "month", dimension
    )
    fig = incident_charts.trend_chart(
        data.totals,
        data.trend,
        data.anomalies,
        grain="month",
        dimension=dimension,
        dimension_field=incident_explorer.DIMENSIONS[dimension].filter_attr,
        mode=mode,
        start=data.start,
        end=data.end,
    )
    spec = json.dumps(inert_figure(fig).to_plotly_json())
    assert "<img" not in spec.lower()
    assert "&lt;img src=x" in spec  # the value is still shown, as text
    hovers = [t.hovertemplate for t in inert_figure(fig).data if t.hovertemplate]
    assert hovers and all("<extra></extra>" in h for h in hovers)  # Plotly's own tags survive


def test_inert_figure_escapes_templates_but_keeps_formatting_tags() -> None:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a"], y=[1], hovertemplate=f"<b>{PAYLOAD}</b><br>%{{y}}<extra></extra>"))
    out = inert_figure(fig).data[0].hovertemplate
    assert out == "<b>&lt;img src=x onerror=alert(document.domain)></b><br>%{y}<extra></extra>"
