"""Markings: each persona sees exactly the rows the DOMAIN.md rules allow, checked against independent SQL."""

from __future__ import annotations

import pytest

from analytics.access.markings import Marking, combine_markings, normalise_tlp, parse_releasable, visible_sql
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from tests.conftest import ADMIN, AU_ANALYST, AU_LEAD, PERSONAS, TODAY, UK_ANALYST, UK_LEAD


def _visible_ids(store, viewer) -> set[str]:
    where, params = visible_sql(viewer)
    return {
        r[0] for r in store.cursor().execute(f"select id from incidents i where {where}", params).fetchall()
    }


def test_rules_per_persona(store) -> None:
    store.incident(id="clear-both", tlp="CLEAR")
    store.incident(id="green-uk-only", tlp="GREEN", releasable_to=["UK"])
    store.incident(id="amber-au-only", tlp="AMBER", originator="AU", releasable_to=["AU"])
    store.incident(id="strict-uk", tlp="AMBER+STRICT", originator="UK", releasable_to=["UK", "AU"])
    store.incident(id="strict-au", tlp="AMBER+STRICT", originator="AU", releasable_to=["AU"])
    store.incident(id="red-uk-lead", tlp="RED", releasable_to=["UK"], named_recipients=["lead@uk.example"])
    store.incident(id="red-both-leads", tlp="RED", named_recipients=["lead@uk.example", "lead@au.example"])
    assert _visible_ids(store, UK_ANALYST) == {"clear-both", "green-uk-only", "strict-uk"}
    assert _visible_ids(store, UK_LEAD) == {
        "clear-both",
        "green-uk-only",
        "strict-uk",
        "red-uk-lead",
        "red-both-leads",
    }
    assert _visible_ids(store, AU_ANALYST) == {"clear-both", "amber-au-only", "strict-au"}
    assert _visible_ids(store, AU_LEAD) == {"clear-both", "amber-au-only", "strict-au", "red-both-leads"}
    # JOINT staff see only what both institutes released, never AMBER+STRICT, RED only if named
    assert _visible_ids(store, ADMIN) == {"clear-both"}


def test_demo_store_counts_match_an_independent_count(demo_store) -> None:
    con = demo_store.cursor()
    for viewer in PERSONAS.values():
        rel = ["UK", "AU"] if viewer.institute == "JOINT" else [viewer.institute]
        expected = con.execute(
            """
            select count(*) from incidents
            where list_sort(list_intersect(releasable_to, ?::varchar[])) = list_sort(?::varchar[])
              and case tlp when 'RED' then list_contains(named_recipients, ?)
                           when 'AMBER+STRICT' then originator = ?
                           else true end
            """,
            [rel, rel, viewer.email, viewer.institute],
        ).fetchone()[0]
        got = incident_base.store_totals(con, viewer, Filters(), TODAY).data["total"]
        assert got == expected, viewer.email
        assert got > 0 or viewer.institute == "JOINT"


def test_result_marking_is_the_most_restrictive_of_its_rows(store) -> None:
    store.incident(tlp="CLEAR")
    store.incident(tlp="AMBER", releasable_to=["UK"])
    m = incident_base.store_totals(store.cursor(), UK_ANALYST, Filters(), TODAY).marking
    assert m == Marking("AMBER", ("UK",), 2, ("institute",))
    m_au = incident_base.store_totals(store.cursor(), AU_ANALYST, Filters(), TODAY).marking
    assert m_au == Marking("CLEAR", ("AU", "UK"), 1, ("institute",))


def test_marking_helpers() -> None:
    assert normalise_tlp("tlp:amber+strict") == "AMBER+STRICT"
    assert normalise_tlp("White") == "CLEAR"
    with pytest.raises(ValueError, match="unknown TLP"):
        normalise_tlp("SECRET")
    assert parse_releasable("uk, AU") == ("AU", "UK")
    with pytest.raises(ValueError, match="unknown releasability"):
        parse_releasable("UK,US")
    with pytest.raises(ValueError, match="empty"):
        parse_releasable("")
    m = combine_markings(
        [Marking("GREEN", ("AU", "UK")), Marking("RED", ("UK",)), Marking("AMBER", ("AU", "UK"))]
    )
    assert (m.tlp, m.releasable_to) == ("RED", ("UK",))
    assert Marking("GREEN").raise_to("CLEAR").tlp == "GREEN"
    assert Marking("AMBER+STRICT", ("UK",)).short == "TLP-AMBER-STRICT_REL-UK"


def test_filter_options_never_reveal_invisible_values(store) -> None:
    store.incident(
        category="Model theft",
        tlp="AMBER+STRICT",
        originator="UK",
        releasable_to=["UK"],
        sectors=["defence"],
        techniques=["AML.T0024"],
    )
    store.incident(category="Jailbreak", tlp="GREEN")
    opts_au = incident_base.filter_options(store.cursor(), AU_ANALYST, TODAY)
    assert opts_au["categories"] == [("Jailbreak", 1)]
    assert opts_au["sectors"] == [("finance", 1)]
    assert opts_au["techniques"] == []
    opts_uk = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY)
    assert dict(opts_uk["categories"]) == {"Model theft": 1, "Jailbreak": 1}
