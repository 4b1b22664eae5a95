"""Sample briefing content shared by the briefing writer tests: one assessment-like briefing with two judgements,
and the markings its pieces carry (the chart image itself is the `chart_png` fixture in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics import charts
from analytics.access.markings import Marking
from analytics.export import chart_image as chart_export
from analytics.export.briefing.content import Briefing, BriefingChart, KeyJudgement, make_briefing
from analytics.filters import Filters
from tests.conftest import TODAY, UK_ANALYST

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
GREEN = Marking("GREEN", ("AU", "UK"))
AMBER_UK = Marking("AMBER", ("UK",), 3, ("aiid", "institute"))

JUDGEMENTS = (
    KeyJudgement(
        1,
        "State actors will automate intrusion with agentic systems.",
        "likely",
        "moderate",
        "likely (55–75%)",
        "Three confirmed incidents since June.",
    ),
    KeyJudgement(
        2,
        "Open-weight models will match frontier cyber scores within a year.",
        "realistic possibility",
        "low",
        "realistic possibility (40–50%)",
    ),
)


def render_chart_png() -> bytes:
    """A real chart image (kaleido), marked AMBER for the UK, as briefings carry them."""
    import pandas as pd

    df = pd.DataFrame(
        {"originator": ["UK", "AU"], "category": ["Jailbreak", "Jailbreak"], "incidents": [5, 3]}
    )
    fig = charts.counts_by_originator_and_category(df)
    prov = chart_export.provenance_for(
        UK_ANALYST, AMBER_UK, filters=Filters(), today=TODAY, as_of=None, now=NOW
    )
    return chart_export.export_chart(fig, AMBER_UK, prov, "png", "slide")


def sample_briefing(chart_png: bytes, *, draft: bool, charts_n: int = 2) -> Briefing:
    figures = [BriefingChart(f"Figure title {k}", chart_png, AMBER_UK, "all dates") for k in range(charts_n)]
    return make_briefing(
        "Agentic AI and cyber intrusion",
        bottom_line="It is likely that state actors will automate intrusion within 12 months.",
        judgements=JUDGEMENTS,
        charts=figures,
        sources=["Assessment A-7 version 3"],
        base_marking=GREEN,
        draft=draft,
        status="Draft · version 3" if draft else "Approved · version 3",
        prepared_by="Priya Shah (analyst@uk.example)",
        now=NOW,
    )
