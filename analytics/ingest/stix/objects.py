"""Turning a checked bundle's objects into incident records (candidates), their techniques and notes.

Why a module of its own: what becomes what is the importer's whole interpretation of STIX, and it needs no store.
- `incident` objects become incidents; a `report` or `grouping` that refers to no incident (how MISP events
  arrive: published ones as reports, unpublished ones as groupings) becomes an incident too, and one that does
  refer to incidents gives them its attack patterns, unless it carries relationships saying which incident uses
  which (then those decide). Our own export's report (`x_ukau_export_for`) is only a wrapper;
- ATLAS techniques come from `attack-pattern` objects whose external id is AML.T... (whatever the source name)
  and from MISP galaxy clusters (`x-misp-galaxy-cluster`, external id in x_misp_meta or the value), for the
  incidents related to them (any relationship, or the same report or grouping);
- properties prefixed `x_ukau_` carry this dashboard's own fields. An object with `x_ukau_id` is a record of this
  dashboard (a partner's instance, or our own export): it is read exactly, absent stays absent (no reported date
  from `created`, no status `new`), its text is kept as written, its category may be `Unmapped`, and its
  `x_ukau_source` (atlas, aiid ...) is kept, with public data created by its public source's identity;
- for anything else a category missing from the object is taken from the import's constants (--set), else
  inferred from the techniques through the product crosswalk (analytics.crosswalk); a severity from STIX's word
  or MISP's threat level (x_misp_threat_level_id, or a `misp:threat-level` / `threat-level:` tag).
Markings: the default TLP can only raise an object's marking, the default releasability only narrow it; TLP:RED
objects without named recipients take the import's (--recipients).
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
from analytics.ingest import RESERVED_ID, ImportRefused, namespaced_id
from analytics.ingest.atlas import UNMAPPED_CATEGORY
from analytics.ingest.stix.check import BundleCheck
from analytics.ingest.tabular.convert import CONVERTERS, BadCell
from analytics.sources import PUBLIC_ORIGINATOR, PUBLIC_SOURCE_KEYS
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, KNOWN_MARKINGS, public_source_identity
from analytics.wording import counted

# The identities that create public data (fixed ids; analytics/sources.py registers the sources).
PUBLIC_SOURCE_IDENTITIES: dict[str, str] = {
    key: public_source_identity(key) for key in sorted(PUBLIC_SOURCE_KEYS)
}
_TECHNIQUE_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
# As the spreadsheet converters: C0 controls and DEL, except tab and line breaks, are never intended in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TECHNIQUE_IN_TEXT = re.compile(r"\bAML\.T\d{4}(?:\.\d{3})?\b")
INCIDENT_LIKE = ("incident", "report", "grouping")
CONTAINERS = ("report", "grouping")
SOURCE_TAG = "stix"  # incidents.source of what a bundle brought, unless it names its own (x_ukau_source)
_SEVERITY_WORDS = {"low": 2, "medium": 3, "moderate": 3, "high": 4, "critical": 5, "negligible": 1}
# MISP's event threat level (1 high, 2 medium, 3 low, 4 undefined) and the threat-level tags, as a severity.
_MISP_THREAT_LEVEL = {"1": 4, "2": 3, "3": 2}
_THREAT_LEVEL_TAG = re.compile(r'^(?:misp:threat-level="?|threat-level:)([a-z-]+)"?$')
_THREAT_LEVEL_WORDS = {
    "high": 4,
    "high-risk": 4,
    "medium": 3,
    "medium-risk": 3,
    "low": 2,
    "low-risk": 2,
    "no-risk": 1,
}
# Exact text limits for records of this dashboard (the tabular limits for name and description; labels and the
# short text fields up to 1,000: AIID's classifications reach ~200 characters, AVID's affected systems ~400).
_TEXT_LIMITS = {"name": 500, "description": 20_000, "label": 1_000, "field": 1_000}
# Fields the import's constants (--set) may fill; markings and identity have flags of their own.
CONSTANT_FIELDS = {
    "category": "category",
    "severity": "severity",
    "occurred_precision": "date_precision",
    **{
        k: v
        for k, v in {
            "actor_type": "actor_type",
            "sectors": "sectors",
            "countries": "countries",
            "affected_system": "text",
            "developer": "text",
            "status": "incident_status",
            "source_reliability": "reliability",
            "credibility": "credibility",
        }.items()
    },
}
_FLAG_FIELDS = {
    "tlp": "--tlp",
    "releasable_to": "--releasable",
    "named_recipients": "--recipients",
    "originator": "--as",
}
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
    origin: str  # 'UK' | 'AU' | 'PUBLIC' | 'EXTERNAL'
    created: datetime
    modified: datetime
    claimed_id: str | None = None  # x_ukau_id as the bundle gave it, before namespacing
    derived_from: tuple[
        str, ...
    ] = ()  # third-party objects it was made from (derived-from), kept as its ids too


@dataclass(frozen=True)
class _Import:
    """For whom and with which defaults the bundle is imported."""

    institute: str | None
    default_tlp: str | None
    default_rel: list[str] | None
    namespace: str | None
    operator_replica: bool
    constants: Mapping[str, Any]
    recipients: list[str]


Note = tuple[str, str, Any]  # (note id to store: the first id it had, incident stix id, note)


def naive_ms(value: datetime | str) -> datetime:
    """UTC naive datetime, as `created`/`modified` are stored and compared (kept to the microsecond: STIX gives
    at least milliseconds, and a record's timestamps must survive the round trip exactly)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def read_constants(
    constants: Mapping[str, str] | None, recipients: Sequence[str] | None
) -> tuple[dict[str, Any], list[str]]:
    """The import's constants (--set FIELD=VALUE) converted like cells, and its named recipients; a field that
    cannot be set this way, or a bad value, refuses the import in one line naming it."""
    out: dict[str, Any] = {}
    for name, raw in (constants or {}).items():
        field = name.strip().lower()
        if field in _FLAG_FIELDS:
            raise ImportRefused(f"--set {name}: give it with {_FLAG_FIELDS[field]}")
        if field not in CONSTANT_FIELDS:
            raise ImportRefused(
                f"--set {name}: not a field a STIX import can set (one of: {', '.join(sorted(CONSTANT_FIELDS))})"
            )
        try:
            out[field] = CONVERTERS[CONSTANT_FIELDS[field]](raw)
        except BadCell as e:
            raise ImportRefused(f"--set {name}={raw}: {e}") from None
    try:
        named = CONVERTERS["emails"](list(recipients or []))
    except BadCell as e:
        raise ImportRefused(f"--recipients: {e}") from None
    return out, named


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
    constants: Mapping[str, Any] | None = None,
    recipients: Sequence[str] | None = None,
) -> tuple[list[Candidate], list[Note], list[str]]:
    """Records, notes (note id to store, incident stix id, note) and reasons to refuse, from a checked bundle.
    `constants` are already converted (read_constants)."""
    how = _Import(
        institute,
        normalise_tlp(tlp) if tlp else None,
        list(parse_releasable(releasable)) if releasable else None,
        namespace,
        operator_replica,
        dict(constants or {}),
        list(recipients or []),
    )
    uses, grouped = _technique_uses(check)
    derived: dict[str, set[str]] = {}
    for o in check.objects.values():
        if o["type"] == "relationship" and o["relationship_type"] == "derived-from":
            derived.setdefault(o["source_ref"], set()).add(o["target_ref"])
    reasons: list[str] = []
    candidates: list[Candidate] = []
    defaulted_severity = 0
    public_skipped = 0
    for oid, obj in check.objects.items():
        if obj["type"] not in INCIDENT_LIKE or oid in grouped:
            continue
        if not how.operator_replica and _origin(obj, check.objects) == PUBLIC_ORIGINATOR:
            # A partner's export carries the public records it holds (ATLAS, AIID ...). An institute's import
            # may not make them its own, nor vouch for them as the public source's: they are left out, and
            # the rest of the bundle comes in (refusing it would make every exchange of a store holding public
            # data fail).
            public_skipped += 1
            continue
        problems: list[str] = []
        candidate, defaulted = _candidate(
            oid, obj, sorted(uses.get(oid, set())), check.objects, how, problems
        )
        if problems or candidate is None:
            reasons += [f"{oid}: {p}" for p in problems]
            continue
        defaulted_severity += defaulted
        candidate.derived_from = tuple(sorted(derived.get(oid, ())))
        candidates.append(candidate)
    if defaulted_severity:
        check.warnings.append(
            f"{counted(defaulted_severity, 'incident')} without a severity: set to 3 (moderate)"
        )
    if public_skipped:
        check.warnings.append(
            f"{counted(public_skipped, 'record')} created by public sources were left out: public data comes in from its "
            "source (python -m analytics import atlas|aiid|avid|...) or with the store's operator's replica "
            "(no --as), never as an institute's record"
        )
    return candidates, _notes(check, grouped), reasons


def _notes(check: BundleCheck, grouped: set[str]) -> list[Note]:
    """Notes about incident-like objects. A note `derived-from` another note (how an export re-sends a note it
    received) is stored under the note it came from, so the same note never arrives twice under two ids. The
    summary notes our export writes for MISP (x_ukau_summary_of) repeat the incident and are not stored."""
    roots = {
        o["source_ref"]: o["target_ref"]
        for o in check.objects.values()
        if o["type"] == "relationship"
        and o["relationship_type"] == "derived-from"
        and str(o["source_ref"]).startswith("note--")
        and str(o["target_ref"]).startswith("note--")
    }
    notes: list[Note] = []
    for oid, obj in check.objects.items():
        if obj["type"] != "note" or obj.get("x_ukau_summary_of") is not None:
            continue
        for ref in obj.get("object_refs") or []:
            if ref.split("--")[0] in INCIDENT_LIKE and ref not in grouped:
                notes.append((roots.get(oid, oid), ref, obj))
    return notes


def _technique_uses(check: BundleCheck) -> tuple[dict[str, set[str]], set[str]]:
    """ATLAS technique ids per incident-like object (through relationships and containers), and the containers
    that are not records themselves: those grouping incidents (they give their techniques to their incidents
    unless they carry relationships that say which incident is related to which technique) and our own export's
    wrapper report."""
    objects = check.objects
    techniques: dict[str, list[str]] = {}
    patterns = 0
    for oid, obj in objects.items():
        if obj["type"] in ("attack-pattern", "x-misp-galaxy-cluster"):
            patterns += obj["type"] == "attack-pattern"
            ids = _technique_ids(obj)
            if ids:
                techniques[oid] = ids
    no_atlas = patterns - sum(1 for oid in techniques if oid.startswith("attack-pattern--"))
    if no_atlas:
        check.warnings.append(f"{counted(no_atlas, 'attack pattern')} without an ATLAS reference: not used")
    uses: dict[str, set[str]] = {}
    related: set[str] = set()
    for obj in objects.values():
        if obj["type"] == "relationship":
            src, tgt = obj["source_ref"], obj["target_ref"]
            if src in techniques and tgt.split("--")[0] in INCIDENT_LIKE:
                src, tgt = tgt, src
            if tgt in techniques and src.split("--")[0] in INCIDENT_LIKE:
                uses.setdefault(src, set()).update(techniques[tgt])
                related.add(obj["id"])
    grouped: set[str] = set()
    for obj in objects.values():
        if obj["type"] not in CONTAINERS:
            continue
        refs = list(obj.get("object_refs") or [])
        if obj.get("x_ukau_export_for") is not None:
            grouped.add(obj["id"])  # the wrapper of our export: its relationships say everything
            continue
        members = [r for r in refs if r.split("--")[0] in INCIDENT_LIKE and r != obj["id"]]
        report_techs = {t for r in refs if r in techniques for t in techniques[r]}
        if members:
            grouped.add(obj["id"])
            if not any(r in related for r in refs):
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
    ours = obj.get("x_ukau_id") is not None  # a record of this dashboard: read exactly, nothing invented
    origin = _origin(obj, objects)
    originator = _originator(origin, how, problems)
    final_tlp, rel = _marking(obj, how, originator, problems)
    if originator == PUBLIC_ORIGINATOR and final_tlp in ("AMBER+STRICT", "RED"):
        problems.append(f"public data is never TLP:{final_tlp} (CLEAR, GREEN or AMBER)")
    row: dict[str, Any] = {}
    for fname, kind in _CONVERTED_FIELDS.items():
        raw = obj.get(f"x_ukau_{fname}")
        try:
            if ours and kind == "text":
                row[fname] = _exact(raw, "field")  # kept as written, like the record's other text
            else:
                row[fname] = CONVERTERS[kind](raw) if raw is not None else None
        except BadCell as e:
            problems.append(f"x_ukau_{fname}: {e}")
            row[fname] = None
        if row[fname] in (None, []) and fname in how.constants:
            row[fname] = how.constants[fname]
    category = _category(obj, techs, how, problems)
    severity, defaulted = _severity(obj, how, problems)
    occurred, reported = _dates(obj, ours, problems)
    record_id, claimed_id = _record_id(oid, obj, final_tlp, how.namespace, problems)
    recipients = row.pop("named_recipients") or []
    if final_tlp == "RED" and not recipients:
        recipients = list(how.recipients)
        if not recipients:
            problems.append("TLP:RED needs named recipients (x_ukau_named_recipients, or --recipients)")
    title, summary, tags = _texts(obj, ours, problems)
    source = _source(obj, originator, problems)
    if problems:
        return None, 0
    status = row["status"] if ours else row["status"] or "new"
    row.update(
        {
            "id": record_id,
            "title": title,
            "summary": summary,
            "occurred_on": occurred,
            "reported_on": reported,
            "originator": originator,
            "source": source,
            "category": category,
            "severity": severity,
            "sectors": row["sectors"] or [],
            "countries": row["countries"] or [],
            "status": status,
            "tlp": final_tlp,
            "releasable_to": rel,
            "named_recipients": recipients,
            "tags": tags or [],
            "occurred_precision": _precision(obj.get("x_ukau_occurred_precision"), how),
        }
    )
    created, modified = naive_ms(obj["created"]), naive_ms(obj["modified"])
    return Candidate(oid, record_id, obj, row, techs, origin, created, modified, claimed_id), defaulted


def _originator(origin: str, how: _Import, problems: list[str]) -> str | None:
    """Origin is the importer's institute. Only the store's operator importing for no institute (a replica or
    restore of both institutes' records; it holds the store file anyway) keeps the bundle's own claim, the
    institutes' and public data's (created by its public source's identity)."""
    if how.operator_replica and origin in (*INSTITUTES, PUBLIC_ORIGINATOR):
        return origin
    originator = how.institute
    if originator not in INSTITUTES:
        problems.append(
            "no originating institute was chosen (UK or AU); the originator of every record is the importer's "
            "institute"
        )
    elif origin == PUBLIC_ORIGINATOR:
        problems.append(
            "created by a public source: public data is imported from its source (python -m analytics import "
            "atlas|aiid|...) or by the store's operator (no --as), never as an institute's record"
        )
    elif origin in INSTITUTES and origin != originator:
        # Origin is who imports: a bundle claiming the other institute is refused, never obeyed.
        problems.append(
            f"created_by_ref says {origin}, but records imported for {how.institute} originate in "
            f"{how.institute}; a file cannot choose the originating institute"
        )
    return originator


def _source(obj: Any, originator: str | None, problems: list[str]) -> str:
    """Where the record came from: `x_ukau_source` as the sending instance recorded it (atlas, aiid, a
    spreadsheet's name ...), else `stix`. A public source's key goes with public data only (its licence credit
    follows the key), and public data always names its source."""
    raw = obj.get("x_ukau_source")
    try:
        source = CONVERTERS["text"](raw) if raw is not None else None
    except BadCell as e:
        problems.append(f"x_ukau_source: {e}")
        return SOURCE_TAG
    public_key = obj.get("created_by_ref") in PUBLIC_SOURCE_IDENTITIES.values()
    if originator == PUBLIC_ORIGINATOR and source != _public_key_of(obj.get("created_by_ref")):
        problems.append(f"x_ukau_source {source!r} is not the public source that created it")
    elif source in PUBLIC_SOURCE_KEYS and not public_key:
        problems.append(f"x_ukau_source {source!r} is a public source, but the record is not created by it")
    return source or SOURCE_TAG


def _public_key_of(ref: Any) -> str | None:
    return next((k for k, ident in PUBLIC_SOURCE_IDENTITIES.items() if ident == ref), None)


def _texts(obj: Any, ours: bool, problems: list[str]) -> tuple[Any, Any, list[str]]:
    """Title, summary and tags. A record of this dashboard keeps its text exactly as written (labels as long as
    a title); anyone else's goes through the spreadsheet converters (trimmed, tags up to 100 characters)."""
    try:
        if ours:
            title = _exact(obj.get("name"), "name")
            summary = _exact(obj.get("description"), "description")
            tags = [_exact(t, "label") for t in obj.get("labels") or []]
        else:
            title = CONVERTERS["title"](obj.get("name"))
            summary = CONVERTERS["long_text"](obj.get("description"))
            tags = CONVERTERS["tags"](list(obj.get("labels") or []))
    except BadCell as e:
        problems.append(f"text: {e}")
        return obj.get("name"), None, []
    if not title:
        problems.append("text: no name")
    return title, summary, [t for t in tags if t is not None]


def _exact(value: Any, what: str) -> str | None:
    """Text kept as written: only control characters (other than tab and line breaks) and excess length refuse
    it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadCell(f"{what} is not text")
    if m := _CONTROL.search(value):
        raise BadCell(f"{what} contains the control character U+{ord(m.group()):04X}")
    if len(value) > _TEXT_LIMITS[what]:
        raise BadCell(f"{what} is {len(value):,} characters long; the limit is {_TEXT_LIMITS[what]:,}")
    return value


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


def _severity(obj: Any, how: _Import, problems: list[str]) -> tuple[Any, int]:
    """x_ukau_severity, else the STIX severity word, else MISP's threat level, else the import's constant; 3
    (moderate) when none gives one (then 1, counted in a warning)."""
    raw_sev = obj.get("x_ukau_severity")
    if raw_sev is None and obj.get("severity") is not None:
        raw_sev = _SEVERITY_WORDS.get(str(obj["severity"]).strip().lower(), obj["severity"])
    if raw_sev is None:
        raw_sev = _misp_threat_level(obj)
    if raw_sev is None:
        raw_sev = how.constants.get("severity")
    if raw_sev is None:
        return 3, 1
    try:
        return CONVERTERS["severity"](raw_sev), 0
    except BadCell as e:
        problems.append(f"severity: {e}")
        return None, 0


def _misp_threat_level(obj: Any) -> int | None:
    """MISP's event threat level as a severity: x_misp_threat_level_id (1 high, 2 medium, 3 low; 4 undefined
    gives none), else a `misp:threat-level="..."` or `threat-level:...` tag among the labels."""
    level = obj.get("x_misp_threat_level_id")
    if level is not None:
        return _MISP_THREAT_LEVEL.get(str(level).strip())
    for label in obj.get("labels") or []:
        m = _THREAT_LEVEL_TAG.match(str(label).strip().lower())
        if m and m.group(1) in _THREAT_LEVEL_WORDS:
            return _THREAT_LEVEL_WORDS[m.group(1)]
    return None


def _dates(obj: Any, ours: bool, problems: list[str]) -> tuple[date | None, date | None]:
    """When it occurred and when it was reported. A record of this dashboard states both (the reported date may
    be absent, and stays so); anyone else's occurred date falls back to first_seen, published, created, and its
    reported date to published (never `created`, which says when the object was written)."""
    try:
        if ours:
            return _to_date(obj.get("x_ukau_occurred_on") or obj["created"]), _to_date(
                obj.get("x_ukau_reported_on")
            )
        occurred = _to_date(
            obj.get("x_ukau_occurred_on") or obj.get("first_seen") or obj.get("published") or obj["created"]
        )
        reported = _to_date(obj.get("x_ukau_reported_on") or obj.get("published"))
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
    if ref in PUBLIC_SOURCE_IDENTITIES.values():
        return PUBLIC_ORIGINATOR
    ident_obj = objects.get(ref) if ref else None
    if ident_obj is not None:
        claimed = str(ident_obj.get("x_ukau_institute") or "").upper()
        if claimed in INSTITUTES:
            return claimed
    return "EXTERNAL"


def _technique_ids(obj: Any) -> list[str]:
    """ATLAS technique ids of an attack pattern (any external reference whose external id is AML.T...: MISP,
    OpenCTI and ATLAS spell the source name differently) or of a MISP galaxy cluster (x_misp_meta.external_id,
    else the id in its value, as in 'LLM Prompt Injection - AML.T0051')."""
    found: list[str] = []
    if obj["type"] == "x-misp-galaxy-cluster":
        meta = obj.get("x_misp_meta") or {}
        ext = meta.get("external_id") if isinstance(meta, Mapping) else None
        candidates = [ext] if isinstance(ext, str) else list(ext or [])
        if not candidates:
            candidates = _TECHNIQUE_IN_TEXT.findall(str(obj.get("x_misp_value") or ""))
    else:
        candidates = [r.get("external_id") for r in obj.get("external_references") or []]
    for c in candidates:
        ext = str(c or "").strip().upper()
        if _TECHNIQUE_ID.match(ext) and ext not in found:
            found.append(ext)
    return found


def _category(obj: Any, techniques: Sequence[str], how: _Import, problems: list[str]) -> str | None:
    """This dashboard's category: `x_ukau_category` (a category, or `Unmapped` for public data no category fits;
    anything else refuses the object rather than re-categorise it silently), else the object's own words (an
    incident type, a label, a report type), else the import's constant (--set category=...), else inferred from
    its ATLAS techniques. None refuses the object."""
    convert = CONVERTERS["category"]
    own = obj.get("x_ukau_category")
    if own is not None:
        if own == UNMAPPED_CATEGORY:
            return UNMAPPED_CATEGORY
        try:
            return str(convert(own))
        except BadCell as e:
            problems.append(f"x_ukau_category: {e} or {UNMAPPED_CATEGORY}")
            return None
    candidates = [*list(obj.get("incident_types") or []), obj.get("incident_type")]
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
    category = how.constants.get("category") or crosswalk.category_for_techniques(techniques)
    if category is None:
        problems.append(
            "no category: set x_ukau_category, an incident type or a label naming one of "
            + ", ".join(vocab.CATEGORIES)
            + ", or give one for the import (--set category=...)"
        )
    return category


def _to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    converted: date | None = CONVERTERS["date"](value)
    return converted


def _precision(value: Any, how: _Import) -> str:
    """The date precision a bundle states (our own exports do), else the import's constant, else day: a date
    given plainly is taken at its word."""
    if value in vocab.DATE_PRECISIONS:
        return str(value)
    return str(how.constants.get("occurred_precision") or "day")
