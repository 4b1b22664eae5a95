"""Turning a checked bundle's objects into incident records (candidates), their techniques and notes.

Why a module of its own: what becomes what is the importer's whole interpretation of STIX, and it needs no store.
- `incident` objects become incidents; a `report` that refers to no incident (how MISP events arrive) becomes an
  incident too, and a report that does refer to incidents gives them its attack patterns;
- `attack-pattern` objects with an ATLAS external reference become the techniques of the incidents that use them
  (a `relationship`, or the same report);
- properties prefixed `x_ukau_` carry this dashboard's own fields; a category missing from them is inferred from
  the techniques through the product crosswalk (analytics.crosswalk), never from demo data.
Markings: the default TLP can only raise an object's marking, the default releasability only narrow it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from analytics import crosswalk, vocab
from analytics.access.markings import INSTITUTES, TLP_LEVELS, normalise_tlp, parse_releasable
from analytics.ingest import RESERVED_ID, namespaced_id
from analytics.ingest.stix.check import BundleCheck
from analytics.ingest.tabular.convert import CONVERTERS, BadCell
from analytics.stix_vocabulary import ATLAS_SOURCE_NAMES, INSTITUTE_IDENTITIES, KNOWN_MARKINGS

_TECHNIQUE_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
INCIDENT_LIKE = ("incident", "report")
_SEVERITY_WORDS = {"low": 2, "medium": 3, "moderate": 3, "high": 4, "critical": 5, "negligible": 1}
# x_ukau_ properties converted like the same spreadsheet fields (analytics.ingest.tabular.convert).
_CONVERTED_FIELDS = {
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


@dataclass
class Candidate:
    """One incident the bundle would add or update: its row (store columns) and what it came from."""

    stix_id: str
    record_id: str
    obj: Any
    row: dict[str, Any]
    techniques: list[str]
    origin: str  # 'UK' | 'AU' | 'EXTERNAL'
    created: datetime
    modified: datetime
    claimed_id: str | None = None  # x_ukau_id as the bundle gave it, before namespacing


@dataclass(frozen=True)
class _Import:
    """For whom and with which defaults the bundle is imported."""

    institute: str | None
    default_tlp: str | None
    default_rel: list[str] | None
    namespace: str | None
    operator_replica: bool


Note = tuple[str, str, Any]  # (note stix id, incident stix id, note)


def naive_ms(value: datetime) -> datetime:
    """UTC naive datetime truncated to milliseconds: how `modified` is stored and compared."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def new_incident_id(namespace: str | None) -> str:
    """A random id in the importer's namespace (TLP:RED records, and ids held by records hidden from them)."""
    return f"{(namespace or 'X').upper()}-IMP-{uuid.uuid4().hex[:12]}"


def build_candidates(
    check: BundleCheck,
    *,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    namespace: str | None = None,
    operator_replica: bool = False,
) -> tuple[list[Candidate], list[Note], list[str]]:
    """Records, notes (note stix id, incident stix id, note) and reasons to refuse, from a checked bundle."""
    how = _Import(
        institute,
        normalise_tlp(tlp) if tlp else None,
        list(parse_releasable(releasable)) if releasable else None,
        namespace,
        operator_replica,
    )
    uses, grouped = _technique_uses(check)
    reasons: list[str] = []
    candidates: list[Candidate] = []
    defaulted_severity = 0
    for oid, obj in check.objects.items():
        if obj["type"] not in INCIDENT_LIKE or oid in grouped:
            continue
        problems: list[str] = []
        candidate, defaulted = _candidate(
            oid, obj, sorted(uses.get(oid, set())), check.objects, how, problems
        )
        if problems or candidate is None:
            reasons += [f"{oid}: {p}" for p in problems]
            continue
        defaulted_severity += defaulted
        candidates.append(candidate)
    if defaulted_severity:
        check.warnings.append(
            f"{defaulted_severity} incidents carried no severity and were set to 3 (moderate)"
        )
    notes: list[Note] = []
    for oid, obj in check.objects.items():
        if obj["type"] == "note":
            for ref in obj.get("object_refs") or []:
                if ref.split("--")[0] in INCIDENT_LIKE and ref not in grouped:
                    notes.append((oid, ref, obj))
    return candidates, notes, reasons


def _technique_uses(check: BundleCheck) -> tuple[dict[str, set[str]], set[str]]:
    """ATLAS technique ids per incident-like object (through relationships and reports), and the reports that
    only group incidents (they give their techniques to their incidents and are not records themselves)."""
    objects = check.objects
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
            if src in techniques and tgt.split("--")[0] in INCIDENT_LIKE:
                src, tgt = tgt, src
            if tgt in techniques and src.split("--")[0] in INCIDENT_LIKE:
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
    return uses, grouped


def _candidate(
    oid: str, obj: Any, techs: list[str], objects: Mapping[str, Any], how: _Import, problems: list[str]
) -> tuple[Candidate | None, int]:
    """One incident-like object as a candidate record (None if it has problems, each appended to `problems`),
    and 1 if its severity was defaulted."""
    origin = _origin(obj, objects)
    # Origin is the importer's institute. Only the store's operator importing for no institute (a replica or
    # restore of both institutes' records; it holds the store file anyway) keeps the bundle's own claim.
    originator = origin if how.operator_replica and origin in INSTITUTES else how.institute
    if originator not in INSTITUTES:
        problems.append(
            "no originating institute was chosen (UK or AU); the originator of every record is the importer's "
            "institute"
        )
    elif origin in INSTITUTES and origin != originator:
        # Origin is who imports: a bundle claiming the other institute is refused, never obeyed.
        problems.append(
            f"created_by_ref says {origin}, but records imported for {how.institute} originate in "
            f"{how.institute}; a file cannot choose the originating institute"
        )
    final_tlp, rel = _marking(obj, how, originator, problems)
    row: dict[str, Any] = {}
    for fname, kind in _CONVERTED_FIELDS.items():
        raw = obj.get(f"x_ukau_{fname}")
        try:
            row[fname] = CONVERTERS[kind](raw) if raw is not None else None
        except BadCell as e:
            problems.append(f"x_ukau_{fname}: {e}")
            row[fname] = None
    category = _category(obj, techs)
    if category is None:
        problems.append(
            "no category: set x_ukau_category, an incident type or a label naming one of "
            + ", ".join(vocab.CATEGORIES)
        )
    severity, defaulted = _severity(obj, problems)
    occurred, reported = _dates(obj, problems)
    record_id, claimed_id = _record_id(oid, obj, final_tlp, how.namespace, problems)
    recipients = row.pop("named_recipients") or []
    if final_tlp == "RED" and not recipients:
        problems.append("TLP:RED needs named recipients (x_ukau_named_recipients)")
    try:
        title = CONVERTERS["title"](obj.get("name"))
        summary = CONVERTERS["long_text"](obj.get("description"))
        tags = CONVERTERS["tags"](list(obj.get("labels") or []))
    except BadCell as e:
        problems.append(f"text: {e}")
        title, summary, tags = obj.get("name"), None, []
    if problems:
        return None, 0
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
            "occurred_precision": _precision(obj.get("x_ukau_occurred_precision")),
        }
    )
    created, modified = naive_ms(obj["created"]), naive_ms(obj["modified"])
    return Candidate(oid, record_id, obj, row, techs, origin, created, modified, claimed_id), defaulted


def _marking(
    obj: Any, how: _Import, originator: str | None, problems: list[str]
) -> tuple[str | None, list[str]]:
    """The object's TLP raised by the default and its releasability narrowed by it; what an institute imports
    must stay readable by that institute, so its own ids never hold records hidden from it."""
    own_tlp = _tlp_of(obj)
    if own_tlp is None and how.default_tlp is None:
        problems.append("no TLP marking on the object and no default TLP chosen")
    final_tlp = max([t for t in (own_tlp, how.default_tlp) if t], key=TLP_LEVELS.index, default=None)
    own_rel = None
    if obj.get("x_ukau_releasable_to") is not None:
        try:
            own_rel = list(parse_releasable(obj["x_ukau_releasable_to"]))
        except ValueError as e:
            problems.append(f"x_ukau_releasable_to: {e}")
    if own_rel is None and how.default_rel is None:
        problems.append("no releasability (x_ukau_releasable_to) and no default releasability chosen")
    rel = sorted(set(own_rel or INSTITUTES) & set(how.default_rel or INSTITUTES))
    ns = how.namespace
    if not rel:
        problems.append("its releasability and the chosen default have no institute in common")
    elif ns in ("UK", "AU", "JOINT") and final_tlp not in (None, "RED"):
        need = set(INSTITUTES) if ns == "JOINT" else {ns}
        if not need <= set(rel):
            problems.append(f"releasable to {', '.join(rel)} only: {ns} could not read what it imports")
        elif final_tlp == "AMBER+STRICT" and ns != originator:
            problems.append(f"TLP:AMBER+STRICT is read only by the originating institute, not by {ns}")
    return final_tlp, rel


def _severity(obj: Any, problems: list[str]) -> tuple[Any, int]:
    """x_ukau_severity, else the STIX severity word; 3 (moderate) when the object gives none (then 1)."""
    severity = None
    raw_sev = obj.get("x_ukau_severity")
    if raw_sev is None and obj.get("severity") is not None:
        raw_sev = _SEVERITY_WORDS.get(str(obj["severity"]).strip().lower(), obj["severity"])
    if raw_sev is not None:
        try:
            severity = CONVERTERS["severity"](raw_sev)
        except BadCell as e:
            problems.append(f"severity: {e}")
    if severity is None and not any(p.startswith("severity") for p in problems):
        return 3, 1
    return severity, 0


def _dates(obj: Any, problems: list[str]) -> tuple[date | None, date | None]:
    """When it occurred and when it was reported, from this dashboard's properties or STIX's own."""
    try:
        occurred = _to_date(
            obj.get("x_ukau_occurred_on") or obj.get("first_seen") or obj.get("published") or obj["created"]
        )
        reported = _to_date(obj.get("x_ukau_reported_on") or obj.get("published") or obj["created"])
    except BadCell as e:
        problems.append(f"date: {e}")
        return None, None
    return occurred, reported


def _record_id(
    oid: str, obj: Any, final_tlp: str | None, namespace: str | None, problems: list[str]
) -> tuple[str, str | None]:
    """The record id, in the importer's namespace, and the id the bundle claimed (x_ukau_id) if any."""
    record_id = obj.get("x_ukau_id")
    claimed_id = None
    if record_id is not None:
        try:
            record_id = claimed_id = CONVERTERS["id"](record_id)
        except BadCell as e:
            problems.append(f"x_ukau_id: {e}")
        if record_id and RESERVED_ID in str(record_id).upper():
            problems.append(f"x_ukau_id: ids containing {RESERVED_ID!r} are made by the importer")
    if not record_id:
        record_id = f"STIX-{oid.split('--', 1)[1]}"
    # The record id lives in the importer's namespace (see tabular): 'X' from AU is 'AU-X'. TLP:RED records get a
    # random one, as no RED record keeps an id a file chose (the store's operator, who sees every record and so
    # learns nothing from a clash, keeps the bundle's ids).
    if final_tlp == "RED" and namespace is not None:
        return new_incident_id(namespace), claimed_id
    return namespaced_id(str(record_id), namespace), claimed_id


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


def _technique_ids(ap: Any) -> list[str]:
    out = []
    for ref in ap.get("external_references") or []:
        src = str(ref.get("source_name") or "").strip().lower()
        ext = str(ref.get("external_id") or "").strip().upper()
        if src in ATLAS_SOURCE_NAMES and _TECHNIQUE_ID.match(ext):
            out.append(ext)
    return out


def _category(obj: Any, techniques: Sequence[str]) -> str | None:
    """This dashboard's category from the object's own words, else inferred from its ATLAS techniques."""
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
    return crosswalk.category_for_techniques(techniques)


def _to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    converted: date | None = CONVERTERS["date"](value)
    return converted


def _precision(value: Any) -> str:
    """The date precision a bundle states (our own exports do), or day: a date given plainly is taken at its
    word."""
    return value if value in vocab.DATE_PRECISIONS else "day"
