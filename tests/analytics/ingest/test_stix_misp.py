"""STIX 2.1 from MISP, as misp-stix (the converter MISP itself uses) writes it: unpublished events arrive as a
`grouping` and are read like a `report`; ATLAS techniques come from MISP galaxy clusters (`x-misp-galaxy-cluster`)
and from any attack pattern whose external id is AML.T...; MISP's threat level becomes a severity; the import
takes constant fields (`constants`, the CLI's `--set`) and named recipients for TLP:RED (`--recipients`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from misp_stix_converter import MISPtoSTIX21Parser
from pymisp import MISPEvent

from analytics.ingest import ImportRefused
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.store.database import open_store

ATLAS_GALAXY = {
    "uuid": "8a2d6f3e-1c7b-4f0e-9d2a-5b3c4e6f7a81",
    "name": "MITRE ATLAS Attack Pattern",
    "type": "mitre-atlas-attack-pattern",
    "description": "ATLAS techniques",
    "GalaxyCluster": [
        {
            "uuid": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
            "type": "mitre-atlas-attack-pattern",
            "value": "LLM Prompt Injection - AML.T0051",
            "description": "An adversary crafts prompts",
            "meta": {"external_id": ["AML.T0051"]},
        }
    ],
}


def misp_bundle(
    *, published: bool = False, tags: tuple[str, ...] = ("tlp:amber",), galaxy: bool = True
) -> dict[str, Any]:
    """A MISP event converted by misp-stix's own MISP -> STIX 2.1 exporter (what MISP sends)."""
    event = MISPEvent()
    event.info = "Prompt injection against a council chatbot"
    event.threat_level_id = 1
    event.published = published
    event.date = date(2026, 3, 1)
    for tag in tags:
        event.add_tag(tag)
    event.add_attribute("url", "https://chat.example/council", comment="affected endpoint")
    data = json.loads(event.to_json())
    if published:
        data["publish_timestamp"] = data.get("timestamp") or 1772355600
    if galaxy:
        data["Galaxy"] = [ATLAS_GALAXY]
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event(data)
    bundle: dict[str, Any] = json.loads(parser.bundle.serialize())
    return bundle


def load(store: Any, bundle: dict[str, Any], **kw: Any) -> Any:
    kw.setdefault("actor", "importer@au.example")
    kw.setdefault("institute", "AU")
    kw.setdefault("tlp", None)
    kw.setdefault("releasable", ["UK", "AU"])
    return import_stix_bytes(store.store, "misp.json", json.dumps(bundle).encode(), **kw)


def one_incident(store: Any) -> dict[str, Any]:
    cur = store.cursor().execute("select * from incidents")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


def techniques(store: Any) -> list[str]:
    return [
        r[0]
        for r in store.cursor().execute("select technique_id from incident_techniques order by 1").fetchall()
    ]


def test_unpublished_event_arrives_as_grouping_and_becomes_an_incident(store) -> None:
    bundle = misp_bundle(published=False)
    assert bundle["objects"][0]["type"] == "grouping"
    report = load(store, bundle, constants={"category": "Prompt injection"})
    assert (report.added, report.rejected) == (1, 0)
    row = one_incident(store)
    assert row["title"] == "Prompt injection against a council chatbot"
    assert (row["tlp"], row["originator"]) == ("AMBER", "AU")


def test_published_event_arrives_as_report_and_reads_alike(store) -> None:
    bundle = misp_bundle(published=True)
    assert bundle["objects"][0]["type"] == "report"
    report = load(store, bundle, constants={"category": "Prompt injection"})
    assert report.added == 1
    assert techniques(store) == ["AML.T0051"]


def test_atlas_galaxy_cluster_becomes_a_technique(store) -> None:
    load(store, misp_bundle(), constants={"category": "Prompt injection"})
    assert techniques(store) == ["AML.T0051"]


def test_a_category_comes_from_the_galaxy_cluster_without_a_default(store) -> None:
    # AML.T0051 is prompt injection in the product crosswalk: no --set category needed
    load(store, misp_bundle())
    assert one_incident(store)["category"] == "Prompt injection"


def test_any_attack_pattern_with_an_atlas_external_id_is_a_technique(store) -> None:
    bundle = misp_bundle(galaxy=False)
    group = bundle["objects"][0]
    pattern = {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": "attack-pattern--0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        "created": group["created"],
        "modified": group["modified"],
        "name": "Exfiltration via AI Inference API",
        "external_references": [{"source_name": "MITRE ATLAS (OpenCTI)", "external_id": "AML.T0024"}],
    }
    group["object_refs"].append(pattern["id"])
    bundle["objects"].append(pattern)
    load(store, bundle, constants={"category": "Model theft"})
    assert techniques(store) == ["AML.T0024"]


@pytest.mark.parametrize(
    ("how", "severity"),
    [
        ({"x_misp_threat_level_id": "1"}, 4),
        ({"x_misp_threat_level_id": 2}, 3),
        ({"x_misp_threat_level_id": "3"}, 2),
        ({"labels": ['misp:threat-level="low-risk"']}, 2),
        ({"labels": ["threat-level:high-risk"]}, 4),
        ({"labels": ["threat-level:no-risk"]}, 1),
    ],
)
def test_misp_threat_level_becomes_the_severity(store, how: dict[str, Any], severity: int) -> None:
    bundle = misp_bundle()
    group = bundle["objects"][0]
    for key, value in how.items():
        group[key] = [*group.get(key, []), *value] if isinstance(value, list) else value
    report = load(store, bundle)
    assert one_incident(store)["severity"] == severity
    assert not any("set to 3" in w for w in report.warnings)


def test_undefined_threat_level_is_not_a_severity(store) -> None:
    bundle = misp_bundle()
    bundle["objects"][0]["x_misp_threat_level_id"] = "4"
    report = load(store, bundle)
    assert one_incident(store)["severity"] == 3
    assert any("set to 3" in w for w in report.warnings)


def test_defaults_fill_what_the_bundle_leaves_out_and_never_override(store) -> None:
    bundle = misp_bundle(galaxy=False)
    with pytest.raises(ImportRefused, match="no category"):
        load(store, bundle)
    load(store, bundle, constants={"category": "Jailbreak", "severity": "5", "sectors": "government"})
    row = one_incident(store)
    assert (row["category"], row["severity"], row["sectors"]) == ("Jailbreak", 5, ["government"])


def test_defaults_are_checked_like_cells(store) -> None:
    with pytest.raises(ImportRefused, match="category"):
        load(store, misp_bundle(galaxy=False), constants={"category": "Not a category"})
    with pytest.raises(ImportRefused, match="tlp"):
        load(store, misp_bundle(galaxy=False), constants={"tlp": "AMBER"})
    assert store.cursor().execute("select count(*) from incidents").fetchone() == (0,)


def test_red_bundle_takes_named_recipients(store) -> None:
    bundle = misp_bundle(tags=("tlp:red",))
    with pytest.raises(ImportRefused, match="named recipients"):
        load(store, bundle)
    load(store, bundle, recipients=("lead@au.example", "Analyst@AU.example"))
    row = one_incident(store)
    assert (row["tlp"], row["named_recipients"]) == ("RED", ["lead@au.example", "analyst@au.example"])


def test_cli_set_and_recipients_reach_the_stix_importer(store, tmp_path, capsys) -> None:
    from analytics.cli import main
    from analytics.store.database import close_all

    path = tmp_path / "misp-red.json"
    path.write_text(json.dumps(misp_bundle(tags=("tlp:red",), galaxy=False)))
    db = store.store.path
    store.store.close()
    close_all()
    args = ["import", "stix", str(path), "--db", str(db), "--as", "AU", "--releasable", "UK,AU"]
    assert main([*args, "--set", "category=Jailbreak", "--recipients", "lead@au.example"]) == 0
    assert "1 added" in capsys.readouterr().out
    s = open_store(db)
    row = s.cursor().execute("select category, tlp, named_recipients from incidents").fetchall()
    assert row == [("Jailbreak", "RED", ["lead@au.example"])]
    close_all()
