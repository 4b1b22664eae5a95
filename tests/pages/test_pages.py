"""Every page, for every persona, through Streamlit's AppTest: no exception, the right navigation, markings shown."""

from __future__ import annotations

import pytest

from analytics.access import pages as access
from tests.conftest import PERSONAS, figure_spec

CASES = [(email, spec.path) for email, v in PERSONAS.items() for spec in access.pages_for(v.role)]


@pytest.mark.parametrize(("email", "path"), CASES)
def test_page_runs_for_persona(app_factory, email: str, path: str) -> None:
    at = app_factory(email, page=path)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    banner = [m.value for m in at.markdown if "TLP:" in m.value]
    assert banner, "every data page shows a marking banner"


@pytest.mark.parametrize("email", list(PERSONAS))
def test_navigation_lists_only_the_role_pages(app_factory, email: str) -> None:
    at = app_factory(email)
    role = PERSONAS[email].role
    assert not at.exception
    # the sidebar names the person and their institute
    assert any(PERSONAS[email].name in m.value for m in at.sidebar.markdown)
    allowed = {p.path for p in access.pages_for(role)}
    for spec in access.PAGES:
        if spec.path not in allowed:
            at2 = app_factory(email)
            with pytest.raises(Exception):  # noqa: B017 - AppTest refuses pages not in the navigation
                at2.switch_page(spec.path).run()


def test_unknown_email_sees_not_enrolled_and_no_data(app_factory) -> None:
    at = app_factory("stranger@evil.example")
    assert [t.value for t in at.title] == ["Not enrolled"]
    assert not at.get("plotly_chart")
    assert not at.metric


def test_no_sign_in_without_configuration(app_factory, monkeypatch) -> None:
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = app_factory(None)
    assert "Sign-in is not configured" in at.error[0].value


def test_demo_mode_offers_personas(app_factory, monkeypatch) -> None:
    monkeypatch.setenv("THREAT_DEMO_MODE", "1")
    at = app_factory(None)
    labels = [b.label for b in at.button]
    assert len([x for x in labels if "@" in x]) == 7
    at.button(key="persona_analyst@au.example").click().run()
    assert not at.exception
    assert any("Liam Nguyen" in m.value for m in at.sidebar.markdown)


def test_overview_counts_are_the_viewer_scope(app_factory, demo_store) -> None:
    at = app_factory("analyst@au.example")
    metrics = {m.label: m.value for m in at.metric}
    expected = (
        demo_store.cursor()
        .execute(
            "select count(*) from incidents where list_contains(releasable_to, 'AU') "
            "and (tlp <> 'RED' or list_contains(named_recipients, 'analyst@au.example')) "
            "and (tlp <> 'AMBER+STRICT' or originator = 'AU')"
        )
        .fetchone()[0]
    )
    assert metrics["Incidents"] == f"{expected:,}"
    fig = figure_spec(at.get("plotly_chart")[0])
    assert sum(sum(t["x"]) for t in fig["data"]) == expected


def test_filter_from_url_narrows_the_overview(app_factory) -> None:
    at = app_factory("analyst@uk.example", query={"cat": "Jailbreak", "orig": "UK"})
    fig = figure_spec(at.get("plotly_chart")[0])
    cats = {c for t in fig["data"] for c in t["y"]}
    assert cats == {"Jailbreak"}
    assert at.multiselect(key="flt_categories").value == ["Jailbreak"]


# -- entity pages (issue 20): every role, every kind, from a link ---------------------------------------------------

# One entity of each kind that the demo store (tests/conftest.py demo_db) holds for both institutes.
ENTITIES = {
    "model": "Onyx-1.2",
    "developer": "Kestrel Systems",
    "sector": "finance",
    "actor": "criminal",
    "technique": "AML.T0051.001",
    "benchmark": "Cybench",
}
ENTITY_CASES = [
    (email, kind)
    for email, v in PERSONAS.items()
    if v.role in access.roles_for("pages/entity.py")
    for kind in ENTITIES
]


@pytest.mark.parametrize(("email", "kind"), ENTITY_CASES)
def test_entity_page_for_every_reader_and_kind(app_factory, demo_store, email: str, kind: str) -> None:
    from analytics.entities import queries as entities
    from pages.ui import inert_markdown

    at = app_factory(email, query={"kind": kind, "id": ENTITIES[kind]})
    at.switch_page("pages/entity.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    viewer = PERSONAS[email]
    over = entities.overview(demo_store.cursor(), viewer, kind, ENTITIES[kind])
    assert over is not None and over.incidents > 0
    assert [t.value for t in at.title] == [inert_markdown(over.name)]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Incidents"] == f"{over.incidents:,}"
    assert any(m.value.startswith(":") and "TLP:" in m.value for m in at.markdown), "marked"
    assert at.get("plotly_chart"), "the timeline is drawn"
    listed = next(d.value for d in at.dataframe if "occurred_on" in d.value.columns)
    # only records this viewer may see: every listed incident is releasable to their institute(s)
    rel = dict(
        demo_store.cursor()
        .execute("select id, releasable_to from incidents where list_contains(?, id)", [list(listed["id"])])
        .fetchall()
    )
    needs = {"UK", "AU"} if viewer.institute == "JOINT" else {viewer.institute}
    assert listed["id"].tolist() and all(needs <= set(rel[i]) for i in listed["id"])


@pytest.mark.parametrize("email", [e for e, v in PERSONAS.items() if v.role == "policymaker"])
def test_policymakers_never_reach_entity_pages(app_factory, email: str) -> None:
    at = app_factory(email, query={"kind": "model", "id": ENTITIES["model"]})
    with pytest.raises(Exception):  # noqa: B017 - AppTest refuses pages not in the navigation
        at.switch_page("pages/entity.py").run()


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"kind": "campaign", "id": "x"}, "unknown kind 'campaign'"),
        ({"kind": "model"}, "needs both"),
        ({"kind": "technique", "id": "drop table"}, "not an ATLAS technique id"),
    ],
)
def test_entity_page_refuses_a_bad_address_in_one_line(app_factory, query, shown: str) -> None:
    at = app_factory("analyst@au.example", query=query)
    at.switch_page("pages/entity.py").run()
    assert not at.exception
    assert len(at.error) == 1 and shown in at.error[0].value
    assert not at.get("plotly_chart") and not at.dataframe


def test_an_unknown_or_hidden_entity_gets_one_clear_message(app_factory, demo_store) -> None:
    # a model only UK-only records name: for an AU analyst exactly like one that does not exist
    row = (
        demo_store.cursor()
        .execute(
            "select affected_system from incidents group by 1 "
            "having bool_and(not list_contains(releasable_to, 'AU')) limit 1"
        )
        .fetchone()
    )
    messages = []
    for name in ([row[0]] if row else []) + ["No such model 9000"]:
        at = app_factory("analyst@au.example", query={"kind": "model", "id": name})
        at.switch_page("pages/entity.py").run()
        assert not at.exception and not at.dataframe and not at.metric
        messages.append([w.value for w in at.warning])
    assert all(m == ["No model or system with this name in the records you may see."] for m in messages)
