"""Reads several pages share (analytics.incidents.base) on the known rows: filter options that never reveal
invisible rows, technique and tactic options, and counts by originator and category with their marking."""

from __future__ import annotations

import pytest

from analytics.access.markings import Marking
from analytics.incidents import base as incident_base
from tests.analytics.incidents.test_incidents_explorer import LAST_90, records, seed_known_incidents
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST


@pytest.fixture
def known(store):
    seed_known_incidents(store)
    return store


def test_options_never_reveal_invisible_rows(known) -> None:
    opts = incident_base.filter_options(known.cursor(), UK_ANALYST, TODAY)
    assert opts["categories"] == [("Prompt injection", 3), ("Jailbreak", 2), ("Data poisoning", 1)]
    assert "government" not in dict(opts["sectors"]) and "energy" not in dict(opts["sectors"])
    assert dict(opts["sectors"])["finance"] == 2
    assert dict(opts["techniques"]) == {"AML.T0051": 2, "AML.T0054": 2, "AML.T0020": 1}
    assert dict(opts["tlps"]) == {"GREEN": 4, "AMBER": 1, "CLEAR": 1}
    au = incident_base.filter_options(known.cursor(), AU_ANALYST, TODAY)
    assert ("Deepfake fraud", 1) in au["categories"]


def test_counts_by_originator_and_category_carry_their_marking(known) -> None:
    out = incident_base.counts_by_originator_and_category(known.cursor(), UK_ANALYST, LAST_90, TODAY)
    assert records(out.data) == [
        ("AU", "Prompt injection", 1),
        ("UK", "Jailbreak", 1),
        ("UK", "Prompt injection", 1),
    ]
    assert out.marking == Marking("AMBER", ("AU", "UK"), 3, ("institute",))


def test_technique_and_tactic_options_count_visible_incidents_once(store) -> None:
    with store.store.transaction() as con:
        con.executemany(
            "insert into atlas_technique_tactics values (?, ?)",
            [
                ("AML.T0051", "AML.TA0005"),
                ("AML.T0054", "AML.TA0005"),
                ("AML.T0054", "AML.TA0007"),
                ("AML.T0020", "AML.TA0003"),
            ],
        )
    store.incident(techniques=["AML.T0051", "AML.T0054"])  # two techniques of one tactic: counted once there
    store.incident(techniques=["AML.T0051.000"])  # a sub-technique counts under its parent's tactic
    store.incident(techniques=["AML.T0020"])
    store.incident(techniques=["AML.T0020"], tlp="AMBER+STRICT", originator="AU", releasable_to=["AU", "UK"])
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY)
    assert opts["techniques"] == [("AML.T0020", 1), ("AML.T0051", 1), ("AML.T0051.000", 1), ("AML.T0054", 1)]
    assert opts["tactics"] == [("AML.TA0005", 2), ("AML.TA0003", 1), ("AML.TA0007", 1)]
    au = incident_base.filter_options(store.cursor(), AU_ANALYST, TODAY)
    assert dict(au["techniques"])["AML.T0020"] == 2
    assert dict(au["tactics"])["AML.TA0003"] == 2
