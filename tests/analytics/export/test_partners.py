"""What leaves for a partner: the per-partner export ceiling, TLP:RED only to its named people one by one,
AMBER+STRICT never, and what was withheld, by reason and count (issue 17, finding 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.access.viewer import AccessDenied
from analytics.cli import main
from analytics.export import partners
from analytics.export.stix import build_bundle, export_for_partner, export_marking
from analytics.store.database import Store
from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse for the admin page run
from tests.conftest import ADMIN, AU_LEAD, ROOT, UK_ANALYST, UK_LEAD, StoreBuilder

TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")


@pytest.fixture
def mixed(store: StoreBuilder) -> StoreBuilder:
    """One record per rule; both RED records name a person of each institute."""
    s = store
    s.incident(id="CLEAR-1", tlp="CLEAR")
    s.incident(id="GREEN-1", tlp="GREEN")
    s.incident(id="AMBER-1", tlp="AMBER")
    s.incident(id="AU-AMBER", originator="AU", tlp="AMBER")
    s.incident(id="UK-ONLY", tlp="GREEN", releasable_to=["UK"])
    s.incident(id="UK-STRICT", tlp="AMBER+STRICT")
    s.incident(id="AU-STRICT", originator="AU", tlp="AMBER+STRICT")
    s.incident(id="RED-1", tlp="RED", named_recipients=["lead@uk.example", "lead@au.example"])
    s.incident(
        id="RED-2", originator="AU", tlp="RED", named_recipients=["lead@au.example", "lead@uk.example"]
    )
    s.incident(id="RED-UK", tlp="RED", named_recipients=["lead@uk.example"])
    return s


def ids(export: Any) -> list[str]:
    """The records in a bundle (the report wrapping an export is not one)."""
    return sorted(o["x_ukau_id"] for o in export.bundle["objects"] if o["type"] == "incident")


def tlps_in(bundle: dict[str, Any]) -> set[str]:
    """The TLPs of the records in a bundle, by their x_ukau_tlp and by the marking definitions they refer to."""
    names = {
        o["id"]: o["name"].removeprefix("TLP:")
        for o in bundle["objects"]
        if o["type"] == "marking-definition"
    }
    records = [o for o in bundle["objects"] if o["type"] == "incident"]
    return {o["x_ukau_tlp"] for o in records if "x_ukau_tlp" in o} | {
        names[m] for o in records for m in o.get("object_marking_refs", [])
    }


def marking_names(bundle: dict[str, Any]) -> set[str]:
    """Every TLP the bundle defines (a RED marking definition in a partner bundle would mean RED content)."""
    return {o["name"] for o in bundle["objects"] if o["type"] == "marking-definition"}


def audit_rows(store: StoreBuilder, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = (
        store.cursor()
        .execute("select email, object, detail from audit_log where action = ? order by id", [action])
        .fetchall()
    )
    return [(e, o, json.loads(d) if d else {}) for e, o, d in rows]


def test_the_default_ceiling_is_amber(mixed: StoreBuilder) -> None:
    con = mixed.cursor()
    assert partners.ceiling(con, "AU") == partners.ceiling(con, "UK") == "AMBER"
    assert ids(build_bundle(con, None, "AU")) == ["AMBER-1", "AU-AMBER", "CLEAR-1", "GREEN-1"]
    assert ids(build_bundle(con, None, "UK")) == ["AMBER-1", "AU-AMBER", "CLEAR-1", "GREEN-1", "UK-ONLY"]


def test_a_green_ceiling_withholds_amber_for_that_partner_only(mixed: StoreBuilder) -> None:
    partners.set_ceiling(mixed.store, "AU", "GREEN", actor=ADMIN.email, viewer=ADMIN)
    con = mixed.cursor()
    assert ids(build_bundle(con, None, "AU")) == ["CLEAR-1", "GREEN-1"]
    assert export_marking(con, None, "AU").tlp == "GREEN"
    assert ids(build_bundle(con, None, "UK")) == ["AMBER-1", "AU-AMBER", "CLEAR-1", "GREEN-1", "UK-ONLY"]
    partners.set_ceiling(mixed.store, "AU", "CLEAR", actor=ADMIN.email, viewer=ADMIN)
    assert ids(build_bundle(con, None, "AU")) == ["CLEAR-1"]


def test_red_is_never_in_a_bundle_even_when_the_partners_people_are_named(mixed: StoreBuilder) -> None:
    con = mixed.cursor()
    for partner in ("AU", "UK"):
        for viewer in (None, UK_LEAD, AU_LEAD):  # the CLI, and people who are named recipients themselves
            bundle = build_bundle(con, viewer, partner).bundle
            assert "RED" not in tlps_in(bundle), (partner, viewer)
            assert "TLP:RED" not in marking_names(bundle), (partner, viewer)
            assert not [i for i in ids(build_bundle(con, viewer, partner)) if i.startswith("RED")]
        assert export_marking(con, None, partner).tlp == "AMBER"


def test_no_ceiling_lets_red_or_amber_strict_out(mixed: StoreBuilder) -> None:
    for tlp in ("RED", "AMBER+STRICT", "WHITE", ""):
        with pytest.raises(ValueError, match=r"export ceiling .* CLEAR, GREEN or AMBER"):
            partners.set_ceiling(mixed.store, "AU", tlp, actor=ADMIN.email, viewer=ADMIN)
    assert partners.ceiling(mixed.cursor(), "AU") == "AMBER"
    assert audit_rows(mixed, "set export ceiling") == []


def test_amber_strict_never_leaves_even_for_its_originator(mixed: StoreBuilder) -> None:
    con = mixed.cursor()
    for partner in ("AU", "UK"):
        assert not [i for i in ids(build_bundle(con, None, partner)) if "STRICT" in i]


def test_red_and_strict_never_leave_a_demo_store(demo_store: Store) -> None:
    """The store `make run` builds: thousands of records, RED ones naming people of both institutes."""
    con = demo_store.cursor()
    reds = con.execute(
        "select count(*) from incidents where tlp = 'RED' and list_contains(releasable_to, 'AU') "
        "and len(list_filter(named_recipients, lambda e: e like '%@au.example')) > 0"
    ).fetchone()[0]
    assert reds > 0  # the case of the finding: RED records with an AU person among their recipients
    for partner in ("AU", "UK"):
        bundle = build_bundle(con, None, partner).bundle
        assert tlps_in(bundle) <= {"CLEAR", "GREEN", "AMBER"}
        assert marking_names(bundle) <= {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"}


def test_withheld_counts_by_reason(mixed: StoreBuilder) -> None:
    con = mixed.cursor()
    au = partners.withheld(con, None, "AU")
    assert au.counts == {"red": 3, "amber_strict": 2, "above_ceiling": 0, "not_releasable": 1}
    assert au.ceiling == "AMBER" and au.total == 6
    partners.set_ceiling(mixed.store, "AU", "GREEN", actor=ADMIN.email, viewer=ADMIN)
    assert partners.withheld(con, None, "AU").counts["above_ceiling"] == 2
    uk = partners.withheld(con, None, "UK")
    assert uk.counts == {"red": 3, "amber_strict": 2, "above_ceiling": 0, "not_releasable": 0}
    lines = partners.withheld(con, None, "AU").lines()
    assert lines[0].startswith("3 TLP:RED")
    assert any(line.startswith("2 above AU's ceiling (TLP:GREEN)") for line in lines)


def test_withheld_counts_only_what_the_exporter_may_see(mixed: StoreBuilder) -> None:
    """A person exporting from the page learns nothing about records hidden from them, not even a count."""
    con = mixed.cursor()
    assert partners.withheld(con, UK_ANALYST, "AU").counts == {
        "red": 0,  # the UK analyst is named on no RED record
        "amber_strict": 1,  # UK-STRICT only: AU-STRICT is AU's
        "above_ceiling": 0,
        "not_releasable": 1,
    }
    assert partners.withheld(con, UK_LEAD, "AU").counts["red"] == 3


def test_the_export_audits_and_reports_what_it_withheld(mixed: StoreBuilder, tmp_path: Path, capsys) -> None:
    export = export_for_partner(mixed.store, "AU", actor="cli")
    assert export.withheld is not None and export.withheld.counts["red"] == 3
    (actor, obj, detail) = audit_rows(mixed, "export stix")[-1]
    assert (actor, obj) == ("cli", "partner:AU")
    assert detail["incidents"] == 4
    assert (detail["withheld_red"], detail["withheld_amber_strict"], detail["withheld_not_releasable"]) == (
        3,
        2,
        1,
    )
    out = tmp_path / "au.json"
    assert main(["export-stix", "--for", "AU", "--out", str(out), "--db", str(mixed.store.path)]) == 0
    printed = capsys.readouterr().out
    assert "4 incidents for AU" in printed
    assert "withheld: 3 TLP:RED" in printed and "2 TLP:AMBER+STRICT" in printed
    assert "RED" not in tlps_in(json.loads(out.read_text()))


def test_setting_a_ceiling_is_for_admins_and_audited(mixed: StoreBuilder) -> None:
    with pytest.raises(AccessDenied):
        partners.set_ceiling(mixed.store, "AU", "GREEN", actor=UK_LEAD.email, viewer=UK_LEAD)
    assert audit_rows(mixed, "refused")[-1][:2] == (UK_LEAD.email, "partner:AU")
    assert partners.ceiling(mixed.cursor(), "AU") == "AMBER"
    partners.set_ceiling(mixed.store, "au", "GREEN", actor="ignored", viewer=ADMIN)
    row = mixed.cursor().execute("select partner, max_tlp, set_by from partner_export_ceilings").fetchall()
    assert row == [("AU", "GREEN", ADMIN.email)]
    assert audit_rows(mixed, "set export ceiling") == [
        (ADMIN.email, "partner:AU", {"ceiling": "GREEN", "previous_ceiling": "AMBER"})
    ]
    with pytest.raises(ValueError, match="unknown partner 'NZ'"):
        partners.set_ceiling(mixed.store, "NZ", "GREEN", actor="cli")
    listed = {c.partner: (c.max_tlp, c.set_by) for c in partners.ceilings(mixed.cursor())}
    assert listed == {"AU": ("GREEN", ADMIN.email), "UK": ("AMBER", None)}


def test_the_cli_sets_and_lists_ceilings(mixed: StoreBuilder, capsys) -> None:
    db = str(mixed.store.path)
    assert (
        main(["export-ceiling", "--for", "AU", "--tlp", "green", "--actor", "ops@joint.example", "--db", db])
        == 0
    )
    assert partners.ceiling(mixed.cursor(), "AU") == "GREEN"
    assert audit_rows(mixed, "set export ceiling")[-1][:2] == ("ops@joint.example", "partner:AU")
    capsys.readouterr()
    assert main(["export-ceiling", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "AU: TLP:GREEN" in out and "UK: TLP:AMBER (default)" in out
    assert main(["export-ceiling", "--for", "AU", "--tlp", "RED", "--db", db]) == 2
    assert partners.ceiling(mixed.cursor(), "AU") == "GREEN"


def test_red_goes_to_its_named_people_one_by_one(mixed: StoreBuilder, tmp_path: Path) -> None:
    export = partners.export_for_person(mixed.store, "Lead@AU.example", actor="ops@joint.example")
    assert ids(export) == ["RED-1", "RED-2"]  # RED-UK does not name them; nothing that is not RED
    assert tlps_in(export.bundle) == {"RED"}
    entries = audit_rows(mixed, "export red to person")
    assert [(a, o, d["recipient"], d["tlp"]) for a, o, d in entries] == [
        ("ops@joint.example", "incident:RED-1", "lead@au.example", "RED"),
        ("ops@joint.example", "incident:RED-2", "lead@au.example", "RED"),
    ]
    out = tmp_path / "lead-uk.json"
    code = main(
        ["export-stix", "--for-person", "lead@uk.example", "--out", str(out), "--db", str(mixed.store.path)]
    )
    assert code == 0
    bundle = json.loads(out.read_text())
    got = sorted(o["x_ukau_id"] for o in bundle["objects"] if o["type"] == "incident")
    assert got == ["RED-1", "RED-2", "RED-UK"]
    assert len(audit_rows(mixed, "export red to person")) == 5


def test_a_person_export_needs_an_active_enrolled_person(mixed: StoreBuilder) -> None:
    with pytest.raises(ValueError, match=r"no active enrolled user 'nobody@au\.example'"):
        partners.export_for_person(mixed.store, "nobody@au.example", actor="cli")
    with mixed.store.transaction() as con:
        con.execute("update users set active = false where email = 'lead@au.example'")
    with pytest.raises(ValueError, match=r"no active enrolled user 'lead@au\.example'"):
        partners.export_for_person(mixed.store, "lead@au.example", actor="cli")
    assert audit_rows(mixed, "export red to person") == []


def test_the_admin_page_sets_a_ceiling(mixed: StoreBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(mixed.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": ADMIN.email}
    at.run()
    at.switch_page("pages/admin.py").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = at.dataframe[-1].value
    assert list(shown["partner"]) == ["UK", "AU"] and list(shown["ceiling"]) == ["TLP:AMBER", "TLP:AMBER"]
    at.selectbox(key="ceiling_partner").set_value("AU")
    at.selectbox(key="ceiling_tlp").set_value("GREEN")
    at.button(key="ceiling_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert partners.ceiling(mixed.cursor(), "AU") == "GREEN"
    assert audit_rows(mixed, "set export ceiling")[-1][:2] == (ADMIN.email, "partner:AU")
    assert list(at.dataframe[-1].value["ceiling"]) == ["TLP:AMBER", "TLP:GREEN"]
    assert at.selectbox(key="ceiling_tlp").options == ["CLEAR", "GREEN", "AMBER"]


def test_the_data_page_shows_what_an_export_withholds(
    mixed: StoreBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted over what the person may see: the UK lead is named on the three RED records."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(mixed.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": UK_LEAD.email}
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    withheld = [c.value for c in at.caption if c.value.startswith("Withheld: ")]
    assert len(withheld) == 1
    assert withheld[0].startswith("Withheld: 3 TLP:RED")
    assert "1 TLP:AMBER+STRICT" in withheld[0] and "1 not releasable to AU" in withheld[0]
