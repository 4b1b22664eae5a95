"""The round trip, on a store like the one `make run` builds: demo incidents, the real ATLAS case studies and AIID
incidents and AVID reports (public, credited), and what MISP sent. Its export imports into a fresh store with nothing refused and
nothing changed (every column of every record, techniques, notes), absent stays absent, provenance survives,
public data is created by its public source, and third-party objects keep their identity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.accounts import identity
from analytics.demo.generator import build_demo
from analytics.export.stix import build_bundle, tlp_marking_definition
from analytics.ingest import ImportRefused
from analytics.ingest.aiid import import_aiid
from analytics.ingest.atlas import import_atlas
from analytics.ingest.avid import import_avid
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.records import INCIDENT_COLUMNS
from analytics.sources import PUBLIC_SOURCE_KEYS
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, TLP2_IDS, public_source_identity
from analytics.store.database import Store
from tests.analytics.ingest.test_stix_import import misp_like_bundle
from tests.analytics.ingest.test_stix_misp import misp_bundle
from tests.conftest import SHARED_DATA

# What MISP sent (ids are random: made once, so the test knows them).
MISP_BUNDLES: dict[str, bytes] = {
    "misp-like.json": misp_like_bundle()[0],
    "misp-event.json": json.dumps(misp_bundle(published=True)).encode(),
}
# Every column but the batch that wrote the row (a fresh store has batches of its own) and the internal key
# (migration 016: each store numbers its own incidents; the key never travels).
COMPARED = tuple(c for c in INCIDENT_COLUMNS if c not in ("import_batch", "incident_key"))


@pytest.fixture(scope="module")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("stix-rt") / "source.duckdb"
    s = Store(path)
    build_demo(s, incidents=400, seed=11)
    import_atlas(s, SHARED_DATA / "atlas" / "ATLAS.yaml")
    import_aiid(s, SHARED_DATA / "aiid")
    import_avid(s, SHARED_DATA / "avid")
    for name, data in MISP_BUNDLES.items():
        import_stix_bytes(
            s, name, data, actor="importer@au.example", institute="AU", tlp=None, releasable=["UK", "AU"]
        )
    s.close()
    yield path


@pytest.fixture
def source(source_db: Path) -> Iterator[Store]:
    s = Store(source_db)
    yield s
    s.close()


def fresh(path: Path) -> Store:
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    return s


def rows(store: Store, ids: list[str] | None = None) -> list[tuple[Any, ...]]:
    where = "where id = any($ids)" if ids is not None else ""
    return (
        store.cursor()
        .execute(
            f"select {', '.join(COMPARED)} from incidents {where} order by id", {"ids": ids} if ids else {}
        )
        .fetchall()
    )


def exported_ids(bundle: dict[str, Any]) -> list[str]:
    return sorted(o["x_ukau_id"] for o in bundle["objects"] if o["type"] == "incident")


def import_operator(store: Store, data: bytes, name: str = "partner.json") -> Any:
    return import_stix_bytes(store, name, data, actor="t", institute=None, tlp=None, releasable=None)


@pytest.mark.parametrize("partner", ["AU", "UK"])
def test_export_imports_into_a_fresh_store_with_nothing_refused_or_changed(source, tmp_path, partner) -> None:
    export = build_bundle(source.cursor(), None, partner)
    ids = exported_ids(export.bundle)
    kinds = {
        r[0]
        for r in source.cursor()
        .execute("select distinct source from incidents where id = any(?)", [ids])
        .fetchall()
    }
    assert {"atlas", "aiid", "avid", "institute", "stix"} <= kinds  # every kind of record is in the test
    target = fresh(tmp_path / "target.duckdb")
    report = import_operator(target, export.to_bytes())
    assert (report.added, report.updated, report.unchanged, report.rejected) == (len(ids), 0, 0, 0)
    src, dst = rows(source, ids), rows(target)
    assert len(dst) == len(src)
    for a, b in zip(src, dst, strict=True):
        assert dict(zip(COMPARED, b, strict=True)) == dict(zip(COMPARED, a, strict=True))
    q_t = "select incident_id, technique_id from incident_techniques where incident_id = any(?) order by all"
    assert target.cursor().execute(q_t, [ids]).fetchall() == source.cursor().execute(q_t, [ids]).fetchall()
    q_n = (
        "select incident_id, author, abstract, content, created from incident_notes "
        "where incident_id = any(?) order by all"
    )
    src_notes = source.cursor().execute(q_n, [ids]).fetchall()
    assert src_notes and target.cursor().execute(q_n, [ids]).fetchall() == src_notes
    again = import_operator(target, export.to_bytes(), "again.json")
    assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, len(ids), 0)


def test_absent_stays_absent_and_provenance_survives(source, tmp_path) -> None:
    export = build_bundle(source.cursor(), None, "AU")
    target = fresh(tmp_path / "target.duckdb")
    import_operator(target, export.to_bytes())
    counts = (
        target.cursor()
        .execute(
            "select source, originator, count(*) filter (where reported_on is null), "
            "count(*) filter (where status is null), count(*) filter (where category = 'Unmapped') "
            "from incidents where source in ('atlas', 'aiid') group by all order by 1"
        )
        .fetchall()
    )
    assert [c[:2] for c in counts] == [("aiid", "PUBLIC"), ("atlas", "PUBLIC")]
    src = (
        source.cursor()
        .execute(
            "select source, originator, count(*) filter (where reported_on is null), "
            "count(*) filter (where status is null), count(*) filter (where category = 'Unmapped') "
            "from incidents where source in ('atlas', 'aiid') group by all order by 1"
        )
        .fetchall()
    )
    assert counts == src
    # no reported date and no status invented, Unmapped kept
    assert all(c[2] > 0 and c[3] > 0 for c in counts) and all(c[4] > 0 for c in counts if c[0] != "avid")


def test_public_data_is_created_by_its_public_source(source) -> None:
    export = build_bundle(source.cursor(), None, "AU")
    objects = {o["id"]: o for o in export.bundle["objects"]}
    by_source: dict[str, set[str]] = {}
    for o in objects.values():
        if o["type"] == "incident":
            by_source.setdefault(o["x_ukau_source"], set()).add(o["created_by_ref"])
    for key in ("atlas", "aiid", "avid"):
        assert by_source[key] == {public_source_identity(key)}
        creator = objects[public_source_identity(key)]
        assert creator["type"] == "identity" and creator["x_ukau_source"] == key
    assert by_source["institute"] <= set(INSTITUTE_IDENTITIES.values())
    assert set(by_source) - {"institute", "stix"} <= PUBLIC_SOURCE_KEYS


def test_third_party_objects_keep_their_identity(source, tmp_path) -> None:
    """What MISP sent is never re-exported as a different version under MISP's id: our record is our own
    incident, `derived-from` MISP's object."""
    originals = {}
    for data in MISP_BUNDLES.values():
        for o in json.loads(data)["objects"]:
            originals[o["id"]] = o
    export = build_bundle(source.cursor(), None, "UK")
    out = {o["id"]: o for o in export.bundle["objects"]}
    for oid, obj in out.items():
        if oid in originals and obj["type"] not in ("marking-definition",):
            pytest.fail(f"{oid} re-exported under the id {originals[oid].get('type')} from MISP had")
    derived = [
        o for o in out.values() if o["type"] == "relationship" and o["relationship_type"] == "derived-from"
    ]
    targets = {o["target_ref"] for o in derived}
    misp_records = {
        oid for oid, o in originals.items() if o["type"] in ("incident", "report", "grouping", "note")
    }
    assert misp_records <= targets
    assert all(out[o["source_ref"]]["created_by_ref"] == INSTITUTE_IDENTITIES["AU"] for o in derived)


def test_an_export_of_the_imported_store_repeats_the_same_objects(source, tmp_path) -> None:
    first = build_bundle(source.cursor(), None, "AU")
    target = fresh(tmp_path / "target.duckdb")
    import_operator(target, first.to_bytes())
    second = build_bundle(target.cursor(), None, "AU")
    a = {o["id"]: o for o in first.bundle["objects"] if o["type"] not in ("report",)}
    b = {o["id"]: o for o in second.bundle["objects"] if o["type"] not in ("report",)}
    kept = ("incident", "identity", "extension-definition", "marking-definition")
    assert {oid for oid, o in a.items() if o["type"] in kept} == {
        oid for oid, o in b.items() if o["type"] in kept
    }
    notes_a = {oid for oid, o in a.items() if o["type"] == "note" and "x_ukau_summary_of" not in o}
    assert notes_a and notes_a == {
        oid for oid, o in b.items() if o["type"] == "note" and "x_ukau_summary_of" not in o
    }
    # one id, one content: never two versions of an object (the fresh store has no ATLAS taxonomy, so its
    # attack patterns are named by technique id, under ids of their own)
    for oid in set(a) & set(b):
        assert a[oid] == b[oid], oid


def test_public_data_marked_red_or_claimed_by_another_source_is_refused(source, tmp_path) -> None:
    bundle = build_bundle(source.cursor(), None, "AU").bundle
    public = next(o for o in bundle["objects"] if o["type"] == "incident" and o["x_ukau_source"] == "atlas")
    target = fresh(tmp_path / "target.duckdb")
    public["object_marking_refs"] = [TLP2_IDS["RED"]]
    public["x_ukau_named_recipients"] = ["lead@au.example"]
    bundle["objects"].append(tlp_marking_definition("RED"))
    with pytest.raises(ImportRefused, match="public data is never TLP:RED"):
        import_operator(target, json.dumps(bundle).encode())
    public["object_marking_refs"] = [TLP2_IDS["CLEAR"]]
    public["x_ukau_source"] = "aiid"  # not the source that created it
    with pytest.raises(ImportRefused, match="is not the public source that created it"):
        import_operator(target, json.dumps(bundle).encode())
    assert target.cursor().execute("select count(*) from incidents").fetchone() == (0,)


def test_the_misp_event_sent_again_directly_finds_the_record_it_became(source, tmp_path) -> None:
    """The receiving store records the third-party ids an incident was derived from, so MISP's own bundle arriving
    there later is the same record (no change), not a duplicate."""
    target = fresh(tmp_path / "target.duckdb")
    import_operator(target, build_bundle(source.cursor(), None, "UK").to_bytes())
    before = target.cursor().execute("select count(*) from incidents").fetchone()
    misp_ids = {
        o["id"]
        for data in MISP_BUNDLES.values()
        for o in json.loads(data)["objects"]
        if o["type"] in ("incident", "report", "grouping")
    }
    held = dict(target.cursor().execute("select stix_id, record_id from stix_records").fetchall())
    in_source = dict(source.cursor().execute("select stix_id, record_id from stix_records").fetchall())
    assert {i: held.get(i) for i in misp_ids} == {i: in_source[i] for i in misp_ids}
    for name, data in MISP_BUNDLES.items():
        report = import_stix_bytes(
            target, name, data, actor="importer@au.example", institute="AU", tlp=None, releasable=["UK", "AU"]
        )
        assert (report.added, report.updated) == (0, 0), name
        assert report.unchanged == 2 if name == "misp-like.json" else report.unchanged == 1
    assert target.cursor().execute("select count(*) from incidents").fetchone() == before
