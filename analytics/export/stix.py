"""STIX 2.1 bundles out, for the partner institute (or its CERT's MISP/OpenCTI).

`export_for_partner` selects exactly the incidents releasable to the partner under the sharing rules of
analytics/export/partners.py (the partner is in the record's releasability; its TLP is at or below the partner's
export ceiling; TLP:RED and TLP:AMBER+STRICT never go in a bundle), and reports what they withheld.
From the Data page the export is further limited to what the person exporting may see themselves (their viewer);
the CLI runs as the store's operator and applies the partner rules alone.

Each incident carries a TLP 2.0 marking definition, is created by one of the two institutes' fixed identities,
uses ATLAS attack patterns (external_id AML.T...), and keeps this dashboard's own fields as `x_ukau_` properties,
so importing the bundle into an empty store reproduces every record and marking (tested). Records that came in
through STIX keep their original STIX id and `modified`, so sending them back is "no change" on the other side.
Evaluation results have no STIX type and are not exported.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from analytics.access.markings import INSTITUTES, TLP_LEVELS, Marking
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.export import partners
from analytics.records import INCIDENT_RECORD_COLUMNS
from analytics.stix_vocabulary import (
    INSTITUTE_IDENTITIES,
    INSTITUTE_NAMES,
    STIX_NAMESPACE,
    TLP2_CREATED,
    TLP2_EXTENSION,
    TLP2_IDS,
    record_stix_id,
    stix_time,
    technique_stix_id,
)
from analytics.store import audit
from analytics.store.database import Store

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

REFERENCE_CREATED = "2024-01-01T00:00:00.000Z"  # fixed timestamps for identities and ATLAS attack patterns
ATLAS_URL = "https://atlas.mitre.org/techniques/{}"

# Record columns STIX has a property for (id as x_ukau_id, title as name, summary as description, originator as
# created_by_ref, tlp as a marking, tags as labels; the dates as x_ukau_ dates); every other one travels as x_ukau_<col>.
_STIX_PROPERTY_COLUMNS = frozenset(
    {"id", "title", "summary", "occurred_on", "reported_on", "originator", "tlp", "tags"}
)
_FIELDS = tuple(c for c in INCIDENT_RECORD_COLUMNS if c not in _STIX_PROPERTY_COLUMNS)


@dataclass
class StixExport:
    partner: str
    bundle: dict[str, Any]
    marking: Marking
    counts: dict[str, int] = field(default_factory=dict)
    withheld: partners.Withheld | None = None  # what the partner rules held back (export_for_partner sets it)

    def to_bytes(self) -> bytes:
        return json.dumps(self.bundle, indent=1, ensure_ascii=False).encode("utf-8")

    @property
    def file_name(self) -> str:
        return export_file_name(self.partner, self.marking)


def export_file_name(partner: str, marking: Marking) -> str:
    return f"stix-for-{partner}_{marking.short}.json"


def _check_partner(partner: str) -> str:
    p = partner.strip().upper()
    if p not in INSTITUTES:
        raise ValueError(f"unknown partner {partner!r}; expected UK or AU")
    return p


def _where(
    partner: str, viewer: Viewer | None, recipient: Viewer | None = None
) -> tuple[str, dict[str, Any]]:
    """Which records go: the partner rules of analytics/export/partners.py (ceiling, never RED or AMBER+STRICT),
    or, for one named person (`recipient`), the TLP:RED records naming them."""
    if recipient is not None:
        return partners.person_where(recipient)
    return partners.bundle_where(partner, viewer)


def export_marking(con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str) -> Marking:
    """The marking an export for `partner` would carry (highest TLP, narrowest releasability), without building it."""
    from analytics.access.markings import highest_marking

    where, params = _where(_check_partner(partner), viewer)
    return highest_marking(con, "incidents i", where, params)


def tlp_marking_definition(tlp: str) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object for `tlp` (fixed ids and dates, so every bundle names it alike)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[tlp],
        "created": TLP2_CREATED,
        "name": f"TLP:{tlp}",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.lower()}},
    }


def institute_identity(inst: str) -> dict[str, Any]:
    """The STIX identity of institute `inst` (UK or AU), the creator named by every record it originates."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": INSTITUTE_IDENTITIES[inst],
        "created": REFERENCE_CREATED,
        "modified": REFERENCE_CREATED,
        "name": INSTITUTE_NAMES[inst],
        "identity_class": "organization",
        "sectors": ["government-national"],
        "object_marking_refs": [TLP2_IDS["CLEAR"]],
        "x_ukau_institute": inst,
    }


def attack_pattern(technique: str, name: str | None) -> dict[str, Any]:
    """The STIX attack-pattern for ATLAS technique `technique`, referenced by the incidents that use it."""
    return {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": technique_stix_id(technique),
        "created": REFERENCE_CREATED,
        "modified": REFERENCE_CREATED,
        "name": name or technique,
        "external_references": [
            {"source_name": "mitre-atlas", "external_id": technique, "url": ATLAS_URL.format(technique)}
        ],
        "object_marking_refs": [TLP2_IDS["CLEAR"]],
    }


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    return v


def build_bundle(
    con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str, *, recipient: Viewer | None = None
) -> StixExport:
    """The bundle for `partner` (no audit entry; `export_for_partner` records one), or with `recipient` the TLP:RED
    records for that one person (`partners.export_for_person` audits each)."""
    partner = _check_partner(partner)
    records, techniques, notes, technique_names = _read(con, viewer, partner, recipient)
    objects: list[dict[str, Any]] = []
    used_tlps = {"CLEAR"} | {r["tlp"] for r in records}
    objects += [tlp_marking_definition(t) for t in TLP_LEVELS if t in used_tlps]
    objects += [institute_identity(inst) for inst in INSTITUTES]
    all_techniques = sorted({t for ts in techniques.values() for t in ts})
    objects += [
        attack_pattern(t, technique_names.get(t) or technique_names.get(t[:9])) for t in all_techniques
    ]
    note_objects: dict[str, dict[str, Any]] = {}
    relationships = 0
    for r in records:
        obj = _incident_object(r, techniques.get(r["id"], []))
        objects.append(obj)
        for t in techniques.get(r["id"], []):
            relationships += 1
            objects.append(_uses(obj, t))
        _add_notes(note_objects, obj, notes.get(r["id"], []))
    objects += list(note_objects.values())

    marking = _marking_of(records)
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    counts = {
        "incidents": len(records),
        "attack_patterns": len(all_techniques),
        "relationships": relationships,
        "notes": len(note_objects),
        "objects": len(objects),
    }
    return StixExport(partner, bundle, marking, counts)


def _read(
    con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str, recipient: Viewer | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The incidents releasable to `partner` (with their latest STIX record), their techniques, their notes and
    the names of the ATLAS techniques."""
    where, params = _where(partner, viewer, recipient)
    cur = con.execute(
        f"""
        select i.*, s.stix_id as s_stix_id, s.created as s_created, s.modified as s_modified
        from incidents i
        left join (
            select * from stix_records qualify row_number() over (partition by record_id order by modified desc) = 1
        ) s on s.record_id = i.id
        where {where}
        order by i.id
        """,
        params,
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    ids = [r["id"] for r in rows]
    techniques: dict[str, list[str]] = {}
    notes: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return rows, techniques, notes, {}
    for rid, tid in con.execute(
        "select incident_id, technique_id from incident_techniques where incident_id = any($ids) order by 1, 2",
        {"ids": ids},
    ).fetchall():
        techniques.setdefault(rid, []).append(tid)
    ncur = con.execute(
        "select * from incident_notes where incident_id = any($ids) order by stix_id", {"ids": ids}
    )
    nnames = [d[0] for d in ncur.description]
    for row in ncur.fetchall():
        stored = dict(zip(nnames, row, strict=True))
        notes.setdefault(stored["incident_id"], []).append(stored)
    technique_names = dict(con.execute("select id, name from atlas_techniques").fetchall())
    return rows, techniques, notes, technique_names


def _incident_object(r: dict[str, Any], techs: list[str]) -> dict[str, Any]:
    """One incident as a STIX incident (or, for one that came in as a report, a report), with its x_ukau_
    properties, so the partner's instance imports it without loss."""
    stix_id = r["s_stix_id"] or record_stix_id(r["id"])
    created_dt = r["s_created"] or r["created_at"]
    modified_dt = max(r["s_modified"] or r["updated_at"], created_dt)
    author = INSTITUTE_IDENTITIES[r["originator"]]
    obj: dict[str, Any] = {
        "type": stix_id.split("--", 1)[0],
        "spec_version": "2.1",
        "id": stix_id,
        "created": stix_time(created_dt),
        "modified": stix_time(modified_dt),
        "created_by_ref": author,
        "name": r["title"],
        "object_marking_refs": [TLP2_IDS[r["tlp"]]],
        "x_ukau_id": r["id"],
        "x_ukau_occurred_on": r["occurred_on"].isoformat(),
    }
    if r["summary"]:
        obj["description"] = r["summary"]
    if r["tags"]:
        obj["labels"] = list(r["tags"])
    if r["reported_on"] is not None:
        obj["x_ukau_reported_on"] = r["reported_on"].isoformat()
    for f in _FIELDS:
        value = r[f]
        if value is None or (isinstance(value, list) and not value and f != "releasable_to"):
            continue
        obj[f"x_ukau_{f}"] = _json_value(value)
    if obj["type"] == "report":
        # A report must refer to something; its techniques and its author are what it is about.
        obj["published"] = stix_time(
            datetime.combine(r["reported_on"] or r["occurred_on"], datetime.min.time())
        )
        obj["object_refs"] = [technique_stix_id(t) for t in techs] or [author]
    return obj


def _uses(obj: dict[str, Any], technique: str) -> dict[str, Any]:
    """The 'uses' relationship from an incident object to an ATLAS technique, marked and dated like it."""
    stix_id = obj["id"]
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid5(STIX_NAMESPACE, f'uses:{stix_id}:{technique}')}",
        "created": obj["created"],
        "modified": obj["modified"],
        "created_by_ref": obj["created_by_ref"],
        "relationship_type": "uses",
        "source_ref": stix_id,
        "target_ref": technique_stix_id(technique),
        "object_marking_refs": obj["object_marking_refs"],
    }


def _add_notes(
    note_objects: dict[str, dict[str, Any]], obj: dict[str, Any], notes: list[dict[str, Any]]
) -> None:
    """The incident's notes as STIX notes; a note about several exported incidents is one object naming all."""
    for n in notes:
        existing = note_objects.get(n["stix_id"])
        if existing is not None:
            existing["object_refs"].append(obj["id"])
            continue
        note: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": n["stix_id"],
            "created": stix_time(n["created"]),
            "modified": stix_time(n["created"]),
            "content": n["content"],
            "object_refs": [obj["id"]],
            "object_marking_refs": obj["object_marking_refs"],
        }
        if n["abstract"]:
            note["abstract"] = n["abstract"]
        if n["author"]:
            note["authors"] = [n["author"]]
        note_objects[n["stix_id"]] = note


def _marking_of(records: list[dict[str, Any]]) -> Marking:
    if not records:
        return Marking(rows=0)
    top = max(TLP_LEVELS.index(r["tlp"]) for r in records)
    rel = set(INSTITUTES)
    for r in records:
        rel &= set(r["releasable_to"])
    sources = tuple(sorted({r["source"] for r in records}))
    return Marking(TLP_LEVELS[top], tuple(sorted(rel)), len(records), sources)


def export_for_partner(store: Store, partner: str, *, actor: str, viewer: Viewer | None = None) -> StixExport:
    """Build the partner bundle and record the export in the audit log (what, for whom, how marked)."""
    if viewer is not None:
        audit.require(store, viewer, *RECORD_READERS, action="export stix", obj=f"partner:{partner}")
        actor = viewer.email
    con = store.cursor()
    try:
        export = build_bundle(con, viewer, partner)
        export.withheld = partners.withheld(con, viewer, export.partner)
    finally:
        con.close()
    with store.transaction() as tx:
        audit.record(
            tx,
            actor,
            "export stix",
            f"partner:{export.partner}",
            {"marking": export.marking.label, **export.counts, **export.withheld.audit_detail()},
        )
    return export


def export_bytes(store: Store, partner: str, viewer: Viewer) -> bytes:
    """The bundle file for the Data page's download button (built, and audited, only when clicked)."""
    return export_for_partner(store, partner, actor=viewer.email, viewer=viewer).to_bytes()
