"""Side channels: what a person cannot read directly must not leak through a number they can see.

Policymakers never read raw records, so no count they see may be driven by free-text search over record text:
with a search in the filters, "how many incidents mention X?" answered 2 or 0 spells the hidden text out one
guess at a time (issue 22, finding 8). These tests ask that question on every path a policymaker reaches
(the overview's figures, briefing charts under the current filters and under a saved view, the sidebar and a
`?q=` link) and check that the answer never depends on the text, while an analyst's search still narrows
(the positive control: the oracle would be there if the rule were not).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from analytics import views
from analytics.export.briefing import builder as briefing_builder
from analytics.filters import Filters
from analytics.incidents import overview as incident_overview
from tests.conftest import TODAY, UK_ANALYST, UK_POLICY, StoreBuilder, figure_spec

SECRET = "CEOSECstrictuk"
MISS = "CEOSECstrictux"


def _plant(store: StoreBuilder) -> None:
    """Two UK-only AMBER+STRICT incidents with the secret in their text (the UK policymaker is cleared for
    their markings, only not for their text), and one control without it, all in the last 30 days."""
    for k in range(2):
        store.incident(
            title=f"Briefing note {k}",
            summary=f"Summary {SECRET} seen at the board",
            occurred_on=date(2026, 11, 10),
            tlp="AMBER+STRICT",
            releasable_to=["UK"],
        )
    store.incident(title="Control", summary="Nothing to see", occurred_on=date(2026, 11, 12))


def _overview_numbers(store: StoreBuilder, viewer: Any, text: str) -> tuple[int, int]:
    s = incident_overview.overview_summary(store.cursor(), viewer, Filters(text=text), TODAY)
    return s.windows[0].incidents, int(s.by_category.data["incidents"].sum())


def _chart_total(store: StoreBuilder, viewer: Any, key: str, text: str) -> int:
    fig = briefing_builder.draw_chart(store.cursor(), viewer, key, Filters(text=text), TODAY).data
    return int(sum(sum(v for v in t.x if v is not None) for t in fig.data))


def test_an_analysts_search_narrows_the_counts(store: StoreBuilder) -> None:
    """Positive control: for a role that reads records the search is a real filter, so the oracle exists."""
    _plant(store)
    assert _overview_numbers(store, UK_ANALYST, SECRET) == (2, 2)
    assert _overview_numbers(store, UK_ANALYST, MISS) == (0, 0)


def test_policymaker_overview_counts_ignore_free_text(store: StoreBuilder) -> None:
    _plant(store)
    everything = _overview_numbers(store, UK_POLICY, "")
    assert everything == (3, 3)
    assert _overview_numbers(store, UK_POLICY, SECRET) == everything
    assert _overview_numbers(store, UK_POLICY, MISS) == everything


@pytest.mark.parametrize("text", [SECRET, MISS])
def test_policymaker_briefing_charts_ignore_free_text(store: StoreBuilder, text: str) -> None:
    _plant(store)
    assert _chart_total(store, UK_POLICY, "by_category|current", text) == 3
    # and the analyst's chart does narrow (positive control)
    assert _chart_total(store, UK_ANALYST, "by_category|current", SECRET) == 2


def test_a_saved_view_with_a_search_draws_unsearched_for_a_policymaker(store: StoreBuilder) -> None:
    """An analyst's saved view (shared within the institute) can carry a search; a policymaker drawing it in a
    briefing gets the view without it, and the briefing says so instead of naming the search."""
    _plant(store)
    with store.store.transaction(changes_records=False) as con:
        vid = views.save_view(con, UK_ANALYST, "board", "overview", Filters(text=SECRET))
    key = f"by_category|view:{vid}"
    assert _chart_total(store, UK_ANALYST, key, "") == 2
    assert _chart_total(store, UK_POLICY, key, "") == 3
    b = briefing_builder.build_briefing(
        store.store, UK_POLICY, title="t", chart_keys=[key], current=Filters(), today=TODAY
    )
    assert SECRET not in repr(b)


def test_filters_for_a_policymaker_have_no_text() -> None:
    f = Filters(text=SECRET, categories=("Jailbreak",))
    assert f.for_viewer(UK_POLICY) == Filters(categories=("Jailbreak",))
    assert f.for_viewer(UK_ANALYST) == f
    where, params = f.sql_where(UK_POLICY, TODAY)
    assert SECRET.lower() not in params.values() and "f_text" not in where


def test_policymaker_sidebar_offers_no_search_and_a_link_search_is_ignored(app_factory: Any) -> None:
    plain = app_factory("policy@uk.example")
    plain_total = {m.label: m.value for m in plain.metric}["Incidents"]
    assert not [t for t in plain.sidebar.text_input if t.label == "Search title and summary"]

    at = app_factory("policy@uk.example", query={"q": "zz-no-record-has-this-zz"})
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Incidents"] == plain_total  # not 0
    assert at.session_state["filters"].text == ""
    notes = [c.value for c in at.sidebar.caption] + [i.value for i in at.info] + [w.value for w in at.warning]
    assert any("search" in n.lower() and "ignored" in n.lower() for n in notes), notes
    # the search term itself is never echoed back to the page
    assert "zz-no-record-has-this-zz" not in " ".join(notes)
    fig = figure_spec(at.get("plotly_chart")[0])
    assert sum(sum(t["x"]) for t in fig["data"]) == int(plain_total.replace(",", ""))


def test_analyst_sidebar_still_searches(app_factory: Any) -> None:
    at = app_factory("analyst@uk.example", query={"q": "zz-no-record-has-this-zz"})
    assert [t.value for t in at.sidebar.text_input if t.label == "Search title and summary"] == [
        "zz-no-record-has-this-zz"
    ]
    assert {m.label: m.value for m in at.metric}["Incidents"] == "0"
