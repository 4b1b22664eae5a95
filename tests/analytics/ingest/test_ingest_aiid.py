"""The AI Incident Database importer against the real snapshot: counts, duplicates, crosswalk, idempotence."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from analytics.ingest import ImportRefused
from analytics.ingest.aiid import CROSSWALK, Classified, crosswalk, import_aiid, sectors_for
from analytics.vocab import CATEGORIES
from tests.conftest import SHARED_DATA

AIID = SHARED_DATA / "aiid"


def _rows(name: str) -> list[dict[str, str]]:
    with (AIID / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """Numbers computed from the CSV files directly, not through the importer."""
    numbers = {int(r["incident_id"]) for r in _rows("incidents.csv")}
    dups = {int(r["duplicate_incident_number"]) for r in _rows("duplicates.csv")}
    return {
        "rows": len(_rows("incidents.csv")),
        "imported": len(numbers - dups),
        "skipped": sorted(numbers & dups),
    }


def _one(store: Any, sql: str, params: list[Any] | None = None) -> Any:
    return store.cursor().execute(sql, params or []).fetchone()


def test_row_counts_and_duplicates(store, expected) -> None:
    report = import_aiid(store.store, AIID, actor="test")
    assert expected["rows"] == 1367 and expected["skipped"] == [88, 637]
    assert report.added == expected["imported"] == 1365
    assert _one(store, "select count(*) from incidents where source = 'aiid'")[0] == 1365
    assert _one(store, "select count(*) from incidents where id in ('AIID-88', 'AIID-637')")[0] == 0
    assert "aiid:merged=637" in _one(store, "select tags from incidents where id = 'AIID-112'")[0]
    assert "aiid:merged=88" in _one(store, "select tags from incidents where id = 'AIID-1057'")[0]
    assert report.details["duplicates_skipped"] == [88, 637]
    marks = _one(store, "select distinct tlp, releasable_to, originator from incidents where source = 'aiid'")
    assert marks == ("CLEAR", ["AU", "UK"], "PUBLIC")
    # every category is the product's vocabulary or explicitly unmapped
    cats = {r[0] for r in store.cursor().execute("select distinct category from incidents").fetchall()}
    assert cats <= {*CATEGORIES, "Unmapped"}


def test_fields_and_classification_tags(store) -> None:
    import_aiid(store.store, AIID, actor="test")
    row = next(r for r in _rows("incidents.csv") if r["incident_id"] == "1")
    got = _one(
        store,
        "select title, summary, occurred_on::varchar, developer, tags, category from incidents where id = 'AIID-1'",
    )
    assert got[0] == row["title"] and got[1] == row["description"] and got[2] == row["date"]
    assert got[3] == "youtube"
    tags = set(got[4])
    assert {"deployer:youtube", "developer:youtube", "harmed:children"} <= tags
    mit = next(r for r in _rows("classifications_MIT.csv") if r["Incident ID"] == "1")
    assert f"mit:domain={mit['Risk Domain']}" in tags and f"mit:subdomain={mit['Risk Subdomain']}" in tags
    # GMF for incident 1 is published: its goals are tags
    assert "gmf:goal=Content Recommendation" in tags
    # toxic content (MIT 1.2) is a real harm but not a category this product has: left unmapped
    assert got[5] == "Unmapped"
    # GMF names "Adversarial Data" (videos made to slip past the filters): ATLAS Craft Adversarial Data
    assert "gmf:failure=Adversarial Data" in tags and "crosswalk:gmf-adversarial-data" in tags
    techs = store.cursor().execute(
        "select technique_id from incident_techniques where incident_id = 'AIID-1'"
    )
    assert techs.fetchall() == [("AML.T0043",)]


def test_unpublished_classifications_are_not_used(store) -> None:
    report = import_aiid(store.store, AIID, actor="test")
    gmf = _rows("classifications_GMF.csv")
    assert report.details["unpublished_classifications_skipped"]["GMF"] == sum(
        1 for r in gmf if r["Published"] != "True"
    )
    draft = next(r for r in gmf if r["Published"] != "True" and r["Known AI Goal"])
    tags = _one(store, "select tags from incidents where id = ?", [f"AIID-{draft['Incident ID']}"])
    if tags is not None:
        assert not any(t.startswith("gmf:") for t in tags[0])


@pytest.mark.parametrize(
    ("number", "category", "techniques"),
    [
        (352, "Prompt injection", ["AML.T0051"]),  # GPT-3 Twitter bot hijacked by prompt injection
        (1220, "AI-enabled cyber intrusion", ["AML.T0052"]),  # LAMEHUG malware (MIT 4.2 + phishing)
        (1238, "Jailbreak", ["AML.T0054"]),  # ChatGPT jailbroken for CBRN instructions
        (26, None, ["AML.T0015"]),  # Face ID broken: MIT 2.2 + biometric -> Evade AI Model
        (4, "Safety failure", []),  # Uber AV killed a pedestrian: MIT 7.3
    ],
)
def test_sample_of_mapped_rows(store, number: int, category: str | None, techniques: list[str]) -> None:
    import_aiid(store.store, AIID, actor="test")
    got = _one(store, "select category from incidents where id = ?", [f"AIID-{number}"])
    if category is not None:
        assert got[0] == category
    techs = sorted(
        r[0]
        for r in store.cursor()
        .execute("select technique_id from incident_techniques where incident_id = ?", [f"AIID-{number}"])
        .fetchall()
    )
    assert techs == techniques


def test_deepfake_fraud_needs_both_fraud_and_a_deepfake(store) -> None:
    import_aiid(store.store, AIID, actor="test")
    rows = (
        store.cursor()
        .execute(
            "select id, tags, lower(title || ' ' || summary) from incidents where category = 'Deepfake fraud'"
        )
        .fetchall()
    )
    assert len(rows) > 100
    for _, tags, text in rows:
        assert any(t.startswith("mit:subdomain=4.3.") for t in tags)
        assert "fake" in text or "clon" in text
        assert "crosswalk:fraud-deepfake" in tags


def test_second_import_changes_nothing(store) -> None:
    import_aiid(store.store, AIID, actor="test")
    before = store.cursor().execute("select * from incidents order by id").fetchall()
    techs = store.cursor().execute("select * from incident_techniques order by all").fetchall()
    report = import_aiid(store.store, AIID, actor="test")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 1365)
    assert store.cursor().execute("select * from incidents order by id").fetchall() == before
    assert store.cursor().execute("select * from incident_techniques order by all").fetchall() == techs


def _small_copy(tmp_path: Path, keep: set[str]) -> Path:
    folder = tmp_path / "aiid"
    folder.mkdir()
    for name in ("classifications_MIT.csv", "classifications_GMF.csv", "duplicates.csv"):
        shutil.copy(AIID / name, folder / name)
    with (AIID / "incidents.csv").open(newline="", encoding="utf-8") as src:
        reader = csv.DictReader(src)
        rows = [r for r in reader if r["incident_id"] in keep]
        fields = reader.fieldnames
    assert fields is not None
    with (folder / "incidents.csv").open("w", newline="", encoding="utf-8") as dst:
        writer = csv.DictWriter(dst, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_duplicate_imported_earlier_is_withdrawn_and_markings_never_lowered(store, tmp_path: Path) -> None:
    folder = _small_copy(tmp_path, {"1", "2", "352"})
    import_aiid(store.store, folder, actor="test", tlp="GREEN")
    # a later snapshot lists AIID-2 as a duplicate of 1
    with (folder / "duplicates.csv").open("a", encoding="utf-8") as fh:
        fh.write("2,1\n")
    report = import_aiid(store.store, folder, actor="test")  # CLEAR by default: must not lower GREEN
    assert report.details["withdrawn"] == ["AIID-2"]
    ids = [r[0] for r in store.cursor().execute("select id from incidents order by id").fetchall()]
    assert ids == ["AIID-1", "AIID-352"]
    assert {r[0] for r in store.cursor().execute("select tlp from incidents").fetchall()} == {"GREEN"}


def test_malformed_json_cell_is_refused_naming_row_and_column(store, tmp_path: Path) -> None:
    folder = _small_copy(tmp_path, {"1", "2"})
    text = (folder / "incidents.csv").read_text(encoding="utf-8")
    (folder / "incidents.csv").write_text(
        text.replace('"[""youtube""]"', '"youtube, google"', 1), encoding="utf-8"
    )
    with pytest.raises(ImportRefused, match=r"incidents.csv row 2, column 'Alleged deployer of AI system'"):
        import_aiid(store.store, folder, actor="test")
    assert _one(store, "select count(*) from incidents")[0] == 0


def test_missing_incidents_file_is_refused(store, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match=r"incidents\.csv is missing"):
        import_aiid(store.store, tmp_path, actor="test")


def test_crosswalk_rules() -> None:
    fraud = Classified(mit_subdomain="4.3")
    assert crosswalk("Voice clone scam", "A cloned voice tricked a bank", fraud)[:2] == (
        "Deepfake fraud",
        ["AML.T0088"],
    )
    # the same scam without synthetic media is fraud, but not a category this product has
    assert crosswalk("Investment scam", "Fake adverts", fraud)[:2] == ("Unmapped", [])
    # a deepfake without the fraud classification still gets the ATLAS technique, not the category
    assert crosswalk("Deepfake video of a mayor", "", Classified())[:2] == ("Unmapped", ["AML.T0088"])
    assert (
        crosswalk("t", "d", Classified(gmf_failures=frozenset({"Prompt Injection"})))[0] == "Prompt injection"
    )
    assert {r.key for r in CROSSWALK} and len({r.key for r in CROSSWALK}) == len(CROSSWALK)
    for rule in CROSSWALK:
        assert rule.category is None or rule.category in CATEGORIES


def test_sector_crosswalk() -> None:
    assert sectors_for(["Arts, entertainment and recreation, information and communication"]) == [
        "media",
        "technology",
    ]
    assert sectors_for(["law enforcement, public administration"]) == ["government"]
    assert sectors_for(["transportation and storage"]) == []
