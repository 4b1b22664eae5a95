"""Filters: each one narrows to exactly the expected rows, and the URL form round-trips."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.store import incident_keys
from tests.conftest import TODAY, UK_ANALYST


@pytest.fixture
def rows(store):
    store.incident(
        id="a",
        category="Jailbreak",
        occurred_on=date(2026, 11, 1),
        severity=5,
        sectors=["finance", "energy"],
        originator="UK",
        techniques=["AML.T0054"],
        title="Jailbreak of payments bot",
        status="new",
    )
    store.incident(
        id="b",
        category="Prompt injection",
        occurred_on=date(2026, 8, 1),
        severity=2,
        sectors=["health"],
        originator="AU",
        techniques=["AML.T0051.001"],
        actor_type="researcher",
        countries=["AU"],
    )
    store.incident(
        id="c",
        category="Prompt injection",
        occurred_on=date(2024, 1, 1),
        severity=4,
        tlp="CLEAR",
        summary="Indirect injection via email",
        status="closed",
    )
    with store.store.transaction() as con:
        con.execute(
            "insert into atlas_technique_tactics values ('AML.T0054', 'AML.TA0007'), ('AML.T0051', 'AML.TA0005')"
        )
        incident_keys.rebuild_tactics(con)  # as an ATLAS import does when the links change
    return store


def _ids(store, f: Filters) -> set[str]:
    where, params = f.sql_where(UK_ANALYST, TODAY)
    return {
        r[0] for r in store.cursor().execute(f"select id from incidents i where {where}", params).fetchall()
    }


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (Filters(), {"a", "b", "c"}),
        (Filters(preset="30d"), {"a"}),
        (Filters(preset="12m"), {"a", "b"}),
        (Filters(preset="custom", date_from=date(2024, 1, 1), date_to=date(2024, 1, 1)), {"c"}),
        (Filters(originators=("AU",)), {"b"}),
        (Filters(categories=("Prompt injection",)), {"b", "c"}),
        (Filters(severities=(4, 5)), {"a", "c"}),
        (Filters(sectors=("energy",)), {"a"}),
        (Filters(countries=("AU",)), {"b"}),
        (Filters(actor_types=("researcher",)), {"b"}),
        (Filters(tlps=("CLEAR",)), {"c"}),
        (Filters(statuses=("closed",)), {"c"}),
        (Filters(techniques=("AML.T0051",)), {"b"}),  # parent matches its sub-technique
        (Filters(techniques=("AML.T0051.001",)), {"b"}),
        (Filters(tactics=("AML.TA0005",)), {"b"}),
        (Filters(tactics=("AML.TA0007",)), {"a"}),
        (Filters(text="PAYMENTS"), {"a"}),
        (Filters(text="indirect injection"), {"c"}),
        (Filters(text="'; drop table incidents; --"), set()),
        (Filters(categories=("Prompt injection",), severities=(2,)), {"b"}),
    ],
)
def test_each_filter_narrows_exactly(rows, f: Filters, expected: set[str]) -> None:
    assert _ids(rows, f) == expected


def test_counts_follow_filters(rows) -> None:
    df = incident_base.counts_by_originator_and_category(
        rows.cursor(), UK_ANALYST, Filters(preset="12m"), TODAY
    ).data
    assert df.to_dict("records") == [
        {"originator": "AU", "category": "Prompt injection", "incidents": 1},
        {"originator": "UK", "category": "Jailbreak", "incidents": 1},
    ]


def test_url_round_trip() -> None:
    f = Filters(
        preset="custom",
        date_from=date(2025, 1, 1),
        date_to=date(2025, 6, 30),
        originators=("UK",),
        categories=("Jailbreak", "Prompt injection"),
        severities=(4, 5),
        techniques=("AML.T0051.001",),
        sectors=("finance",),
        text="bank",
    )
    qp = f.to_query_params()
    assert qp["cat"] == ["Jailbreak", "Prompt injection"]
    assert Filters.from_query_params(qp) == f
    assert Filters().to_query_params() == {}
    assert Filters.from_query_params({"preset": "30d"}) == Filters(preset="30d")


def test_bad_url_values_are_dropped_not_fatal() -> None:
    f = Filters.from_query_params({"preset": "forever", "sev": ["9", "x", "3"], "from": "yesterday"})
    assert f == Filters(severities=(3,))


def test_previous_period_has_equal_length() -> None:
    prev = Filters(preset="30d").previous_period(TODAY)
    assert prev is not None
    assert prev.date_range(TODAY) == (date(2026, 9, 22), date(2026, 10, 21))
    assert Filters().previous_period(TODAY) is None


# -- source as a dimension (issue 15) ------------------------------------------------------------------------


@pytest.fixture
def sourced(store):
    """Institute reporting of both institutes beside two public sources (originator PUBLIC, migration 008)."""
    store.incident(id="uk", originator="UK", source="institute")
    store.incident(id="au", originator="AU", source="institute")
    store.incident(
        id="uk_stix", originator="UK", source="stix"
    )  # a partner bundle: still institute reporting
    store.incident(id="aiid", originator="PUBLIC", source="aiid", tlp="CLEAR")
    store.incident(id="atlas", originator="PUBLIC", source="atlas", tlp="CLEAR")
    return store


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ((), {"uk", "au", "uk_stix", "aiid", "atlas"}),
        (("institute",), {"uk", "au", "uk_stix"}),
        (("aiid",), {"aiid"}),
        (("institute", "atlas"), {"uk", "au", "uk_stix", "atlas"}),
    ],
)
def test_source_filter_separates_institute_reporting_from_each_public_source(
    sourced, sources: tuple[str, ...], expected: set[str]
) -> None:
    assert _ids(sourced, Filters(sources=sources)) == expected


def test_source_options_come_from_visible_rows_with_counts(sourced) -> None:
    options = dict(incident_base.filter_options(sourced.cursor(), UK_ANALYST, TODAY)["sources"])
    assert options == {"institute": 3, "aiid": 1, "atlas": 1}


def test_source_filter_in_the_url_and_in_words() -> None:
    f = Filters(sources=("institute", "aiid"))
    assert f.to_query_params() == {"src": ["institute", "aiid"]}
    assert Filters.from_query_params({"src": ["institute", "aiid"]}) == f
    assert "source: Institute reporting, AI Incident Database" in f.describe(TODAY)


def test_source_values_are_controlled_for_policymakers() -> None:
    from tests.conftest import UK_POLICY

    f = Filters(sources=("institute", "aiid", "stix", "anything typed"))
    assert f.for_viewer(UK_POLICY).sources == ("institute", "aiid")
