"""STIX 2.1 bundles out, for the partner institute (or its CERT's MISP/OpenCTI).

`export_for_partner` selects exactly the incidents releasable to the partner under the sharing rules of
analytics/export/partners.py (the partner is in the record's releasability; its TLP is at or below the partner's
export ceiling; TLP:RED and TLP:AMBER+STRICT never go in a bundle), and reports what they withheld.
From the Data page the export is further limited to what the person exporting may see themselves (their viewer);
the CLI runs as the store's operator and applies the partner rules alone.

How they are written (this module; docs/exchange.md "STIX 2.1 out" has the mapping table):
- standard STIX 2.1: every `x_ukau_` property is declared by the extension-definition included in each bundle
  (a toplevel-property-extension), incidents relate to ATLAS attack patterns with the common `related-to` (STIX
  suggests no relationship from an incident), and the OASIS validator finds no error and only the warnings listed
  in DOCUMENTED_VALIDATOR_WARNINGS;
- lossless: each incident is our `incident` under a fixed id (uuid5 of the record id), with every column and
  nothing invented for what is absent, created by its institute or, for public data, by its public source (the
  licence credit follows `x_ukau_source`), so importing the bundle into an empty store reproduces every record,
  technique and note (tests/analytics/export/test_stix_round_trip.py);
- third-party objects keep their identity: a record or note that came from MISP is exported as our own object
  `derived-from` theirs, never as a second version under their id;
- readable by MISP and OpenCTI: one `report` wraps the export (object_refs: every object), and each incident has
  a summary `note` about it and that report, which is where misp-stix (which loads no `incident`) shows it.
Evaluation results have no STIX type and are not exported.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from analytics.access.markings import INSTITUTES, TLP_LEVELS, Marking
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.export import partners
from analytics.records import INCIDENT_RECORD_COLUMNS
from analytics.sources import PUBLIC_ORIGINATOR, PUBLIC_SOURCE_KEYS, public_source
from analytics.stix_vocabulary import (
    INSTITUTE_IDENTITIES,
    INSTITUTE_NAMES,
    JOINT_IDENTITY,
    JOINT_NAME,
    KNOWN_MARKINGS,
    STIX_NAMESPACE,
    TLP2_CREATED,
    TLP2_EXTENSION,
    TLP2_IDS,
    UKAU_EXTENSION_TYPE,
    public_source_identity,
    record_stix_id,
    stix_time,
    technique_stix_id,
)
from analytics.store import audit
from analytics.store.database import Store
from analytics.vocab import SEVERITY_LABELS
from analytics.wording import counted

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

REFERENCE_CREATED = "2024-01-01T00:00:00.000Z"  # fixed timestamps for identities and ATLAS attack patterns
ATLAS_URL = "https://atlas.mitre.org/techniques/{}"

# Incident columns carried by a STIX property of their own (name, description, created_by_ref, a marking,
# labels); every other column, and `source`, travels as x_ukau_<column>.
STIX_PROPERTY_COLUMNS = frozenset({"title", "summary", "originator", "tlp", "tags"})
_FIELDS = tuple(c for c in (*INCIDENT_RECORD_COLUMNS, "source") if c not in STIX_PROPERTY_COLUMNS)
# Every x_ukau_ property an export may carry: the incident columns, an identity's institute or public source, the
# export report's partner, and the incident a MISP-readable summary note stands for.
UKAU_PROPERTIES: tuple[str, ...] = tuple(
    sorted({f"x_ukau_{c}" for c in _FIELDS} | {"x_ukau_institute", "x_ukau_export_for", "x_ukau_summary_of"})
)
# The extension-definition declaring them. Its id follows from the property list, so a new column makes a new
# extension (a STIX object never changes under one id) and both instances, running the same code, agree.
UKAU_EXTENSION = (
    f"extension-definition--{uuid.uuid5(STIX_NAMESPACE, 'extension:' + ','.join(UKAU_PROPERTIES))}"
)

# The extension-definition's normative text (STIX allows plain text for `schema`); docs/exchange.md has the table.
EXTENSION_DESCRIPTION = (
    "The fields of the UK-AU AI threat dashboard that STIX 2.1 has no property for, on incidents (x_ukau_id, "
    "dates and their precision, category, severity, actor type, sectors, countries, affected system, developer, "
    "status, releasability, named recipients, source reliability, credibility, source), on identities "
    "(x_ukau_institute, x_ukau_source), on the export report (x_ukau_export_for) and on summary notes "
    "(x_ukau_summary_of)."
)
EXTENSION_SCHEMA = (
    "Top-level properties, all optional. x_ukau_id: string (record id). x_ukau_occurred_on, x_ukau_reported_on: "
    "ISO 8601 date. x_ukau_occurred_precision: day|month|year. x_ukau_category: string (dashboard category or "
    "Unmapped). x_ukau_severity: integer 1-5. x_ukau_credibility: integer 1-6. x_ukau_source_reliability: A-F. "
    "x_ukau_sectors, x_ukau_countries (ISO 3166 alpha-2), x_ukau_releasable_to (UK|AU), x_ukau_named_recipients "
    "(email): lists of strings. x_ukau_actor_type, x_ukau_status, x_ukau_affected_system, x_ukau_developer, "
    "x_ukau_source, x_ukau_institute (UK|AU), x_ukau_export_for (UK|AU): strings. x_ukau_summary_of: identifier "
    "of the incident a note summarises. See docs/exchange.md, 'The x_ukau extension'."
)

# The stix2-validator warnings an export may give, by the validator's check code, with the reason; docs/exchange.md
# explains each ("{103}", "{302}"), and tests/analytics/export/test_stix_standard.py fails on any other.
DOCUMENTED_VALIDATOR_WARNINGS: dict[str, str] = {
    "103": "ids are UUIDv5 in this dashboard's namespace, not UUIDv4: the same record, technique and identity has "
    "the same id in both institutes' instances and in every export, so a partner recognises an update",
    "302": "external references to ATLAS techniques and public sources give a URL without a hash: they are web "
    "pages that change, and a hash would only go stale",
}


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


def _declared(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` stating that its x_ukau_ properties are those of this dashboard's published extension."""
    obj["extensions"] = {UKAU_EXTENSION: {"extension_type": UKAU_EXTENSION_TYPE}}
    return obj


def joint_identity() -> dict[str, Any]:
    """The pact's joint service, publisher of the x_ukau extension-definition."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": JOINT_IDENTITY,
        "created": REFERENCE_CREATED,
        "modified": REFERENCE_CREATED,
        "name": JOINT_NAME,
        "identity_class": "organization",
        "sectors": ["government-national"],
        "object_marking_refs": [TLP2_IDS["CLEAR"]],
    }


def extension_definition() -> dict[str, Any]:
    """The extension-definition declaring every x_ukau_ property (STIX 2.1 section 7.3): a toplevel-property
    extension, so the properties stay at the top level where the importer of either instance reads them."""
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": UKAU_EXTENSION,
        "created_by_ref": JOINT_IDENTITY,
        "created": REFERENCE_CREATED,
        "modified": REFERENCE_CREATED,
        "name": "UK-AU AI threat dashboard incident fields (x_ukau)",
        "description": EXTENSION_DESCRIPTION,
        "schema": EXTENSION_SCHEMA,
        "version": "1.0.0",
        "extension_types": [UKAU_EXTENSION_TYPE],
        "extension_properties": list(UKAU_PROPERTIES),
        "object_marking_refs": [TLP2_IDS["CLEAR"]],
    }


def institute_identity(inst: str) -> dict[str, Any]:
    """The STIX identity of institute `inst` (UK or AU), the creator named by every record it originates."""
    return _declared(
        {
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
    )


def public_source_identity_object(key: str) -> dict[str, Any]:
    """The identity of public source `key` (ATLAS, AIID ...): the creator of its records, with its licence and
    credit, so a partner credits it as its licence asks (analytics/sources.py is the registry)."""
    src = public_source(key)
    if src is None:
        raise ValueError(
            f"public records of an unregistered source {key!r}; register it in analytics/sources.py"
        )
    return _declared(
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": public_source_identity(key),
            "created": REFERENCE_CREATED,
            "modified": REFERENCE_CREATED,
            "name": src.name,
            "description": f"Public source. Licence: {src.licence}. Credit: {src.credit}.",
            "identity_class": "organization",
            "external_references": [{"source_name": src.name, "url": src.url, "description": src.licence}],
            "object_marking_refs": [TLP2_IDS["CLEAR"]],
            "x_ukau_source": key,
        }
    )


def attack_pattern(technique: str, name: str | None) -> dict[str, Any]:
    """The STIX attack-pattern for ATLAS technique `technique`, referenced by the incidents related to it; named
    by the store's ATLAS taxonomy, or by its id when the store has none (the id follows the name)."""
    return {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": technique_stix_id(technique, name),
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


def _sender(partner: str) -> str:
    """The institute an export for `partner` comes from: the other one."""
    return next(i for i in INSTITUTES if i != partner)


def build_bundle(
    con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str, *, recipient: Viewer | None = None
) -> StixExport:
    """The bundle for `partner` (no audit entry; `export_for_partner` records one), or with `recipient` the TLP:RED
    records for that one person (`partners.export_for_person` audits each).

    Wrapped in one `report` that refers to every object (MISP makes it an event, OpenCTI a report container);
    each incident also has a summary `note` about it and that report, which is how MISP's importer (misp-stix,
    which loads no `incident` objects) shows every incident in the event."""
    partner = _check_partner(partner)
    records, techniques, notes, technique_names = _read(con, viewer, partner, recipient)
    objects: list[dict[str, Any]] = []
    used_tlps = {"CLEAR"} | {r["tlp"] for r in records}
    objects += [tlp_marking_definition(t) for t in TLP_LEVELS if t in used_tlps]
    objects += [joint_identity(), extension_definition()]
    objects += [institute_identity(inst) for inst in INSTITUTES]
    public = sorted({r["source"] for r in records if r["originator"] == PUBLIC_ORIGINATOR})
    objects += [public_source_identity_object(key) for key in public]
    all_techniques = sorted({t for ts in techniques.values() for t in ts})
    patterns = {
        t: attack_pattern(t, technique_names.get(t) or technique_names.get(t[:9])) for t in all_techniques
    }
    objects += list(patterns.values())
    sender = _sender(partner)
    report_id = f"report--{uuid.uuid4()}"
    now = stix_time(datetime.now(UTC))
    incidents: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    for r in records:
        obj = _incident_object(r)
        incidents.append(obj)
        relationships += [_related(obj, patterns[t]["id"]) for t in techniques.get(r["id"], [])]
        # the third-party objects it came in as (a MISP event): ours is derived from them, never a new version
        relationships += [_derived_from(obj, sid) for sid in r["stix_ids"] or [] if sid != obj["id"]]
    by_id = {o["id"]: o for o in incidents}
    note_objects = _notes(notes, by_id, relationships)
    summaries = [
        _summary_note(o, r, techniques.get(r["id"], []), report_id, now)
        for o, r in zip(incidents, records, strict=True)
    ]
    objects += incidents + relationships + note_objects + summaries

    marking = _marking_of(records)
    objects.append(_export_report(report_id, now, sender, partner, marking, objects, len(records)))
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    counts = {
        "incidents": len(records),
        "attack_patterns": len(all_techniques),
        "relationships": len(relationships),
        "notes": len(note_objects),
        "objects": len(objects),
    }
    return StixExport(partner, bundle, marking, counts)


def _read(
    con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str, recipient: Viewer | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The incidents releasable to `partner` (with the STIX ids they came in under, if any), their techniques,
    their notes and the names of the ATLAS techniques."""
    where, params = _where(partner, viewer, recipient)
    cur = con.execute(
        f"""
        select i.*, s.stix_ids
        from incidents i
        left join (
            select record_id, list(stix_id order by stix_id) as stix_ids from stix_records group by record_id
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
        "select * from incident_notes where incident_id = any($ids) order by stix_id, incident_id",
        {"ids": ids},
    )
    nnames = [d[0] for d in ncur.description]
    for row in ncur.fetchall():
        stored = dict(zip(nnames, row, strict=True))
        notes.setdefault(stored["stix_id"], []).append(stored)
    technique_names = dict(con.execute("select id, name from atlas_techniques").fetchall())
    return rows, techniques, notes, technique_names


def _creator(r: dict[str, Any]) -> str:
    """Who created the record: its institute, or for public data (originator PUBLIC) its public source."""
    if r["originator"] == PUBLIC_ORIGINATOR:
        if r["source"] not in PUBLIC_SOURCE_KEYS:
            raise ValueError(f"{r['id']}: public record of an unregistered source {r['source']!r}")
        return public_source_identity(r["source"])
    return INSTITUTE_IDENTITIES[r["originator"]]


def _incident_object(r: dict[str, Any]) -> dict[str, Any]:
    """One record as our own STIX incident, with every column (absent ones left out, never invented), so the
    partner's instance imports it without loss. Its id is fixed by the record id (the same in both instances);
    a record that came from a third party (a MISP event) is our incident `derived-from` their object, never a
    second version of their object under their id."""
    created_dt = r["created_at"]
    modified_dt = max(r["updated_at"], created_dt)
    obj: dict[str, Any] = {
        "type": "incident",
        "spec_version": "2.1",
        "id": record_stix_id(r["id"]),
        "created": stix_time(created_dt),
        "modified": stix_time(modified_dt),
        "created_by_ref": _creator(r),
        "name": r["title"],
        "object_marking_refs": [TLP2_IDS[r["tlp"]]],
    }
    if r["summary"] is not None:
        obj["description"] = r["summary"]
    if r["tags"]:
        obj["labels"] = list(r["tags"])
    for f in _FIELDS:
        value = r[f]
        if value is None or (isinstance(value, list) and not value and f != "releasable_to"):
            continue
        obj[f"x_ukau_{f}"] = _json_value(value)
    return _declared(obj)


def _derived_id(stix_type: str, key: str) -> str:
    """A deterministic id in this dashboard's namespace: the same object gets the same id in every export."""
    return f"{stix_type}--{uuid.uuid5(STIX_NAMESPACE, key)}"


def _relationship(kind: str, source: dict[str, Any], target: str) -> dict[str, Any]:
    """A `kind` relationship from `source` to `target`, created, dated and marked like its source."""
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": _derived_id("relationship", f"{kind}:{source['id']}:{target}"),
        "created": source["created"],
        "modified": source["modified"],
        "created_by_ref": source["created_by_ref"],
        "relationship_type": kind,
        "source_ref": source["id"],
        "target_ref": target,
        "object_marking_refs": source["object_marking_refs"],
    }


def _related(obj: dict[str, Any], pattern_id: str) -> dict[str, Any]:
    """Incident -> ATLAS technique. STIX 2.1 suggests no relationship from an incident (the validator's list has
    none), so it is the common `related-to`; `uses` is for threat actors, campaigns and malware."""
    return _relationship("related-to", obj, pattern_id)


def _derived_from(obj: dict[str, Any], original: str) -> dict[str, Any]:
    """Our object -> the third-party object it was made from (which the partner may not hold)."""
    return _relationship("derived-from", obj, original)


def _notes(
    notes: dict[str, list[dict[str, Any]]],
    incidents: dict[str, dict[str, Any]],
    relationships: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each stored note as our own note about the exported incidents it annotates, `derived-from` the note it came
    in as (stored notes all came from STIX; `incident_notes.stix_id` keeps the first id it had). Re-exporting
    their note under its id with other object_refs would be a second version of it."""
    out = []
    for root, rows in notes.items():
        refs = sorted(record_stix_id(n["incident_id"]) for n in rows)
        first = incidents[refs[0]]
        top = max(
            (incidents[ref]["object_marking_refs"][0] for ref in refs),
            key=lambda m: TLP_LEVELS.index(KNOWN_MARKINGS[m]),
        )
        n = rows[0]
        note: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": _derived_id("note", f"note:{root}:{','.join(refs)}"),
            "created": stix_time(n["created"]),
            "modified": stix_time(n["created"]),
            "created_by_ref": first["created_by_ref"],
            "content": n["content"],
            "object_refs": refs,
            "object_marking_refs": [top],
        }
        if n["abstract"] is not None:
            note["abstract"] = n["abstract"]
        if n["author"] is not None:
            note["authors"] = [n["author"]]
        out.append(note)
        relationships.append(_derived_from(note, root))
    return out


def _summary_note(
    obj: dict[str, Any], r: dict[str, Any], techs: list[str], report_id: str, now: str
) -> dict[str, Any]:
    """The incident as readable text in a note about it and the export report: MISP's importer loads no
    `incident` objects but attaches a note about the report to the event it makes, so every incident shows
    there. Our importer skips these notes (x_ukau_summary_of)."""
    lines = [
        f"Occurred: {r['occurred_on'].isoformat()} ({r['occurred_precision']} precision)",
        f"Category: {r['category']}; severity {r['severity']} ({SEVERITY_LABELS[r['severity']]})",
        f"Marking: TLP:{r['tlp']}, releasable to {', '.join(r['releasable_to'])}",
    ]
    if techs:
        lines.append("ATLAS techniques: " + ", ".join(techs))
    if r["summary"]:
        lines += ["", r["summary"]]
    return _declared(
        {
            "type": "note",
            "spec_version": "2.1",
            "id": _derived_id("note", f"summary:{report_id}:{obj['id']}"),
            "created": now,
            "modified": now,
            "created_by_ref": obj["created_by_ref"],
            "abstract": r["title"],
            "content": "\n".join(lines),
            "object_refs": [obj["id"], report_id],
            "object_marking_refs": obj["object_marking_refs"],
            "x_ukau_summary_of": obj["id"],
        }
    )


def _export_report(
    report_id: str,
    now: str,
    sender: str,
    partner: str,
    marking: Marking,
    objects: list[dict[str, Any]],
    n: int,
) -> dict[str, Any]:
    """The report wrapping the export (object_refs: every object), marked with the highest TLP in it."""
    return _declared(
        {
            "type": "report",
            "spec_version": "2.1",
            "id": report_id,
            "created": now,
            "modified": now,
            "published": now,
            "created_by_ref": INSTITUTE_IDENTITIES[sender],
            "name": f"{INSTITUTE_NAMES[sender]} to {INSTITUTE_NAMES[partner]}: {n} AI security incidents",
            "description": f"Export of {counted(n, 'incident')} releasable to {partner}, marked {marking.label}.",
            "report_types": ["threat-report"],
            "object_refs": [o["id"] for o in objects],
            "object_marking_refs": [TLP2_IDS[marking.tlp or "CLEAR"]],
            "x_ukau_export_for": partner,
        }
    )


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
