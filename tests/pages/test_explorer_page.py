"""The explorer and overview pages through Streamlit's AppTest, over a small store with known rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.filters import Filters
from tests.analytics.incidents.test_incidents_explorer import seed_known_incidents
from tests.conftest import ROOT, figure_spec

EXPLORER = "pages/explorer.py"


@pytest.fixture
def app(store, monkeypatch) -> Callable[..., AppTest]:
    seed_known_incidents(store)
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    # Results are cached per viewer and store generation; another test's store must not answer for this one.
    st.cache_data.clear()

    def make(email: str = "analyst@uk.example", page: str = EXPLORER, **state: Any) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        at.run()
        at.switch_page(page).run()
        if state:
            for k, v in state.items():
                at.session_state[k] = v
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def set_state(at: AppTest, **state: Any) -> None:
    """Set session state and rerun, asserting the run is clean.

    With st.navigation and a pages/ folder, AppTest runs a page switched to by switch_page() on its own,
    without app.py (so without the sidebar): the shared filters are then set as the `filters` object that
    app.py's sidebar would have stored. The sidebar itself is tested on the default page (app.py runs)."""
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]


def page_links(at: AppTest) -> list[tuple[str, str]]:
    """(page, query string) of every st.page_link on the page, in order."""
    return [
        (link.proto.page.rsplit("/", 1)[-1].removesuffix(".py"), link.proto.query_string)
        for link in at.get("page_link")
    ]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def trend_bars(at: AppTest) -> dict[str, list[Any]]:
    fig = figure_spec(at.get("plotly_chart")[0])
    return {t["name"]: t["y"] for t in fig["data"] if t["type"] == "bar"}


def test_figures_and_trend_follow_the_sidebar(app) -> None:
    at = app()
    assert metrics(at)["Incidents"] == "6"
    assert metrics(at)["High or critical"] == "50%"
    assert at.markdown[0].value.startswith(":orange-background[**TLP:AMBER**]")
    bars = trend_bars(at)
    assert sum(bars["Prompt injection"]) == 3 and sum(bars["Jailbreak"]) == 2
    set_state(at, filters=Filters(categories=("Jailbreak",)))
    assert metrics(at)["Incidents"] == "2"
    assert metrics(at)["High or critical"] == "50%"
    assert set(trend_bars(at)) == {"Jailbreak"}
    set_state(at, filters=Filters(preset="90d", categories=("Jailbreak",)))
    assert metrics(at)["Incidents"] == "1"
    # The fixture's data ends 2 Nov, before today (20 Nov): the last 90 days run past the complete data, so the
    # count is given without a change (one jailbreak now, one before, would have read "+0%"; issue 15)
    assert not at.metric[0].delta
    assert (at.metric[0].help or "").startswith("No change shown: the range runs past")
    assert trend_bars(at) == {"Jailbreak": [0, 0, 0, 1]}


def test_switching_the_split_redraws_the_trend(app) -> None:
    at = app()
    at.selectbox(key="xp_dim").set_value("originator").run()
    assert {k: sum(v) for k, v in trend_bars(at).items()} == {"UK": 4, "AU": 2}
    at.selectbox(key="xp_dim").set_value("severity").run()
    assert {k: sum(v) for k, v in trend_bars(at).items()} == {
        "1 negligible": 1,
        "2 low": 1,
        "3 moderate": 1,
        "4 high": 2,
        "5 critical": 1,
    }
    at.button_group(key="xp_grain").set_value("quarter").run()
    fig = figure_spec(at.get("plotly_chart")[0])
    assert fig["layout"]["xaxis"]["categoryarray"][-2:] == ["Q3 2026", "Q4 2026"]


def test_a_chart_click_narrows_the_sidebar_filters(app) -> None:
    at = app(xp_tab="Breakdowns")
    assert any(el.proto.id.endswith("-heatmap_0") for el in at.get("plotly_chart"))
    set_state(
        at,
        heatmap_0={
            "selection": {
                "points": [{"customdata": ["categories", "Prompt injection", "sectors", "finance"]}]
            }
        },
    )
    # The click is handed to the sidebar, which applies it before drawing its widgets...
    assert at.session_state["flt_pending"] == {"categories": ["Prompt injection"], "sectors": ["finance"]}
    # ...and the chart comes back under a new key, so the old selection is not applied again.
    assert any(el.proto.id.endswith("-heatmap_1") for el in at.get("plotly_chart"))


def test_the_sidebar_applies_a_click_as_filter_chips(app) -> None:
    # Only a first run goes through app.py in AppTest (see set_state), so the click is pending before it.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "analyst@uk.example"}  # type: ignore[assignment]
    at.session_state["flt_pending"] = {
        "categories": ["Prompt injection", "Model theft"],  # Model theft: not an option for this viewer
        "sectors": ["finance"],
        "dates": [(date(2026, 10, 1), date(2026, 10, 31))],
    }
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.multiselect(key="flt_categories").value == ["Prompt injection"]
    assert at.multiselect(key="flt_sectors").value == ["finance"]
    assert at.selectbox(key="flt_preset").value == "custom"
    assert at.date_input(key="flt_dates").value == (date(2026, 10, 1), date(2026, 10, 31))
    assert at.query_params["cat"] == "Prompt injection" and at.query_params["from"] == "2026-10-01"
    assert metrics(at)["Incidents"] == "2"  # T-0001 and T-0002
    assert not at.warning
    assert "flt_pending" not in at.session_state


def test_the_table_pages_in_sql_and_a_row_opens_the_detail(app, store) -> None:
    for k in range(30):
        store.incident(title=f"Bulk {k:02d}", occurred_on=date(2024, 1, 1 + k))
    st.cache_data.clear()
    at = app(xp_tab="Incidents")
    assert len(at.dataframe[0].value) == 36  # 50 a page by default
    at.selectbox(key="xp_size").set_value(25).run()
    first = at.dataframe[0].value
    assert len(first) == 25
    assert first["id"].tolist()[:7] == ["T-0003", "T-0002", "T-0001", "T-0005", "T-0004", "T-0008", "T-0041"]
    assert "Rows 1–25 of 36" in " ".join(c.value for c in at.caption)
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": [5], "columns": [], "cells": []}}
    at.run()
    assert at.query_params["incident"] == "T-0008"
    assert [s.value for s in at.subheader] == ["T-0008"]
    assert any("=HYPERLINK" in t.value for t in at.text)  # stored text shown as text, never markdown
    # The detail is a dialog over the table (issue 20); closing it forgets the incident and the chosen row.
    at.button(key="xp_close").click().run()
    assert "incident" not in at.query_params and not at.subheader
    at.get("pagination")[0].set_value(2).run()
    second = at.dataframe[-1].value
    assert second["id"].tolist() == [f"T-{n:04d}" for n in range(22, 11, -1)]  # the bulk rows, newest first
    assert "Rows 26–36 of 36" in " ".join(c.value for c in at.caption)
    at.selectbox(key="xp_sort").set_value("Title").run()
    assert at.dataframe[-1].value["id"].iloc[0] == "T-0001"  # "Prompt injection hijacked..." last A-Z
    at.button_group(key="xp_desc").set_value(False).run()
    assert at.dataframe[-1].value["id"].iloc[0] == "T-0008"  # '=' sorts before letters
    assert at.get("download_button")[0].label == "Download 36 rows as CSV"


def test_detail_by_link_and_an_invisible_id_looks_missing(app) -> None:
    at = app()
    at.query_params["incident"] = "T-0002"
    at.run()
    assert [s.value for s in at.subheader] == ["T-0002"]
    # Every related thing is a link (issue 20): techniques, model, developer, actor and sectors to their entity
    # pages, related incidents to their detail, the linked evaluations' benchmarks and models.
    links = page_links(at)
    entity = [q for page, q in links if page == "entity"]
    assert "kind=technique&id=AML.T0051" in entity and "kind=technique&id=AML.T0054" in entity
    assert "kind=model&id=Aurora-1.0" in entity and "kind=benchmark&id=Cybench" in entity
    assert [q for page, q in links if page == "explorer"] == ["incident=T-0001", "incident=T-0003"]
    evals = next(d.value for d in at.dataframe if "benchmark" in d.value.columns)
    assert evals["benchmark"].tolist() == ["Cybench"]

    def shown(incident: str) -> tuple[list[str], list[str]]:
        at.query_params["incident"] = incident
        at.run()
        return [w.value for w in at.warning], [
            t.value for t in at.text if not t.value.startswith("Requested")
        ]

    invisible = shown("T-0006")  # AU eyes only
    missing = shown("T-9999")
    red = shown("T-0007")
    assert invisible == missing == red == (["No incident with this id."], [])
    assert not any("SECRET" in m.value for m in at.markdown)


def test_the_overview_for_a_policymaker_shows_summaries_only(app) -> None:
    at = app("policy@uk.example", page="pages/overview.py")
    assert metrics(at)["Last 90 days"] == "3"
    assert metrics(at)["Last 30 days"] == "3"  # data to 2 Nov: the windows end there (issue 15)
    assert at.metric[1].delta == "+50%"
    assert any(m.value.startswith(":orange-background[**TLP:AMBER**]") for m in at.markdown)
    # aggregates only: no incident ids or titles on the page
    for d in at.dataframe:
        assert "id" not in d.value.columns and "title" not in d.value.columns


@pytest.mark.parametrize(
    ("now", "before", "points", "shown"),
    [
        (12, 10, False, "+20%"),
        (5, 10, False, "-50%"),
        (3, 0, False, "new"),  # nothing before: a rise has no percentage
        (0, 0, False, None),
        (4, None, False, None),  # no previous period: no change shown
        (None, 0.2, True, None),
        (0.5, 0.25, True, "+25.0 pts"),  # shares change in points, not in percent of a percentage
    ],
)
def test_change_against_the_previous_period_reads_the_same_on_both_pages(now, before, points, shown) -> None:
    from pages.ui import change_label

    assert change_label(now, before, points=points) == shown


# -- the sidebar's source filter (issue 15) ---------------------------------------------------------------------


@pytest.fixture
def sourced_app(store, monkeypatch, navigation_mode) -> Callable[..., AppTest]:
    """The known incidents (all institute reporting) plus two AI Incident Database records (originator PUBLIC).
    Every run goes through app.py and its sidebar (`navigation_mode`); each view opens from a link."""
    seed_known_incidents(store)
    for day in (date(2026, 11, 10), date(2026, 11, 12)):
        store.incident(
            originator="PUBLIC", source="aiid", tlp="CLEAR", category="Deepfake fraud", occurred_on=day
        )
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    st.cache_data.clear()

    def make(email: str, page: str | None = None, **query: str | list[str]) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def _source_options(at: AppTest) -> list[str]:
    return list(at.multiselect(key="flt_sources").options)


@pytest.mark.parametrize(("src", "incidents"), [(None, "8"), ("institute", "6"), ("aiid", "2")])
def test_the_analyst_narrows_the_explorer_by_source(sourced_app, src: str | None, incidents: str) -> None:
    at = sourced_app("analyst@uk.example", EXPLORER, **({"src": src} if src else {}))
    assert at.title[0].value == "Incident explorer"
    assert metrics(at)["Incidents"] == incidents
    assert _source_options(at) == ["Institute reporting (6)", "AI Incident Database (2)"]
    assert at.multiselect(key="flt_sources").value == ([src] if src else [])
    if src:
        assert at.query_params["src"] == src  # the link keeps the source


def test_the_explorer_says_uk_and_au_count_institute_reporting_only(sourced_app) -> None:
    at = sourced_app("analyst@uk.example", EXPLORER)
    at.session_state["xp_tab"] = "UK and AU"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    scope = " ".join(i.value for i in at.info)
    assert "institute reporting only" in scope and "never counted as UK or AU" in scope
    assert (
        "only the partner's records releasable to you" in scope
    )  # issue 20: the partner's picture is narrowed
    fig = figure_spec(next(c for c in at.get("plotly_chart") if "originators" in c.proto.id))
    # legend (reversed trace order) reads as the bars stand in each group: UK on top
    assert fig["layout"]["legend"]["traceorder"] == "reversed"
    assert [t["name"] for t in fig["data"]][::-1] == [
        "UK (4 incidents)",
        "AU (2 incidents)",
        "Public — AI Incident Database (2 incidents)",
    ]
    table = next(
        df for df in at.dataframe if "Chance?" in str(df.proto.columns) or "could_be_chance" in df.value
    )
    assert set(table.value["could_be_chance"]) <= {"could be chance", "—"}
    assert any("could be chance" in c.value or "likely to be chance" in c.value for c in at.caption)


def test_the_policymaker_filters_the_overview_by_source(sourced_app) -> None:
    everything = sourced_app("policy@uk.example")
    public = sourced_app("policy@uk.example", src="aiid")
    institute = sourced_app("policy@uk.example", src=["institute", "made-up"])
    assert _source_options(everything) == ["Institute reporting (6)", "AI Incident Database (2)"]
    assert public.multiselect(key="flt_sources").value == ["aiid"]
    # a value outside the vocabulary is dropped, and the policymaker is told
    assert institute.multiselect(key="flt_sources").value == ["institute"]
    assert any("ignored" in i.value for i in institute.info)
    # the sidebar's period figure (all time) follows the source filter
    assert [metrics(at)["Incidents"] for at in (everything, public, institute)] == ["8", "2", "6"]


def test_a_share_of_nothing_reads_as_missing_not_as_a_number(sourced_app) -> None:
    at = sourced_app("analyst@uk.example", EXPLORER, q="no incident says this")
    assert metrics(at)["Incidents"] == "0"
    assert metrics(at)["High or critical"] == "—"  # an em dash (issue 20), not "–" nor "0%"
