"""STIX 2.1 import: bundles written with the stix2 library, markings, refusals with reasons, versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import stix2

from analytics.ingest import ImportRefused
from analytics.ingest.history import undo_batch
from analytics.ingest.stix.check import check_bundle
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, TLP2_CREATED, TLP2_EXTENSION, TLP2_IDS
from tests.conftest import AU_ANALYST, UK_POLICY

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 3, 9, 0, 0, tzinfo=UTC)


def tlp2(level: str) -> Any:
    return stix2.parse(
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": TLP2_IDS[level],
            "created": TLP2_CREATED,
            "name": f"TLP:{level}",
            "extensions": {
                TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level.lower()}
            },
        },
        allow_custom=True,
    )


def institute(inst: str) -> Any:
    return stix2.Identity(
        id=INSTITUTE_IDENTITIES[inst],
        name={"UK": "UK AI Security Institute", "AU": "Australian AI Safety Institute"}[inst],
        identity_class="organization",
        created=T0,
        modified=T0,
    )


def atlas(tid: str, name: str) -> Any:
    return stix2.AttackPattern(
        name=name,
        created=T0,
        modified=T0,
        external_references=[
            {
                "source_name": "mitre-atlas",
                "external_id": tid,
                "url": f"https://atlas.mitre.org/techniques/{tid}",
            }
        ],
    )


def bundle_bytes(*objects: Any) -> bytes:
    return stix2.Bundle(objects=list(objects), allow_custom=True).serialize().encode()


def load(store: Any, data: bytes, **kw: Any) -> Any:
    kw.setdefault("actor", "importer@au.example")
    kw.setdefault("institute", "AU")
    kw.setdefault("tlp", None)
    kw.setdefault("releasable", ["UK", "AU"])
    return import_stix_bytes(store.store, "partner.json", data, **kw)


def state(store: Any) -> tuple[int, ...]:
    return tuple(
        store.cursor()
        .execute(
            "select (select count(*) from incidents), (select count(*) from incident_techniques), "
            "(select count(*) from stix_records), (select count(*) from incident_notes), "
            "(select count(*) from import_batches), (select count(*) from record_history), "
            "(select count(*) from audit_log)"
        )
        .fetchall()[0]
    )


def misp_like_bundle() -> tuple[bytes, dict[str, Any]]:
    """What a CERT's MISP or OpenCTI sends: its own identity, TLP 1.0 markings, an incident, a report."""
    cert = stix2.Identity(name="CERT Partner", identity_class="organization", created=T0, modified=T0)
    injection = atlas("AML.T0051.000", "LLM Prompt Injection: Direct")
    exfil = atlas("AML.T0024", "Exfiltration via AI Inference API")
    unrelated = stix2.AttackPattern(name="Phishing", created=T0, modified=T0)  # no ATLAS reference
    incident = stix2.Incident(
        name="Prompt injection against a bank's support agent",
        description="Customer data exfiltrated through the assistant's tool calls.",
        created=T0,
        modified=T0,
        created_by_ref=cert.id,
        labels=["prompt-injection", "finance"],
        object_marking_refs=[stix2.TLP_AMBER],
        allow_custom=True,
        x_ukau_sectors=["finance"],
        x_ukau_severity=4,
        first_seen="2026-02-20T00:00:00Z",
    )
    uses = stix2.Relationship(incident, "uses", injection, created=T0, modified=T0)
    uses2 = stix2.Relationship(incident, "uses", exfil, created=T0, modified=T0)
    event = stix2.Report(
        name="Deepfake CEO voice fraud wave",
        published=T1,
        created=T0,
        modified=T0,
        report_types=["threat-report"],
        labels=["deepfake fraud"],
        object_refs=[cert.id, exfil.id],
        created_by_ref=cert.id,
        object_marking_refs=[stix2.TLP_WHITE],
    )
    note = stix2.Note(
        content="Bank confirmed the tool was disabled within 2 hours.",
        abstract="Containment",
        authors=["CERT duty officer"],
        object_refs=[incident.id],
        created=T1,
        modified=T1,
        object_marking_refs=[stix2.TLP_AMBER],
    )
    objects = [
        stix2.TLP_AMBER,
        stix2.TLP_WHITE,
        cert,
        injection,
        exfil,
        unrelated,
        incident,
        uses,
        uses2,
        event,
        note,
    ]
    return bundle_bytes(*objects), {"incident": incident, "event": event, "note": note}


def test_misp_like_bundle_becomes_incidents_with_techniques(store) -> None:
    data, objs = misp_like_bundle()
    report = load(store, data)
    assert (report.added, report.updated, report.unchanged, report.rejected) == (2, 0, 0, 0)
    assert "1 attack pattern without an ATLAS reference: not used" in report.warnings
    # records get ids in the importer's namespace
    inc_id = f"AU-STIX-{objs['incident'].id.split('--')[1]}"
    ev_id = f"AU-STIX-{objs['event'].id.split('--')[1]}"
    rows = {
        r[0]: r[1:]
        for r in store.cursor()
        .execute(
            "select id, title, originator, category, severity, occurred_on, reported_on, sectors, tlp, releasable_to, "
            "tags, source from incidents"
        )
        .fetchall()
    }
    assert rows[inc_id] == (
        "Prompt injection against a bank's support agent",
        "AU",  # created by someone else: the importing institute is the originator
        "Prompt injection",  # from the label
        4,
        date(2026, 2, 20),  # first_seen
        None,  # no `published`: not reported when the object was created, absent stays absent
        ["finance"],
        "AMBER",  # TLP 1.0 AMBER
        ["AU", "UK"],
        ["prompt-injection", "finance"],
        "stix",
    )
    assert rows[ev_id][1:5] == ("AU", "Deepfake fraud", 3, date(2026, 3, 2))
    assert rows[ev_id][7] == "CLEAR"  # TLP 1.0 WHITE becomes CLEAR
    techs = (
        store.cursor()
        .execute("select incident_id, technique_id from incident_techniques order by all")
        .fetchall()
    )
    assert techs == sorted([(inc_id, "AML.T0024"), (inc_id, "AML.T0051.000"), (ev_id, "AML.T0024")])
    notes = (
        store.cursor().execute("select incident_id, author, abstract, content from incident_notes").fetchall()
    )
    assert notes == [
        (inc_id, "CERT duty officer", "Containment", "Bank confirmed the tool was disabled within 2 hours.")
    ]
    batch = (
        store.cursor().execute("select kind, imported_by, institute, added from import_batches").fetchall()
    )
    assert batch == [("stix", "importer@au.example", "AU", 2)]
    assert "1 incident without a severity: set to 3 (moderate)" in report.warnings


def test_tlp2_markings_are_kept_and_the_default_only_raises(store) -> None:
    strict = tlp2("AMBER+STRICT")
    green = tlp2("GREEN")
    a = stix2.Incident(
        name="Strict one",
        created=T0,
        modified=T0,
        object_marking_refs=[strict.id],
        labels=["jailbreak"],
        created_by_ref=INSTITUTE_IDENTITIES["UK"],
    )
    b = stix2.Incident(
        name="Green one",
        created=T0,
        modified=T0,
        object_marking_refs=[green.id],
        labels=["jailbreak"],
        created_by_ref=INSTITUTE_IDENTITIES["UK"],
    )
    c = stix2.Incident(
        name="Unmarked",
        created=T0,
        modified=T0,
        labels=["jailbreak"],
        created_by_ref=INSTITUTE_IDENTITIES["UK"],
    )
    load(
        store,
        bundle_bytes(strict, green, institute("UK"), a, b, c),
        tlp="AMBER",
        releasable=["UK"],
        institute="UK",
    )
    got = dict(store.cursor().execute("select title, tlp from incidents").fetchall())
    assert got == {"Strict one": "AMBER+STRICT", "Green one": "AMBER", "Unmarked": "AMBER"}
    rel = [r[0] for r in store.cursor().execute("select releasable_to from incidents").fetchall()]
    assert rel == [["UK"], ["UK"], ["UK"]]


# -- refusals -------------------------------------------------------------------------------------------------


def _incident(**kw: Any) -> dict[str, Any]:
    obj = {
        "type": "incident",
        "spec_version": "2.1",
        "id": "incident--1d6c7c5e-5a2f-4c3b-9f2e-0c9f0d7e4a11",
        "created": "2026-03-01T09:00:00.000Z",
        "modified": "2026-03-01T09:00:00.000Z",
        "name": "x",
        "labels": ["jailbreak"],
        "object_marking_refs": [TLP2_IDS["GREEN"]],
    }
    obj.update(kw)
    return obj


def raw_bundle(*objects: dict[str, Any]) -> bytes:
    return json.dumps(
        {"type": "bundle", "id": "bundle--5f0e7a44-1c2b-4e7d-8a9b-3c4d5e6f7a8b", "objects": list(objects)}
    ).encode()


REFUSALS = [
    (
        [_incident(id="incident--123")],
        "not a valid STIX identifier, must match <object-type>--<UUID>: incident--123",
    ),
    ([_incident(created="2026-13-45T00:00:00Z")], "Invalid value for Incident 'created'"),
    (
        [_incident(created="2026-03-02T09:00:00.000Z")],
        "modified 2026-03-01 09:00:00+00:00 is earlier than created 2026-03-02 09:00:00+00:00",
    ),
    (
        [_incident(object_marking_refs=["marking-definition--00000000-0000-4000-8000-000000000001"])],
        "object_marking_refs names an unknown marking definition marking-definition--00000000-0000-4000-8000-000000000001",
    ),
    (
        [
            {
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--00000000-0000-4000-8000-000000000002",
                "created": "2026-01-01T00:00:00.000Z",
                "definition_type": "statement",
                "definition": {"statement": "Copyright Partner"},
            },
            _incident(object_marking_refs=["marking-definition--00000000-0000-4000-8000-000000000002"]),
        ],
        "unknown marking definition (statement)",
    ),
    (
        [_incident(created_by_ref="identity--00000000-0000-4000-8000-000000000003")],
        "created_by_ref refers to identity--00000000-0000-4000-8000-000000000003, which is not in the bundle",
    ),
    (
        [
            _incident(),
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": "relationship--00000000-0000-4000-8000-000000000004",
                "created": "2026-03-01T09:00:00.000Z",
                "modified": "2026-03-01T09:00:00.000Z",
                "relationship_type": "uses",
                "source_ref": "incident--1d6c7c5e-5a2f-4c3b-9f2e-0c9f0d7e4a11",
                "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000005",
            },
        ],
        "target_ref refers to attack-pattern--00000000-0000-4000-8000-000000000005, which is not in the bundle",
    ),
    ([_incident(name=None)], "No values for required properties for Incident: (name)"),
    ([_incident(labels=["weather"])], "no category"),
    ([_incident(object_marking_refs=[TLP2_IDS["RED"]])], "TLP:RED needs named recipients"),
    ([_incident(x_ukau_severity=7)], "severity: 7 is not a severity (1 to 5)"),
]


@pytest.mark.parametrize(("objects", "reason"), REFUSALS)
def test_bad_bundles_are_refused_with_reasons_and_nothing_written(store, objects, reason: str) -> None:
    objects = [{k: v for k, v in o.items() if v is not None} for o in objects]
    before = state(store)
    with pytest.raises(ImportRefused) as e:
        load(store, raw_bundle(*objects))
    assert reason in str(e.value)
    assert str(e.value).startswith("partner.json: refused")
    assert state(store) == before


def test_no_marking_and_no_default_is_refused(store) -> None:
    with pytest.raises(ImportRefused, match="no TLP marking on the object and no default TLP chosen"):
        load(store, raw_bundle(_incident(object_marking_refs=None) | {"object_marking_refs": []}))


def test_outside_objects_need_an_originating_institute(store) -> None:
    with pytest.raises(ImportRefused, match="no originating institute was chosen"):
        load(store, raw_bundle(_incident()), institute=None)


def test_not_a_bundle() -> None:
    with pytest.raises(ImportRefused, match="not a STIX bundle"):
        check_bundle("x.json", b'{"type": "incident"}')
    with pytest.raises(ImportRefused, match="not a JSON document"):
        check_bundle("x.json", b"\xff\xfe garbage")


def test_unsupported_types_are_ignored_with_a_warning(store) -> None:
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-000000000006",
        "created": "2026-03-01T09:00:00.000Z",
        "modified": "2026-03-01T09:00:00.000Z",
        "pattern": "[url:value = 'http://x.example']",
        "pattern_type": "stix",
        "valid_from": "2026-03-01T09:00:00Z",
    }
    report = load(store, raw_bundle(_incident(), indicator))
    assert report.added == 1
    assert "ignored 1 object of types not stored here: indicator (1)" in report.warnings


# -- versions -------------------------------------------------------------------------------------------------


def _version(modified: datetime, *, name: str, marking: Any, author: str = "UK", severity: int = 3) -> Any:
    return stix2.Incident(
        id="incident--6a1f0b8e-2b7d-4c51-8f0a-8d1c2f3e4b5a",
        name=name,
        created=T0,
        modified=modified,
        created_by_ref=INSTITUTE_IDENTITIES[author],
        labels=["model theft"],
        object_marking_refs=[marking.id],
        allow_custom=True,
        x_ukau_id="UK-2026-0000042",
        x_ukau_severity=severity,
        x_ukau_releasable_to=["AU", "UK"],
    )


def test_same_id_and_modified_is_no_change_newer_is_an_update_with_history(store) -> None:
    amber = tlp2("AMBER")
    first = bundle_bytes(amber, institute("UK"), _version(T0, name="Weights stolen", marking=amber))
    r1 = load(store, first, institute="UK")
    assert r1.added == 1
    before = state(store)
    r2 = load(store, first, institute="UK")
    assert (r2.added, r2.updated, r2.unchanged) == (0, 0, 1)
    assert state(store)[:4] == before[:4]  # no record, technique, STIX or note rows changed

    newer = bundle_bytes(
        amber, institute("UK"), _version(T2, name="Weights stolen and sold", marking=amber, severity=5)
    )
    r3 = load(store, newer, institute="UK")
    assert (r3.added, r3.updated, r3.unchanged) == (0, 1, 0)
    row = store.cursor().execute("select title, severity, originator, updated_at from incidents").fetchall()
    assert row == [("Weights stolen and sold", 5, "UK", datetime(2026, 3, 3, 9, 0))]
    hist = store.cursor().execute("select record_id, batch_id, previous from record_history").fetchall()
    assert len(hist) == 1 and hist[0][0] == "UK-2026-0000042" and hist[0][1] == r3.batch_id
    assert json.loads(hist[0][2])["row"]["title"] == "Weights stolen"

    # an older version arriving late changes nothing
    middle = bundle_bytes(amber, institute("UK"), _version(T1, name="Middle", marking=amber))
    r4 = load(store, middle, institute="UK")
    assert (r4.updated, r4.unchanged) == (0, 1)
    assert any("older version" in w for w in r4.warnings)

    # undoing the update restores the first version exactly
    undo_batch(store.store, r3.batch_id, actor="lead@uk.example")
    row = store.cursor().execute("select title, severity, updated_at from incidents").fetchall()
    assert row == [("Weights stolen", 3, datetime(2026, 3, 1, 9, 0))]
    again = load(store, first, institute="UK")
    assert again.unchanged == 1


def test_an_update_never_lowers_the_marking(store) -> None:
    amber, green = tlp2("AMBER"), tlp2("GREEN")
    load(store, bundle_bytes(amber, institute("UK"), _version(T0, name="v1", marking=amber)), institute="UK")
    report = load(
        store, bundle_bytes(green, institute("UK"), _version(T1, name="v2", marking=green)), institute="UK"
    )
    assert report.updated == 1
    assert store.cursor().execute("select title, tlp from incidents").fetchall() == [("v2", "AMBER")]
    assert any("kept TLP:AMBER" in w for w in report.warnings)


def test_a_record_from_the_other_institute_is_never_overwritten(store) -> None:
    amber = tlp2("AMBER")
    load(
        store,
        bundle_bytes(amber, institute("UK"), _version(T0, name="UK's record", marking=amber)),
        institute="UK",
    )
    before = state(store)
    hijack = bundle_bytes(
        amber, institute("AU"), _version(T1, name="AU's rewrite", marking=amber, author="AU")
    )
    with pytest.raises(ImportRefused) as e:
        load(store, hijack, institute="AU")
    assert "incident--6a1f0b8e-2b7d-4c51-8f0a-8d1c2f3e4b5a" in str(e.value)
    assert "may only change records of AU" in str(e.value)
    assert state(store) == before
    assert store.cursor().execute("select title, originator from incidents").fetchall() == [
        ("UK's record", "UK")
    ]


def test_page_import_takes_the_viewer(store) -> None:
    data, _ = misp_like_bundle()
    with pytest.raises(PermissionError):
        import_stix_bytes(
            store.store,
            "p.json",
            data,
            actor="",
            institute=None,
            tlp=None,
            releasable=["AU"],
            viewer=UK_POLICY,
        )
    report = import_stix_bytes(
        store.store, "p.json", data, actor="", institute=None, tlp=None, releasable=["AU"], viewer=AU_ANALYST
    )
    assert report.added == 2
    assert store.cursor().execute(
        "select distinct originator, imported_by from incidents, import_batches"
    ).fetchall() == [("AU", "analyst@au.example")]


def test_records_the_importer_may_not_see_behave_as_missing(store) -> None:
    """A bundle touching a record hidden from the person importing reveals nothing about it and changes nothing:
    its STIX id and x_ukau_id are treated as free, and the importer's record gets an id of its own namespace."""
    amber = tlp2("AMBER")
    # a UK record, AMBER+STRICT: invisible to AU staff
    load(
        store,
        bundle_bytes(
            tlp2("AMBER+STRICT"),
            institute("UK"),
            _version(T0, name="UK strict", marking=tlp2("AMBER+STRICT")),
        ),
        institute="UK",
    )
    newer = bundle_bytes(amber, _version(T1, name="rewritten", marking=amber, author="AU"))
    report = import_stix_bytes(
        store.store, "p.json", newer, actor="", institute=None, tlp=None, releasable=None, viewer=AU_ANALYST
    )
    assert (report.added, report.updated, report.rejected, report.warnings) == (1, 0, 0, [])
    assert store.cursor().execute(
        "select id, title, tlp, originator from incidents order by id"
    ).fetchall() == [
        ("AU-UK-2026-0000042", "rewritten", "AMBER", "AU"),
        ("UK-2026-0000042", "UK strict", "AMBER+STRICT", "UK"),
    ]
    # the same bundle again is no change, exactly as for a STIX id nobody held
    again = import_stix_bytes(
        store.store, "p.json", newer, actor="", institute=None, tlp=None, releasable=None, viewer=AU_ANALYST
    )
    assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, 1, 0)
    # a note about the hidden record is refused exactly as one about a record that does not exist
    note = stix2.Note(
        content="x",
        object_refs=["incident--6a1f0b8e-2b7d-4c51-8f0a-8d1c2f3e4b5a"],
        created=T1,
        modified=T1,
        object_marking_refs=[amber.id],
    )
    other = stix2.Note(
        content="x",
        object_refs=["incident--00000000-0000-4000-8000-00000000beef"],
        created=T1,
        modified=T1,
        object_marking_refs=[amber.id],
    )
    messages = []
    for n in (note, other):
        with pytest.raises(ImportRefused) as e:
            import_stix_bytes(
                store.store,
                "p.json",
                bundle_bytes(amber, n),
                actor="",
                institute=None,
                tlp=None,
                releasable=None,
                viewer=AU_ANALYST,
            )
        messages.append(str(e.value).replace(n.id, "NOTE").replace(n.object_refs[0], "REF"))
    assert messages[0] == messages[1]
    assert "refers to REF, which is not in the bundle" in messages[0]
