"""The threat-matrix page through Streamlit's AppTest, over the demo store (demo slice of ATLAS)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analytics.filters import Filters
from analytics.links import queries as links
from analytics.matrix import queries as matrix
from analytics.store import incident_keys
from analytics.store.database import open_store
from tests.conftest import TODAY, UK_ANALYST, figure_spec

PAGE = "pages/matrix.py"


def _cells(fig: dict[str, Any]) -> dict[str, str]:
    """technique id -> the text shown in its cell, from the invisible click-target traces."""
    out: dict[str, str] = {}
    for trace in fig["data"]:
        if trace["type"] == "scatter":
            for custom in trace["customdata"]:
                out[custom[0]] = custom[2]
    return out


def test_analyst_sees_the_matrix_in_scope(app_factory, demo_store) -> None:
    at = app_factory("analyst@uk.example", page=PAGE)
    assert not at.exception and not at.error
    expected = matrix.recompute(demo_store.cursor(), UK_ANALYST, Filters(), TODAY).data
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Incidents matching"] == f"{expected.incidents:,}"
    assert metrics["Gap incidents"] == f"{expected.gap_incidents:,}"
    assert any("TLP:" in m.value for m in at.markdown)
    fig = figure_spec(at.get("plotly_chart")[0])
    axes = sorted((k for k in fig["layout"] if k.startswith("xaxis")), key=lambda k: int(k[5:] or 1))
    ticks = [t for ax in axes for t in fig["layout"][ax]["ticktext"]]
    assert "<b>Reconnaissance</b>" in ticks[0] and "Impact" in ticks[-1]  # kill-chain order, across the bands
    assert len(axes) == 4 and len(ticks) == 16  # four tactics a band, legible at 1024 px
    cells = _cells(fig)
    n = int(expected.cells.set_index("technique_id").loc["AML.T0051", "incidents"])
    assert cells["AML.T0051"] == f"{n:,} incidents"
    assert "AML.T0051.001" not in cells  # sub-techniques rolled up until expanded


def test_expanding_a_parent_shows_its_subtechniques(app_factory) -> None:
    at = app_factory("analyst@uk.example", page=PAGE)
    at.multiselect(key="mx_expand").set_value(["AML.T0051"]).run()
    cells = _cells(figure_spec(at.get("plotly_chart")[0]))
    assert {"AML.T0051.000", "AML.T0051.001"} <= set(cells)


@pytest.mark.parametrize(
    ("mode", "compare", "charts"),
    [
        ("coverage", "combined", 1),
        ("gaps", "combined", 1),
        ("incidents", "separate", 2),
        ("incidents", "difference", 1),
    ],
)
def test_modes_render(app_factory, mode: str, compare: str, charts: int) -> None:
    at = app_factory("analyst@au.example", page=PAGE)
    at.selectbox(key="mx_compare").set_value(
        compare
    ).run()  # set first: it is disabled outside incidents mode
    at.radio(key="mx_mode").set_value(mode).run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == charts
    cells = _cells(figure_spec(at.get("plotly_chart")[0]))
    if mode == "gaps":
        # StrongREJECT results cover LLM Jailbreak; nothing covers Generate Deepfakes
        assert cells["AML.T0054"] == "evaluations cover this technique"
        assert "no evaluation covers" in cells["AML.T0088"]
    if mode == "coverage":
        assert cells["AML.T0102"] == "3 benchmarks with results"  # Cybench, InterCode-CTF, Cyber range


def test_technique_from_the_link_shows_its_detail(app_factory, demo_store) -> None:
    at = app_factory("analyst@uk.example", page=PAGE, query={"technique": "AML.T0054"})
    assert not at.exception and not at.error
    assert at.selectbox(key="mx_technique").value == "AML.T0054"
    assert "LLM Jailbreak" in [t.value for t in at.text]
    incs = links.incidents_for_technique(demo_store.cursor(), UK_ANALYST, Filters(), TODAY, "AML.T0054")
    assert f"**Matching incidents** ({incs.marking.rows:,})" in [m.value for m in at.markdown]
    frames = [df.value for df in at.dataframe]
    listed = next(f for f in frames if "occurred_on" in f.columns)
    assert list(listed["id"][:5]) == list(incs.data["id"][:5])
    evals = next(f for f in frames if "latest_score" in f.columns)
    assert set(evals["benchmark"]) == {"AgentHarm", "StrongREJECT jailbreak"}


def test_unknown_technique_in_the_link_is_ignored(app_factory) -> None:
    at = app_factory("analyst@uk.example", page=PAGE, query={"technique": "AML.T9999"})
    assert not at.exception and at.selectbox(key="mx_technique").value is None


@pytest.fixture
def own_db(app_factory, demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A private copy of the demo store, for tests that write."""
    path = tmp_path / "matrix-page.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("THREAT_DB", str(path))
    return app_factory


def test_analyst_adds_a_mapping_from_the_page(own_db, tmp_path: Path) -> None:
    at = own_db("analyst@au.example", page=PAGE, query={"technique": "AML.T0088"})
    at.selectbox(key="mx_map_bench").set_value("GPQA Diamond")
    at.text_input(key="mx_map_why").input("expert knowledge used to script deepfake pretexts")
    next(b for b in at.button if b.label == "Add mapping").click().run()
    assert not at.exception, [e.message for e in at.exception]
    con = open_store(tmp_path / "matrix-page.duckdb").cursor()  # the page's own store instance
    mapping = links.benchmark_mapping(con, UK_ANALYST)
    row = mapping[(mapping["benchmark"] == "GPQA Diamond") & (mapping["technique_id"] == "AML.T0088")]
    assert list(row["added_by"]) == ["analyst@au.example"]
    audit = con.execute("select email, action from audit_log where action = 'map benchmark'").fetchall()
    assert audit == [("analyst@au.example", "map benchmark")]
    # the matrix now counts the new coverage
    at.radio(key="mx_mode").set_value("coverage").run()
    cells = _cells(figure_spec(at.get("plotly_chart")[0]))
    assert cells["AML.T0088"] == "1 benchmark with results"


def _add_public_and_retired(path: Path) -> None:
    """Public records (originator PUBLIC) citing a demo technique, and incidents citing a retired and an
    unknown ATLAS id."""
    from datetime import date

    with open_store(path).transaction() as con:
        con.execute(
            "insert into atlas_techniques (id, name, removed_in) values ('AML.T0046', 'Spamming with chaff', '5.7.0')"
        )
        rows = [
            ("PUB-1", "PUBLIC", "aiid", "AML.T0054"),
            ("PUB-2", "PUBLIC", "aiid", "AML.T0054"),
            ("RET-1", "UK", "institute", "AML.T0046"),
            ("UNK-1", "AU", "institute", "AML.T9998"),
        ]
        for rid, originator, source, technique in rows:
            con.execute(
                "insert into incidents (id, title, occurred_on, originator, source, category, severity, tlp, "
                "releasable_to) values (?, ?, ?, ?, ?, 'Jailbreak', 3, 'CLEAR', ['AU', 'UK'])",
                [rid, f"Fixture {rid}", date(2026, 10, 1), originator, source],
            )
            incident_keys.add_techniques(con, rid, [technique])


def test_the_split_draws_public_sources_apart_and_says_what_it_counts(own_db, tmp_path: Path) -> None:
    _add_public_and_retired(tmp_path / "matrix-page.duckdb")
    at = own_db("analyst@uk.example", page=PAGE)
    at.selectbox(key="mx_compare").set_value("separate").run()
    assert not at.exception, [e.message for e in at.exception]
    figures = [figure_spec(c) for c in at.get("plotly_chart")]
    assert [f["layout"]["title"]["text"] for f in figures] == [
        "Reported by UK",
        "Reported by AU",
        "Public sources",
    ]
    assert _cells(figures[2])["AML.T0054"] == "2 public incidents"
    assert any("institute reporting only" in c.value for c in at.caption)


def test_retired_and_unknown_technique_ids_are_flagged_as_gaps(own_db, tmp_path: Path) -> None:
    _add_public_and_retired(tmp_path / "matrix-page.duckdb")
    at = own_db("analyst@uk.example", page=PAGE)
    at.radio(key="mx_mode").set_value("gaps").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("retired or unknown" in w.value for w in at.warning)
    flagged = next(d.value for d in at.dataframe if "removed_in" in d.value.columns)
    assert dict(zip(flagged["technique_id"], flagged["status"], strict=True)) == {
        "AML.T0046": "retired",
        "AML.T9998": "unknown",
    }
