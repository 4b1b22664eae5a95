"""Import an AI Incident Database snapshot (the CSV export folder): `python -m analytics import aiid FOLDER`.

The AI Incident Database (Responsible AI Collaborative, https://incidentdatabase.ai) is shared under CC BY-SA
4.0, so every screen and export that shows its records credits it (CREDIT).

What it writes, in one transaction, keyed on the AIID incident number (`AIID-<n>`):

- one incident per row of `incidents.csv`: date, title, description; deployers, developers and harmed parties
  (JSON lists inside CSV cells) as tags `deployer:`, `developer:`, `harmed:` (developers also in `developer`);
- the published MIT risk-domain, CSET (v0, v1) and GMF classifications as tags (`mit:`, `cset:`, `cset0:`,
  `gmf:`); unpublished (draft) classifications are counted in the report and not used;
- a product category and ATLAS techniques where CROSSWALK below finds the evidence; everything else stays
  `Unmapped` with no techniques: most AIID incidents (discrimination, robustness of self-driving cars, ...)
  are not attacks on or with AI systems, and forcing them into a category would mislead the matrix;
- sectors and countries from the CSET classifications where they name one this product uses;
- TLP:CLEAR, releasable to both institutes, source `aiid`, originator `PUBLIC` whoever imports it (public
  data is nobody's institute reporting), as for ATLAS case studies;
- date precision: AIID records only a date, and month-only dates are written as the 1st (144 of 1,365 incidents
  fall on the 1st, three times what chance gives), so a date on the 1st of a month is stored with precision
  `month`: it counts in its month, never as a spike on the 1st;
- `duplicates.csv` is honoured: a duplicate incident number is not imported (and removed if an older import
  had it); the surviving incident gets the tag `aiid:merged=<duplicate number>`.

AIID gives no severity; a CSET v0 severity is used where published, otherwise DEFAULT_SEVERITY with the tag
`severity:not-assessed`. A second import of the same folder changes nothing.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from analytics import sources
from analytics.ingest import (
    ImportRefused,
    ImportReport,
    load_json,
    new_batch_id,
    public_marking,
    record_batch,
)
from analytics.ingest.atlas import UNMAPPED_CATEGORY
from analytics.ingest.public_incidents import PublicIncident, upsert_public_incidents
from analytics.store import audit
from analytics.store.database import Store

SOURCE = sources.AIID.key  # the registry in analytics.sources states key, licence and credit
CREDIT = sources.AIID.credit
DEFAULT_SEVERITY = 3
ID_PREFIX = "AIID-"

_TEXT_DEEPFAKE = r"deep ?-?fakes?|voice[- ]?clon|cloned (?:his |her |their |a )?voice"
_TEXT_DISINFORMATION = (
    r"disinformation|misinformation|propaganda|influence (?:operation|campaign)|election|fake news|"
    r"fake accounts?|bot network|manipulated public opinion"
)
_TEXT_CYBER = r"cyber|hack|malware|ransomware|phishing|exploit"
_TEXT_BIOMETRIC = r"face ?id|facial[- ]recognition|voice ?id|voice authentication|fingerprint|biometric|identity verification"


@dataclass(frozen=True)
class CrosswalkRule:
    """When every piece of evidence in `when` holds, the incident gets `techniques`, and `category` if no
    earlier rule has given one. Evidence is written `"<scheme> <value>"`:

    - `MIT 4.3`              the published MIT risk subdomain has this code
    - `GMF failure: <name>`  a published GMF Known AI Technical Failure
    - `GMF goal: <name>`     a published GMF Known AI Goal
    - `text: <regex>`        the title or description matches (lower case)
    """

    key: str
    when: tuple[str, ...]
    category: str | None
    techniques: tuple[str, ...]
    why: str


# The crosswalk from AIID classifications to this product's categories (analytics.vocab.CATEGORIES) and to ATLAS
# techniques; docs/threat-matrix.md explains each row. Order matters only for the category: most specific first.
# Deliberately absent: MIT 1.x (discrimination, toxicity), 3.x (misinformation by the system itself), 5.x
# (human-computer interaction), 6.x (socioeconomic) and 7.4 (transparency) — real harms, but not security
# incidents this product categorises; they stay Unmapped and keep their classifications as tags.
CROSSWALK: tuple[CrosswalkRule, ...] = (
    # CrosswalkRule(key, when: all must hold, category or None, ATLAS techniques, why)
    CrosswalkRule("jailbreak", ("text: jail ?-?break",), "Jailbreak", ("AML.T0054",),
                  "the record says a model's safeguards were jailbroken"),
    CrosswalkRule("prompt-injection", ("text: prompt[- ]?injection",), "Prompt injection", ("AML.T0051",),
                  "the record says prompt injection"),
    CrosswalkRule("gmf-prompt-injection", ("GMF failure: Prompt Injection",), "Prompt injection", ("AML.T0051",),
                  "GMF names prompt injection as the technical failure"),
    CrosswalkRule("data-poisoning", (r"text: data poisoning|poisoned (?:training )?data",), "Data poisoning",
                  ("AML.T0020",), "the record says training data was poisoned"),
    CrosswalkRule("fraud-deepfake", ("MIT 4.3", f"text: {_TEXT_DEEPFAKE}"), "Deepfake fraud", ("AML.T0088",),
                  "MIT fraud/scams and the record names a deepfake or cloned voice"),
    CrosswalkRule("influence-deepfake", ("MIT 4.1", f"text: {_TEXT_DEEPFAKE}"), "Disinformation campaign",
                  ("AML.T0088",), "MIT influence at scale and the record names a deepfake"),
    CrosswalkRule("influence", ("MIT 4.1", f"text: {_TEXT_DISINFORMATION}"), "Disinformation campaign", (),
                  "MIT influence at scale and the record names disinformation or influence operations"),
    CrosswalkRule("cyberattack", ("MIT 4.2", f"text: {_TEXT_CYBER}"), "AI-enabled cyber intrusion", (),
                  "MIT cyberattacks and the record names hacking, malware or phishing (not weapons)"),
    CrosswalkRule("biometric-evasion", ("MIT 2.2", f"text: {_TEXT_BIOMETRIC}"), None, ("AML.T0015",),
                  "MIT AI security attacks on a biometric model: ATLAS Evade AI Model"),
    CrosswalkRule("privacy", ("MIT 2.1",), "Privacy and data leakage", (),
                  "MIT compromise of privacy by obtaining, leaking or inferring sensitive information"),
    CrosswalkRule("own-goals", ("MIT 7.1",), "Safety failure", (),
                  "MIT AI pursuing its own goals in conflict with human goals"),
    CrosswalkRule("dangerous-capability", ("MIT 7.2",), "Safety failure", (),
                  "MIT AI possessing dangerous capabilities"),
    CrosswalkRule("robustness", ("MIT 7.3",), "Safety failure", (),
                  "MIT lack of capability or robustness of a deployed system"),
    CrosswalkRule("deepfake", (f"text: {_TEXT_DEEPFAKE}",), None, ("AML.T0088",),
                  "synthetic media was generated: ATLAS Generate Deepfakes"),
    CrosswalkRule("gmf-deepfake-video", ("GMF goal: Deepfake Video Generation",), None, ("AML.T0088",),
                  "GMF goal is deepfake video generation"),
    CrosswalkRule("gmf-deepfake-image", ("GMF goal: Deepfake Image Generation",), None, ("AML.T0088",),
                  "GMF goal is deepfake image generation"),
    CrosswalkRule("gmf-adversarial-data", ("GMF failure: Adversarial Data",), None, ("AML.T0043",),
                  "GMF names adversarial data: ATLAS Craft Adversarial Data"),
    CrosswalkRule("phishing", ("text: phishing",), None, ("AML.T0052",), "the record names phishing"),
)  # fmt: skip

# CSET sector wording -> this product's sectors (analytics.vocab.SECTORS); matched as phrases, because CSET joins
# several sectors with commas inside one cell and some sector names contain commas themselves.
SECTOR_CROSSWALK: tuple[tuple[str, str], ...] = (
    ("financial and insurance", "finance"),
    ("financial services", "finance"),
    ("human health", "healthcare"),
    ("healthcare and public health", "healthcare"),
    ("education", "education"),
    ("public administration", "government"),
    ("law enforcement", "government"),
    ("government facilities", "government"),
    ("defense", "defence"),
    ("defence", "defence"),
    ("wholesale and retail", "retail"),
    ("arts, entertainment and recreation", "media"),
    ("information and communication", "technology"),
    ("information technology", "technology"),
    ("communications", "telecommunications"),
    ("electricity, gas", "energy"),
    ("energy", "energy"),
)

CSET0_SEVERITY: dict[str, int] = {"Negligible": 1, "Minor": 2, "Moderate": 3, "Severe": 4, "Critical": 5}

_INCIDENT_COLUMNS: dict[str, str] = {
    "incident_id": "incident_id",
    "date": "date",
    "title": "title",
    "description": "description",
    "deployers": "Alleged deployer of AI system",
    "developers": "Alleged developer of AI system",
    "harmed": "Alleged harmed or nearly harmed parties",
}


class ClassificationTag(NamedTuple):
    """One classification column kept as tags: `<prefix>=<value>`, one tag per comma-separated value if `split`."""

    scheme: str
    column: str
    prefix: str
    split: bool


_CLASSIFICATION_TAGS: tuple[ClassificationTag, ...] = tuple(
    ClassificationTag(*row)
    for row in (
        ("MIT", "Risk Domain", "mit:domain", False),
        ("MIT", "Risk Subdomain", "mit:subdomain", False),
        ("MIT", "Entity", "mit:entity", False),
        ("MIT", "Intent", "mit:intent", False),
        ("MIT", "Timing", "mit:timing", False),
        ("GMF", "Known AI Goal", "gmf:goal", True),
        ("GMF", "Known AI Technology", "gmf:technology", True),
        ("GMF", "Known AI Technical Failure", "gmf:failure", True),
        ("GMF", "Potential AI Technical Failure", "gmf:potential-failure", True),
        ("CSETv1", "Harm Domain", "cset:harm-domain", False),
        ("CSETv1", "Tangible Harm", "cset:tangible-harm", False),
        ("CSETv1", "AI Harm Level", "cset:ai-harm-level", False),
        ("CSETv1", "Sector of Deployment", "cset:sector", False),
        ("CSETv1", "Intentional Harm", "cset:intentional-harm", False),
        ("CSETv1", "Autonomy Level", "cset:autonomy", False),
        ("CSETv0", "Harm Type", "cset0:harm-type", True),
        ("CSETv0", "Severity", "cset0:severity", False),
        ("CSETv0", "Intent", "cset0:intent", False),
        ("CSETv0", "Sector of Deployment", "cset0:sector", False),
        ("CSETv0", "Problem Nature", "cset0:problem-nature", True),
    )
)
_CLASSIFICATION_FILES: dict[str, str] = {
    "MIT": "classifications_MIT.csv",
    "GMF": "classifications_GMF.csv",
    "CSETv1": "classifications_CSETv1.csv",
    "CSETv0": "classifications_CSETv0.csv",
}


@dataclass
class Classified:
    """What the published classifications say about one incident, in the form the crosswalk reads."""

    mit_subdomain: str = ""  # code, e.g. "4.3"
    gmf_failures: frozenset[str] = frozenset()
    gmf_goals: frozenset[str] = frozenset()


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _evidence_holds(evidence: str, text: str, c: Classified) -> bool:
    if evidence.startswith("MIT "):
        return c.mit_subdomain == evidence[4:].strip()
    if evidence.startswith("GMF failure: "):
        return evidence[len("GMF failure: ") :] in c.gmf_failures
    if evidence.startswith("GMF goal: "):
        return evidence[len("GMF goal: ") :] in c.gmf_goals
    if evidence.startswith("text: "):
        return re.search(evidence[len("text: ") :], text) is not None
    raise ValueError(f"unknown crosswalk evidence {evidence!r}")


def crosswalk(title: str, description: str, c: Classified) -> tuple[str, list[str], list[str]]:
    """(category, ATLAS techniques, keys of the rules that fired) for one AIID incident."""
    text = f"{title} {description}".lower()
    category: str | None = None
    techniques: list[str] = []
    fired: list[str] = []
    for rule in CROSSWALK:
        if all(_evidence_holds(e, text, c) for e in rule.when):
            fired.append(rule.key)
            if category is None and rule.category is not None:
                category = rule.category
            techniques += [t for t in rule.techniques if t not in techniques]
    return category or UNMAPPED_CATEGORY, techniques, fired


def sectors_for(cells: Iterable[str]) -> list[str]:
    found: list[str] = []
    for cell in cells:
        low = cell.lower()
        for phrase, sector in SECTOR_CROSSWALK:
            if phrase in low and sector not in found:
                found.append(sector)
    return found


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportRefused(f"{path.name}: column {missing[0]!r} is missing")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ImportRefused(f"{path.name}: cannot be read as CSV ({e})") from None


def _json_list(cell: str, where: str) -> list[str]:
    if not cell.strip():
        return []
    try:
        value = load_json(where, cell)
    except json.JSONDecodeError:
        raise ImportRefused(f"{where}: {cell[:60]!r} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ImportRefused(f"{where}: {cell[:60]!r} is not a JSON list of names")
    return [str(v) for v in value]


def _incident_number(value: str, where: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ImportRefused(f"{where}: {value!r} is not an incident number") from None
    if n <= 0:
        raise ImportRefused(f"{where}: {value!r} is not an incident number")
    return n


def _published(row: dict[str, str]) -> bool:
    return row.get("Published", "").strip().lower() == "true"


@dataclass
class _Classifications:
    """What the published classification files say, per incident number."""

    tags: dict[int, list[str]] = field(default_factory=dict)
    classified: dict[int, Classified] = field(default_factory=dict)
    cset_sectors: dict[int, list[str]] = field(default_factory=dict)
    countries: dict[int, list[str]] = field(default_factory=dict)
    severity: dict[int, int] = field(default_factory=dict)
    unpublished: dict[str, int] = field(default_factory=dict)


def _read_duplicates(folder: Path, warnings: list[str]) -> dict[int, int]:
    """Duplicate incident number -> the incident it duplicates, from duplicates.csv (none if it is missing)."""
    dup_path = folder / "duplicates.csv"
    if not dup_path.exists():
        warnings.append("duplicates.csv is missing; no duplicates merged")
        return {}
    duplicates: dict[int, int] = {}
    for k, r in enumerate(_read_csv(dup_path, ("duplicate_incident_number", "true_incident_number"))):
        where = f"duplicates.csv row {k + 2}"
        duplicates[_incident_number(r["duplicate_incident_number"], where)] = _incident_number(
            r["true_incident_number"], where
        )
    return duplicates


def _read_classifications(folder: Path, warnings: list[str]) -> _Classifications:
    """Every published classification row of the four files; unpublished (draft) rows are only counted."""
    found = _Classifications()
    for scheme, filename in _CLASSIFICATION_FILES.items():
        path = folder / filename
        if not path.exists():
            warnings.append(f"{filename} is missing; {scheme} classifications not imported")
            continue
        columns = [t.column for t in _CLASSIFICATION_TAGS if t.scheme == scheme]
        for k, r in enumerate(_read_csv(path, ["Incident ID", "Published", *columns])):
            n = _incident_number(r["Incident ID"], f"{filename} row {k + 2}, column 'Incident ID'")
            if not _published(r):
                found.unpublished[scheme] = found.unpublished.get(scheme, 0) + 1
                continue
            _add_classification(found, scheme, n, r)
    return found


def _add_classification(found: _Classifications, scheme: str, n: int, r: dict[str, str]) -> None:
    """Record one published row of `scheme` for incident `n`: its tags and what the crosswalk reads."""
    for t in _CLASSIFICATION_TAGS:
        if t.scheme != scheme:
            continue
        value = (r.get(t.column) or "").strip()
        for v in _split(value) if t.split else [value]:
            if v:
                found.tags.setdefault(n, []).append(f"{t.prefix}={v}")
    c = found.classified.setdefault(n, Classified())
    if scheme == "MIT":
        code = (r.get("Risk Subdomain") or "").split(" ", 1)[0].rstrip(".")
        found.classified[n] = Classified(code, c.gmf_failures, c.gmf_goals)
    elif scheme == "GMF":
        found.classified[n] = Classified(
            c.mit_subdomain,
            frozenset(_split(r.get("Known AI Technical Failure") or "")),
            frozenset(_split(r.get("Known AI Goal") or "")),
        )
    elif scheme == "CSETv1":
        found.cset_sectors.setdefault(n, []).append(r.get("Sector of Deployment") or "")
        found.cset_sectors[n].append(r.get("Infrastructure Sectors") or "")
        country = (r.get("Location Country (two letters)") or "").strip()
        if re.fullmatch(r"[A-Z]{2}", country):
            found.countries.setdefault(n, []).append(country)
    elif scheme == "CSETv0":
        found.cset_sectors.setdefault(n, []).append(r.get("Sector of Deployment") or "")
        sev = CSET0_SEVERITY.get((r.get("Severity") or "").strip())
        if sev:
            found.severity[n] = sev


def build_incidents(
    folder: Path, tlp: str, releasable: list[str], warnings: list[str], details: dict[str, Any]
) -> list[PublicIncident]:
    """Read the snapshot folder into incidents (no store access), refusing malformed input."""
    inc_path = folder / "incidents.csv"
    if not inc_path.exists():
        raise ImportRefused(f"{folder.name}: incidents.csv is missing; is this an AIID snapshot folder?")
    rows = _read_csv(inc_path, _INCIDENT_COLUMNS.values())
    duplicates = _read_duplicates(folder, warnings)
    found = _read_classifications(folder, warnings)
    details["unpublished_classifications_skipped"] = found.unpublished

    numbers = {_incident_number(r["incident_id"], f"incidents.csv row {k + 2}") for k, r in enumerate(rows)}
    merged: dict[int, list[int]] = {}
    for dup, true in duplicates.items():
        if dup in numbers:
            merged.setdefault(true, []).append(dup)
    out: list[PublicIncident] = []
    skipped: list[int] = []
    seen: set[int] = set()
    mapped_rules: dict[str, int] = {}
    for k, r in enumerate(rows):
        where = f"incidents.csv row {k + 2}"
        n = _incident_number(r["incident_id"], f"{where}, column 'incident_id'")
        if n in seen:
            raise ImportRefused(f"{where}: incident {n} appears twice")
        seen.add(n)
        if n in duplicates:
            skipped.append(n)
            warnings.append(
                f"AIID incident {n} is a duplicate of {duplicates[n]} (duplicates.csv); not imported"
            )
            continue
        incident, fired = _incident(r, where, n, found, merged.get(n, []), tlp, releasable)
        for key in fired:
            mapped_rules[key] = mapped_rules.get(key, 0) + 1
        out.append(incident)
    details["duplicates_skipped"] = sorted(skipped)
    details["crosswalk_rules_fired"] = dict(sorted(mapped_rules.items()))
    details["mapped_category"] = sum(1 for i in out if i.category != UNMAPPED_CATEGORY)
    details["mapped_techniques"] = sum(1 for i in out if i.techniques)
    return out


def _incident(
    r: dict[str, str],
    where: str,
    n: int,
    found: _Classifications,
    merged: list[int],
    tlp: str,
    releasable: list[str],
) -> tuple[PublicIncident, list[str]]:
    """Incident `n` from its incidents.csv row and its classifications, and the crosswalk rules that fired."""
    try:
        occurred = date.fromisoformat(r["date"].strip()[:10])
    except ValueError:
        raise ImportRefused(f"{where}, column 'date': {r['date']!r} is not a date (YYYY-MM-DD)") from None
    title = r["title"].strip()
    if not title:
        raise ImportRefused(f"{where}, column 'title': empty")
    description = r["description"].strip()
    parties = {
        key: _json_list(r[_INCIDENT_COLUMNS[key]], f"{where}, column {_INCIDENT_COLUMNS[key]!r}")
        for key in ("deployers", "developers", "harmed")
    }
    category, techniques, fired = crosswalk(title, description, found.classified.get(n, Classified()))
    incident_tags = [
        "aiid",
        *(f"deployer:{d}" for d in parties["deployers"]),
        *(f"developer:{d}" for d in parties["developers"]),
        *(f"harmed:{h}" for h in parties["harmed"]),
        *found.tags.get(n, []),
        *(f"crosswalk:{key}" for key in fired),
        *(f"aiid:merged={d}" for d in merged),
    ]
    if n not in found.severity:
        incident_tags.append("severity:not-assessed")
    incident = PublicIncident(
        id=f"{ID_PREFIX}{n}",
        title=title,
        summary=description,
        occurred_on=occurred,
        category=category,
        severity=found.severity.get(n, DEFAULT_SEVERITY),
        sectors=sectors_for(found.cset_sectors.get(n, [])),
        countries=found.countries.get(n, []),
        developer=", ".join(parties["developers"]) or None,
        tags=incident_tags,
        tlp=tlp,
        releasable_to=releasable,
        techniques=techniques,
        occurred_precision="month" if occurred.day == 1 else "day",
    )
    return incident, fired


def import_aiid(
    store: Store,
    path: Path | str,
    *,
    actor: str = "cli",
    institute: str | None = None,
    tlp: str | None = None,
    releasable: tuple[str, ...] | None = None,
) -> ImportReport:
    """Import (or update from) the AIID snapshot folder `path`. TLP:CLEAR unless a higher TLP is given."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImportRefused(f"{folder.name}: expected the AIID snapshot folder (with incidents.csv)")
    try:
        marking_tlp, rel = public_marking(sources.AIID, tlp, releasable)  # the one rule for public data
    except ImportRefused as e:
        raise ImportRefused(f"{folder.name}: {e}") from None
    report = ImportReport(kind="aiid", source=str(folder), batch_id=new_batch_id("aiid"))
    incidents = build_incidents(folder, marking_tlp, rel, report.warnings, report.details)
    with store.transaction() as con:
        counts = upsert_public_incidents(
            con,
            incidents,
            source=SOURCE,
            batch_id=report.batch_id,
            file_label=f"{folder.name}/incidents.csv",
        )
        report.added = len(counts.added)
        report.updated = len(counts.updated) + len(counts.withdrawn)
        report.unchanged = counts.unchanged
        report.details["withdrawn"] = counts.withdrawn
        report.details["incidents"] = len(incidents)
        record_batch(con, report, actor=actor, institute=institute)
        audit.record(con, actor, "import aiid", report.batch_id, audit.import_counts(report))
    return report
