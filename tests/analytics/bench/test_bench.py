"""The benchmark harness itself, on a tiny store: records well-formed, names stable, page runs real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.bench import harness as bench
from analytics.demo.generator import build_demo
from analytics.store.database import Store


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "tiny.duckdb"
    s = Store(path)
    build_demo(s, incidents=2000, seed=11)
    s.close()
    return path


def test_every_stable_name_is_a_registered_case() -> None:
    bench._load_cases()
    assert set(bench.STABLE_NAMES) <= set(bench.CASES), sorted(set(bench.STABLE_NAMES) - set(bench.CASES))
    for name in ("overview.recompute", "explorer.recompute", "evaluations.compare", "matrix.recompute"):
        assert bench.CASES[name].page == bench.DEFAULT_PAGES[name]
        assert bench.CASES[name].pandas is not None and bench.CASES[name].raw is not None, name


def test_json_records_are_well_formed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench._load_cases()
    monkeypatch.setattr(bench, "CASES", {})  # only the cases below

    def count(ctx: bench.BenchContext) -> Any:
        return ctx.store.cursor().execute("select category, count(*) from incidents group by 1").fetchall()

    def naive(ctx: bench.BenchContext) -> Any:
        return ctx.store.cursor().execute("select * from incidents").df().groupby("category").size()

    bench.case("tiny.count", pandas=naive, raw=count)(count)
    bench.case("tiny.plain", runs=5)(count)
    out = tmp_path / "bench.json"
    earlier = {k: None for k in bench.JSON_KEYS} | {"name": "tiny.count", "size": 999, "median_ms": 1.0}
    (tmp_path / "details.json").write_text(json.dumps({"records": [earlier], "app_process": {}}))
    code = bench.run(
        [2000],
        json_path=str(out),
        runs=5,
        markdown=str(tmp_path / "bench.md"),
        details=str(tmp_path / "details.json"),
        only=["tiny.*"],
        pages=False,
        merge=True,  # keeps the earlier run's other sizes
    )
    assert code == 0
    records = json.loads(out.read_text())
    assert [(r["name"], r["size"]) for r in records] == [
        ("tiny.count", 999),
        ("tiny.count", 2000),
        ("tiny.plain", 2000),
    ]
    records = records[1:]
    for r in records:
        assert tuple(r) == bench.JSON_KEYS
        assert isinstance(r["median_ms"], float) and r["median_ms"] > 0
        assert isinstance(r["peak_rss_mb"], float) and r["peak_rss_mb"] > 50
    counted, plain = records
    assert counted["ratio_vs_pandas"] > 0 and counted["ratio_vs_raw"] > 0
    assert plain["ratio_vs_pandas"] is None and plain["ratio_vs_raw"] is None
    details = json.loads((tmp_path / "details.json").read_text())
    machine = details["machine"]
    assert machine["nproc"] >= 1 and machine["memory_gb"] > 0 and machine["cpu"]
    assert {"python", "duckdb", "pandas", "streamlit"} <= set(machine["versions"])
    assert details["records"][1]["pandas_mem_mb"] is not None and details["records"][1]["runs"] == 5
    report = (tmp_path / "bench.md").read_text()
    assert f"{machine['nproc']} cores" in report and "| tiny.count | 2,000 |" in report


def test_report_goes_between_the_marks_of_an_existing_document(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\nProse before.\n\n{bench.BEGIN_MARK}\nold table\n{bench.END_MARK}\n\nProse after.\n"
    )
    bench.write_markdown(doc, "| new | table |\n")
    assert doc.read_text() == (
        f"# Benchmarks\n\nProse before.\n\n{bench.BEGIN_MARK}\n| new | table |\n{bench.END_MARK}\n\nProse after.\n"
    )
    fresh = tmp_path / "fresh.md"
    bench.write_markdown(fresh, "| t |\n")
    assert fresh.read_text() == "| t |\n"


def test_naive_versions_are_skipped_above_the_size_limit(tiny_db: Path) -> None:
    store = Store(tiny_db)
    try:
        ctx = bench.BenchContext(store, 2000)

        def count(c: bench.BenchContext) -> Any:
            return c.store.cursor().execute("select count(*) from incidents").fetchall()

        tiny = bench.BenchCase("tiny.count", count, pandas=count, raw=count)
        assert bench.run_case(tiny, ctx, 5)["ratio_vs_pandas"] is not None
        skipped = bench.run_case(tiny, ctx, 5, pandas_max_size=1000)
        assert skipped["ratio_vs_pandas"] is None and skipped["pandas_mem_mb"] is None
        assert skipped["ratio_vs_raw"] is not None
    finally:
        store.close()


def test_unknown_case_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="no benchmark case matches"):
        bench.run([10], only=["no-such-case"], pages=False)


def test_page_runs_time_filter_changes_in_apptest(tiny_db: Path) -> None:
    measured = bench.page_runs(tiny_db, ["pages/overview.py"], 2)
    assert "_error" not in measured, measured
    overview = measured["pages/overview.py"]
    assert overview["runs"] == 2 and overview["problems"] == []  # includes "the filter was applied"
    assert overview["median_ms"] > 0 and overview["first_ms"] > overview["median_ms"] / 10
    assert measured["_process"]["peak_rss_mb"] > 50


def test_targets_are_checked_against_the_issue_figures() -> None:
    rec = {
        "name": "matrix.recompute",
        "size": 1_000_000,
        "median_ms": 280.0,
        "ratio_vs_raw": 3.5,
        "ratio_vs_pandas": 6.0,
        "mem_ratio_vs_pandas": 4.0,
    }
    verdict = bench.target_verdict(rec)
    assert verdict == "✓ ≤300 ms; ✗ ≤3× raw; ✓ ≥5× faster than pandas; ✗ ≥5× less memory"
    assert bench.target_verdict(
        {**rec, "name": "overview.recompute", "size": 10_000_000, "median_ms": 1600.0}
    ) == ("✗ ≤1,500 ms")


def test_the_matrix_case_times_what_the_page_opens_with(tiny_db: Path) -> None:
    """`matrix.recompute` recomputes over the sidebar's default filters (all time), as a person opening the page
    meets it; the 12-month figure earlier reports used is `matrix.recompute_12m`."""
    from analytics.bench import matrix_case  # noqa: F401 - registers the cases
    from analytics.filters import Filters

    store = Store(tiny_db)
    try:
        ctx = bench.BenchContext(store, 2000)
        where, params = Filters().sql_where(ctx.viewer, ctx.today)  # the page's default: all time
        all_time = (
            store.cursor().execute(f"select count(*) from incidents i where {where}", params).fetchone()
        )
        result, _figure = bench.CASES["matrix.recompute"].run(ctx)
        assert all_time is not None and result.data.incidents == all_time[0]
        recent, _ = bench.CASES["matrix.recompute_12m"].run(ctx)
        assert 0 < recent.data.incidents < result.data.incidents
        assert bench.CASES["matrix.recompute"].page == "pages/matrix.py"
    finally:
        store.close()


def test_the_chart_draw_cases_draw_a_chart_no_cache_holds(tiny_db: Path) -> None:
    """`export.chart_draw` times the browser, not a cache: each run is a chart never drawn before; its baseline
    `export.chart_draw_reloading` draws the same kind of chart with the page reloaded after each
    (analytics/export/chart_drawer.py)."""
    from analytics.bench import briefings_case

    store = Store(tiny_db)
    try:
        ctx = bench.BenchContext(store, 2000)
        kept = bench.CASES["export.chart_draw"]
        first, second = kept.run(ctx), kept.run(ctx)
        reloaded = bench.CASES["export.chart_draw_reloading"].run(ctx)
        assert all(png.startswith(b"\x89PNG") for png in (first, second, reloaded))
        assert len({first, second, reloaded}) == 3  # each titled anew, so no drawing is reused
        assert briefings_case._reloading_drawer().reloads >= 1
    finally:
        store.close()
