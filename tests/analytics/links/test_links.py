"""Incident <-> evaluation links and the benchmark -> technique mapping, scoped by the viewer."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.access.viewer import AccessDenied
from analytics.filters import Filters
from analytics.links import queries as links
from analytics.store import audit as audit_log
from tests.analytics.matrix.test_matrix import seed
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY

LAST_12M = Filters(preset="12m")


def _rows(df) -> list[tuple]:
    return [tuple(r) for r in df.itertuples(index=False)]


def test_evaluations_for_incident_by_model_and_by_technique(store) -> None:
    ids = seed(store)  # incidents name the model Aurora-1.0; runs are of Aurora-1.0
    result = links.evaluations_for_incident(store.cursor(), UK_ANALYST, ids["direct"])
    df = result.data
    by_model = df[df["link"] == "model"].set_index("benchmark")
    assert list(by_model.index) == ["AgentDojo injection", "StrongREJECT jailbreak"]
    dojo = by_model.loc["AgentDojo injection"]
    assert (dojo["runs"], dojo["latest_score"], dojo["best_score"]) == (2, 0.6, 0.6)
    assert list(dojo["trend"]) == [0.4, 0.6]
    assert dojo["latest_date"].date() == date(2025, 6, 1)
    by_tech = df[df["link"] == "technique"]
    # AML.T0051.000 is covered through the mapping of its parent; mapped suites without results are not listed
    assert _rows(by_tech[["via", "benchmark", "runs", "latest_score"]]) == [
        ("AML.T0051.000", "AgentDojo injection", 2, 0.6)
    ]
    assert result.marking.tlp == "AMBER+STRICT"  # the strict UK jailbreak run is behind one row


def test_evaluations_for_incident_respect_run_markings(store) -> None:
    ids = seed(store)
    df = links.evaluations_for_incident(store.cursor(), AU_ANALYST, ids["jailbreak_au"]).data
    assert list(df.loc[df["link"] == "model", "benchmark"]) == ["AgentDojo injection"]
    assert df[df["link"] == "technique"].empty  # StrongREJECT's only run is UK strict


def test_invisible_incident_looks_like_a_missing_one(store) -> None:
    ids = seed(store)
    hidden = links.evaluations_for_incident(store.cursor(), AU_ANALYST, ids["poison_strict"])
    missing = links.evaluations_for_incident(store.cursor(), AU_ANALYST, "NO-SUCH-ID")
    assert hidden.data.empty and missing.data.empty
    assert hidden.marking == missing.marking
    assert list(hidden.data.columns) == list(missing.data.columns)


def test_incidents_for_benchmark(store) -> None:
    ids = seed(store)
    r = links.incidents_for_benchmark(store.cursor(), UK_ANALYST, "agentdojo injection", LAST_12M, TODAY)
    assert sorted(r.data["id"]) == sorted([ids["direct"], ids["both_levels"]])
    assert r.marking.rows == 2
    both = r.data.set_index("id").loc[ids["both_levels"], "techniques"]
    assert list(both) == ["AML.T0051", "AML.T0051.001"]
    # the Inspect task name of the same suite meets the same mapping
    r2 = links.incidents_for_benchmark(
        store.cursor(), UK_ANALYST, "inspect_evals/AgentDojo-Injection", LAST_12M, TODAY
    )
    assert sorted(r2.data["id"]) == sorted(r.data["id"])
    # filters apply: the AU-reported jailbreak only when AU is included
    r3 = links.incidents_for_benchmark(
        store.cursor(), UK_ANALYST, "StrongREJECT jailbreak", Filters(originators=("UK",)), TODAY
    )
    assert r3.data.empty and r3.marking.rows == 0


def test_mapping_edits_are_stored_audited_and_scoped(store) -> None:
    seed(store)
    store.eval_run(benchmark="Poison-Bench", institute="AU", tlp="AMBER+STRICT", releasable_to=["AU"])
    with store.store.transaction() as con:
        links.add_mapping(con, AU_ANALYST, "Poison-Bench", "AML.T0020", "poisoning robustness")
    au = links.benchmark_mapping(store.cursor(), AU_ANALYST)
    uk = links.benchmark_mapping(store.cursor(), UK_ANALYST)
    assert ("Poison-Bench", "AML.T0020") in set(zip(au["benchmark"], au["technique_id"], strict=True))
    # the benchmark name exists only in an AU strict run: UK neither sees the mapping nor its history
    assert "Poison-Bench" not in set(uk["benchmark"])
    assert links.mapping_history(store.cursor(), UK_ANALYST).empty
    hist = links.mapping_history(store.cursor(), AU_ANALYST)
    assert _rows(hist[["email", "action", "benchmark", "technique_id"]]) == [
        ("analyst@au.example", "add", "Poison-Bench", "AML.T0020")
    ]
    audit = (
        store.cursor()
        .execute("select email, action, object from audit_log where action like '%map%'")
        .fetchall()
    )
    # the log names the benchmark by an opaque id: its name belongs to an AU strict run, the log to JOINT admins
    assert audit == [
        ("analyst@au.example", "map benchmark", f"benchmark:{audit_log.opaque_id('poisonbench')}")
    ]
    # UK cannot remove what it cannot see; it is reported as not existing
    with (
        pytest.raises(ValueError, match=r"no mapping of Poison-Bench to AML\.T0020"),
        store.store.transaction() as con,
    ):
        links.remove_mapping(con, UK_ANALYST, "Poison-Bench", "AML.T0020")
    with store.store.transaction() as con:
        links.remove_mapping(con, AU_ANALYST, "poison bench", "AML.T0020")
    assert "Poison-Bench" not in set(links.benchmark_mapping(store.cursor(), AU_ANALYST)["benchmark"])
    actions = [
        r[0]
        for r in store.cursor()
        .execute("select action from benchmark_technique_history order by id")
        .fetchall()
    ]
    assert actions == ["add", "remove"]


def test_mapping_rules(store) -> None:
    seed(store)
    with pytest.raises(AccessDenied), store.store.transaction() as con:
        links.add_mapping(con, UK_POLICY, "Cybench", "AML.T0020")
    with pytest.raises(ValueError, match="already mapped"), store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, "strong-reject JAILBREAK", "AML.T0054")
    with pytest.raises(ValueError, match="not a current ATLAS technique"), store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, "Cybench", "AML.T0046")  # retired in the fixture
    with pytest.raises(ValueError, match="name the benchmark"), store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, " /// ", "AML.T0020")
    assert store.cursor().execute("select count(*) from benchmark_technique_history").fetchone()[0] == 0


def test_evaluations_for_technique(store) -> None:
    seed(store)
    df = links.evaluations_for_technique(store.cursor(), UK_ANALYST, "AML.T0051.001").data
    with_runs = df[df["runs"] > 0]
    assert _rows(with_runs[["benchmark", "runs", "latest_score", "best_score"]]) == [
        ("AgentDojo injection", 2, 0.6, 0.6)
    ]
    assert list(with_runs.iloc[0]["mapped_to"]) == ["AML.T0051", "AML.T0051.001"]
    # mapped suites without results are listed with zero runs (the page names them apart)
    assert set(df.loc[df["runs"] == 0, "benchmark"]) == {"agentdojo", "cyse2_prompt_injection"}
    assert links.evaluations_for_technique(store.cursor(), AU_ANALYST, "AML.T0054").data["runs"].sum() == 0


@pytest.mark.parametrize(
    "name", ["StrongREJECT jailbreak", "inspect_evals/strong_reject", "Cyber range: intrusion", "ÄgentDojo"]
)
def test_bench_key_matches_sql(store, name: str) -> None:
    sql = f"select {links.bench_key_sql('$benchmark')}"
    assert store.cursor().execute(sql, {"benchmark": name}).fetchone()[0] == links.bench_key(name)


def test_a_hidden_mapping_neither_blocks_nor_reveals_itself(store) -> None:
    seed(store)
    store.eval_run(benchmark="Poison-Bench", institute="AU", tlp="AMBER+STRICT", releasable_to=["AU"])
    with store.store.transaction() as con:
        links.add_mapping(con, AU_ANALYST, "Poison-Bench", "AML.T0020", "AU's reason")
    # UK types the same pairing: no "already mapped" (that would reveal AU's row); UK gets its own row
    with store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, "Poison-Bench", "AML.T0020", "UK's reason")
    uk = links.benchmark_mapping(store.cursor(), UK_ANALYST)
    assert _rows(uk.loc[uk["benchmark"] == "Poison-Bench", ["rationale", "added_by"]]) == [
        ("UK's reason", "analyst@uk.example")
    ]
    with pytest.raises(ValueError, match="already mapped"), store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, "poison bench", "AML.T0020")
    # UK removing its row leaves AU's
    with store.store.transaction() as con:
        links.remove_mapping(con, UK_ANALYST, "Poison-Bench", "AML.T0020")
    au = links.benchmark_mapping(store.cursor(), AU_ANALYST)
    assert _rows(au.loc[au["benchmark"] == "Poison-Bench", ["rationale"]]) == [("AU's reason",)]
