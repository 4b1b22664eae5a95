"""Matrix queries on a small fixture whose gaps are known by construction, for two institutes' analysts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.links import queries as links
from analytics.matrix import queries as matrix
from analytics.matrix import taxonomy
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST

LAST_12M = Filters(preset="12m")

# A slice of ATLAS: enough tactics and techniques (with sub-techniques and one retired id) to exercise the rules.
TACTICS = [
    ("AML.TA0003", "Resource Development"),
    ("AML.TA0005", "Execution"),
    ("AML.TA0012", "Privilege Escalation"),
]
TECHNIQUES: list[tuple[str, str, str | None, list[str], str | None]] = [
    ("AML.T0020", "Poison Training Data", None, ["AML.TA0003"], None),
    ("AML.T0051", "LLM Prompt Injection", None, ["AML.TA0005"], None),
    ("AML.T0051.000", "Direct", "AML.T0051", ["AML.TA0005"], None),
    ("AML.T0051.001", "Indirect", "AML.T0051", ["AML.TA0005"], None),
    ("AML.T0053", "AI Agent Tool Invocation", None, ["AML.TA0005", "AML.TA0012"], None),
    ("AML.T0054", "LLM Jailbreak", None, ["AML.TA0012"], None),
    ("AML.T0046", "Spamming AI System with Chaff Data", None, ["AML.TA0012"], "5.7.0"),
]


def seed(store: Any) -> dict[str, str]:
    """The fixture. Shipped mappings apply: AgentDojo injection -> T0051, T0051.001, T0086; StrongREJECT
    jailbreak -> T0054; AgentHarm -> T0053, T0054 (AgentHarm has no runs here, so it covers nothing)."""
    with store.store.transaction() as con:
        con.executemany(
            "insert into atlas_tactics (id, name, ordinal) values (?, ?, ?)",
            [[t, n, k] for k, (t, n) in enumerate(TACTICS)],
        )
        for k, (tid, name, parent, tactics, removed) in enumerate(TECHNIQUES):
            con.execute(
                "insert into atlas_techniques (id, name, parent_id, ordinal, removed_in, description) "
                "values (?, ?, ?, ?, ?, ?)",
                [tid, name, parent, k, removed, f"About {name}."],
            )
            for ta in tactics:
                con.execute("insert into atlas_technique_tactics values (?, ?)", [tid, ta])
    ids = {
        "direct": store.incident(originator="UK", techniques=["AML.T0051.000"]),
        "jailbreak_au": store.incident(originator="AU", techniques=["AML.T0054"]),
        "poison": store.incident(originator="UK", techniques=["AML.T0020"]),
        "agent": store.incident(originator="UK", techniques=["AML.T0053"]),
        "poison_strict": store.incident(
            originator="UK", tlp="AMBER+STRICT", releasable_to=["UK"], techniques=["AML.T0020"]
        ),
        "both_levels": store.incident(originator="AU", techniques=["AML.T0051", "AML.T0051.001"]),
        "old": store.incident(originator="UK", occurred_on=date(2020, 1, 1), techniques=["AML.T0020"]),
        "none": store.incident(originator="AU", techniques=[]),
        "retired": store.incident(originator="UK", techniques=["AML.T0046"]),
    }
    store.eval_run(benchmark="AgentDojo injection", score=0.4, eval_date=date(2025, 2, 1))
    store.eval_run(benchmark="AgentDojo injection", score=0.6, eval_date=date(2025, 6, 1))
    store.eval_run(benchmark="StrongREJECT jailbreak", score=0.7, tlp="AMBER+STRICT", releasable_to=["UK"])
    return ids


def _cells(result: Any) -> dict[str, dict[str, Any]]:
    return {r["technique_id"]: r for r in result.data.cells.to_dict("records")}


def test_uk_analyst_gaps_and_counts(store) -> None:
    seed(store)
    result = matrix.recompute(store.cursor(), UK_ANALYST, LAST_12M, TODAY)
    d = result.data
    # in the period: all but "old"; with a technique: all but "none"
    assert (d.incidents, d.with_techniques) == (8, 7)
    cells = _cells(result)
    assert set(cells) == {t[0] for t in TECHNIQUES if t[4] is None}  # the retired technique is no cell
    # the parent rolls up its sub-techniques and counts an incident citing both levels once
    assert (cells["AML.T0051"]["incidents"], cells["AML.T0051"]["uk"], cells["AML.T0051"]["au"]) == (2, 1, 1)
    assert cells["AML.T0051.000"]["incidents"] == 1 and cells["AML.T0051.001"]["incidents"] == 1
    # coverage: AgentDojo (mapped to the parent and to .001) covers the whole family; StrongREJECT is visible to UK
    assert cells["AML.T0051"]["benchmarks"] == ["AgentDojo injection"]
    assert cells["AML.T0051.000"]["benchmarks"] == ["AgentDojo injection"]
    assert cells["AML.T0054"]["benchmarks"] == ["StrongREJECT jailbreak"]
    assert cells["AML.T0053"]["n_benchmarks"] == 0  # AgentHarm is mapped but has no results
    # gaps: poisoning (2 incidents, one strict) and agent tool invocation; nothing else
    gaps = {t: c["gap_incidents"] for t, c in cells.items() if c["gap_incidents"]}
    assert gaps == {"AML.T0020": 2, "AML.T0053": 1}
    # and the incident citing the retired AML.T0046: no current evaluation can cover it (issue 15)
    assert d.gap_incidents == 4
    assert d.techniques_seen == 4
    assert result.marking.tlp == "AMBER+STRICT" and result.marking.rows == 8
    assert d.runs_marking.tlp == "AMBER+STRICT"


def test_au_analyst_sees_other_gaps(store) -> None:
    seed(store)
    result = matrix.recompute(store.cursor(), AU_ANALYST, LAST_12M, TODAY)
    cells = _cells(result)
    # the UK-only strict incident and the UK-only strict jailbreak run are invisible to AU
    assert cells["AML.T0020"]["incidents"] == 1
    assert cells["AML.T0054"]["n_benchmarks"] == 0
    gaps = {t: c["gap_incidents"] for t, c in cells.items() if c["gap_incidents"]}
    assert gaps == {"AML.T0020": 1, "AML.T0053": 1, "AML.T0054": 1}
    assert result.data.gap_incidents == 4  # with the one citing the retired AML.T0046
    assert result.marking.tlp == "GREEN" and result.marking.rows == 7
    assert result.data.runs_marking.tlp == "GREEN"


def test_filters_narrow_the_matrix(store) -> None:
    seed(store)
    everything = _cells(matrix.recompute(store.cursor(), UK_ANALYST, Filters(), TODAY))
    assert everything["AML.T0020"]["incidents"] == 3  # "old" is back in
    au_only = _cells(matrix.recompute(store.cursor(), UK_ANALYST, Filters(originators=("AU",)), TODAY))
    assert au_only["AML.T0020"]["incidents"] == 0
    assert au_only["AML.T0051"]["incidents"] == 1


def test_new_mapping_closes_a_gap(store) -> None:
    from analytics.links import queries as links

    seed(store)
    store.eval_run(benchmark="Poison-Bench v2", score=0.3)
    with store.store.transaction() as con:
        links.add_mapping(con, UK_ANALYST, "poison_bench_v2", "AML.T0020", "poisoning robustness suite")
    cells = _cells(matrix.recompute(store.cursor(), UK_ANALYST, LAST_12M, TODAY))
    assert (
        cells["AML.T0020"]["benchmarks"] == ["poison_bench_v2"] and cells["AML.T0020"]["gap_incidents"] == 0
    )


def test_incidents_for_technique(store) -> None:
    ids = seed(store)
    r = links.incidents_for_technique(store.cursor(), UK_ANALYST, LAST_12M, TODAY, "AML.T0051")
    assert sorted(r.data["id"]) == sorted([ids["direct"], ids["both_levels"]])
    assert r.marking.rows == 2
    r = links.incidents_for_technique(store.cursor(), AU_ANALYST, Filters(), TODAY, "AML.T0020")
    assert sorted(r.data["id"]) == sorted([ids["poison"], ids["old"]])
    r = links.incidents_for_technique(store.cursor(), UK_ANALYST, Filters(), TODAY, "AML.T0020", limit=1)
    assert len(r.data) == 1 and r.marking.rows == 3


def test_matrix_csv_carries_marking_and_credits(store) -> None:
    seed(store)
    store.incident(source="aiid", techniques=["AML.T0020"], tlp="CLEAR")
    result = matrix.recompute(store.cursor(), UK_ANALYST, LAST_12M, TODAY)
    names = taxonomy.technique_names(store.cursor())
    text = table_export.matrix_csv(
        store.store, UK_ANALYST, result.data, names, result.marking, LAST_12M, TODAY, "incidents"
    ).decode()
    lines = text.splitlines()
    assert lines[0] == "# TLP:AMBER+STRICT · releasable to UK"
    assert lines[2] == "# Sources: AI Incident Database, CC BY-SA 4.0"
    assert "AML.T0020,Poison Training Data,,3,3,0,,3" in lines


def test_technique_options_and_detail(store) -> None:
    seed(store)
    con = store.cursor()
    labels = dict(matrix.technique_options(con))
    assert labels["AML.T0051.001"] == "AML.T0051.001 LLM Prompt Injection: Indirect"
    assert "AML.T0046" not in labels
    d = taxonomy.technique_detail(con, "AML.T0051")
    assert d is not None and d.subtechniques == (("AML.T0051.000", "Direct"), ("AML.T0051.001", "Indirect"))
    assert d.tactics == (("AML.TA0005", "Execution"),)
    assert taxonomy.technique_detail(con, "AML.T9999") is None


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        (
            "craft ([Create Proxy AI Model](/techniques/AML.T0005)).",
            "craft (Create Proxy AI Model (AML.T0005)).",
        ),
        ("see [the paper](https://arxiv.org/abs/1)", "see the paper"),
    ],
)
def test_plain_text_strips_markdown_links(markdown: str, plain: str) -> None:
    assert taxonomy.plain_text(markdown) == plain


@pytest.mark.parametrize("viewer", [UK_ANALYST, AU_ANALYST])
@pytest.mark.parametrize("f", [LAST_12M, Filters(), Filters(text="no such words")])
def test_marking_equals_the_foundation_rule(store, viewer, f: Filters) -> None:
    from analytics.incidents import base as incident_base

    seed(store)
    store.incident(source="aiid", tlp="CLEAR", techniques=["AML.T0020"])
    store.incident(source="atlas", tlp="RED", named_recipients=[viewer.email], techniques=["AML.T0020"])
    got = matrix.recompute(store.cursor(), viewer, f, TODAY).marking
    assert got == incident_base.marking_of(store.cursor(), viewer, f, TODAY)


# -- issue 15: public records are their own split; retired and unknown techniques are flagged gaps ---------------


def test_the_split_counts_public_records_apart_from_uk_and_au(store) -> None:
    seed(store)
    for _ in range(3):
        store.incident(originator="PUBLIC", source="aiid", tlp="CLEAR", techniques=["AML.T0054"])
    store.incident(originator="PUBLIC", source="atlas", tlp="CLEAR", techniques=["AML.T0051.000"])
    cells = _cells(matrix.recompute(store.cursor(), UK_ANALYST, LAST_12M, TODAY))
    jailbreak = cells["AML.T0054"]
    assert (jailbreak["incidents"], jailbreak["uk"], jailbreak["au"], jailbreak["public"]) == (4, 0, 1, 3)
    # a parent rolls up public records of its sub-techniques too, and counts each incident once
    injection = cells["AML.T0051"]
    assert (injection["incidents"], injection["uk"], injection["au"], injection["public"]) == (3, 1, 1, 1)
    # the source filter keeps only institute reporting
    institute = _cells(
        matrix.recompute(store.cursor(), UK_ANALYST, Filters(preset="12m", sources=("institute",)), TODAY)
    )
    assert (institute["AML.T0054"]["incidents"], institute["AML.T0054"]["public"]) == (1, 0)


def test_retired_and_unknown_techniques_are_flagged_gaps(store) -> None:
    ids = seed(store)  # "retired" cites AML.T0046, retired in ATLAS 5.7.0
    unknown = store.incident(originator="AU", techniques=["AML.T0999"])
    result = matrix.recompute(store.cursor(), UK_ANALYST, LAST_12M, TODAY)
    d = result.data
    # poisoning (2) and agent tool invocation (1), plus the incidents citing a retired and an unknown id
    assert d.gap_incidents == 5
    flagged = {r["technique_id"]: r for r in d.flagged.to_dict("records")}
    assert set(flagged) == {"AML.T0046", "AML.T0999"}
    assert (flagged["AML.T0046"]["status"], flagged["AML.T0046"]["removed_in"]) == ("retired", "5.7.0")
    assert flagged["AML.T0046"]["name"] == "Spamming AI System with Chaff Data"
    assert (flagged["AML.T0999"]["status"], flagged["AML.T0999"]["incidents"]) == ("unknown", 1)
    assert flagged["AML.T0999"]["au"] == 1 and flagged["AML.T0046"]["uk"] == 1
    assert ids["retired"] and unknown


@pytest.mark.parametrize("mode", ["incidents", "coverage", "gaps"])
@pytest.mark.parametrize("top", [1, 2, 3, 7, 10, 33, 97, 848, 5000])
def test_every_colour_scale_runs_from_exactly_0_to_exactly_1(mode: str, top: int) -> None:
    """Issue 20, finding 2: the Gaps scale's last stop was 0.9999999999999998; Plotly rejects such a scale and
    draws its default colours, contradicting the caption (red = uncovered, green = covered, grey = not seen)."""
    import math

    import plotly.graph_objects as go

    from analytics.matrix.charts import _colour_axis

    # z as each mode draws it: log1p(count) (gaps: -1 marks covered), benchmarks counted plainly for coverage
    z = {
        "gaps": [[-1.0, 0.0, math.log1p(top)]],
        "incidents": [[0.0, math.log1p(top)]],
        "coverage": [[0.0, float(top)]],
    }[mode]
    axis = _colour_axis(mode, z, "incidents", top)
    stops = [s[0] for s in axis["colorscale"]]
    assert stops[0] == 0 and stops[-1] == 1
    assert stops == sorted(stops)
    go.Heatmap(z=z, colorscale=axis["colorscale"])  # Plotly validates the scale: raises if it rejects it
