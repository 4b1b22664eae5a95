"""The export is standard STIX 2.1 that the partners' real tools read: the OASIS validator finds no error and only
the warnings docs/exchange.md documents; custom properties are declared by a published extension-definition;
relationships use the spec's types; the bundle is wrapped in a report; MISP's own importer (misp-stix) turns it
into one event that holds every incident."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from misp_stix_converter import ExternalSTIX2toMISPParser
from stix2validator import ValidationOptions, validate_string

from analytics.demo.generator import build_demo
from analytics.export.stix import DOCUMENTED_VALIDATOR_WARNINGS, UKAU_EXTENSION, build_bundle
from analytics.ingest.atlas import import_atlas
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.store.database import Store
from tests.analytics.export.test_stix_round_trip import source, source_db  # noqa: F401  (fixtures)
from tests.analytics.ingest.test_stix_import import misp_like_bundle
from tests.analytics.ingest.test_stix_misp import misp_bundle
from tests.conftest import SHARED_DATA

DOCS = Path(__file__).resolve().parents[3] / "docs" / "exchange.md"


@pytest.fixture
def exported(source) -> dict[str, Any]:  # noqa: F811
    return build_bundle(source.cursor(), None, "AU").bundle


def by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in bundle["objects"]:
        out.setdefault(o["type"], []).append(o)
    return out


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of record, few of each: the validator takes about 6 ms an object on this machine."""
    path = tmp_path_factory.mktemp("stix-std") / "small.duckdb"
    s = Store(path)
    build_demo(s, incidents=40, seed=3)
    import_atlas(s, SHARED_DATA / "atlas" / "ATLAS.yaml")
    for name, data in (
        ("misp-like.json", misp_like_bundle()[0]),
        ("misp-event.json", json.dumps(misp_bundle(published=True)).encode()),
    ):
        import_stix_bytes(
            s, name, data, actor="importer@au.example", institute="AU", tlp=None, releasable=["UK", "AU"]
        )
    s.close()
    return path


def test_validator_finds_no_errors_and_only_documented_warnings(small_db) -> None:
    s = Store(small_db)
    try:
        bundle = build_bundle(s.cursor(), None, "UK").bundle
    finally:
        s.close()
    sources = {o.get("x_ukau_source") for o in bundle["objects"] if o["type"] == "incident"}
    assert {"atlas", "institute", "stix"} <= sources
    result = validate_string(json.dumps(bundle), ValidationOptions(version="2.1"))
    assert [str(e) for e in result.errors] == []
    assert result.is_valid
    codes = Counter(re.search(r"\{(\d+)\}", str(w)).group(1) for w in result.warnings)  # type: ignore[union-attr]
    assert set(codes) <= set(DOCUMENTED_VALIDATOR_WARNINGS), [str(w) for w in result.warnings][:5]
    docs = DOCS.read_text()
    for code in DOCUMENTED_VALIDATOR_WARNINGS:
        assert f"{{{code}}}" in docs, f"validator warning {code} is not documented in docs/exchange.md"


def test_custom_properties_are_declared_by_the_extension_definition(exported) -> None:
    types = by_type(exported)
    (definition,) = types["extension-definition"]
    assert definition["id"] == UKAU_EXTENSION
    assert definition["extension_types"] == ["toplevel-property-extension"]
    declared = set(definition["extension_properties"])
    for o in exported["objects"]:
        custom = {k for k in o if k.startswith("x_")}
        if custom:
            assert custom <= declared, (o["id"], custom - declared)
            assert o["extensions"][UKAU_EXTENSION] == {"extension_type": "toplevel-property-extension"}


def test_relationships_use_the_specs_types(exported) -> None:
    kinds = Counter(
        (r["source_ref"].split("--")[0], r["relationship_type"], r["target_ref"].split("--")[0])
        for r in by_type(exported)["relationship"]
    )
    assert ("incident", "related-to", "attack-pattern") in kinds
    assert {k[1] for k in kinds} <= {"related-to", "derived-from"}


def test_the_export_is_wrapped_in_a_report_referring_to_every_object(exported) -> None:
    (report,) = by_type(exported)["report"]
    refs = set(report["object_refs"])
    others = {o["id"] for o in exported["objects"] if o["id"] != report["id"]}
    assert others <= refs
    assert report["x_ukau_export_for"] == "AU"


def test_misp_stix_loads_every_incident_into_one_event(exported) -> None:
    incidents = {o["id"]: o for o in by_type(exported)["incident"]}
    parser = ExternalSTIX2toMISPParser()
    import stix2

    parser.load_stix_bundle(stix2.parse(json.dumps(exported), allow_custom=True))
    parser.parse_stix_bundle(single_event=True)
    event = parser.misp_event
    # the only complaints are the incident objects misp-stix does not load (hence the summary notes)
    complaints = {e for errors in parser.errors.values() for e in errors}
    assert complaints <= {
        "Unable to load STIX object type: incident",
        "Unknown STIX object type: incident",
    }, complaints
    assert event.info.startswith("UK AI Security Institute")
    notes = [n for n in event.notes]
    titles = Counter(n.comment for n in notes)
    assert len(notes) == len(incidents)
    assert titles == Counter(o["name"] for o in incidents.values())
    # every ATLAS technique lands as a galaxy cluster of the event
    techniques = {
        r["external_id"] for o in by_type(exported)["attack-pattern"] for r in o["external_references"]
    }
    clusters = {c.value for g in event.galaxies for c in g.clusters}
    assert len(clusters) == len(techniques)
