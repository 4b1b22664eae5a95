"""Import AI Vulnerability Database reports: `python -m analytics import avid FOLDER_OR_FILE`.

AVID (https://avidml.org/, MIT) publishes one JSON object per report (`reports/<year>/AVID-YYYY-Rnnnn.json`) and
per vulnerability (`vulnerabilities/<year>/AVID-YYYY-Vnnn.json`) in its report schema: `data_type` "AVID",
`metadata.report_id` (`vuln_id` for a vulnerability), `affects` {developer, deployer, artifacts [{type, name}]},
`problemtype` {classof, type, description.value}, `metrics`, `references` [{type, label, url}], `description.value`,
`impact.avid` {risk_domain, sep_view, lifecycle_view, taxonomy_version, vuln_id} (and `impact.cvss` for CVE
entries), `credit`, `reported_date`. Any field may be null.

What is written, in one transaction, as public data (source `avid`, originator PUBLIC whoever imports it, TLP:CLEAR
releasable to UK and AU unless a higher TLP is given; the credit comes from analytics.sources):

- one incident per REPORT, id = `metadata.report_id`: title = the problem type's description, summary = the
  description, date = `reported_date` (precision day), affected system = the affected artifacts' names,
  developer = `affects.developer`; tags `avid`, `avid:class=`, `avid:type=` (problem type), `avid:risk_domain=`,
  `avid:sep=`, `avid:lifecycle=`, `deployer:`, `developer:`, `artifact:<type>=<name>`, `reference:<url>`,
  `avid:vuln=<vulnerability id>` and `crosswalk:<rule>`;
- category and ATLAS techniques through CROSSWALK below (docs/exchange.md explains it); anything it does not
  cover stays `Unmapped` with no techniques, as ATLAS and AIID records do;
- severity from `impact.cvss.baseSeverity` where a CVE entry states one (CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2,
  NONE 1, tag `severity:cvss`); AVID itself assesses none, so every other report gets DEFAULT_SEVERITY and the tag
  `severity:not-assessed`.

Vulnerabilities are NOT separate incidents: an AVID vulnerability groups reports of the same weakness
(`reports[].report_id`), so importing both would count one event twice. They are read for the link only: each
report they list (and each report naming `impact.avid.vuln_id`) gets the tag `avid:vuln=<id>`.

Reports under `reports/review/` are left out (counted in the report's details): they are submissions AVID has not
published, some without an id and some reusing published ids. Importing a whole snapshot (a folder with `reports/`)
brings the store in line with it, withdrawing AVID reports it no longer has; a single file, a `.jsonl` of reports
(garak's AVID export) or another folder only adds and updates. A second import of the same files changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

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
from analytics.wording import counted

SOURCE = sources.AVID.key  # the registry in analytics.sources states key, licence and credit
DEFAULT_SEVERITY = 3
MAX_FILE_BYTES = 50 * 1024**2
REVIEW_FOLDER = "review"
CVSS_SEVERITY = {"CRITICAL": 5, "HIGH": 4, "MEDIUM": 3, "LOW": 2, "NONE": 1}


@dataclass(frozen=True)
class AvidRule:
    """When the report's text matches `text` (a regex over the problem type and description, lower case) or its
    SEP view names any of `sep` (codes such as `S0301`), it gets `category` (if no earlier rule gave one) and
    `techniques`."""

    key: str
    category: str
    techniques: tuple[str, ...]
    why: str
    sep: tuple[str, ...] = ()
    text: str | None = None


# The crosswalk from AVID's taxonomy (SEP view codes) and the report's own words to this product's categories
# (analytics.vocab.CATEGORIES) and ATLAS techniques. First matching rule gives the category; every matching rule
# adds its techniques. Deliberately absent, so they stay Unmapped (their tags keep the AVID classification):
# S0100 software vulnerabilities, S02xx supply-chain/model/software compromise, S0300 over-permissive API and
# S0403 adversarial examples (real security findings, but none of them says which of our categories, unless the
# text names jailbreaking or prompt injection), E01xx-E03xx fairness and toxicity, E0402 misinformation the model
# produces by itself, P02xx accuracy and robustness, P0403 socio-economic safety; the risk domain (Security,
# Ethics, Performance) and the lifecycle view (L01-L06) are too broad to place a report on their own.
CROSSWALK: tuple[AvidRule, ...] = (
    AvidRule("jailbreak", "Jailbreak", ("AML.T0054",), "the report says the model was jailbroken",
             text=r"jail ?-?br(?:eak|oke)"),
    AvidRule("prompt-injection", "Prompt injection", ("AML.T0051",), "the report says prompt injection",
             text=r"prompt[- ]?inject"),
    AvidRule("ingest-poisoning", "Data poisoning", ("AML.T0020",), "SEP S0601 Ingest Poisoning",
             sep=("S0601",)),
    AvidRule("model-theft", "Model theft", ("AML.T0024",), "SEP S0502 Model theft", sep=("S0502",)),
    AvidRule("information-leak", "Privacy and data leakage", ("AML.T0057",), "SEP S0301 Information Leak",
             sep=("S0301",)),
    AvidRule("deliberative-misinformation", "Disinformation campaign", (),
             "SEP E0401 Deliberative Misinformation (people using the system to mislead)", sep=("E0401",)),
    AvidRule("safety", "Safety failure", (), "SEP P0400/P0401/P0402 safety (general, psychological, physical)",
             sep=("P0400", "P0401", "P0402")),
)  # fmt: skip


def crosswalk(text: str, sep_codes: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """(category, ATLAS techniques, rule keys fired) for a report's text and SEP codes."""
    low = text.lower()
    category: str | None = None
    techniques: list[str] = []
    fired: list[str] = []
    for rule in CROSSWALK:
        hit = bool(set(rule.sep) & set(sep_codes)) or (rule.text is not None and re.search(rule.text, low))
        if not hit:
            continue
        fired.append(rule.key)
        category = category or rule.category
        techniques.extend(t for t in rule.techniques if t not in techniques)
    return category or UNMAPPED_CATEGORY, techniques, fired


# -- reading ------------------------------------------------------------------------------------------------


def _value(node: Any) -> str:
    """The text of a `{lang, value}` node (or a plain string); '' for anything else."""
    if isinstance(node, dict):
        node = node.get("value")
    return node.strip() if isinstance(node, str) else ""


def _strings(node: Any, where: str) -> list[str]:
    """A list of strings (null = empty); anything else is refused naming `where`."""
    if node is None:
        return []
    if not isinstance(node, list) or not all(isinstance(x, str) for x in node):
        raise ImportRefused(f"{where}: expected a list of strings")
    return [x.strip() for x in node if x.strip()]


def _obj(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    node = doc.get(key)
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise ImportRefused(f"{where}, field {key!r}: not an object")
    return node


def _sep_code(value: str) -> str:
    """`S0403: Adversarial Example` -> `S0403`."""
    return value.split(":", 1)[0].strip().upper()


def _doc_id(doc: dict[str, Any], where: str) -> tuple[str, str]:
    """('report' | 'vulnerability', id) of an AVID document; refused if it is neither."""
    if doc.get("data_type") != "AVID":
        raise ImportRefused(f"{where}, field 'data_type': {doc.get('data_type')!r}, expected 'AVID'")
    meta = _obj(doc, "metadata", where)
    rid, vid = meta.get("report_id"), meta.get("vuln_id")
    if isinstance(rid, str) and rid.strip():
        return "report", rid.strip()
    if isinstance(vid, str) and vid.strip():
        return "vulnerability", vid.strip()
    raise ImportRefused(f"{where}, field 'metadata.report_id': missing (unpublished reports have no AVID id)")


def report_incident(doc: dict[str, Any], where: str, rid: str, vulns: set[str], tlp: str, rel: list[str]) -> tuple[PublicIncident, list[str]]:  # fmt: skip
    """The incident of one AVID report, and the crosswalk rules that fired."""
    affects = _obj(doc, "affects", where)
    problem = _obj(doc, "problemtype", where)
    impact = _obj(doc, "impact", where)
    avid = _obj(impact, "avid", f"{where}, field 'impact'")
    title = _value(problem.get("description")) or _value(doc.get("description"))[:200]
    if not title:
        raise ImportRefused(
            f"{where}, field 'problemtype.description.value': empty (the report has no title)"
        )
    summary = _value(doc.get("description"))
    raw_date = doc.get("reported_date")
    try:
        occurred = date.fromisoformat(str(raw_date).strip()[:10])
    except ValueError:
        raise ImportRefused(
            f"{where}, field 'reported_date': {str(raw_date)[:40]!r} is not a date (YYYY-MM-DD)"
        ) from None
    developers = _strings(affects.get("developer"), f"{where}, field 'affects.developer'")
    deployers = _strings(affects.get("deployer"), f"{where}, field 'affects.deployer'")
    artifacts = affects.get("artifacts") or []
    if not isinstance(artifacts, list) or not all(isinstance(a, dict) for a in artifacts):
        raise ImportRefused(f"{where}, field 'affects.artifacts': expected a list of {{type, name}}")
    names = [str(a.get("name")).strip() for a in artifacts if a.get("name")]
    domains = _strings(avid.get("risk_domain"), f"{where}, field 'impact.avid.risk_domain'")
    seps = _strings(avid.get("sep_view"), f"{where}, field 'impact.avid.sep_view'")
    lifecycle = _strings(avid.get("lifecycle_view"), f"{where}, field 'impact.avid.lifecycle_view'")
    refs = doc.get("references") or []
    if not isinstance(refs, list):
        raise ImportRefused(f"{where}, field 'references': not a list")
    urls = [str(r["url"]).strip() for r in refs if isinstance(r, dict) and r.get("url")]
    category, techniques, fired = crosswalk(f"{title}\n{summary}", [_sep_code(s) for s in seps])
    if isinstance(avid.get("vuln_id"), str) and avid["vuln_id"].strip():
        vulns = vulns | {avid["vuln_id"].strip()}
    cvss_node = impact.get("cvss")
    cvss: dict[str, Any] = cvss_node if isinstance(cvss_node, dict) else {}
    severity = CVSS_SEVERITY.get(str(cvss.get("baseSeverity") or "").upper())
    tags = [
        "avid",
        *([f"avid:class={problem['classof']}"] if isinstance(problem.get("classof"), str) and problem["classof"] else []),
        *([f"avid:type={problem['type']}"] if isinstance(problem.get("type"), str) and problem["type"] else []),
        *(f"avid:risk_domain={d}" for d in domains),
        *(f"avid:sep={s}" for s in seps),
        *(f"avid:lifecycle={lc}" for lc in lifecycle),
        *(f"avid:vuln={v}" for v in sorted(vulns)),
        *(f"deployer:{d}" for d in deployers),
        *(f"developer:{d}" for d in developers),
        *(f"artifact:{a.get('type') or 'unknown'}={str(a['name']).strip()}" for a in artifacts if a.get("name")),
        *(f"reference:{u}" for u in urls),
        *(f"crosswalk:{k}" for k in fired),
        "severity:cvss" if severity else "severity:not-assessed",
    ]  # fmt: skip
    incident = PublicIncident(
        id=rid,
        title=title[:500],
        summary=summary,
        occurred_on=occurred,
        category=category,
        severity=severity or DEFAULT_SEVERITY,
        affected_system=", ".join(dict.fromkeys(names))[:500] or None,
        developer=", ".join(developers)[:500] or None,
        tags=tags,
        tlp=tlp,
        releasable_to=rel,
        techniques=techniques,
        occurred_precision="day",
    )
    return incident, fired


def _documents(path: Path, root: Path) -> Iterator[tuple[str, Any]]:
    """(where, parsed object) of each document in one file: a `.json` holds one, a `.jsonl` one per line."""
    label = str(path.relative_to(root)) if path != root else path.name
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{label}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{label} line {n}", _parse(label, line, f"line {n}")
    else:
        yield label, _parse(label, text, "")


def _parse(label: str, text: str, where: str) -> Any:
    try:
        doc = load_json(label, text, where=where)
    except json.JSONDecodeError as e:
        at = f" {where}" if where else ""
        raise ImportRefused(f"{label}{at}: not JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{label}{(' ' + where) if where else ''}: expected one AVID report object")
    return doc


def avid_files(path: Path) -> tuple[list[Path], list[Path], bool]:
    """(files to read, files skipped under reports/review, whether `path` is a whole snapshot)."""
    if path.is_file():
        if path.suffix.lower() not in (".json", ".jsonl"):
            raise ImportRefused(f"{path.name}: expected an AVID report .json (or a .jsonl of reports)")
        return [path], [], False
    if not path.is_dir():
        raise ImportRefused(f"{path.name}: no such file or folder")
    files: list[Path] = []
    skipped: list[Path] = []
    for f in sorted(path.rglob("*.json")):
        if not f.is_file():
            continue
        (skipped if REVIEW_FOLDER in f.relative_to(path).parts[:-1] else files).append(f)
    if not files:
        raise ImportRefused(f"{path.name}: no AVID report .json files in this folder")
    return files, skipped, (path / "reports").is_dir()


def build_incidents(path: Path, tlp: str, rel: list[str], report: ImportReport) -> list[PublicIncident]:
    """Read the reports (and the vulnerabilities' links) at `path` into incidents; no store access."""
    files, skipped, _ = avid_files(path)
    root = path if path.is_dir() else path.parent
    reports: list[tuple[str, str, dict[str, Any]]] = []
    links: dict[str, set[str]] = {}
    vulnerabilities = 0
    for f in files:
        for where, doc in _documents(f, root):
            kind, doc_id = _doc_id(doc, where)
            if kind == "report":
                reports.append((where, doc_id, doc))
                continue
            vulnerabilities += 1
            for r in doc.get("reports") or []:
                if isinstance(r, dict) and isinstance(r.get("report_id"), str):
                    links.setdefault(r["report_id"].strip(), set()).add(doc_id)
    out: list[PublicIncident] = []
    fired_counts: dict[str, int] = {}
    for where, rid, doc in reports:
        incident, fired = report_incident(doc, where, rid, links.get(rid, set()), tlp, rel)
        for key in fired:
            fired_counts[key] = fired_counts.get(key, 0) + 1
        out.append(incident)
    report.details.update(
        {
            "reports": len(out),
            "vulnerabilities_linked": vulnerabilities,
            "review_files_skipped": len(skipped),
            "crosswalk_rules_fired": dict(sorted(fired_counts.items())),
            "mapped_category": sum(1 for i in out if i.category != UNMAPPED_CATEGORY),
            "severity_from_cvss": sum(1 for i in out if "severity:cvss" in i.tags),
        }
    )
    if skipped:
        report.warnings.append(
            f"{counted(len(skipped), 'file')} under reports/{REVIEW_FOLDER}/ (unpublished) not imported"
        )
    return out


def import_avid(
    store: Store,
    path: Path | str,
    *,
    actor: str = "cli",
    institute: str | None = None,
    tlp: str | None = None,
    releasable: tuple[str, ...] | None = None,
) -> ImportReport:
    """Import AVID reports (a snapshot folder, any folder of report files, one report or a .jsonl of them), all
    or nothing. TLP:CLEAR unless a higher TLP is given; `institute` is ignored (public data is PUBLIC)."""
    p = Path(path)
    marking_tlp, rel = public_marking(sources.AVID, tlp, releasable)
    report = ImportReport(kind="avid", source=str(p), batch_id=new_batch_id("avid"))
    incidents = build_incidents(p, marking_tlp, rel, report)
    whole_snapshot = p.is_dir() and (p / "reports").is_dir()
    with store.transaction() as con:
        counts = upsert_public_incidents(
            con,
            incidents,
            source=SOURCE,
            batch_id=report.batch_id,
            file_label=p.name,
            withdraw_missing=whole_snapshot,
        )
        report.added = len(counts.added)
        report.updated = len(counts.updated) + len(counts.withdrawn)
        report.unchanged = counts.unchanged
        report.details["withdrawn"] = counts.withdrawn
        report.details["credit"] = sources.AVID.credit
        record_batch(con, report, actor=actor, institute=None)
        audit.record(con, actor, "import avid", report.batch_id, audit.import_counts(report))
    return report
