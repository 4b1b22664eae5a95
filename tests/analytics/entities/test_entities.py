"""Entity reads on real DuckDB files: each kind gathers its incidents, runs and assessments, only those the viewer
may see, each result marked; a UK-only record never reaches an AU viewer, and an entity known only from hidden
records looks exactly like one that does not exist."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.assessments.workflow import create_assessment
from analytics.entities import queries as entities
from analytics.entities.kinds import KINDS, EntityError, entity_url, parse_entity
from tests.analytics.assessments.samples import INC, approve, draft, judgement, ref
from tests.conftest import ADMIN, AU_ANALYST, AU_POLICY, UK_ANALYST, UK_POLICY, StoreBuilder

UK_ONLY = {"releasable_to": ["UK"], "tlp": "AMBER", "originator": "UK"}


def _seed_atlas(store: StoreBuilder) -> None:
    with store.store.transaction() as con:
        con.execute(
            "insert into atlas_techniques (id, name, parent_id) values "
            "('AML.T0051', 'LLM Prompt Injection', null), ('AML.T0051.001', 'Indirect', 'AML.T0051'), "
            "('AML.T0054', 'LLM Jailbreak', null)"
        )


@pytest.fixture
def seeded(store: StoreBuilder) -> dict[str, str]:
    """Shared and UK-only records naming the same model, developer, sector, actor, technique and benchmark."""
    _seed_atlas(store)
    ids = {
        "shared": store.incident(
            title="Shared injection",
            affected_system="Aurora-1.0",
            developer="Northwind AI",
            sectors=["finance"],
            actor_type="criminal",
            techniques=["AML.T0051.001"],
            occurred_on=date(2026, 3, 4),
        ),
        "uk_only": store.incident(
            title="UK-only injection",
            affected_system="aurora-1.0 ",  # another spelling of the same model
            developer="Northwind AI",
            sectors=["finance", "health"],
            actor_type="Criminal",
            techniques=["AML.T0051"],
            occurred_on=date(2026, 5, 6),
            **UK_ONLY,
        ),
        "other": store.incident(
            affected_system="Basalt-2", developer="Tasman AI", sectors=["energy"], actor_type="insider"
        ),
        "run_shared": store.eval_run(benchmark="AgentDojo injection", eval_date=date(2026, 4, 1)),
        "run_uk_only": store.eval_run(
            benchmark="inspect_evals/agentdojo_injection",
            eval_date=date(2026, 6, 1),
            releasable_to=["UK"],
            tlp="AMBER",
        ),
    }
    return ids


CASES = [
    ("model", "AURORA-1.0"),
    ("developer", "northwind ai"),
    ("sector", "FINANCE"),  # lower-cased to meet the stored "finance"
    ("actor", "criminal"),
    ("technique", "AML.T0051"),
    ("benchmark", "AgentDojo injection"),
]


@pytest.mark.parametrize(("kind", "ident"), CASES)
def test_each_kind_gathers_the_records_the_viewer_may_see(seeded, store, kind: str, ident: str) -> None:
    con = store.cursor()
    uk = entities.incidents(con, UK_ANALYST, kind, ident)
    au = entities.incidents(con, AU_ANALYST, kind, ident)
    assert sorted(uk.data["id"]) == sorted([seeded["shared"], seeded["uk_only"]])
    assert list(au.data["id"]) == [seeded["shared"]]  # the UK-only record never reaches an AU viewer
    assert (uk.marking.label, uk.marking.rows) == ("TLP:AMBER · releasable to UK", 2)
    assert (au.marking.label, au.marking.rows) == ("TLP:GREEN · releasable to AU and UK", 1)
    assert list(uk.data["id"]) == [seeded["uk_only"], seeded["shared"]]  # newest first

    uk_runs = entities.evaluations(con, UK_ANALYST, kind, ident)
    au_runs = entities.evaluations(con, AU_ANALYST, kind, ident)
    if KINDS[kind].runs:
        # both runs are of Aurora-1.0 by Northwind AI, on AgentDojo (mapped to AML.T0051); newest first
        assert list(uk_runs.data["run_id"]) == [seeded["run_uk_only"], seeded["run_shared"]]
        assert list(au_runs.data["run_id"]) == [seeded["run_shared"]]
        assert uk_runs.marking.label == "TLP:AMBER · releasable to UK"
        assert au_runs.marking.label == "TLP:GREEN · releasable to AU and UK"
    else:
        assert uk_runs.data.empty and uk_runs.marking.rows == 0

    au_time = entities.timeline(con, AU_ANALYST, kind, ident).data
    assert au_time[au_time["series"] == "Incidents"]["month"].dt.date.tolist() == [date(2026, 3, 1)]
    uk_time = entities.timeline(con, UK_ANALYST, kind, ident)
    incident_months = uk_time.data[uk_time.data["series"] == "Incidents"]["month"].dt.date.tolist()
    assert incident_months == [date(2026, 3, 1), date(2026, 5, 1)]
    assert uk_time.marking.label == "TLP:AMBER · releasable to UK"


def test_overview_names_the_entity_and_hides_what_the_viewer_may_not_see(seeded, store) -> None:
    con = store.cursor()
    over = entities.overview(con, UK_ANALYST, "model", "AURORA-1.0")
    assert over is not None
    assert (over.name, over.incidents, over.runs) == ("Aurora-1.0", 2, 2)
    assert (over.first_seen, over.last_seen) == (date(2026, 3, 4), date(2026, 6, 1))
    # a sector only a UK-only record names: for an AU viewer it is exactly like one that does not exist
    assert entities.overview(con, UK_ANALYST, "sector", "health") is not None
    assert entities.overview(con, AU_ANALYST, "sector", "health") is None
    assert entities.overview(con, AU_ANALYST, "sector", "no such sector") is None
    assert entities.incidents(con, AU_ANALYST, "sector", "health").data.empty
    # an ATLAS technique is public reference data: its page exists even with no records, under its full name
    tech = entities.overview(con, AU_ANALYST, "technique", "AML.T0054")
    assert tech is not None and (tech.name, tech.incidents, tech.in_taxonomy) == ("LLM Jailbreak", 0, True)
    sub = entities.overview(con, AU_ANALYST, "technique", "AML.T0051.001")
    assert sub is not None and sub.name == "LLM Prompt Injection: Indirect"
    # a shipped benchmark mapping is public too; a benchmark nobody runs or maps is unknown
    assert entities.overview(con, AU_ANALYST, "benchmark", "Cybench") is not None
    assert entities.overview(con, AU_ANALYST, "benchmark", "Secret suite") is None


def test_sub_technique_reaches_only_its_own_incidents_and_a_parent_its_children(seeded, store) -> None:
    con = store.cursor()
    sub = entities.incidents(con, UK_ANALYST, "technique", "AML.T0051.001").data
    assert list(sub["id"]) == [seeded["shared"]]
    parent = entities.incidents(con, UK_ANALYST, "technique", "AML.T0051").data
    assert sorted(parent["id"]) == sorted([seeded["shared"], seeded["uk_only"]])


def test_related_entities_come_only_from_visible_records(seeded, store) -> None:
    con = store.cursor()
    uk = entities.related(con, UK_ANALYST, "model", "Aurora-1.0").data
    au = entities.related(con, AU_ANALYST, "model", "Aurora-1.0").data
    uk_sectors = set(uk[uk["kind"] == "sector"]["id"])
    au_sectors = set(au[au["kind"] == "sector"]["id"])
    assert uk_sectors == {"finance", "health"} and au_sectors == {"finance"}
    assert set(au[au["kind"] == "technique"]["id"]) == {"AML.T0051.001"}
    assert "model" not in set(uk[uk["via"] == "incidents"]["kind"])  # the entity itself is left out
    bench = uk[uk["kind"] == "benchmark"]
    assert bench["records"].sum() == 2 and au[au["kind"] == "benchmark"]["records"].sum() == 1


def test_assessments_citing_the_entity_follow_the_reader(seeded, store) -> None:
    cites_shared = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, seeded["shared"]),)), title="Shared")
    )
    create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, seeded["uk_only"]),)), title="UK only")
    )
    create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, seeded["other"]),)), title="Other")
    )
    con = store.cursor()

    def titles(viewer, kind: str = "model", ident: str = "Aurora-1.0") -> list[str]:
        return sorted(entities.assessments(con, viewer, kind, ident).data["title"])

    assert titles(UK_ANALYST) == ["Shared", "UK only"]
    assert titles(AU_ANALYST) == ["Shared"]  # the UK-only evidence keeps its assessment from AU readers
    assert titles(UK_ANALYST, "sector", "energy") == ["Other"]
    assert titles(UK_POLICY) == [] and titles(ADMIN) == []  # drafts reach authors only
    approve(store, cites_shared)
    assert titles(AU_POLICY) == ["Shared"] and titles(ADMIN) == ["Shared"]
    scoped = entities.assessments(con, AU_ANALYST, "model", "Aurora-1.0")
    assert (scoped.marking.label, scoped.marking.rows) == ("TLP:GREEN · releasable to AU and UK", 1)


def test_addresses_are_checked_against_the_allow_list() -> None:
    assert parse_entity("technique", " aml.t0051.001 ").id == "AML.T0051.001"
    assert parse_entity("model", "  Aurora   1 ").key == "aurora 1"
    for kind, ident, words in [
        ("campaign", "x", "unknown kind 'campaign'"),
        ("model", "", "needs both"),
        (None, "x", "needs both"),
        ("model", "x" * 201, "longer than 200"),
        ("technique", "T0051'; drop table incidents", "not an ATLAS technique id"),
    ]:
        with pytest.raises(EntityError, match=words):
            parse_entity(kind, ident)
    assert (
        entity_url("benchmark", "AgentDojo injection & co")
        == "entity?kind=benchmark&id=AgentDojo+injection+%26+co"
    )
    with pytest.raises(EntityError):
        entity_url("campaign", "x")


def test_full_technique_names(store) -> None:
    _seed_atlas(store)
    names = entities.technique_full_names(store.cursor())
    assert names["AML.T0051.001"] == "LLM Prompt Injection: Indirect"
    assert names["AML.T0051"] == "LLM Prompt Injection"


def test_the_index_counts_only_visible_records(seeded, store) -> None:
    con = store.cursor()
    uk = entities.most_recorded(con, UK_ANALYST)
    au = entities.most_recorded(con, AU_ANALYST)

    def sectors(scoped) -> dict[str, int]:
        df = scoped.data
        return dict(zip(df[df["kind"] == "sector"]["id"], df[df["kind"] == "sector"]["records"], strict=True))

    assert sectors(uk) == {"finance": 2, "health": 1, "energy": 1}
    assert sectors(au) == {"finance": 1, "energy": 1}  # health is named only by the UK-only record
    assert uk.marking.label == "TLP:AMBER · releasable to UK"
    assert au.marking.label == "TLP:GREEN · releasable to AU and UK"
