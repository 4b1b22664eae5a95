"""STIX 2.1 export for a partner: exactly the releasable records, TLP 2.0, identities, ATLAS; and the round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stix2

from analytics.accounts import identity
from analytics.cli import main
from analytics.export.stix import build_bundle, export_for_partner, export_marking
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, JOINT_IDENTITY, TLP2_EXTENSION, TLP2_IDS
from analytics.store.database import Store
from tests.conftest import AU_ANALYST, UK_ANALYST, UK_LEAD

ROW_COLUMNS = (
    "id, title, summary, occurred_on, reported_on, originator, category, severity, actor_type, sectors, "
    "countries, affected_system, developer, status, tlp, releasable_to, named_recipients, source_reliability, "
    "credibility, tags, created_at, updated_at"
)


@pytest.fixture
def mixed(store):
    """One record per sharing rule."""
    s = store
    s.incident(
        id="SHARED-GREEN", tlp="GREEN", releasable_to=["AU", "UK"], techniques=["AML.T0051.000", "AML.T0024"]
    )
    s.incident(id="UK-ONLY", tlp="GREEN", releasable_to=["UK"])
    s.incident(id="UK-STRICT", tlp="AMBER+STRICT", releasable_to=["AU", "UK"])
    s.incident(
        id="AU-AMBER", originator="AU", tlp="AMBER", releasable_to=["AU", "UK"], summary="AU's own record"
    )
    s.incident(
        id="RED-FOR-AU",
        tlp="RED",
        releasable_to=["AU", "UK"],
        named_recipients=["lead@uk.example", "lead@au.example"],
    )
    s.incident(id="RED-UK-ONLY", tlp="RED", releasable_to=["AU", "UK"], named_recipients=["lead@uk.example"])
    s.incident(id="AU-STRICT", originator="AU", tlp="AMBER+STRICT", releasable_to=["AU"])
    return s


def incident_ids(export) -> list[str]:
    return sorted(o["x_ukau_id"] for o in export.bundle["objects"] if o["type"] == "incident")


def test_exactly_the_records_releasable_to_the_partner(mixed) -> None:
    con = mixed.cursor()
    # TLP:RED never goes in a bundle, named recipients or not (analytics/export/partners.py)
    assert incident_ids(build_bundle(con, None, "AU")) == ["AU-AMBER", "SHARED-GREEN"]
    assert incident_ids(build_bundle(con, None, "UK")) == ["AU-AMBER", "SHARED-GREEN", "UK-ONLY"]


def test_export_from_the_page_is_limited_to_what_the_viewer_sees(mixed) -> None:
    con = mixed.cursor()
    # the UK analyst is not a named recipient of either RED record
    assert incident_ids(build_bundle(con, UK_ANALYST, "AU")) == ["AU-AMBER", "SHARED-GREEN"]
    assert incident_ids(build_bundle(con, UK_LEAD, "AU")) == ["AU-AMBER", "SHARED-GREEN"]
    m = export_marking(con, UK_LEAD, "AU")
    assert (m.tlp, m.releasable_to, m.rows) == ("AMBER", ("AU", "UK"), 2)


def test_bundle_is_valid_stix_with_tlp2_identities_and_atlas(mixed) -> None:
    export = build_bundle(mixed.cursor(), None, "AU")
    parsed = stix2.parse(json.dumps(export.bundle), allow_custom=True)
    assert len(parsed.objects) == len(export.bundle["objects"])
    by_type: dict[str, list[dict]] = {}
    for o in export.bundle["objects"]:
        by_type.setdefault(o["type"], []).append(o)
    markings = {o["id"]: o for o in by_type["marking-definition"]}
    assert set(markings) == {TLP2_IDS["CLEAR"], TLP2_IDS["GREEN"], TLP2_IDS["AMBER"]}
    assert markings[TLP2_IDS["AMBER"]]["extensions"][TLP2_EXTENSION]["tlp_2_0"] == "amber"
    # both institutes, and the joint service that publishes the x_ukau extension-definition
    assert {o["id"] for o in by_type["identity"]} == {*INSTITUTE_IDENTITIES.values(), JOINT_IDENTITY}
    refs = sorted(
        (r["external_id"], r["source_name"])
        for o in by_type["attack-pattern"]
        for r in o["external_references"]
    )
    assert refs == [("AML.T0024", "mitre-atlas"), ("AML.T0051.000", "mitre-atlas")]
    incidents = {o["x_ukau_id"]: o for o in by_type["incident"]}
    assert incidents["AU-AMBER"]["created_by_ref"] == INSTITUTE_IDENTITIES["AU"]
    assert incidents["SHARED-GREEN"]["object_marking_refs"] == [TLP2_IDS["GREEN"]]
    assert "RED-FOR-AU" not in incidents  # TLP:RED goes to its named people one by one, never in a bundle
    assert len(by_type["relationship"]) == 2
    assert (export.marking.tlp, export.marking.releasable_to) == ("AMBER", ("AU", "UK"))
    assert export.file_name == "stix-for-AU_TLP-AMBER_REL-AU-UK.json"


def test_unknown_partner_is_refused(mixed) -> None:
    with pytest.raises(ValueError, match="unknown partner 'NZ'"):
        build_bundle(mixed.cursor(), None, "NZ")


def test_export_is_audited(mixed) -> None:
    export_for_partner(mixed.store, "AU", actor="", viewer=UK_LEAD)
    rows = (
        mixed.cursor()
        .execute("select email, action, object, detail from audit_log where action = 'export stix'")
        .fetchall()
    )
    assert len(rows) == 1 and rows[0][:3] == ("lead@uk.example", "export stix", "partner:AU")
    assert json.loads(rows[0][3])["incidents"] == 2


def _empty_store(path: Path) -> Store:
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    return s


def test_round_trip_into_an_empty_store_reproduces_every_record_and_marking(demo_store, tmp_path) -> None:
    for partner in ("AU", "UK"):
        export = build_bundle(demo_store.cursor(), None, partner)
        ids = incident_ids(export)
        assert len(ids) > 1000
        target = _empty_store(tmp_path / f"partner-{partner}.duckdb")
        report = import_stix_bytes(
            target, export.file_name, export.to_bytes(), actor="t", institute=None, tlp=None, releasable=None
        )
        assert (report.added, report.updated, report.unchanged, report.rejected) == (len(ids), 0, 0, 0)
        src = (
            demo_store.cursor()
            .execute(f"select {ROW_COLUMNS} from incidents where id = any(?) order by id", [ids])
            .fetchall()
        )
        dst = target.cursor().execute(f"select {ROW_COLUMNS} from incidents order by id").fetchall()
        assert dst == src
        src_t = (
            demo_store.cursor()
            .execute(
                "select incident_id, technique_id from incident_techniques where incident_id = any(?) order by all",
                [ids],
            )
            .fetchall()
        )
        assert (
            target.cursor()
            .execute("select incident_id, technique_id from incident_techniques order by all")
            .fetchall()
            == src_t
        )
        # sending the same bundle again changes nothing; exporting it back gives the same objects
        again = import_stix_bytes(
            target, "again.json", export.to_bytes(), actor="t", institute=None, tlp=None, releasable=None
        )
        assert (again.added, again.updated, again.unchanged) == (0, 0, len(ids))
        back = build_bundle(target.cursor(), None, partner)

        def comparable(bundle: dict) -> list[dict]:
            # the wrapper report and its summary notes are new in every export; the empty store has no ATLAS
            # names loaded, so its attack patterns (and the relationships to them) have ids of their own and
            # compare by technique
            skip = ("report", "attack-pattern")
            objects = [
                o
                for o in bundle["objects"]
                if o["type"] not in skip
                and "x_ukau_summary_of" not in o
                and o.get("relationship_type") != "related-to"
            ]
            return sorted(objects, key=lambda o: o["id"])

        def related(bundle: dict) -> set[tuple[str, str]]:
            ext = {
                o["id"]: o["external_references"][0]["external_id"]
                for o in bundle["objects"]
                if o["type"] == "attack-pattern"
            }
            return {
                (o["source_ref"], ext[o["target_ref"]])
                for o in bundle["objects"]
                if o.get("relationship_type") == "related-to"
            }

        assert related(back.bundle) == related(export.bundle)
        assert comparable(back.bundle) == comparable(export.bundle)
        target.close()


def test_cli_export_stix(mixed, tmp_path, capsys) -> None:
    db = mixed.store.path
    mixed.store.close()
    from analytics.store.database import close_all

    close_all()
    out = tmp_path / "for-au.json"
    assert main(["export-stix", "--for", "AU", "--out", str(out), "--db", str(db)]) == 0
    assert "2 incidents for AU, marked TLP:AMBER · releasable to AU and UK" in capsys.readouterr().out
    bundle = json.loads(out.read_text())
    assert sorted(o["x_ukau_id"] for o in bundle["objects"] if o["type"] == "incident") == [
        "AU-AMBER",
        "SHARED-GREEN",
    ]
    close_all()


def test_au_analyst_export_for_uk_never_contains_uk_strict(mixed) -> None:
    assert "UK-STRICT" not in incident_ids(build_bundle(mixed.cursor(), AU_ANALYST, "UK"))
    assert "AU-STRICT" not in incident_ids(build_bundle(mixed.cursor(), AU_ANALYST, "UK"))
