"""STIX 2.1 bundles in: from MISP, OpenCTI or the partner institute's own instance of this dashboard.

What becomes what:
- `incident` objects become incidents; a `report` that refers to no incident (how MISP events arrive) becomes an
  incident too, and a report that does refer to incidents gives them its attack patterns;
- `attack-pattern` objects with an ATLAS external reference (external_id AML.T...) become the techniques of the
  incidents that use them (a `relationship`, or the same report);
- `identity` objects decide the originating institute (the two institutes' identities have fixed ids, see
  INSTITUTE_IDENTITIES; anyone else's objects are recorded as originating with the importing institute);
- `note` objects about an incident are kept with it (`incident_notes`);
- properties prefixed `x_ukau_` carry this dashboard's own fields (category, severity, releasability ...) so an
  export from one institute's instance imports into the other's without loss.

Markings: TLP 2.0 marking definitions are kept; TLP 1.0 ones are mapped (WHITE becomes CLEAR). The default TLP
given to the import can only raise a marking; the default releasability only narrows it. A bundle is refused as a
whole, with every reason, when the stix2 library rejects an object (bad ids, timestamps, missing properties), a
marking definition is unknown, or a reference does not resolve.

Versions: a STIX id seen before with the same `modified` is no change; a newer `modified` replaces the record,
keeping the previous version in `record_history` (so the batch can be undone) and never lowering its marking; a
record that originated in the other institute is never overwritten by this institute's bundle.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import stix2
import stix2.exceptions

from analytics import vocab
from analytics.access.markings import INSTITUTES, TLP_LEVELS, normalise_tlp, parse_releasable, visible_sql
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.demo.taxonomy import CATEGORY_TECHNIQUES
from analytics.ingest import (
    RESERVED_ID,
    ImportRefused,
    ImportReport,
    id_namespace,
    importer_institute,
    load_json,
    namespaced_id,
    new_batch_id,
    record_batch,
)
from analytics.ingest.tabular.convert import CONVERTERS, BadCell
from analytics.store import audit
from analytics.store.database import Store

MAX_BYTES = 48 * 1024 * 1024  # as for spreadsheets: below the server's 50 MB upload cap
SOURCE_TAG = "stix"

# TLP 2.0 marking definitions (FIRST, published by OASIS; stix2 3.0.2 ships only TLP 1.0).
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
TLP2_IDS: dict[str, str] = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_IDS: dict[str, str] = {
    "CLEAR": stix2.TLP_WHITE.id,
    "GREEN": stix2.TLP_GREEN.id,
    "AMBER": stix2.TLP_AMBER.id,
    "RED": stix2.TLP_RED.id,
}
KNOWN_MARKINGS: dict[str, str] = {v: k for k, v in TLP2_IDS.items()} | {v: k for k, v in TLP1_IDS.items()}

# Fixed identities of the two institutes, the same in every instance, so either side recognises the other.
STIX_NAMESPACE = uuid.UUID("6f1f3f4e-9c53-4e0b-8a57-2f1d6b1f0a11")
INSTITUTE_NAMES: dict[str, str] = {"UK": "UK AI Security Institute", "AU": "Australian AI Safety Institute"}
INSTITUTE_IDENTITIES: dict[str, str] = {
    inst: f"identity--{uuid.uuid5(STIX_NAMESPACE, f'institute:{inst}')}" for inst in INSTITUTES
}
ATLAS_SOURCE_NAMES = frozenset({"mitre-atlas", "atlas", "mitre atlas", "mitre-atlas-matrix"})
_TECHNIQUE_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
_REF_KEY = re.compile(r".*_refs?$")
_STORED_TYPES = frozenset(
    {"incident", "report", "attack-pattern", "identity", "note", "relationship", "marking-definition"}
)
_INCIDENT_LIKE = ("incident", "report")
_SEVERITY_WORDS = {"low": 2, "medium": 3, "moderate": 3, "high": 4, "critical": 5, "negligible": 1}


def record_stix_id(record_id: str) -> str:
    """The STIX id of an incident that was created in this dashboard (deterministic, same in both instances)."""
    return f"incident--{uuid.uuid5(STIX_NAMESPACE, f'incident:{record_id}')}"


def technique_stix_id(technique_id: str) -> str:
    return f"attack-pattern--{uuid.uuid5(STIX_NAMESPACE, f'atlas:{technique_id}')}"


def stix_time(value: datetime) -> str:
    """STIX timestamp with millisecond precision, UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _naive_ms(value: datetime) -> datetime:
    """UTC naive datetime truncated to milliseconds: how `modified` is stored and compared."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# -- checking a bundle --------------------------------------------------------------------------------------


@dataclass
class BundleCheck:
    """A parsed bundle and what is wrong with it. `reasons` empty means it can be imported."""

    name: str
    objects: dict[str, Any] = field(default_factory=dict)  # id -> stix2 object (repeated ids are refused)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def summary(self) -> str:
        parts = ", ".join(f"{n} {t}" for t, n in sorted(self.counts.items()))
        return f"{self.name}: {sum(self.counts.values())} objects ({parts})"


def _describe(obj: Mapping[str, Any], k: int) -> str:
    oid = obj.get("id") if isinstance(obj, Mapping) else None
    return f"object {k} ({oid})" if oid else f"object {k}"


def check_bundle(name: str, data: bytes, *, known_ids: Iterable[str] = ()) -> BundleCheck:
    """Parse and check a bundle without touching a store. `known_ids` are STIX ids already in the store, which
    references may point to."""
    label = Path(name).name or "bundle"
    check = BundleCheck(label)
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            f"{label} is {len(data) / 1_048_576:.0f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB per bundle"
        )
    try:
        doc = load_json(label, data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ImportRefused(f"{label}: not a JSON document ({e})") from None
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise ImportRefused(f'{label}: not a STIX bundle (the top level must have "type": "bundle")')
    if not isinstance(doc.get("id"), str) or not re.fullmatch(
        r"bundle--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", doc["id"]
    ):
        check.reasons.append(f"bundle id {doc.get('id')!r} is not a valid STIX identifier")
    raw_objects = doc.get("objects") or []
    if not isinstance(raw_objects, list):
        raise ImportRefused(f"{label}: 'objects' must be a list")

    first_at: dict[str, int] = {}
    for k, raw in enumerate(raw_objects, start=1):
        if not isinstance(raw, dict):
            check.reasons.append(f"object {k} is not a JSON object")
            continue
        where = _describe(raw, k)
        if raw.get("spec_version") not in (None, "2.1") and raw.get("type") != "marking-definition":
            check.reasons.append(f"{where}: spec_version {raw.get('spec_version')!r} is not 2.1")
            continue
        try:
            obj = stix2.parse(raw, allow_custom=True, version="2.1")
        except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as e:
            check.reasons.append(f"{where}: {e}")
            continue
        oid = obj["id"]
        check.counts[obj["type"]] += 1
        created, modified = obj.get("created"), obj.get("modified")
        if created is not None and modified is not None and modified < created:
            check.reasons.append(f"{where}: modified {modified} is earlier than created {created}")
            continue
        if oid in first_at:
            # Which of two objects with one id is meant is a guess (the first? the newer?): refuse instead.
            check.reasons.append(
                f"{where}: the id {oid} appears more than once in the bundle (first as object "
                f"{first_at[oid]})"
            )
            continue
        first_at[oid] = k
        check.objects[oid] = obj

    known = set(known_ids) | set(KNOWN_MARKINGS) | set(INSTITUTE_IDENTITIES.values())
    for oid, obj in check.objects.items():
        if obj["type"] == "marking-definition" and oid not in KNOWN_MARKINGS:
            check.reasons.append(
                f"{oid}: unknown marking definition ({obj.get('name') or obj.get('definition_type') or 'unnamed'});"
                " only TLP 2.0 and TLP 1.0 markings are understood"
            )
        for key in obj:
            if not _REF_KEY.match(key) or key == "external_references":
                continue
            refs = obj[key] if isinstance(obj[key], list) else [obj[key]]
            for ref in refs:
                ref_id = str(ref)
                if ref_id in check.objects or ref_id in known:
                    continue
                if ref_id.startswith("marking-definition--"):
                    check.reasons.append(f"{oid}: {key} names an unknown marking definition {ref_id}")
                else:
                    check.reasons.append(f"{oid}: {key} refers to {ref_id}, which is not in the bundle")
        for gm in obj.get("granular_markings") or []:
            ref = gm.get("marking_ref")
            if ref and ref not in KNOWN_MARKINGS and ref not in check.objects:
                check.reasons.append(f"{oid}: granular marking names an unknown marking definition {ref}")
    other = {t: n for t, n in check.counts.items() if t not in _STORED_TYPES}
    if other:
        kinds = ", ".join(f"{t} ({n})" for t, n in sorted(other.items()))
        check.warnings.append(f"ignored {sum(other.values())} objects of types not stored here: {kinds}")
    return check


# -- turning objects into records ---------------------------------------------------------------------------


@dataclass
class _Candidate:
    stix_id: str
    record_id: str
    obj: Any
    row: dict[str, Any]
    techniques: list[str]
    origin: str  # 'UK' | 'AU' | 'EXTERNAL'
    created: datetime
    modified: datetime
    claimed_id: str | None = None  # x_ukau_id as the bundle gave it, before namespacing


def _tlp_of(obj: Any) -> str | None:
    refs = list(obj.get("object_marking_refs") or [])
    refs += [gm.get("marking_ref") for gm in obj.get("granular_markings") or [] if gm.get("marking_ref")]
    levels = [KNOWN_MARKINGS[r] for r in refs if r in KNOWN_MARKINGS]
    return max(levels, key=TLP_LEVELS.index) if levels else None


def _origin(obj: Any, objects: Mapping[str, Any]) -> str:
    ref = obj.get("created_by_ref")
    for inst, ident in INSTITUTE_IDENTITIES.items():
        if ref == ident:
            return inst
    ident_obj = objects.get(ref) if ref else None
    if ident_obj is not None:
        claimed = str(ident_obj.get("x_ukau_institute") or "").upper()
        if claimed in INSTITUTES:
            return claimed
    return "EXTERNAL"


def _new_incident_id(namespace: str | None) -> str:
    return f"{(namespace or 'X').upper()}-IMP-{uuid.uuid4().hex[:12]}"


def _technique_ids(ap: Any) -> list[str]:
    out = []
    for ref in ap.get("external_references") or []:
        src = str(ref.get("source_name") or "").strip().lower()
        ext = str(ref.get("external_id") or "").strip().upper()
        if src in ATLAS_SOURCE_NAMES and _TECHNIQUE_ID.match(ext):
            out.append(ext)
    return out


def _convert(kind: str, raw: Any) -> Any:
    return CONVERTERS[kind](raw)


def _category(obj: Any, techniques: Sequence[str]) -> str | None:
    convert = CONVERTERS["category"]
    candidates = [obj.get("x_ukau_category")]
    candidates += [*list(obj.get("incident_types") or []), obj.get("incident_type")]
    candidates += list(obj.get("labels") or []) + list(obj.get("report_types") or [])
    for c in candidates:
        if not c:
            continue
        try:
            hit = convert(c)
        except BadCell:
            continue
        if hit:
            return str(hit)
    if techniques:
        scores = {cat: len(set(techniques) & set(techs)) for cat, techs in CATEGORY_TECHNIQUES.items()}
        best = max(vocab.CATEGORIES, key=lambda c: scores.get(c, 0))
        if scores.get(best, 0) > 0:
            return best
    return None


def _to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    converted: date | None = CONVERTERS["date"](value)
    return converted


def _build_candidates(
    check: BundleCheck,
    *,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    namespace: str | None = None,
    operator_replica: bool = False,
) -> tuple[list[_Candidate], list[tuple[str, str, Any]], list[str]]:
    """Records, notes (note stix id, incident stix id, note) and reasons to refuse, from a checked bundle."""
    objects = check.objects
    reasons: list[str] = []
    default_tlp = normalise_tlp(tlp) if tlp else None
    default_rel = list(parse_releasable(releasable)) if releasable else None

    techniques: dict[str, list[str]] = {}
    for oid, obj in objects.items():
        if obj["type"] == "attack-pattern":
            ids = _technique_ids(obj)
            if ids:
                techniques[oid] = ids
    no_atlas = sum(1 for o in objects.values() if o["type"] == "attack-pattern") - len(techniques)
    if no_atlas:
        check.warnings.append(f"{no_atlas} attack patterns have no ATLAS reference and were not used")

    uses: dict[str, set[str]] = {}
    for obj in objects.values():
        if obj["type"] == "relationship":
            src, tgt = obj["source_ref"], obj["target_ref"]
            if src in techniques and tgt.split("--")[0] in _INCIDENT_LIKE:
                src, tgt = tgt, src
            if tgt in techniques and src.split("--")[0] in _INCIDENT_LIKE:
                uses.setdefault(src, set()).update(techniques[tgt])
    grouped: set[str] = set()
    for obj in objects.values():
        if obj["type"] != "report":
            continue
        refs = list(obj.get("object_refs") or [])
        members = [r for r in refs if r.startswith("incident--")]
        report_techs = {t for r in refs if r in techniques for t in techniques[r]}
        if members:
            grouped.add(obj["id"])
            for m in members:
                uses.setdefault(m, set()).update(report_techs)
        else:
            uses.setdefault(obj["id"], set()).update(report_techs)

    candidates: list[_Candidate] = []
    defaulted_severity = 0
    for oid, obj in objects.items():
        if obj["type"] not in _INCIDENT_LIKE or oid in grouped:
            continue
        problems: list[str] = []
        techs = sorted(uses.get(oid, set()))
        origin = _origin(obj, objects)
        # Origin is the importer's institute. Only the store's operator importing for no institute (a replica or
        # restore of both institutes' records; it holds the store file anyway) keeps the bundle's own claim.
        originator = origin if operator_replica and origin in INSTITUTES else institute
        if originator not in INSTITUTES:
            problems.append(
                "no originating institute was chosen (UK or AU); the originator of every record is the importer's "
                "institute"
            )
        elif origin in INSTITUTES and origin != originator:
            # Origin is who imports: a bundle claiming the other institute is refused, never obeyed.
            problems.append(
                f"created_by_ref says {origin}, but records imported for {institute} originate in {institute}; "
                "a file cannot choose the originating institute"
            )
        own_tlp = _tlp_of(obj)
        if own_tlp is None and default_tlp is None:
            problems.append("no TLP marking on the object and no default TLP chosen")
        final_tlp = max([t for t in (own_tlp, default_tlp) if t], key=TLP_LEVELS.index, default=None)
        own_rel = None
        if obj.get("x_ukau_releasable_to") is not None:
            try:
                own_rel = list(parse_releasable(obj["x_ukau_releasable_to"]))
            except ValueError as e:
                problems.append(f"x_ukau_releasable_to: {e}")
        if own_rel is None and default_rel is None:
            problems.append("no releasability (x_ukau_releasable_to) and no default releasability chosen")
        rel = sorted(set(own_rel or INSTITUTES) & set(default_rel or INSTITUTES))
        if not rel:
            problems.append("its releasability and the chosen default have no institute in common")
        elif namespace in ("UK", "AU", "JOINT") and final_tlp not in (None, "RED"):
            # What an institute imports stays readable by it, so its own ids never hold records hidden from it.
            need = set(INSTITUTES) if namespace == "JOINT" else {namespace}
            if not need <= set(rel):
                problems.append(
                    f"releasable to {', '.join(rel)} only: {namespace} could not read what it imports"
                )
            elif final_tlp == "AMBER+STRICT" and namespace != originator:
                problems.append(
                    f"TLP:AMBER+STRICT is read only by the originating institute, not by {namespace}"
                )
        row: dict[str, Any] = {}
        convert_fields = {
            "actor_type": "actor_type",
            "sectors": "sectors",
            "countries": "countries",
            "affected_system": "text",
            "developer": "text",
            "status": "incident_status",
            "source_reliability": "reliability",
            "credibility": "credibility",
            "named_recipients": "emails",
        }
        for fname, kind in convert_fields.items():
            raw = obj.get(f"x_ukau_{fname}")
            try:
                row[fname] = _convert(kind, raw) if raw is not None else None
            except BadCell as e:
                problems.append(f"x_ukau_{fname}: {e}")
                row[fname] = None
        category = _category(obj, techs)
        if category is None:
            problems.append(
                "no category: set x_ukau_category, an incident type or a label naming one of "
                + ", ".join(vocab.CATEGORIES)
            )
        severity = None
        raw_sev = obj.get("x_ukau_severity")
        if raw_sev is None and obj.get("severity") is not None:
            raw_sev = _SEVERITY_WORDS.get(str(obj["severity"]).strip().lower(), obj["severity"])
        if raw_sev is not None:
            try:
                severity = _convert("severity", raw_sev)
            except BadCell as e:
                problems.append(f"severity: {e}")
        if severity is None and not any(p.startswith("severity") for p in problems):
            severity = 3
            defaulted_severity += 1
        try:
            occurred = _to_date(
                obj.get("x_ukau_occurred_on")
                or obj.get("first_seen")
                or obj.get("published")
                or obj["created"]
            )
            reported = _to_date(obj.get("x_ukau_reported_on") or obj.get("published") or obj["created"])
        except BadCell as e:
            problems.append(f"date: {e}")
            occurred = reported = None
        record_id = obj.get("x_ukau_id")
        claimed_id = None
        if record_id is not None:
            try:
                record_id = claimed_id = _convert("id", record_id)
            except BadCell as e:
                problems.append(f"x_ukau_id: {e}")
            if record_id and RESERVED_ID in str(record_id).upper():
                problems.append(f"x_ukau_id: ids containing {RESERVED_ID!r} are made by the importer")
        if not record_id:
            record_id = f"STIX-{oid.split('--', 1)[1]}"
        # The record id lives in the importer's namespace (see tabular): 'X' from AU is 'AU-X'. TLP:RED records
        # get a random one, as no RED record keeps an id a file chose (the store's operator, who sees every
        # record and so learns nothing from a clash, keeps the bundle's ids).
        record_id = (
            _new_incident_id(namespace)
            if final_tlp == "RED" and namespace is not None
            else namespaced_id(str(record_id), namespace)
        )
        recipients = row.pop("named_recipients") or []
        if final_tlp == "RED" and not recipients:
            problems.append("TLP:RED needs named recipients (x_ukau_named_recipients)")
        try:
            title = _convert("title", obj.get("name"))
            summary = _convert("long_text", obj.get("description"))
            tags = _convert("tags", list(obj.get("labels") or []))
        except BadCell as e:
            problems.append(f"text: {e}")
            title, summary, tags = obj.get("name"), None, []
        if problems:
            reasons += [f"{oid}: {p}" for p in problems]
            continue
        row.update(
            {
                "id": record_id,
                "title": title,
                "summary": summary,
                "occurred_on": occurred,
                "reported_on": reported,
                "originator": originator,
                "category": category,
                "severity": severity,
                "sectors": row["sectors"] or [],
                "countries": row["countries"] or [],
                "status": row["status"] or "new",
                "tlp": final_tlp,
                "releasable_to": rel,
                "named_recipients": recipients,
                "tags": tags or [],
            }
        )
        candidates.append(
            _Candidate(
                oid,
                str(record_id),
                obj,
                row,
                techs,
                origin,
                _naive_ms(obj["created"]),
                _naive_ms(obj["modified"]),
                claimed_id,
            )
        )
    if defaulted_severity:
        check.warnings.append(
            f"{defaulted_severity} incidents carried no severity and were set to 3 (moderate)"
        )

    notes: list[tuple[str, str, Any]] = []
    for oid, obj in objects.items():
        if obj["type"] == "note":
            for ref in obj.get("object_refs") or []:
                if ref.split("--")[0] in _INCIDENT_LIKE and ref not in grouped:
                    notes.append((oid, ref, obj))
    return candidates, notes, reasons


# -- importing ----------------------------------------------------------------------------------------------

_ROW_COLUMNS = (
    "id",
    "title",
    "summary",
    "occurred_on",
    "reported_on",
    "originator",
    "category",
    "severity",
    "actor_type",
    "sectors",
    "countries",
    "affected_system",
    "developer",
    "status",
    "tlp",
    "releasable_to",
    "named_recipients",
    "source_reliability",
    "credibility",
    "tags",
)
_ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("title", pa.string()),
        ("summary", pa.string()),
        ("occurred_on", pa.date32()),
        ("reported_on", pa.date32()),
        ("originator", pa.string()),
        ("category", pa.string()),
        ("severity", pa.int8()),
        ("actor_type", pa.string()),
        ("sectors", pa.list_(pa.string())),
        ("countries", pa.list_(pa.string())),
        ("affected_system", pa.string()),
        ("developer", pa.string()),
        ("status", pa.string()),
        ("tlp", pa.string()),
        ("releasable_to", pa.list_(pa.string())),
        ("named_recipients", pa.list_(pa.string())),
        ("source_reliability", pa.string()),
        ("credibility", pa.int8()),
        ("tags", pa.list_(pa.string())),
        ("created_at", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
    ]
)


def existing_stix_ids(con: duckdb.DuckDBPyConnection, viewer: Viewer | None = None) -> set[str]:
    """STIX ids a bundle may refer to without including them: for a person, only those of records they may see,
    so a reference to a hidden record is refused exactly like one to a record that does not exist."""
    if viewer is None:
        return {r[0] for r in con.execute("select stix_id from stix_records").fetchall()}
    vis, params = visible_sql(viewer, "incidents", "i")
    rows = con.execute(
        f"select s.stix_id from stix_records s join incidents i on i.id = s.record_id where {vis}", params
    ).fetchall()
    return {r[0] for r in rows}


def import_stix(
    store: Store,
    path: Path | str,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
) -> ImportReport:
    """CLI and inbox entry point."""
    p = Path(path)
    if p.stat().st_size > MAX_BYTES:
        raise ImportRefused(
            f"{p.name} is {p.stat().st_size / 1_048_576:.0f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB"
        )
    return import_stix_bytes(
        store, p.name, p.read_bytes(), actor=actor, institute=institute, tlp=tlp, releasable=releasable
    )


def import_stix_bytes(
    store: Store,
    name: str,
    data: bytes,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    viewer: Viewer | None = None,
) -> ImportReport:
    """Check the bundle, then add, update or leave each record in one transaction (all or nothing)."""
    if viewer is not None:
        audit.require(store, viewer, *RECORD_READERS, action="import", obj=f"file:{name}")
        actor = viewer.email
    institute = importer_institute(viewer, institute)
    namespace = id_namespace(viewer, institute)
    if viewer is not None and institute is None:
        raise ImportRefused(f"{Path(name).name}: choose the originating institute for the import (UK or AU)")
    con = store.cursor()
    try:
        known = existing_stix_ids(con, viewer)
    finally:
        con.close()
    check = check_bundle(name, data, known_ids=known)
    if not check.ok:
        raise ImportRefused(_refusal(check.name, check.reasons))
    candidates, notes, reasons = _build_candidates(
        check,
        institute=institute,
        tlp=tlp,
        releasable=releasable,
        namespace=namespace,
        operator_replica=viewer is None and institute is None,
    )
    if reasons:
        raise ImportRefused(_refusal(check.name, reasons))
    if not candidates and not notes:
        raise ImportRefused(f"{check.name}: no incidents or reports to import ({check.summary()})")

    if institute is None:
        # The batch belongs to the institute whose records it holds (for history and undo by its leads).
        owners = {c.row["originator"] for c in candidates}
        institute = owners.pop() if len(owners) == 1 else None
    report = ImportReport(kind="stix", source=check.name, batch_id=new_batch_id("stix"))
    report.warnings = list(check.warnings)
    report.details = {"objects": dict(check.counts)}
    with store.transaction() as tx:
        _apply(
            tx, candidates, notes, report, actor=actor, viewer=viewer, institute=institute, name=check.name
        )
        record_batch(tx, report, actor=actor, institute=institute)
        audit.record(
            tx,
            actor,
            "import",
            f"batch:{report.batch_id}",
            {
                "kind": "stix",
                "file": check.name,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            },
        )
    return report


def _refusal(name: str, reasons: list[str], limit: int = 40) -> str:
    lines = [f"{name}: refused, {len(reasons)} problems", *reasons[:limit]]
    if len(reasons) > limit:
        lines.append(f"... and {len(reasons) - limit} more")
    return "\n".join(lines)


def _apply(
    con: duckdb.DuckDBPyConnection,
    candidates: list[_Candidate],
    notes: list[tuple[str, str, Any]],
    report: ImportReport,
    *,
    actor: str,
    viewer: Viewer | None,
    institute: str | None,
    name: str,
) -> None:
    """Add, update or leave each candidate. Only records the importer may see count as existing: a STIX id or
    record id held by a hidden record is treated as free (the hidden record is never read, changed or named).
    An update, and a note, may only touch records of the importer's own institute; a bundle that would change
    a visible record of the other institute is refused, naming the object."""
    batch = report.batch_id
    ids = pa.table(
        {
            "stix_id": pa.array([c.stix_id for c in candidates], pa.string()),
            "record_id": pa.array([c.record_id for c in candidates], pa.string()),
            "claimed_id": pa.array([c.claimed_id for c in candidates], pa.string()),
        }
    )

    def seen_as(alias: str) -> tuple[str, dict[str, Any]]:
        return visible_sql(viewer, "incidents", alias) if viewer is not None else ("true", {})

    vis, params = seen_as("i")
    vis_s, _ = seen_as("e")  # same parameters: the viewer's
    vis_k, _ = seen_as("x")
    con.register("stix_candidates", ids)
    try:
        rows = con.execute(
            f"""
            select c.stix_id,
                   s.stix_id is not null, s.record_id, s.modified,
                   e.id is not null, coalesce({vis_s}, false), e.originator,
                   i.id is not null, coalesce({vis}, false), i.originator, i.updated_at,
                   i.tlp, i.releasable_to, i.named_recipients,
                   x.id is not null and coalesce({vis_k}, false), x.originator
            from stix_candidates c
            left join stix_records s on s.stix_id = c.stix_id
            left join incidents e on e.id = s.record_id
            left join incidents i on i.id = c.record_id
            left join incidents x on x.id = c.claimed_id
            """,
            params,
        ).fetchall()
    finally:
        con.unregister("stix_candidates")
    state = {r[0]: r for r in rows}

    # Refusals first, so nothing is written when one applies (the caller's transaction is all or nothing).
    reasons: list[str] = []
    for c in candidates:
        (_, has_s, _, _, s_rec, s_vis, s_orig, _, _, _, _, _, _, _, claimed_vis, claimed_orig) = state[
            c.stix_id
        ]
        own = c.row["originator"]  # the importer's institute (see _build_candidates)
        if has_s and s_rec and s_vis and s_orig != own:
            reasons.append(
                f"{c.stix_id}: this STIX object is a record of {s_orig}; an import for {own} may only change "
                f"records of {own}"
            )
        elif claimed_vis and claimed_orig != own:
            reasons.append(
                f"{c.stix_id}: x_ukau_id {c.claimed_id} is a record of {claimed_orig}; an import for {own} "
                f"may only change records of {own}"
            )
    if reasons:
        raise ImportRefused(_refusal(name, reasons))

    new: list[_Candidate] = []
    accepted: dict[str, str] = {}
    stix_taken: set[str] = set()
    seen_records: set[str] = set()
    for c in candidates:
        (_, has_s, s_record, s_modified, s_rec, s_vis, _, inc, inc_vis, _, inc_updated, *marks) = state[
            c.stix_id
        ]
        marks = marks[:3]
        known_stix = has_s and (s_vis or not s_rec)
        if has_s and s_rec and not s_vis:
            stix_taken.add(c.stix_id)  # held by a record this person may not see: as if it were free
        if known_stix and s_rec:
            # the record this STIX id was imported as before, visible to the importer
            c.record_id = s_record
            c.row["id"] = s_record
            inc_exists, current = True, _naive_ms(s_modified)
        elif known_stix:  # its record was removed (undone) since; bring it back as new
            con.execute("delete from stix_records where stix_id = ?", [c.stix_id])
            c.record_id = s_record
            c.row["id"] = s_record
            inc_exists, current = False, None
        elif inc and not inc_vis:
            # the id is held by a record hidden from the importer (made before ids were namespaced): a new id
            c.record_id = _new_incident_id(institute)
            c.row["id"] = c.record_id
            inc_exists, current = False, None
        else:
            inc_exists, current = bool(inc), (_naive_ms(inc_updated) if inc else None)
        if c.record_id in seen_records:
            report.rejected += 1
            report.warnings.append(
                f"{c.stix_id}: a second object for record {c.record_id} in this bundle; skipped"
            )
            continue
        seen_records.add(c.record_id)
        if not inc_exists:
            new.append(c)
            accepted[c.stix_id] = c.record_id
            continue
        if not known_stix and c.stix_id not in stix_taken and c.origin == "EXTERNAL":
            # An outside object whose id collides with a record of ours made here: never merge the two.
            report.rejected += 1
            report.warnings.append(f"{c.stix_id}: not imported, its id is already in use")
            continue
        accepted[c.stix_id] = c.record_id
        assert current is not None
        if c.modified <= current:
            report.unchanged += 1
            if c.modified < current:
                report.warnings.append(f"{c.stix_id}: an older version than the one held; kept the newer one")
            continue
        _update(
            con, c, marks, report, actor=actor, had_stix=known_stix, record_stix=c.stix_id not in stix_taken
        )
    if new:
        _insert(con, new, batch, skip_stix=stix_taken)
        report.added += len(new)
    _insert_notes(con, notes, accepted, report, viewer=viewer, institute=institute, name=name)


def _insert(
    con: duckdb.DuckDBPyConnection, new: list[_Candidate], batch: str, *, skip_stix: set[str] | None = None
) -> None:
    cols: dict[str, list[Any]] = {name: [] for name in _ARROW_SCHEMA.names}
    for c in new:
        for name in _ROW_COLUMNS:
            cols[name].append(c.row.get(name))
        cols["created_at"].append(c.created)
        cols["updated_at"].append(c.modified)
    table = pa.table({n: pa.array(v, type=_ARROW_SCHEMA.field(n).type) for n, v in cols.items()})
    techs = pa.table(
        {
            "incident_id": pa.array([c.record_id for c in new for _ in c.techniques], pa.string()),
            "technique_id": pa.array([t for c in new for t in c.techniques], pa.string()),
        }
    )
    # A STIX id already held by a record hidden from the importer keeps pointing there; the new record is found
    # again by its own id next time.
    mapped = [c for c in new if c.stix_id not in (skip_stix or set())]
    records = pa.table(
        {
            "stix_id": pa.array([c.stix_id for c in mapped], pa.string()),
            "record_id": pa.array([c.record_id for c in mapped], pa.string()),
            "object_type": pa.array([c.obj["type"] for c in mapped], pa.string()),
            "created": pa.array([c.created for c in mapped], pa.timestamp("us")),
            "modified": pa.array([c.modified for c in mapped], pa.timestamp("us")),
            "origin": pa.array([c.origin for c in mapped], pa.string()),
        }
    )
    con.register("stix_new_incidents", table)
    con.register("stix_new_techniques", techs)
    con.register("stix_new_records", records)
    try:
        columns = ", ".join((*_ROW_COLUMNS, "created_at", "updated_at"))
        con.execute(
            f"insert into incidents ({columns}, source, import_batch) "
            f"select {columns}, '{SOURCE_TAG}', $batch from stix_new_incidents",
            {"batch": batch},
        )
        con.execute(
            "insert into incident_techniques select distinct incident_id, technique_id from stix_new_techniques"
        )
        con.execute(
            "insert into stix_records (stix_id, record_id, object_type, created, modified, origin, import_batch) "
            "select stix_id, record_id, object_type, created, modified, origin, $batch from stix_new_records",
            {"batch": batch},
        )
    finally:
        for name in ("stix_new_incidents", "stix_new_techniques", "stix_new_records"):
            con.unregister(name)


def snapshot_incident(con: duckdb.DuckDBPyConnection, record_id: str) -> dict[str, Any]:
    """The whole stored state of one incident (row, techniques, STIX record), for history and undo."""
    cur = con.execute("select * from incidents where id = ?", [record_id])
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert rows, record_id
    row = rows[0]
    techniques = [
        r[0]
        for r in con.execute(
            "select technique_id from incident_techniques where incident_id = ? order by 1", [record_id]
        ).fetchall()
    ]
    stix_cur = con.execute("select * from stix_records where record_id = ?", [record_id])
    stix_names = [d[0] for d in stix_cur.description]
    stix_rows = [dict(zip(stix_names, r, strict=True)) for r in stix_cur.fetchall()]
    return {"row": dict(zip(names, row, strict=True)), "techniques": techniques, "stix": stix_rows}


def _update(
    con: duckdb.DuckDBPyConnection,
    c: _Candidate,
    marks: list[Any],
    report: ImportReport,
    *,
    actor: str,
    had_stix: bool,
    record_stix: bool = True,
) -> None:
    old_tlp, old_rel, old_named = marks
    previous = snapshot_incident(con, c.record_id)
    con.execute(
        "insert into record_history (table_name, record_id, batch_id, previous, replaced_by) "
        "values ('incidents', ?, ?, ?, ?)",
        [c.record_id, report.batch_id, json.dumps(previous, default=str), actor],
    )
    row = dict(c.row)
    # Never lower a marking: keep the higher TLP, the narrower releasability, and RED's recipients.
    if TLP_LEVELS.index(old_tlp) > TLP_LEVELS.index(row["tlp"]):
        report.warnings.append(f"{c.stix_id}: kept TLP:{old_tlp}; the update says TLP:{row['tlp']}")
        row["tlp"] = old_tlp
    narrowed = sorted(set(row["releasable_to"]) & set(old_rel))
    if narrowed != sorted(row["releasable_to"]):
        report.warnings.append(f"{c.stix_id}: kept releasability {', '.join(narrowed)}")
    row["releasable_to"] = narrowed
    if old_tlp == "RED" and old_named:
        row["named_recipients"] = list(old_named)
    if not narrowed:
        raise ImportRefused(f"{c.stix_id}: the update would leave record {c.record_id} releasable to nobody")
    row["id"] = c.record_id
    assignments = ", ".join(f"{col} = ${col}" for col in _ROW_COLUMNS if col != "id")
    con.execute(
        f"update incidents set {assignments}, updated_at = $modified, source = '{SOURCE_TAG}' where id = $id",
        {**{col: row.get(col) for col in _ROW_COLUMNS}, "modified": c.modified},
    )
    con.execute("delete from incident_techniques where incident_id = ?", [c.record_id])
    if c.techniques:
        con.executemany(
            "insert into incident_techniques values (?, ?)", [[c.record_id, t] for t in c.techniques]
        )
    if had_stix:
        con.execute("update stix_records set modified = ? where stix_id = ?", [c.modified, c.stix_id])
    elif record_stix:
        con.execute(
            "insert into stix_records (stix_id, record_id, object_type, created, modified, origin, import_batch) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [c.stix_id, c.record_id, c.obj["type"], c.created, c.modified, c.origin, report.batch_id],
        )
    report.updated += 1


def _insert_notes(
    con: duckdb.DuckDBPyConnection,
    notes: list[tuple[str, str, Any]],
    record_for: Mapping[str, str],
    report: ImportReport,
    *,
    viewer: Viewer | None,
    institute: str | None,
    name: str,
) -> None:
    """Notes about records of this bundle that were imported, or about records the importer may see that belong
    to their own institute (a note travels with the record into its owner's partner export, so adding one is a
    change). A note about a visible record of the other institute refuses the bundle; a note about a record the
    importer may not see was already refused by check_bundle exactly like one about a missing record."""
    if not notes:
        return
    existing = {
        (r[0], r[1]) for r in con.execute("select stix_id, incident_id from incident_notes").fetchall()
    }
    vis, params = visible_sql(viewer, "incidents", "i") if viewer is not None else ("true", {})
    rows = []
    reasons = []
    for note_id, target, obj in notes:
        record_id = record_for.get(target)
        if record_id is None:
            hits = con.execute(
                f"select s.record_id, i.originator from stix_records s join incidents i on i.id = s.record_id "
                f"where s.stix_id = $target and {vis}",
                {**params, "target": target},
            ).fetchall()
            if hits and institute is not None and hits[0][1] != institute:
                reasons.append(
                    f"{note_id}: {target} is a record of {hits[0][1]}; an import for {institute} may only add "
                    f"notes to records of {institute}"
                )
                continue
            record_id = hits[0][0] if hits else None
        if record_id is None or (note_id, record_id) in existing:
            continue
        existing.add((note_id, record_id))
        author = obj.get("authors")
        rows.append(
            [
                note_id,
                record_id,
                ", ".join(author) if isinstance(author, list) else author,
                obj.get("abstract"),
                obj["content"],
                _naive_ms(obj["created"]),
                report.batch_id,
            ]
        )
    if reasons:
        raise ImportRefused(_refusal(name, reasons))
    if rows:
        con.executemany(
            "insert into incident_notes (stix_id, incident_id, author, abstract, content, created, import_batch) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        report.details["notes"] = len(rows)
