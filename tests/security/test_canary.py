"""The canary suite, first part: the rules oracle agrees with the SQL, every page for every persona shows only
the canaries its viewer is cleared for (page text, chart specs, tables, sidebar filter options), and two people
asking the same cached question one after the other never share a result.

Exports, detail-by-id URLs and download bytes are added per feature on top of tests/security/canary.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics import session
from analytics.access import pages as access
from analytics.access.markings import visible_sql
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from analytics.store.database import Store
from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse: every rerun runs app.py first
from tests.conftest import PERSONAS, ROOT, TODAY, StoreBuilder
from tests.security.canary import (
    allowed_cases,
    assert_exactly_allowed,
    assert_only_allowed,
    may_see_record,
    plant_canaries,
    rendered_text,
)


def test_canary_cases_cover_every_marking_rule() -> None:
    c = plant_canaries.__globals__["make_canaries"]("x")
    seen = {
        email: sorted(case for case, k in c.items() if may_see_record(k, v)) for email, v in PERSONAS.items()
    }
    assert seen == {
        "analyst@uk.example": ["red-named", "shared", "strict-uk", "strict-uk-both", "uk-only"],
        "lead@uk.example": ["shared", "strict-uk", "strict-uk-both", "uk-only"],
        "policy@uk.example": ["shared", "strict-uk", "strict-uk-both", "uk-only"],
        "analyst@au.example": ["au-only", "shared", "strict-au", "strict-au-both"],
        "lead@au.example": ["au-only", "red-named", "shared", "strict-au", "strict-au-both"],
        "policy@au.example": ["au-only", "shared", "strict-au", "strict-au-both"],
        "admin@joint.example": ["shared"],
    }


@pytest.mark.parametrize("email", list(PERSONAS))
def test_sql_markings_agree_with_the_rules(store: StoreBuilder, email: str) -> None:
    canaries = plant_canaries(store)
    viewer = PERSONAS[email]
    con = store.cursor()
    for table, alias, key, ident in (
        ("incidents", "i", "id", "incident_id"),
        ("eval_runs", "r", "run_id", "run_id"),
    ):
        where, params = visible_sql(viewer, table, alias)  # type: ignore[arg-type]
        got = {
            r[0] for r in con.execute(f"select {key} from {table} {alias} where {where}", params).fetchall()
        }
        expected = {getattr(c, ident) for c in canaries.values() if may_see_record(c, viewer)}
        assert got == expected, (table, email)


@pytest.fixture(scope="module")
def canary_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from analytics.demo.generator import build_demo

    path = tmp_path_factory.mktemp("canary") / "canary.duckdb"
    s = Store(path)
    build_demo(s, incidents=300, seed=11)
    canaries = plant_canaries(s)
    s.close()
    return path, canaries


CASES = [(email, spec.path) for email, v in PERSONAS.items() for spec in access.pages_for(v.role)]


@pytest.mark.parametrize(("email", "path"), CASES)
def test_every_page_shows_only_cleared_canaries(
    canary_db: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, email: str, path: str
) -> None:
    from streamlit.testing.v1 import AppTest

    db, canaries = canary_db
    monkeypatch.setenv("THREAT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    at.switch_page(path).run()
    assert not at.exception, [e.message for e in at.exception]
    viewer = PERSONAS[email]
    # Policymakers read summaries: no record text at all. Everyone else: their cleared records only.
    assert_only_allowed(rendered_text(at), viewer, canaries, where=path)


@pytest.mark.parametrize("email", ["analyst@uk.example", "lead@au.example", "admin@joint.example"])
def test_the_incident_table_lists_exactly_the_cleared_canaries(
    canary_db: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    # The positive control: where records are listed, every cleared canary does show, so the checks above
    # can see a token when it is there.
    from streamlit.testing.v1 import AppTest

    db, canaries = canary_db
    monkeypatch.setenv("THREAT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.user = {"is_logged_in": True, "email": email}
    at.query_params["q"] = "canary title"
    at.run()
    at.session_state["xp_tab"] = "Incidents"  # the explorer draws only the open tab
    at.switch_page("pages/explorer.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert_exactly_allowed(rendered_text(at), PERSONAS[email], canaries, where="explorer, searched")


def test_cached_results_are_shared_only_with_the_same_access(
    canary_db: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same question through session.query's cache, one person after the other: each gets exactly what
    they may see. Colleagues of one institute and role share a computation (analytics.access.audience), so the
    order matters: a colleague asking right after someone named on a TLP:RED canary, and that person asking
    right after the colleague, each still get their own."""
    import streamlit as st

    db, canaries = canary_db
    monkeypatch.setenv("THREAT_DB", str(db))
    colleague = Viewer("colleague@uk.example", "A Colleague", "UK", "analyst")  # named on no TLP:RED record
    people = {**PERSONAS, colleague.email: colleague}
    f = Filters(text="canary title")
    order = [
        "analyst@uk.example",  # named on the red-named canary
        "colleague@uk.example",
        "analyst@au.example",
        "admin@joint.example",
        "colleague@uk.example",
        "analyst@uk.example",
    ]
    for email in order:
        viewer = people[email]
        st.session_state["viewer"] = viewer
        result = session.query(incident_explorer.incident_page, f, TODAY, "Id", False, 1, 100)
        titles = " ".join(result.data["title"])
        assert_exactly_allowed(titles, viewer, canaries, where=f"cached incident_page for {email}")
        assert result.marking.rows == len(allowed_cases(viewer, canaries))
    assert "red-named" in allowed_cases(PERSONAS["analyst@uk.example"], canaries)
    assert "red-named" not in allowed_cases(colleague, canaries)  # the order above can catch a shared result
