"""AVID importer against the real snapshot in ../shared/data/avid: counts and fields read back from the JSON files
themselves, the crosswalk, vulnerabilities as links, CVSS severity, idempotence, PUBLIC origin, the credit, and a
malformed report refused naming file and field with the store unchanged."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.access.markings import Marking
from analytics.filters import Filters
from analytics.incidents.base import marking_of
from analytics.ingest import ImportRefused
from analytics.ingest.avid import CROSSWALK, crosswalk, import_avid
from analytics.sources import AVID as AVID_SOURCE
from analytics.sources import source_credits
from analytics.vocab import CATEGORIES
from tests.conftest import SHARED_DATA, UK_ANALYST

AVID = SHARED_DATA / "avid"
pytestmark = pytest.mark.skipif(not AVID.exists(), reason="needs ../shared/data/avid")

TABLES = ("incidents", "incident_techniques", "import_batches", "audit_log")


def _json(rel: str) -> dict[str, Any]:
    return json.loads((AVID / rel).read_text(encoding="utf-8"))


def _published_reports() -> dict[str, dict[str, Any]]:
    """report id -> report, read straight from the files (reports/<year>/*.json, not reports/review)."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted((AVID / "reports").glob("*/*.json")):
        if f.parent.name == "review":
            continue
        doc = json.loads(f.read_text(encoding="utf-8"))
        out[doc["metadata"]["report_id"]] = doc
    return out


def _snapshot(store: Any) -> dict[str, list[str]]:
    con = store.cursor()
    return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in TABLES}


def _row(store: Any, rid: str) -> dict[str, Any]:
    cur = store.cursor().execute("select * from incidents where id = ?", [rid])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, rid
    return dict(zip(names, row, strict=True))


def test_one_public_incident_per_published_report(store) -> None:
    reports = _published_reports()
    report = import_avid(store.store, AVID, actor="analyst@uk.example", institute="UK")
    assert report.added == len(reports) == 931
    con = store.cursor()
    ids = {r[0] for r in con.execute("select id from incidents where source = 'avid'").fetchall()}
    assert ids == set(reports)
    marks = con.execute("select distinct originator, tlp, releasable_to from incidents where source = 'avid'")
    assert marks.fetchall() == [("PUBLIC", "CLEAR", ["AU", "UK"])]
    cats = {
        r[0] for r in con.execute("select distinct category from incidents where source = 'avid'").fetchall()
    }
    assert cats <= {*CATEGORIES, "Unmapped"}
    assert report.details["review_files_skipped"] == len(list((AVID / "reports" / "review").glob("*.json")))
    audit = con.execute("select action, object from audit_log where action = 'import avid'").fetchall()
    assert audit == [("import avid", report.batch_id)]


def test_fields_match_the_report_file(store) -> None:
    import_avid(store.store, AVID, actor="test")
    doc = _json("reports/2022/AVID-2022-R0001.json")
    got = _row(store, "AVID-2022-R0001")
    assert got["title"] == doc["problemtype"]["description"]["value"]
    assert got["summary"] == doc["description"]["value"]
    assert got["occurred_on"] == date.fromisoformat(doc["reported_date"])
    assert got["occurred_precision"] == "day"
    assert got["affected_system"] == ", ".join(a["name"] for a in doc["affects"]["artifacts"])
    assert got["developer"] is None and doc["affects"]["developer"] == []
    tags = set(got["tags"])
    avid = doc["impact"]["avid"]
    assert {f"avid:risk_domain={d}" for d in avid["risk_domain"]} <= tags
    assert {f"avid:sep={s}" for s in avid["sep_view"]} <= tags
    assert {f"avid:lifecycle={s}" for s in avid["lifecycle_view"]} <= tags
    assert {f"deployer:{d}" for d in doc["affects"]["deployer"]} <= tags
    assert {f"reference:{r['url']}" for r in doc["references"]} <= tags
    assert f"avid:class={doc['problemtype']['classof']}" in tags
    assert f"avid:vuln={avid['vuln_id']}" in tags
    # group fairness (E0101) is a real harm but none of this product's categories; AVID gives no severity
    assert got["category"] == "Unmapped"
    assert got["severity"] == 3 and "severity:not-assessed" in tags


def test_vulnerabilities_are_links_not_incidents(store) -> None:
    import_avid(store.store, AVID, actor="test")
    vuln = _json("vulnerabilities/2022/AVID-2022-V002.json")
    for r in vuln["reports"]:
        assert f"avid:vuln={vuln['metadata']['vuln_id']}" in _row(store, r["report_id"])["tags"]
    n = store.cursor().execute("select count(*) from incidents where id like 'AVID-%-V%'").fetchone()[0]
    assert n == 0


def test_cvss_severity_and_crosswalk_from_the_files(store) -> None:
    import_avid(store.store, AVID, actor="test")
    reports = _published_reports()
    cve = reports["AVID-2026-R0001"]
    assert cve["impact"]["cvss"]["baseSeverity"] == "CRITICAL"
    got = _row(store, "AVID-2026-R0001")
    assert got["severity"] == 5 and "severity:cvss" in got["tags"]
    # every report whose SEP view names S0301 (information leak), and neither an earlier rule's SEP code
    # (S0601 ingest poisoning, S0502 model theft) nor jailbreaking or prompt injection in its text, is a privacy
    # incident with ATLAS LLM Data Leakage
    con = store.cursor()
    for rid, doc in reports.items():
        seps = [s.split(":")[0] for s in ((doc.get("impact") or {}).get("avid") or {}).get("sep_view") or []]
        text = f"{doc['problemtype']['description']['value']} {doc['description']['value']}".lower()
        earlier = {"S0601", "S0502"} & set(seps) or re.search(
            r"jail ?-?br(?:eak|oke)|prompt[- ]?inject", text
        )
        if "S0301" in seps and not earlier:
            assert _row(store, rid)["category"] == "Privacy and data leakage", rid
            techs = con.execute(
                "select technique_id from incident_techniques where incident_id = ?", [rid]
            ).fetchall()
            assert ("AML.T0057",) in techs, rid


def test_crosswalk_rules_are_product_vocabulary() -> None:
    assert {r.category for r in CROSSWALK} <= set(CATEGORIES)
    assert crosswalk("Model jailbroken via role play", ["S0403"])[:2] == ("Jailbreak", ["AML.T0054"])
    assert crosswalk("Ingest poisoning of a dataset", ["S0601"])[0] == "Data poisoning"
    assert crosswalk("Software vulnerability in a server", ["S0100"]) == ("Unmapped", [], [])


def test_second_import_changes_nothing(store) -> None:
    import_avid(store.store, AVID, actor="test")
    before = store.cursor().execute("select id, updated_at from incidents order by id").fetchall()
    again = import_avid(store.store, AVID, actor="test")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 931)
    assert store.cursor().execute("select id, updated_at from incidents order by id").fetchall() == before


def test_one_file_adds_without_withdrawing_the_rest(store) -> None:
    import_avid(store.store, AVID, actor="test")
    one = import_avid(store.store, AVID / "reports" / "2022" / "AVID-2022-R0001.json", actor="test")
    assert (one.added, one.updated, one.unchanged) == (0, 0, 1)
    assert store.cursor().execute("select count(*) from incidents where source = 'avid'").fetchone()[0] == 931


def test_credit_comes_through_source_credits(store) -> None:
    import_avid(store.store, AVID, actor="test")
    marking = marking_of(store.cursor(), UK_ANALYST, Filters(), date(2026, 12, 1))
    assert "avid" in marking.sources
    assert AVID_SOURCE.credit in source_credits(marking)
    assert source_credits(Marking(sources=("avid",))) == (AVID_SOURCE.credit,)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("reported_date", "last week", "'reported_date'"),
        ("data_type", "CVE", "'data_type'"),
        ("affects", {"developer": "OpenAI"}, "'affects.developer'"),
    ],
)
def test_malformed_report_refused_naming_file_and_field(
    store, tmp_path: Path, field: str, value: Any, named: str
) -> None:
    folder = tmp_path / "avid" / "reports" / "2022"
    folder.mkdir(parents=True)
    for f in sorted((AVID / "reports" / "2022").glob("*.json")):
        shutil.copy(f, folder / f.name)
    bad = json.loads((folder / "AVID-2022-R0003.json").read_text())
    bad[field] = value
    (folder / "AVID-2022-R0003.json").write_text(json.dumps(bad))
    before = _snapshot(store)
    with pytest.raises(ImportRefused) as e:
        import_avid(store.store, tmp_path / "avid", actor="test")
    msg = str(e.value)
    assert "\n" not in msg and "AVID-2022-R0003.json" in msg and named in msg
    assert _snapshot(store) == before


def test_not_json_refused(store, tmp_path: Path) -> None:
    f = tmp_path / "AVID-2026-R9999.json"
    f.write_text("{not json")
    with pytest.raises(ImportRefused, match=r"AVID-2026-R9999\.json: not JSON"):
        import_avid(store.store, f, actor="test")


# -- the same records through the generic mapping (issue 16: `import json --map/--set/--source`) ------------------

COMPARED = (
    "id, title, summary, occurred_on, occurred_precision, category, severity, originator, source, tlp, "
    "releasable_to, affected_system, developer"
)
GENERIC_MAP = [
    "--map", "metadata.report_id=id",
    "--map", "problemtype.description.value=title",
    "--map", "description.value=summary",
    "--map", "reported_date=occurred_on",
    "--map", "affects.artifacts[0].name=affected_system",
    "--map", "affects.developer=developer",
]  # fmt: skip


def test_generic_mapping_gives_the_same_records(store, tmp_path: Path, capsys) -> None:
    """The reports the dedicated importer files as Jailbreak, severity not assessed, with one artifact, at most one
    developer and a description, imported again through `import json --source avid --map ... --set ...` into a
    second store, give the same records. (Tags and techniques come from the crosswalk, which a mapping cannot
    compute, so they are not compared.)"""
    from analytics.cli import main
    from analytics.store.database import Store

    import_avid(store.store, AVID, actor="test")
    reports = _published_reports()
    jailbreaks = {
        r[0]
        for r in store.cursor()
        .execute(
            "select id from incidents where category = 'Jailbreak' and list_contains(tags, 'severity:not-assessed')"
        )
        .fetchall()
    }
    chosen = sorted(
        rid
        for rid in jailbreaks
        if len(reports[rid]["affects"]["artifacts"]) == 1
        and len(reports[rid]["affects"]["developer"] or []) <= 1
        and _value_of(reports[rid].get("description"))
    )
    assert len(chosen) >= 10
    folder = tmp_path / "chosen"
    folder.mkdir()
    for rid in chosen:
        (folder / f"{rid}.json").write_text(json.dumps(reports[rid]), encoding="utf-8")
    db = tmp_path / "generic.duckdb"
    argv = ["import", "json", str(folder), "--db", str(db), "--create", "--as", "UK", "--source", "avid"]
    argv += [
        *GENERIC_MAP,
        "--set",
        "category=Jailbreak",
        "--set",
        "severity=3",
        "--set",
        "occurred_precision=day",
    ]
    code = main(argv)
    _out, err = capsys.readouterr()
    assert code == 0, err
    sql = f"select {COMPARED} from incidents where id = any(?) order by id"
    dedicated = store.cursor().execute(sql, [chosen]).fetchall()
    other = Store(db)
    try:
        generic = other.cursor().execute(sql, [chosen]).fetchall()
    finally:
        other.close()
    assert len(dedicated) == len(chosen)
    assert generic == dedicated


def _value_of(node: Any) -> str:
    return node.get("value", "").strip() if isinstance(node, dict) else ""


@pytest.mark.parametrize("tlp", ["AMBER+STRICT", "RED"])
def test_public_data_is_never_amber_strict_or_red(store, tlp: str) -> None:
    with pytest.raises(ImportRefused, match=f"TLP:{re.escape(tlp)}"):
        import_avid(store.store, AVID / "reports" / "2022", actor="test", tlp=tlp)
    assert store.cursor().execute("select count(*) from incidents").fetchone()[0] == 0


def test_a_higher_tlp_is_kept(store) -> None:
    import_avid(store.store, AVID / "reports" / "2022", actor="test", tlp="AMBER", releasable=("UK",))
    marks = store.cursor().execute("select distinct originator, tlp, releasable_to from incidents").fetchall()
    assert marks == [("PUBLIC", "AMBER", ["UK"])]
