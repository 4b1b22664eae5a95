"""The ATLAS importer against the real ATLAS 5.6 file: counts, structure, idempotence, and release updates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.demo.generator import build_demo
from analytics.ingest import ImportRefused
from analytics.ingest.atlas import category_for_techniques, import_atlas
from analytics.matrix import taxonomy
from analytics.store.database import Store
from tests.conftest import SHARED_DATA

ATLAS_YAML = SHARED_DATA / "atlas" / "ATLAS.yaml"


@pytest.fixture(scope="module")
def release() -> dict[str, Any]:
    """The YAML read independently of the importer, to compute expected numbers."""
    return yaml.safe_load(ATLAS_YAML.read_text())


def _count(store: Any, sql: str, params: list[Any] | None = None) -> int:
    return int(store.store.cursor().execute(sql, params or []).fetchone()[0])


def test_counts_match_the_yaml(store, release) -> None:
    m = release["matrices"][0]
    report = import_atlas(store.store, ATLAS_YAML, actor="test")
    # the documented 5.6 numbers, and the same numbers computed from the file itself
    assert (len(m["tactics"]), len(m["techniques"]), len(release["case-studies"])) == (16, 170, 57)
    assert _count(store, "select count(*) from atlas_tactics") == len(m["tactics"])
    assert _count(store, "select count(*) from atlas_techniques") == len(m["techniques"])
    subs = [t for t in m["techniques"] if "subtechnique-of" in t]
    assert (
        _count(store, "select count(*) from atlas_techniques where parent_id is not null") == len(subs) == 69
    )
    assert _count(store, "select count(*) from atlas_mitigations") == len(m["mitigations"]) == 35
    assert _count(store, "select count(*) from incidents where source = 'atlas'") == 57
    kinds = [c["case-study-type"] for c in release["case-studies"]]
    assert _count(
        store, "select count(*) from incidents where list_contains(tags, 'case-study-type:incident')"
    ) == (kinds.count("incident"))
    assert kinds.count("incident") == 17
    assert _count(store, "select count(*) from incidents where actor_type = 'researcher'") == kinds.count(
        "exercise"
    )
    links = {(u["id"], mit["id"]) for mit in m["mitigations"] for u in mit.get("techniques", [])}
    assert _count(store, "select count(*) from atlas_technique_mitigations") == len(links)
    assert report.details["version"] == "5.6.0"
    assert report.added == 16 + 170 + 35 + 57 and report.updated == 0
    assert taxonomy.current_version(store.cursor()) == "5.6.0"


def test_kill_chain_order_and_subtechnique_tactics(store, release) -> None:
    import_atlas(store.store, ATLAS_YAML, actor="test")
    m = release["matrices"][0]
    assert list(taxonomy.tactics(store.cursor())["id"]) == [t["id"] for t in m["tactics"]]
    own = {t["id"]: t.get("tactics", []) for t in m["techniques"]}
    expected = {
        (t["id"], ta)
        for t in m["techniques"]
        for ta in (own[t["id"]] or own[t["subtechnique-of"]] if "subtechnique-of" in t else own[t["id"]])
    }
    got = set(
        store.cursor().execute("select technique_id, tactic_id from atlas_technique_tactics").fetchall()
    )
    assert got == expected
    # every technique, sub-techniques included, has at least one tactic
    assert (
        _count(
            store,
            "select count(*) from atlas_techniques t where not exists "
            "(select 1 from atlas_technique_tactics tt where tt.technique_id = t.id)",
        )
        == 0
    )
    row = (
        store.cursor()
        .execute(
            "select name, parent_id, maturity, description like 'Malicious prompts%' or length(description) > 50 "
            "from atlas_techniques where id = 'AML.T0051.001'"
        )
        .fetchone()
    )
    assert row == ("Indirect", "AML.T0051", "demonstrated", True)


def test_case_studies_become_public_incidents_with_procedure_techniques(store, release) -> None:
    import_atlas(store.store, ATLAS_YAML, actor="test")
    cs = next(c for c in release["case-studies"] if c["id"] == "AML.CS0020")
    expected = {step["technique"] for step in cs["procedure"]}
    got = {
        r[0]
        for r in store.cursor()
        .execute("select technique_id from incident_techniques where incident_id = 'AML.CS0020'")
        .fetchall()
    }
    assert got == expected
    row = (
        store.cursor()
        .execute(
            "select title, occurred_on, tlp, releasable_to, originator, source, category, affected_system, tags "
            "from incidents where id = 'AML.CS0020'"
        )
        .fetchone()
    )
    assert row[0] == cs["name"] and row[1] == cs["incident-date"]
    assert row[2:6] == ("CLEAR", ["AU", "UK"], "PUBLIC", "atlas")
    assert row[6] == "Prompt injection"  # AML.T0051.001 in its procedure
    assert row[7] == cs["target"]
    assert "case-study-type:exercise" in row[8] and "severity:not-assessed" in row[8]


def test_case_studies_are_public_whoever_imports_them(store) -> None:
    """Issue 15: a public case study is nobody's institute reporting, so it never counts as UK or AU."""
    import_atlas(store.store, ATLAS_YAML, actor="test", institute="AU")
    assert (
        _count(store, "select count(*) from incidents where source = 'atlas' and originator = 'PUBLIC'") == 57
    )


def test_date_precision_is_atlas_granularity(store) -> None:
    """Each case study's precision is its incident-date-granularity in the published file."""
    import yaml

    release = yaml.safe_load(ATLAS_YAML.read_text())
    studies = [cs for m in [release, *release.get("matrices", [])] for cs in m.get("case-studies", [])]
    expect = {
        str(cs["id"]): {"date": "day", "month": "month", "year": "year"}[
            str(cs.get("incident-date-granularity") or "DATE").lower()
        ]
        for cs in studies
    }
    import_atlas(store.store, ATLAS_YAML, actor="test")
    got = dict(
        store.cursor()
        .execute("select id, occurred_precision from incidents where source = 'atlas'")
        .fetchall()
    )
    assert got == expect
    assert sorted(set(got.values())) == ["day", "month", "year"]


def test_second_import_changes_nothing(store) -> None:
    import_atlas(store.store, ATLAS_YAML, actor="test")
    snapshot = _snapshot(store)
    report = import_atlas(store.store, ATLAS_YAML, actor="test")
    assert (report.added, report.updated) == (0, 0)
    assert report.unchanged == 16 + 170 + 35 + 57
    assert _snapshot(store) == snapshot
    assert _count(store, "select count(*) from atlas_versions") == 1


def _snapshot(store: Any) -> dict[str, Any]:
    con = store.cursor()
    return {
        t: con.execute(f"select * from {t} order by all").fetchall()
        for t in (
            "atlas_tactics",
            "atlas_techniques",
            "atlas_technique_tactics",
            "atlas_mitigations",
            "atlas_technique_mitigations",
            "incidents",
            "incident_techniques",
        )
    }


def test_later_release_renames_and_removes_by_id(store, release, tmp_path: Path) -> None:
    import_atlas(store.store, ATLAS_YAML, actor="test")
    changed = yaml.safe_load(ATLAS_YAML.read_text())
    changed["version"] = "5.7.0"
    techniques = changed["matrices"][0]["techniques"]
    renamed = next(t for t in techniques if t["id"] == "AML.T0054")
    renamed["name"] = "LLM Jailbreak and Guardrail Bypass"
    # remove a technique that a case study cites: its procedure steps go with it
    gone = "AML.T0060"  # Publish Hallucinated Entities, cited by one case study
    changed["matrices"][0]["techniques"] = [t for t in techniques if t["id"] != gone]
    for cs in changed["case-studies"]:
        cs["procedure"] = [s for s in cs["procedure"] if s["technique"] != gone]
    for mit in changed["matrices"][0]["mitigations"]:
        mit["techniques"] = [u for u in mit.get("techniques", []) if u["id"] != gone]
    path = tmp_path / "ATLAS-5.7.yaml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    # an institute incident citing the technique that will be removed
    store.incident(id="UK-HALLUCINATED", techniques=[gone])

    report = import_atlas(store.store, path, actor="test")

    t = report.details["techniques"]
    assert t["renamed"] == [["AML.T0054", "LLM Jailbreak", "LLM Jailbreak and Guardrail Bypass"]]
    assert t["removed"] == [gone]
    assert t["added"] == []
    assert report.details["previous_version"] == "5.6.0" and report.details["version"] == "5.7.0"
    assert "renamed AML.T0054: 'LLM Jailbreak' -> 'LLM Jailbreak and Guardrail Bypass'" in report.summary()
    assert f"removed {gone}" in report.summary()
    con = store.cursor()
    assert taxonomy.technique_names(con)["AML.T0054"] == "LLM Jailbreak and Guardrail Bypass"
    assert gone not in set(taxonomy.techniques(con)["id"])
    assert con.execute("select removed_in from atlas_techniques where id = ?", [gone]).fetchone() == (
        "5.7.0",
    )
    # the institute's incident keeps its technique, and its name still resolves
    assert con.execute(
        "select technique_id from incident_techniques where incident_id = 'UK-HALLUCINATED'"
    ).fetchall() == [(gone,)]
    assert taxonomy.technique_names(con)[gone] == "Publish Hallucinated Entities"
    cases_citing = [
        c["id"] for c in release["case-studies"] if any(s["technique"] == gone for s in c["procedure"])
    ]
    assert cases_citing
    assert set(report.details["case_studies"]["updated"]) >= set(cases_citing)
    assert _count(store, "select count(*) from atlas_versions") == 2
    # importing the old release again brings the technique back
    back = import_atlas(store.store, ATLAS_YAML, actor="test")
    assert back.details["techniques"]["added"] == [gone]
    assert back.details["techniques"]["renamed"] == [
        ["AML.T0054", "LLM Jailbreak and Guardrail Bypass", "LLM Jailbreak"]
    ]


def test_import_over_the_demo_keeps_demo_incident_techniques(tmp_path: Path) -> None:
    s = Store(tmp_path / "demo.duckdb")
    build_demo(s, incidents=300, seed=3)
    con = s.cursor()
    before = con.execute("select count(*) from incident_techniques").fetchone()[0]
    report = import_atlas(s, ATLAS_YAML, actor="test")
    assert report.details["techniques"]["removed"] == []  # the demo slice is a subset of 5.6
    assert report.details["techniques"]["renamed"] == []
    after = con.execute(
        "select count(*) from incident_techniques it join incidents i on i.id = it.incident_id "
        "where i.source <> 'atlas'"
    ).fetchone()[0]
    assert after == before
    assert con.execute("select count(*) from atlas_techniques").fetchone()[0] == 170
    s.close()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("matrices"), "no 'matrices' list"),
        (lambda d: d["matrices"][0]["techniques"][0].pop("name"), "field 'name' is missing"),
        (
            lambda d: d["matrices"][0]["techniques"][1].__setitem__("subtechnique-of", "AML.T9999"),
            "unknown technique 'AML.T9999'",
        ),
        (
            lambda d: d["case-studies"][3].__setitem__("case-study-type", "rumour"),
            "case-studies[3] (AML.CS0003)",
        ),
        (lambda d: d["case-studies"][0].__setitem__("incident-date", "last tuesday"), "is not a date"),
    ],
)
def test_malformed_release_is_refused_and_nothing_written(
    store, tmp_path: Path, mutate, message: str
) -> None:
    doc = yaml.safe_load(ATLAS_YAML.read_text())
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ImportRefused, match=re.escape(message)):
        import_atlas(store.store, path, actor="test")
    assert _count(store, "select count(*) from atlas_techniques") == 0
    assert _count(store, "select count(*) from incidents") == 0
    assert _count(store, "select count(*) from import_batches") == 0


def test_not_yaml_is_refused(store, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("matrices: [unclosed")
    with pytest.raises(ImportRefused, match=r"x\.yaml: not a readable YAML file"):
        import_atlas(store.store, path, actor="test")


def test_category_crosswalk_for_case_studies() -> None:
    assert category_for_techniques({"AML.T0051.001", "AML.T0053"}) == "Prompt injection"
    assert category_for_techniques({"AML.T0053", "AML.T0086"}) == "Agentic system misuse"
    assert category_for_techniques({"AML.T0015", "AML.T0043.000"}) == "Unmapped"
    assert category_for_techniques({"AML.T0024.002"}) == "Model theft"
    assert category_for_techniques({"AML.T0024"}) == "Unmapped"  # exfiltration in general is not theft


def test_cli_imports_without_as(tmp_path: Path, capsys) -> None:
    from analytics.cli import main
    from analytics.store.database import close_all

    db = tmp_path / "cli.duckdb"
    assert main(["import", "atlas", str(ATLAS_YAML), "--db", str(db), "--create"]) == 0
    out = capsys.readouterr().out
    assert "ATLAS version 5.6.0 (previously none)" in out
    assert "techniques: 170 added" in out
    close_all()


def test_failure_inside_the_transaction_leaves_everything_as_it_was(store) -> None:
    # an institute record already uses a case study's id: the import is refused after the taxonomy was written,
    # and the whole transaction is rolled back
    store.incident(id="AML.CS0031", source="institute")
    with pytest.raises(ImportRefused, match=r"record id AML\.CS0031 already exists from source 'institute'"):
        import_atlas(store.store, ATLAS_YAML, actor="test")
    assert _count(store, "select count(*) from atlas_techniques") == 0
    assert _count(store, "select count(*) from atlas_versions") == 0
    assert _count(store, "select count(*) from incidents") == 1
