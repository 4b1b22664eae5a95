"""Issue 22 finding 1: origin is who imports, never a column or a claim in the file.

An AU analyst must not be able to create a record that says it was reported by the UK (CSV/JSON `originator`,
evaluation `institute`, STIX `created_by_ref`), nor change a UK record through a bundle that names it. A claim
that contradicts the importer's institute is refused, naming the row or object; nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest

from analytics.ingest import ImportRefused
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.ingest.tabular.commit import commit
from analytics.ingest.tabular.mapping import auto_mapping, detect_target
from analytics.ingest.tabular.read import read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.stix_vocabulary import (
    INSTITUTE_IDENTITIES,
    TLP2_CREATED,
    TLP2_EXTENSION,
    TLP2_IDS,
    record_stix_id,
)
from tests.conftest import AU_ANALYST, UK_ANALYST
from tests.security.canary import plant_canaries


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _page_import(store: Any, name: str, data: bytes, viewer: Any) -> Any:
    """What the Data page does: validate with the viewer's institute, then commit as the viewer."""
    tf = read_tabular(name, data)
    target = detect_target(tf.columns)
    plan = validate(
        store.cursor(),
        tf,
        target=target,
        mapping=auto_mapping(tf.columns, target),
        institute=viewer.institute,
        tlp=None,
        releasable=None,
        viewer=viewer,
    )
    return commit(store.store, plan, actor=viewer.email, viewer=viewer)


def _counts(store: Any) -> tuple[int, ...]:
    return tuple(
        store.cursor()
        .execute(
            "select (select count(*) from incidents), (select count(*) from eval_runs), "
            "(select count(*) from import_batches), (select count(*) from stix_records), "
            "(select count(*) from incident_notes), (select count(*) from record_history)"
        )
        .fetchall()[0]
    )


def test_a_spreadsheet_originator_column_cannot_forge_the_other_institute(store) -> None:
    data = _csv(
        ["id", "title", "occurred_on", "category", "severity", "tlp", "releasable_to", "originator"],
        [
            ["F-1", "Forged", "2026-05-01", "Jailbreak", "4", "AMBER+STRICT", "UK", "UK"],
            ["F-2", "Honest", "2026-05-01", "Jailbreak", "4", "GREEN", "UK;AU", "AU"],
        ],
    )
    before = _counts(store)
    with pytest.raises(ImportRefused) as e:
        _page_import(store, "forged.csv", data, AU_ANALYST)
    text = str(e.value)
    assert "row 1, column 'originator'" in text and "'UK'" in text and "AU" in text
    assert "row 2" not in text  # the row that agrees with the importer is not a problem
    assert _counts(store) == before
    assert store.cursor().execute("select count(*) from incidents where originator = 'UK'").fetchall() == [
        (0,)
    ]


def test_a_json_evaluation_institute_cannot_forge_the_other_institute(store) -> None:
    rows = [
        {
            "run_id": "E-1",
            "model": "M",
            "benchmark": "B",
            "score": 0.5,
            "tlp": "GREEN",
            "releasable_to": "UK;AU",
            "institute": "UK",
        },
        {
            "run_id": "E-2",
            "model": "M",
            "benchmark": "B",
            "score": 0.6,
            "tlp": "GREEN",
            "releasable_to": "UK;AU",
            "institute": "PUBLIC",
        },
    ]
    before = _counts(store)
    with pytest.raises(ImportRefused) as e:
        _page_import(store, "evals.json", json.dumps(rows).encode(), AU_ANALYST)
    assert "row 1, column 'institute'" in str(e.value) and "row 2" not in str(e.value)
    assert _counts(store) == before


def test_an_import_always_records_the_importers_institute(store) -> None:
    data = _csv(
        ["id", "title", "occurred_on", "category", "severity", "tlp", "releasable_to"],
        [["F-3", "Mine", "2026-05-01", "Jailbreak", "4", "GREEN", "UK;AU"]],
    )
    _page_import(store, "mine.csv", data, AU_ANALYST)
    assert store.cursor().execute("select originator from incidents").fetchall() == [("AU",)]
    # an institute chosen for the import that is not the viewer's own is refused, not obeyed
    tf = read_tabular("mine.csv", data.replace(b"F-3", b"F-4"))
    with pytest.raises(ImportRefused, match="AU"):
        validate(
            store.cursor(),
            tf,
            target="incidents",
            mapping=auto_mapping(tf.columns, "incidents"),
            institute="UK",
            tlp=None,
            releasable=None,
            viewer=AU_ANALYST,
        )


def _incident(**kw: Any) -> dict[str, Any]:
    obj = {
        "type": "incident",
        "spec_version": "2.1",
        "id": f"incident--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2027-01-01T00:00:00.000Z",
        "name": "Rewritten by AU",
        "description": "forged",
        "labels": ["jailbreak"],
        "object_marking_refs": [TLP2_IDS["GREEN"]],
        "x_ukau_severity": 1,
        "x_ukau_category": "Jailbreak",
        "x_ukau_releasable_to": ["UK", "AU"],
    }
    obj.update(kw)
    return obj


def _bundle(*objects: dict[str, Any]) -> bytes:
    marking = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS["GREEN"],
        "created": TLP2_CREATED,
        "name": "TLP:GREEN",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "green"}},
    }
    return json.dumps(
        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [marking, *objects]}
    ).encode()


def _stix(store: Any, data: bytes, viewer: Any) -> Any:
    return import_stix_bytes(
        store.store,
        "b.json",
        data,
        actor=viewer.email,
        institute=None,
        tlp=None,
        releasable=None,
        viewer=viewer,
    )


def test_a_stix_bundle_cannot_claim_the_uk_identity_and_rewrite_a_uk_record(store) -> None:
    canaries = plant_canaries(store, evals=False)
    shared = canaries["shared"]  # UK, GREEN, releasable to both: AU can see it
    before = (
        store.cursor()
        .execute(
            "select title, summary, severity, category, originator from incidents where id = ?",
            [shared.incident_id],
        )
        .fetchall()
    )
    claim = _incident(
        created_by_ref=INSTITUTE_IDENTITIES["UK"],
        x_ukau_id=shared.incident_id,
        id=record_stix_id(shared.incident_id),
    )
    counts = _counts(store)
    with pytest.raises(ImportRefused) as e:
        _stix(store, _bundle(claim), AU_ANALYST)
    assert claim["id"] in str(e.value) and "UK" in str(e.value)
    # without the identity claim the same bundle is refused too: it would change a record of the other institute
    plain = _incident(x_ukau_id=shared.incident_id)
    with pytest.raises(ImportRefused) as e2:
        _stix(store, _bundle(plain), AU_ANALYST)
    assert plain["id"] in str(e2.value)
    after = (
        store.cursor()
        .execute(
            "select title, summary, severity, category, originator from incidents where id = ?",
            [shared.incident_id],
        )
        .fetchall()
    )
    assert after == before
    assert _counts(store) == counts


def test_a_stix_claim_of_the_importers_own_institute_is_accepted(store) -> None:
    own = _incident(created_by_ref=INSTITUTE_IDENTITIES["UK"], name="UK's own")
    report = _stix(store, _bundle(own), UK_ANALYST)
    assert report.added == 1
    assert store.cursor().execute("select originator from incidents").fetchall() == [("UK",)]
    other = _incident(created_by_ref=INSTITUTE_IDENTITIES["AU"], name="claims AU")
    with pytest.raises(ImportRefused, match=other["id"]):
        _stix(store, _bundle(other), UK_ANALYST)
