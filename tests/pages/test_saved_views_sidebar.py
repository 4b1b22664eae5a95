"""Saved views from the sidebar through AppTest: an analyst saves the current filters under a name (audited, offered
to briefings), reopens a view on its page with its filters, and sees only their institute's views; a refused
name is explained; policymakers have no saved views."""

from __future__ import annotations

from typing import Any

import pytest

from analytics import views
from analytics.export.briefing import builder as briefing_builder
from analytics.filters import Filters
from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse: every rerun runs app.py first
from tests.conftest import AU_ANALYST, ROOT, UK_ANALYST, StoreBuilder


def app(store: StoreBuilder, monkeypatch: pytest.MonkeyPatch, email: str, page: str | None = None) -> Any:
    from streamlit.testing.v1 import AppTest

    store.incident(category="Jailbreak")
    store.incident(category="Model theft")
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_an_analyst_saves_the_current_filters_and_reopens_them(store: StoreBuilder, monkeypatch) -> None:
    at = app(store, monkeypatch, UK_ANALYST.email, page="pages/explorer.py")
    at.multiselect(key="flt_categories").set_value(["Jailbreak"]).run()
    at.text_input(key="sv_name").set_value("UK jailbreaks").run()
    at.button(key="sv_save").click().run()
    assert not at.exception, [e.message for e in at.exception]

    saved = views.list_views(store.cursor(), UK_ANALYST)
    assert [(v.name, v.page, v.filters.categories) for v in saved] == [
        ("UK jailbreaks", "explorer", ("Jailbreak",))
    ]
    logged = (
        store.cursor().execute("select email, object from audit_log where action = 'save view'").fetchall()
    )
    assert logged == [(UK_ANALYST.email, f"view:{saved[0].id}")]
    choices = dict(briefing_builder.chart_choices(store.cursor(), UK_ANALYST))
    assert any("saved view “UK jailbreaks”" in label for label in choices.values())

    # Elsewhere with other filters, the view brings back its page and its filters.
    at.switch_page("pages/overview.py").run()
    at.multiselect(key="flt_categories").set_value(["Model theft"]).run()
    at.button(key=f"sv_open_{saved[0].id}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.multiselect(key="flt_categories").value == ["Jailbreak"]
    assert at.session_state["filters"] == Filters(categories=("Jailbreak",))
    assert [t.value for t in at.title] == ["Incident explorer"]


def test_a_nameless_view_is_refused_with_a_reason_and_nothing_saved(store: StoreBuilder, monkeypatch) -> None:
    at = app(store, monkeypatch, UK_ANALYST.email)
    at.button(key="sv_save").click().run()
    assert [e.value for e in at.sidebar.error] == ["A saved view needs a name"]
    assert views.list_views(store.cursor(), UK_ANALYST) == []


def test_views_of_the_other_institute_are_not_offered(store: StoreBuilder, monkeypatch) -> None:
    with store.store.transaction() as con:
        mine = views.save_view(con, UK_ANALYST, "Ours", "matrix", Filters())
        theirs = views.save_view(con, AU_ANALYST, "Theirs", "explorer", Filters())
    at = app(store, monkeypatch, UK_ANALYST.email)
    keys = {b.key for b in at.sidebar.button}
    assert f"sv_open_{mine}" in keys
    assert f"sv_open_{theirs}" not in keys


def test_policymakers_have_no_saved_views(store: StoreBuilder, monkeypatch) -> None:
    at = app(store, monkeypatch, "policy@uk.example")
    assert "sv_save" not in {b.key for b in at.button}
    assert not [e for e in at.sidebar.expander if "Saved views" in e.label]


def test_filters_survive_streamlit_forgetting_the_sidebar_widgets(store: StoreBuilder, monkeypatch) -> None:
    """Streamlit drops a widget's value after a completed run that did not draw it (a sign-in, a page switch),
    while plain session keys such as `flt_init` stay: the period must then come back from the page's filters
    (here the link's), never default to the selectbox's first option ("Last 30 days")."""
    from streamlit.testing.v1 import AppTest

    store.incident(category="Jailbreak")
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": UK_ANALYST.email}
    at.session_state["flt_init"] = True  # seeded earlier; the widgets' own values are gone
    at.query_params["cat"] = "Jailbreak"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="flt_preset").value == "all"
    assert at.session_state["filters"] == Filters(categories=("Jailbreak",))
