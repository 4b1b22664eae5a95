"""Import a MITRE ATLAS release (the `ATLAS.yaml` distribution file): `python -m analytics import atlas FILE`.

What it writes, all keyed on ATLAS ids and in one transaction:

- tactics in kill-chain order (their order in the file), techniques and sub-techniques with parent, maturity
  and description, and each technique's tactics. ATLAS gives sub-techniques no tactics of their own; they get
  their parent's, because the tactic filter and the matrix columns rely on every technique having tactics;
- mitigations and which techniques each one addresses (with ATLAS's "use" text);
- the case studies as incidents (source `atlas`, TLP:CLEAR, releasable to both institutes). Real incidents and
  red-team/research exercises are told apart by the tag `case-study-type:incident|exercise` (and actor type
  `unknown` vs `researcher`); their techniques are the techniques of their procedure steps.

Techniques get renamed between releases, so nothing is keyed on names. Importing a later release updates names
and descriptions in place, keeps ids (so incidents keep their techniques), marks ids the release no longer has
with `removed_in` rather than deleting them (incidents that cite them still resolve), records the release in
`atlas_versions`, and reports what was added, renamed and removed. Importing the same file twice changes nothing.

A case study is public data, nobody's institute reporting: its originator is `PUBLIC` whoever imports it, and
`source = 'atlas'` says where it is from. Its date precision is ATLAS's `incident-date-granularity` (DATE, MONTH
or YEAR), so a month-precision case study is not counted as the 1st of its month.
Severity is not assessed by ATLAS: case studies get a fixed default (DEFAULT_SEVERITY) and the tag
`severity:not-assessed`, so nobody mistakes it for an analyst's judgement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from analytics import sources
from analytics.ingest import ImportRefused, ImportReport, new_batch_id, public_marking, record_batch
from analytics.ingest.public_incidents import PublicIncident, UpsertCounts, upsert_public_incidents
from analytics.store import audit, incident_keys
from analytics.store.database import Store
from analytics.wording import counted

SOURCE = sources.ATLAS.key  # the registry in analytics.sources states key, licence and credit
CREDIT = sources.ATLAS.credit
UNMAPPED_CATEGORY = "Unmapped"  # a public record whose data supports none of vocab.CATEGORIES
DEFAULT_SEVERITY: dict[str, int] = {"incident": 3, "exercise": 2}
CASE_STUDY_TYPES: tuple[str, ...] = ("incident", "exercise")
# ATLAS's incident-date-granularity -> incidents.occurred_precision
PRECISION: dict[str, str] = {"date": "day", "day": "day", "month": "month", "year": "year"}

# A case study's category is the first entry here whose technique (or a sub-technique of it) appears in its
# procedure: the most specific technique of an AI attack first, generic enablers last. Case studies with none
# of these (e.g. pure model evasion, supply-chain compromise) stay UNMAPPED_CATEGORY rather than be forced in.
TECHNIQUE_CATEGORY: tuple[tuple[str, str], ...] = (
    ("AML.T0054", "Jailbreak"),  # LLM Jailbreak
    ("AML.T0051", "Prompt injection"),  # LLM Prompt Injection (.000 direct, .001 indirect, .002 triggered)
    ("AML.T0093", "Prompt injection"),  # Prompt Infiltration via Public-Facing Application
    ("AML.T0088", "Deepfake fraud"),  # Generate Deepfakes
    ("AML.T0020", "Data poisoning"),  # Poison Training Data
    ("AML.T0019", "Data poisoning"),  # Publish Poisoned Datasets
    ("AML.T0070", "Data poisoning"),  # RAG Poisoning
    ("AML.T0059", "Data poisoning"),  # Erode Dataset Integrity
    ("AML.T0018.000", "Data poisoning"),  # Poison AI Model
    ("AML.T0024.002", "Model theft"),  # Extract AI Model
    ("AML.T0048.004", "Model theft"),  # AI Intellectual Property Theft
    ("AML.T0005.001", "Model theft"),  # Train Proxy via Replication
    ("AML.T0057", "Privacy and data leakage"),  # LLM Data Leakage
    ("AML.T0056", "Privacy and data leakage"),  # Extract LLM System Prompt
    ("AML.T0024.000", "Privacy and data leakage"),  # Infer Training Data Membership
    ("AML.T0024.001", "Privacy and data leakage"),  # Invert AI Model
    ("AML.T0053", "Agentic system misuse"),  # AI Agent Tool Invocation
    ("AML.T0086", "Agentic system misuse"),  # Exfiltration via AI Agent Tool Invocation
    ("AML.T0101", "Agentic system misuse"),  # Data Destruction via AI Agent Tool Invocation
    ("AML.T0103", "Agentic system misuse"),  # Deploy AI Agent
    ("AML.T0102", "AI-enabled cyber intrusion"),  # Generate Malicious Commands
)


def category_for_techniques(techniques: set[str]) -> str:
    """The product category a set of ATLAS techniques supports (see TECHNIQUE_CATEGORY), else unmapped."""
    for tid, category in TECHNIQUE_CATEGORY:
        if any(t == tid or t.startswith(tid + ".") for t in techniques):
            return category
    return UNMAPPED_CATEGORY


@dataclass
class AtlasRelease:
    version: str
    tactics: list[dict[str, Any]]
    techniques: list[dict[str, Any]]
    mitigations: list[dict[str, Any]]
    case_studies: list[dict[str, Any]]


class TaxonomyReport(ImportReport):
    """An import report that also says which ATLAS ids were added, renamed and removed."""

    def summary(self) -> str:
        text = super().summary()
        d = self.details
        lines = [text, f"ATLAS version {d.get('version')} (previously {d.get('previous_version') or 'none'})"]
        for kind in ("tactics", "techniques", "mitigations"):
            k = d.get(kind, {})
            lines.append(
                f"{kind}: {len(k.get('added', []))} added, {len(k.get('renamed', []))} renamed, "
                f"{len(k.get('updated', []))} otherwise updated, {len(k.get('removed', []))} removed"
            )
            for tid, old, new in k.get("renamed", []):
                lines.append(f"  renamed {tid}: {old!r} -> {new!r}")
            for tid in k.get("removed", []):
                lines.append(f"  removed {tid}")
        cs = d.get("case_studies", {})
        lines.append(
            f"case studies: {len(cs.get('added', []))} added, {len(cs.get('updated', []))} updated, "
            f"{len(cs.get('withdrawn', []))} withdrawn ({counted(cs.get('incidents', 0), 'incident')}, "
            f"{cs.get('exercises', 0)} exercises)"
        )
        return "\n".join(lines)


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _as_date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ImportRefused(f"{where}: {value!r} is not a date") from None


def load_release(path: Path) -> AtlasRelease:
    """Parse and check an ATLAS.yaml file; anything malformed is refused with the file and field named."""
    name = Path(path).name
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ImportRefused(f"{name}: not a readable YAML file ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("matrices"), list) or not doc["matrices"]:
        raise ImportRefused(
            f"{name}: no 'matrices' list; is this an ATLAS distribution file (dist/ATLAS.yaml)?"
        )
    version = _text(doc.get("version"))
    if not version:
        raise ImportRefused(f"{name}: field 'version' is missing")
    matrix = doc["matrices"][0]
    if not isinstance(matrix, dict):
        raise ImportRefused(f"{name}: matrices[0] is not a mapping")
    parts: dict[str, list[dict[str, Any]]] = {}
    for key, prefix in (("tactics", "AML.TA"), ("techniques", "AML.T"), ("mitigations", "AML.M")):
        items = matrix.get(key) or []
        if not isinstance(items, list) or (key != "mitigations" and not items):
            raise ImportRefused(f"{name}: matrices[0].{key} is missing or empty")
        seen: set[str] = set()
        for k, item in enumerate(items):
            where = f"{name}: matrices[0].{key}[{k}]"
            if not isinstance(item, dict):
                raise ImportRefused(f"{where} is not a mapping")
            iid, label = _text(item.get("id")), _text(item.get("name"))
            if not iid or not iid.startswith(prefix):
                raise ImportRefused(
                    f"{where}: field 'id' {iid!r} is not an ATLAS {key[:-1]} id ({prefix}...)"
                )
            if not label:
                raise ImportRefused(f"{where} ({iid}): field 'name' is missing")
            if iid in seen:
                raise ImportRefused(f"{where}: id {iid} appears twice")
            seen.add(iid)
        parts[key] = items
    tactic_ids = {t["id"] for t in parts["tactics"]}
    technique_ids = {t["id"] for t in parts["techniques"]}
    for k, t in enumerate(parts["techniques"]):
        where = f"{name}: matrices[0].techniques[{k}] ({t['id']})"
        parent = t.get("subtechnique-of")
        if parent is not None and parent not in technique_ids:
            raise ImportRefused(f"{where}: 'subtechnique-of' names unknown technique {parent!r}")
        tactics = t.get("tactics") or []
        if parent is None and not tactics:
            raise ImportRefused(f"{where}: a top-level technique needs 'tactics'")
        unknown = [x for x in tactics if x not in tactic_ids]
        if unknown:
            raise ImportRefused(f"{where}: 'tactics' names unknown tactic {unknown[0]!r}")
    cases = doc.get("case-studies") or []
    if not isinstance(cases, list):
        raise ImportRefused(f"{name}: 'case-studies' is not a list")
    seen_cases: set[str] = set()
    for k, cs in enumerate(cases):
        where = f"{name}: case-studies[{k}]"
        if not isinstance(cs, dict):
            raise ImportRefused(f"{where} is not a mapping")
        cid = _text(cs.get("id"))
        if not cid or not cid.startswith("AML.CS"):
            raise ImportRefused(f"{where}: field 'id' {cid!r} is not an ATLAS case study id (AML.CS...)")
        if cid in seen_cases:
            raise ImportRefused(f"{where}: id {cid} appears twice")
        seen_cases.add(cid)
        if not _text(cs.get("name")):
            raise ImportRefused(f"{where} ({cid}): field 'name' is missing")
        if _as_date(cs.get("incident-date"), f"{where} ({cid}) field 'incident-date'") is None:
            raise ImportRefused(f"{where} ({cid}): field 'incident-date' is missing")
        kind = _text(cs.get("case-study-type"))
        if kind not in CASE_STUDY_TYPES:
            raise ImportRefused(
                f"{where} ({cid}): field 'case-study-type' is {kind!r}; expected incident or exercise"
            )
        if not isinstance(cs.get("procedure") or [], list):
            raise ImportRefused(f"{where} ({cid}): field 'procedure' is not a list")
    return AtlasRelease(version, parts["tactics"], parts["techniques"], parts["mitigations"], cases)


def _technique_rows(release: AtlasRelease) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, t in enumerate(release.techniques):
        out[t["id"]] = {
            "id": t["id"],
            "name": _text(t["name"]),
            "description": _text(t.get("description")),
            "parent_id": _text(t.get("subtechnique-of")),
            "maturity": _text(t.get("maturity")),
            "ordinal": k,
            "created_on": _as_date(t.get("created_date"), f"technique {t['id']} created_date"),
            "modified_on": _as_date(t.get("modified_date"), f"technique {t['id']} modified_date"),
        }
    return out


def _technique_tactics(release: AtlasRelease) -> list[tuple[str, str]]:
    """Each technique's tactics; a sub-technique without its own takes its parent's (ATLAS leaves them out)."""
    own = {t["id"]: list(t.get("tactics") or []) for t in release.techniques}
    pairs = []
    for t in release.techniques:
        tactics = own[t["id"]] or own.get(t.get("subtechnique-of") or "", [])
        pairs += [(t["id"], ta) for ta in dict.fromkeys(tactics)]
    return pairs


_TECHNIQUE_COLS = ("name", "description", "parent_id", "maturity", "ordinal", "created_on", "modified_on")


def _sync_tactics(con: duckdb.DuckDBPyConnection, release: AtlasRelease) -> dict[str, list[Any]]:
    existing = {
        r[0]: r[1:]
        for r in con.execute(
            "select id, name, ordinal, description, removed_in from atlas_tactics"
        ).fetchall()
    }
    out: dict[str, list[Any]] = {"added": [], "renamed": [], "updated": [], "unchanged": [], "removed": []}
    for k, t in enumerate(release.tactics):
        row = (_text(t["name"]), k, _text(t.get("description")), None)
        old = existing.get(t["id"])
        if old is None or old[3] is not None:
            out["added"].append(t["id"])
        elif tuple(old) == row:
            out["unchanged"].append(t["id"])
            continue
        elif old[0] != row[0]:
            out["renamed"].append([t["id"], old[0], row[0]])
        else:
            out["updated"].append(t["id"])
        con.execute(
            "insert or replace into atlas_tactics (id, name, ordinal, description, removed_in) "
            "values (?, ?, ?, ?, null)",
            [t["id"], row[0], k, row[2]],
        )
    current = {t["id"] for t in release.tactics}
    for tid, old in existing.items():
        if tid not in current and old[3] is None:
            con.execute("update atlas_tactics set removed_in = ? where id = ?", [release.version, tid])
            out["removed"].append(tid)
    return out


def _sync_techniques(con: duckdb.DuckDBPyConnection, release: AtlasRelease) -> dict[str, list[Any]]:
    cols = ", ".join(_TECHNIQUE_COLS)
    existing = {
        r[0]: dict(zip((*_TECHNIQUE_COLS, "removed_in"), r[1:], strict=True))
        for r in con.execute(f"select id, {cols}, removed_in from atlas_techniques").fetchall()
    }
    rows = _technique_rows(release)
    out: dict[str, list[Any]] = {"added": [], "renamed": [], "updated": [], "unchanged": [], "removed": []}
    changed = []
    for tid, row in rows.items():
        old = existing.get(tid)
        if old is None or old["removed_in"] is not None:
            out["added"].append(tid)
        elif all(old[c] == row[c] for c in _TECHNIQUE_COLS):
            out["unchanged"].append(tid)
            continue
        elif old["name"] != row["name"]:
            out["renamed"].append([tid, old["name"], row["name"]])
        else:
            out["updated"].append(tid)
        changed.append(row)
    if changed:
        table = pa.Table.from_pylist(
            changed,
            schema=pa.schema(
                [
                    ("id", pa.string()),
                    ("name", pa.string()),
                    ("description", pa.string()),
                    ("parent_id", pa.string()),
                    ("maturity", pa.string()),
                    ("ordinal", pa.int32()),
                    ("created_on", pa.date32()),
                    ("modified_on", pa.date32()),
                ]
            ),
        )
        con.register("atlas_tech_new", table)
        con.execute(
            f"insert or replace into atlas_techniques (id, {cols}, removed_in) "
            f"select id, {cols}, null from atlas_tech_new"
        )
        con.unregister("atlas_tech_new")
    for tid, old in existing.items():
        if tid not in rows and old["removed_in"] is None:
            con.execute("update atlas_techniques set removed_in = ? where id = ?", [release.version, tid])
            out["removed"].append(tid)
    # Tactic links of every technique in the release are rewritten (same content when nothing changed); links
    # of removed techniques stay, so incidents citing them still match a tactic filter.
    ids = list(rows)
    con.execute("delete from atlas_technique_tactics where list_contains(?::varchar[], technique_id)", [ids])
    con.executemany(
        "insert into atlas_technique_tactics values (?, ?)", [list(p) for p in _technique_tactics(release)]
    )
    incident_keys.rebuild_tactics(con)  # each incident's tactics follow the release's links
    return out


def _sync_mitigations(
    con: duckdb.DuckDBPyConnection, release: AtlasRelease, warnings: list[str]
) -> dict[str, list[Any]]:
    existing = {
        r[0]: r[1:]
        for r in con.execute(
            "select id, name, description, categories, lifecycle, removed_in from atlas_mitigations"
        ).fetchall()
    }
    known = {t["id"] for t in release.techniques}
    out: dict[str, list[Any]] = {"added": [], "renamed": [], "updated": [], "unchanged": [], "removed": []}
    links: list[list[Any]] = []
    for m in release.mitigations:
        row = (
            _text(m["name"]),
            _text(m.get("description")),
            [str(c) for c in (m.get("category") or [])],
            [str(c) for c in (m.get("ml-lifecycle") or [])],
        )
        for use in m.get("techniques") or []:
            tid = use.get("id") if isinstance(use, dict) else None
            if tid not in known:
                warnings.append(
                    f"mitigation {m['id']}: technique {tid!r} is not in this release; link skipped"
                )
                continue
            links.append([tid, m["id"], _text(use.get("use"))])
        old = existing.get(m["id"])
        if old is None or old[4] is not None:
            out["added"].append(m["id"])
        elif (old[0], old[1], list(old[2]), list(old[3])) == row:
            out["unchanged"].append(m["id"])
            continue
        elif old[0] != row[0]:
            out["renamed"].append([m["id"], old[0], row[0]])
        else:
            out["updated"].append(m["id"])
        con.execute(
            "insert or replace into atlas_mitigations (id, name, description, categories, lifecycle, removed_in) "
            "values (?, ?, ?, ?, ?, null)",
            [m["id"], *row],
        )
    current = {m["id"] for m in release.mitigations}
    for mid, old in existing.items():
        if mid not in current and old[4] is None:
            con.execute("update atlas_mitigations set removed_in = ? where id = ?", [release.version, mid])
            out["removed"].append(mid)
    con.execute(
        "delete from atlas_technique_mitigations where list_contains(?::varchar[], mitigation_id)",
        [list(current)],
    )
    # A mitigation may list the same technique twice in a release; keep the first "use" text.
    unique = {(t, m): [t, m, u] for t, m, u in reversed(links)}
    if unique:
        con.executemany("insert into atlas_technique_mitigations values (?, ?, ?)", list(unique.values()))
    return out


def case_study_incidents(
    release: AtlasRelease, tlp: str, releasable: list[str], warnings: list[str]
) -> list[PublicIncident]:
    """The case studies as incidents (see the module docstring for the choices)."""
    known = {t["id"] for t in release.techniques}
    out = []
    for cs in release.case_studies:
        techniques: set[str] = set()
        for k, step in enumerate(cs.get("procedure") or []):
            tid = step.get("technique") if isinstance(step, dict) else None
            if tid in known:
                techniques.add(str(tid))
            else:
                warnings.append(
                    f"case study {cs['id']} step {k + 1}: technique {tid!r} not in this release; skipped"
                )
        kind = str(cs["case-study-type"])
        granularity = str(cs.get("incident-date-granularity") or "DATE").lower()
        tags = [
            "atlas:case-study",
            f"case-study-type:{kind}",
            "severity:not-assessed",
            f"date-precision:{granularity}",
        ]
        if _text(cs.get("actor")):
            tags.append(f"actor:{_text(cs.get('actor'))}")
        if _text(cs.get("reporter")):
            tags.append(f"reporter:{_text(cs.get('reporter'))}")
        occurred = _as_date(cs["incident-date"], f"case study {cs['id']} incident-date")
        assert occurred is not None  # checked in load_release
        out.append(
            PublicIncident(
                id=str(cs["id"]),
                title=str(_text(cs["name"])),
                summary=_text(cs.get("summary")) or "",
                occurred_on=occurred,
                category=category_for_techniques(techniques),
                severity=DEFAULT_SEVERITY[kind],
                actor_type="researcher" if kind == "exercise" else "unknown",
                affected_system=_text(cs.get("target")),
                tags=tags,
                tlp=tlp,
                releasable_to=releasable,
                techniques=sorted(techniques),
                occurred_precision=PRECISION.get(granularity, "day"),
            )
        )
    return out


def import_atlas(
    store: Store,
    path: Path | str,
    *,
    actor: str = "cli",
    institute: str | None = None,
    tlp: str | None = None,
    releasable: tuple[str, ...] | None = None,
) -> ImportReport:
    """Import (or update to) the ATLAS release in `path`. Public data: TLP:CLEAR unless a higher TLP is given."""
    path = Path(path)
    release = load_release(path)
    try:
        marking_tlp, rel = public_marking(sources.ATLAS, tlp, releasable)  # the one rule for public data
    except ImportRefused as e:
        raise ImportRefused(f"{path.name}: {e}") from None
    report = TaxonomyReport(kind="atlas", source=str(path), batch_id=new_batch_id("atlas"))
    with store.transaction() as con:
        row = con.execute(
            'select version from atlas_versions order by "at" desc, batch_id limit 1'
        ).fetchone()
        previous = row[0] if row else None
        tactics = _sync_tactics(con, release)
        techniques = _sync_techniques(con, release)
        mitigations = _sync_mitigations(con, release, report.warnings)
        incidents = case_study_incidents(release, marking_tlp, rel, report.warnings)
        counts = upsert_public_incidents(
            con,
            incidents,
            source=SOURCE,
            batch_id=report.batch_id,
            file_label=path.name,
        )
        _count_changes(report, (tactics, techniques, mitigations), counts)
        report.details = _release_details(release, previous, tactics, techniques, mitigations, counts)
        if previous != release.version or report.added or report.updated:
            _record_version(con, report, release, actor)
        record_batch(con, report, actor=actor, institute=institute)
        audit.record(con, actor, "import atlas", report.batch_id, audit.import_counts(report))
    return report


def _count_changes(
    report: ImportReport, kinds: tuple[dict[str, list[Any]], ...], counts: UpsertCounts
) -> None:
    """Added, updated (renamed, changed, removed or withdrawn) and unchanged, over the taxonomy and case studies."""
    report.added = sum(len(k["added"]) for k in kinds) + len(counts.added)
    report.updated = (
        sum(len(k["renamed"]) + len(k["updated"]) + len(k["removed"]) for k in kinds)
        + len(counts.updated)
        + len(counts.withdrawn)
    )
    report.unchanged = sum(len(k["unchanged"]) for k in kinds) + counts.unchanged


def _release_details(
    release: AtlasRelease,
    previous: str | None,
    tactics: dict[str, list[Any]],
    techniques: dict[str, list[Any]],
    mitigations: dict[str, list[Any]],
    counts: UpsertCounts,
) -> dict[str, Any]:
    """The report's details: what changed from the previous version, and what the release holds."""
    return {
        "version": release.version,
        "previous_version": previous,
        "tactics": {k: v for k, v in tactics.items() if k != "unchanged"},
        "techniques": {k: v for k, v in techniques.items() if k != "unchanged"},
        "mitigations": {k: v for k, v in mitigations.items() if k != "unchanged"},
        "case_studies": {
            "added": counts.added,
            "updated": counts.updated,
            "withdrawn": counts.withdrawn,
            "incidents": sum(1 for c in release.case_studies if c["case-study-type"] == "incident"),
            "exercises": sum(1 for c in release.case_studies if c["case-study-type"] == "exercise"),
        },
        "counts": {
            "tactics": len(release.tactics),
            "techniques": len(release.techniques),
            "subtechniques": sum(1 for t in release.techniques if t.get("subtechnique-of")),
            "mitigations": len(release.mitigations),
            "case_studies": len(release.case_studies),
        },
    }


def _record_version(
    con: duckdb.DuckDBPyConnection, report: ImportReport, release: AtlasRelease, actor: str
) -> None:
    """A row in atlas_versions: the version now in the store, its sizes and the changes that brought it."""
    con.execute(
        "insert into atlas_versions (batch_id, version, imported_by, tactics, techniques, mitigations, "
        "case_studies, changes) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.batch_id,
            release.version,
            actor,
            len(release.tactics),
            len(release.techniques),
            len(release.mitigations),
            len(release.case_studies),
            json.dumps(report.details, default=str, sort_keys=True),
        ],
    )
