"""The canaries through every data path that is not a page render: search, detail by id, links, evidence search,
table downloads (CSV and Parquet), partner STIX bundles, chart and briefing exports, filter options and errors.

Each canary must appear exactly where the marking rules (restated independently in canary.py) allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from analytics.assessments.evidence import evidence_info, search_evidence
from analytics.assessments.model import EVIDENCE_KINDS, EvidenceRef
from analytics.demo.generator import build_demo
from analytics.evals import runs as eval_runs
from analytics.export import stix as stix_export
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.incidents import explorer as incident_explorer
from analytics.links import queries as links
from analytics.store.database import Store, close_all, open_store
from tests.conftest import PERSONAS, TODAY
from tests.security.canary import allowed_cases, found_cases, may_see_record

RECORD_READERS = [e for e, v in PERSONAS.items() if v.can_see_records]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.security.canary import plant_canaries

    path = tmp_path_factory.mktemp("canary-paths") / "paths.duckdb"
    s = Store(path)
    build_demo(s, incidents=200, seed=5)
    canaries = plant_canaries(s)
    s.close()
    store = open_store(path)
    yield store, canaries
    close_all()


@pytest.mark.parametrize("email", RECORD_READERS)
def test_search_and_csv_parquet_downloads(planted: Any, email: str) -> None:
    store, canaries = planted
    viewer = PERSONAS[email]
    con = store.cursor()
    expected = allowed_cases(viewer, canaries)
    for c in canaries.values():
        hits = incident_explorer.incidents_for_export(con, viewer, Filters(text=c.token), TODAY)
        assert (len(hits.data) == 1) == (c.case in expected), (email, c.case)
    table = incident_explorer.incidents_for_export(con, viewer, Filters(), TODAY)
    csv = table_export.to_csv_bytes(table.data, table.marking)
    parquet = table_export.to_parquet_bytes(table.data, table.marking)
    assert found_cases(csv, canaries) == expected
    import io

    import pandas as pd

    df = pd.read_parquet(io.BytesIO(parquet))
    assert found_cases(df.to_csv(), canaries) == expected


@pytest.mark.parametrize("email", list(PERSONAS))
def test_detail_by_id_links_and_runs(planted: Any, email: str) -> None:
    store, canaries = planted
    viewer = PERSONAS[email]
    con = store.cursor()
    for c in canaries.values():
        allowed = may_see_record(c, viewer)
        detail = incident_explorer.incident_detail(con, viewer, c.incident_id)
        assert (detail is not None) == allowed, (email, c.case)
        # an invisible id answers exactly like a missing one
        if not allowed:
            assert incident_explorer.incident_detail(con, viewer, "NO-SUCH-ID") is None
            assert links.evaluations_for_incident(con, viewer, c.incident_id).data.empty
        run = eval_runs.run_detail(con, viewer, c.run_id)
        assert (run is not None) == allowed, (email, c.case, "run")


@pytest.mark.parametrize(
    "email", ["analyst@uk.example", "lead@uk.example", "analyst@au.example", "lead@au.example"]
)
def test_evidence_search_shows_only_what_the_author_may_cite(planted: Any, email: str) -> None:
    store, canaries = planted
    viewer = PERSONAS[email]
    con = store.cursor()
    expected = allowed_cases(viewer, canaries)
    blob = ""
    for c in canaries.values():
        for kind in EVIDENCE_KINDS:
            if kind == "view":
                continue
            blob += search_evidence(con, viewer, kind, c.token, TODAY).to_csv()
    assert found_cases(blob, canaries) == expected


@pytest.mark.parametrize("partner", ["UK", "AU"])
def test_partner_bundles_never_carry_strict_or_unnamed_red(planted: Any, partner: str) -> None:
    store, canaries = planted
    bundle = stix_export.build_bundle(store.cursor(), None, partner).to_bytes()
    found = found_cases(bundle, canaries)
    for case in found:
        c = canaries[case]
        assert c.tlp != "AMBER+STRICT", case
        assert partner in c.releasable_to, case
        if c.tlp == "RED":
            assert any(r.endswith(f"@{partner.lower()}.example") for r in c.named_recipients), case
    assert "shared" in found  # the control shows the bundle is not simply empty


@pytest.mark.parametrize("email", list(PERSONAS))
def test_filter_options_and_figures_never_count_invisible_canaries(planted: Any, email: str) -> None:
    store, canaries = planted
    viewer = PERSONAS[email]
    con = store.cursor()
    options = incident_base.filter_options(con, viewer, TODAY)
    visible_total = incident_base.store_totals(con, viewer, Filters(), TODAY).data["total"]
    # every option count is bounded by what the viewer can see, and the TLP counts add up to exactly that
    assert sum(n for _, n in options["tlps"]) == visible_total
    planted_visible = sum(1 for c in canaries.values() if may_see_record(c, viewer))
    got = incident_base.store_totals(con, viewer, Filters(text="canary title"), TODAY).data["total"]
    # people who may not read records get no free-text search at all (a count driven by text is an oracle on
    # it: test_side_channels.py), so for them the search changes nothing
    assert got == (planted_visible if viewer.can_see_records else visible_total)


def test_evidence_lookup_treats_an_invisible_record_as_absent(planted: Any) -> None:
    store, canaries = planted
    viewer = PERSONAS["analyst@au.example"]
    con = store.cursor()
    strict_uk, shared = canaries["strict-uk"], canaries["shared"]
    refs = [
        EvidenceRef("incident", strict_uk.incident_id),
        EvidenceRef("incident", shared.incident_id),
        EvidenceRef("incident", "NO-SUCH-ID"),
    ]
    info = evidence_info(con, viewer, refs)
    assert set(info) == {refs[1]}
    assert strict_uk.token not in repr(info)
