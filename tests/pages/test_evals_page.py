"""The Evaluations page through Streamlit's AppTest: what each persona sees and what the widgets do."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.demo.generator import build_demo
from analytics.evals import charts as eval_charts
from analytics.evals import comparisons
from analytics.evals import queries as evals
from analytics.evals import runs as eval_runs
from analytics.filters import Filters
from analytics.store.database import Store, close_all
from tests.analytics.evals.real_store import build_real_store
from tests.conftest import AU_ANALYST, ROOT, TODAY, UK_ANALYST, UK_POLICY, figure_spec

PAGE = "pages/evaluations.py"


@pytest.fixture(scope="module")
def evals_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("evals-page") / "base.duckdb"
    s = Store(path)
    build_demo(s, incidents=300, seed=7)
    s.close()
    return path


@pytest.fixture
def db(evals_db: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy per test: the page writes (thresholds, audit), and tests must not see each other's."""
    path = tmp_path / "page.duckdb"
    shutil.copy(evals_db, path)
    yield path
    close_all()


@pytest.fixture
def open_page(db: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(db))

    def make(email: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        at.run()
        at.switch_page(PAGE).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def _store(db: Path) -> Store:
    from analytics.store.database import open_store

    return open_store(db)


def _charts(at: Any) -> list[dict[str, Any]]:
    return [figure_spec(c) for c in at.get("plotly_chart")]


def _tab(at: Any, label: str) -> Any:
    """Open a tab as a click would: the tabs are stateful (key ev_tab), so only the open one is computed."""
    at.session_state["ev_tab"] = label
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _keys(widgets: Any) -> set[str]:
    return {str(w.key) for w in widgets}


def test_first_render_computes_only_the_capability_tab(open_page) -> None:
    """The first run draws the headline and the open tab; the other tabs' queries and charts wait for a click."""
    at = open_page("analyst@uk.example")
    assert len(_charts(at)) == 1 and "Cybench" in _charts(at)[0]["layout"]["title"]["text"]
    assert "ev_models" not in _keys(at.multiselect)  # compare tab not computed
    assert "ev_run" not in _keys(at.selectbox)  # run detail tab not computed
    assert "Run by both" not in {m.label for m in at.metric}  # agreement tab not computed
    _tab(at, "UK–AU agreement")
    assert "Run by both" in {m.label for m in at.metric}
    assert "ev_threshold_value" not in _keys(at.number_input)  # and the capability tab no longer is


def test_picks_survive_a_visit_to_another_tab(open_page) -> None:
    """Streamlit forgets the value of a widget a run does not draw; the page keeps the analyst's picks anyway."""
    at = _tab(open_page("analyst@uk.example"), "Compare models")
    at.multiselect(key="ev_models").set_value(["Helix-2.1", "Fjord-2.2"]).run()
    at.selectbox(key="ev_benchmark").set_value("SWE-bench Verified").run()
    _tab(at, "Run detail")
    runs = at.selectbox(key="ev_run")
    for k in range(len(runs.options) - 1, 0, -1):  # a run other than the default, with two pages of samples
        at.selectbox(key="ev_run").select_index(k).run()
        if "ev_page" in _keys(at.number_input) and at.number_input(key="ev_page").max >= 2:
            break
    other = at.selectbox(key="ev_run").value
    assert other != runs.options[0]
    at.number_input(key="ev_page").set_value(2).run()
    _tab(at, "UK–AU agreement")
    _tab(at, "Compare models")
    assert at.multiselect(key="ev_models").value == ["Helix-2.1", "Fjord-2.2"]
    _tab(at, "Run detail")
    assert at.selectbox(key="ev_run").value == other
    assert at.number_input(key="ev_page").value == 2
    assert not at.warning, [w.value for w in at.warning]  # no "value set via Session State" warnings


def test_importing_the_evaluation_queries_does_not_load_scipy() -> None:
    """scipy.stats takes 1.7 s to import on an idle 2-core machine and 6 s on a busy one; only the paired tests
    of the Compare tab need it, so the first render of the page must not wait for it."""
    code = (
        "import sys, analytics.evals.queries, analytics.evals.comparisons, analytics.evals.runs, "
        "analytics.evals.charts, analytics.links.queries; print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_capability_chart_shows_the_viewers_runs(open_page, db) -> None:
    at = open_page("analyst@au.example")
    assert at.selectbox(key="ev_benchmark").value == "Cybench"
    expected = evals.capability_over_time(_store(db).cursor(), AU_ANALYST, Filters(), TODAY, "Cybench").data
    fig = _charts(at)[0]
    markers = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert sum(len(t["y"]) for t in markers) == len(expected.points)
    groups = eval_charts.developer_groups(expected.points["developer"])
    assert {t["name"] for t in markers} == {eval_charts.shorten(g, 24) for g in groups}
    # one frontier per source, metric and task version (was one "Frontier (best so far)" mixing them)
    frontier = [t for t in fig["data"] if str(t.get("name", "")).startswith("Frontier: ")]
    assert {t["name"] for t in frontier} == {f"Frontier: {line}" for line in expected.frontier["line"]}
    assert max(max(t["y"]) for t in frontier) == pytest.approx(expected.frontier["best"].max())
    banners = [m.value for m in at.markdown if "TLP:" in m.value]
    assert len(banners) >= 3  # page, chart, related incidents
    assert any("Sidebar filters used here" in c.value for c in at.caption)


def test_picking_another_benchmark_redraws(open_page) -> None:
    at = open_page("analyst@uk.example")
    at.selectbox(key="ev_benchmark").set_value("WMDP-Cyber").run()
    assert not at.exception
    assert "WMDP-Cyber" in _charts(at)[0]["layout"]["title"]["text"]


def test_analyst_sets_a_threshold_it_is_drawn_audited_and_crossings_listed(open_page, db) -> None:
    at = open_page("analyst@uk.example")
    at.number_input(key="ev_threshold_value").set_value(0.3)
    at.text_input(key="ev_threshold_note").set_value("uplift line")
    at.button(key="FormSubmitter:ev_threshold_form-Save threshold").click().run()
    assert not at.exception and not at.error
    fig = _charts(at)[0]
    assert [s["y0"] for s in fig["layout"]["shapes"]] == [0.3]
    con = _store(db).cursor()
    # one audit entry by this analyst (what the entry names is analytics.evals.queries' and its audit tests' business)
    assert con.execute("select email from audit_log where action = 'eval threshold set'").fetchall() == [
        ("analyst@uk.example",)
    ]
    crossing = evals.threshold_crossings(con, UK_ANALYST, Filters(), TODAY, "Cybench", 0.3).data
    tables = [d.value for d in at.dataframe]
    assert any(list(t.get("Model", [])) == crossing.models["model"].tolist() for t in tables)
    assert any("Threshold **0.3**" in m.value for m in at.markdown)
    # and clearing it removes the line
    at.button(key="FormSubmitter:ev_threshold_form-Clear threshold").click().run()
    assert not _charts(at)[0]["layout"].get("shapes")


def test_admin_sees_thresholds_but_cannot_set_them(open_page) -> None:
    at = open_page("admin@joint.example")
    assert not [b for b in at.button if "threshold" in str(b.key)]
    assert any("Analysts and leads set thresholds" in c.value for c in at.caption)


def test_comparing_models_shows_intervals_and_paired_verdicts(open_page, db) -> None:
    at = _tab(open_page("analyst@uk.example"), "Compare models")
    options = at.multiselect(key="ev_models").options
    assert options, "models to pick from"
    picked = ["Helix-2.1", "Fjord-2.2", "Basalt-2.1"]
    at.multiselect(key="ev_models").set_value(picked).run()
    assert not at.exception
    expected = comparisons.compare_models(
        _store(db).cursor(), UK_ANALYST, Filters(), TODAY, tuple(picked)
    ).data
    pairs = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert pairs["Verdict"].tolist() == expected.pairs["verdict"].tolist()
    assert pairs["Paired?"].tolist() == expected.pairs["pairing"].tolist()  # says paired or unpaired, and why
    assert "McNemar exact" in set(pairs["Test"])
    assert pairs["p (Holm-adjusted)"].tolist() == pytest.approx(
        expected.pairs["p_holm"].tolist(), nan_ok=True
    )
    fig = next(f for f in _charts(at) if f["layout"].get("annotations") and len(f["data"]) >= 3)
    assert {a["text"] for a in fig["layout"]["annotations"]} == set(expected.scores["benchmark"])


def test_one_model_asks_for_more(open_page) -> None:
    at = _tab(open_page("analyst@uk.example"), "Compare models")
    at.multiselect(key="ev_models").set_value(["Helix-2.1"]).run()
    assert any("Pick two to five models" in i.value for i in at.info)


def test_agreement_counts_match_the_query(open_page, db) -> None:
    at = _tab(open_page("analyst@au.example"), "UK–AU agreement")
    expected = comparisons.institute_agreement(_store(db).cursor(), AU_ANALYST, Filters(), TODAY).data
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Run by both"] == f"{len(expected):,}"
    assert metrics["Disagree"] == f"{(expected['status'] == 'disagree').sum():,}"
    # demo UK and AU runs share their samples: the agreement is paired, and corrected across the table
    assert metrics["Paired on shared samples"] == f"{int(expected['paired'].sum()):,}"
    assert expected["paired"].any() and expected["p_adjusted"].notna().all()
    at.toggle(key="ev_flagged_only").set_value(True).run()
    flagged = [d.value for d in at.dataframe if "Status" in d.value.columns]
    flagged_rows = flagged[0] if flagged else expected.iloc[0:0].rename(columns={"status": "Status"})
    assert set(flagged_rows["Status"]) <= {"disagree"}  # ('check', the unadjusted flag, is gone)
    assert len(flagged_rows) == (expected["status"] == "disagree").sum()


def test_frontier_by_evaluation_date_redraws(open_page) -> None:
    at = open_page("analyst@uk.example")
    at.radio(key="ev_frontier_by").set_value("evaluation").run()
    assert not at.exception
    fig = _charts(at)[0]
    assert fig["layout"]["xaxis"]["title"]["text"] == "Evaluation date"


def test_run_detail_pages_samples_in_sql(open_page, db) -> None:
    at = open_page("analyst@uk.example")
    at.selectbox(key="ev_benchmark").set_value("SWE-bench Verified").run()
    _tab(at, "Run detail")
    run_id = at.selectbox(key="ev_run").value
    detail = eval_runs.run_detail(_store(db).cursor(), UK_ANALYST, run_id).data
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Score"] == f"{detail.run['score']:.3f}"
    assert metrics["Samples"] == f"{detail.samples_total:,}"
    samples = next(d.value for d in at.dataframe if "Sample" in d.value.columns)
    assert samples["Sample"].tolist() == [f"s{k:05d}" for k in range(50)]
    at.number_input(key="ev_page").set_value(2).run()
    samples = next(d.value for d in at.dataframe if "Sample" in d.value.columns)
    assert samples["Sample"].tolist()[0] == "s00050"


def test_the_run_picker_offers_only_runs_the_viewer_may_see(open_page, db) -> None:
    con = _store(db).cursor()
    counts = {
        inst: con.execute(
            "select count(*), count(*) filter (list_contains(releasable_to, ?) "
            "and (tlp <> 'AMBER+STRICT' or institute = ?) and tlp <> 'RED') "
            "from eval_runs where benchmark = 'Cybench'",
            [inst, inst],
        ).fetchone()
        for inst in ("UK", "AU")
    }
    assert counts["AU"][1] < counts["AU"][0], "the demo has Cybench runs AU may not see"
    for inst, email in (("AU", "analyst@au.example"), ("UK", "analyst@uk.example")):
        at = _tab(open_page(email), "Run detail")
        assert len(at.selectbox(key="ev_run").options) == counts[inst][1], inst


def test_threshold_form_follows_the_benchmark(open_page) -> None:
    at = open_page("lead@au.example")
    at.number_input(key="ev_threshold_value").set_value(0.3)
    at.button(key="FormSubmitter:ev_threshold_form-Save threshold").click().run()
    assert at.number_input(key="ev_threshold_value").value == pytest.approx(0.3)
    at.selectbox(key="ev_benchmark").set_value("WMDP-Cyber").run()
    assert at.number_input(key="ev_threshold_value").value is None  # no threshold here: empty, not 0.5
    assert any("No threshold is set" in c.value for c in at.caption)
    at.selectbox(key="ev_benchmark").set_value("Cybench").run()
    assert at.number_input(key="ev_threshold_value").value == pytest.approx(0.3)


@pytest.mark.parametrize("benchmark", ["Epoch Capabilities Index", "METR Time Horizons"])
def test_a_benchmark_not_scored_as_a_share_renders_every_tab(
    open_page: Callable[[str], Any], db: Path, benchmark: str
) -> None:
    """Issue 19, finding 1: the Epoch Capabilities Index crashed the page at the threshold widget (an int default
    with a float step: StreamlitMixedNumericTypesError)."""
    import shutil as _shutil

    from analytics.ingest.epoch import import_epoch
    from tests.conftest import SHARED_DATA

    folder = db.parent / "epoch"
    folder.mkdir()
    for name in ("epoch_capabilities_index.csv", "metr_time_horizons_external.csv"):
        _shutil.copy(SHARED_DATA / "epoch-benchmarks" / name, folder / name)
    import_epoch(_store(db), folder, actor="test")
    at = open_page("analyst@uk.example")
    at.selectbox(key="ev_benchmark").set_value(benchmark).run()
    assert not at.exception, [e.message for e in at.exception]
    for label in ("Capability over time", "Compare models", "UK–AU agreement", "Run detail"):
        _tab(at, label)


# -- issue 19: every benchmark, the benchmark in the link, human tables, the comparison's default ---------------

SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo + every Epoch, garak and JailbreakBench file of the shared data, as an analyst's store holds them."""
    return build_real_store(tmp_path_factory.mktemp("evals-real") / "real.duckdb")


@pytest.fixture
def open_real(real_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    from streamlit.testing.v1 import AppTest

    path = tmp_path / "real.duckdb"
    shutil.copy(real_db, path)
    monkeypatch.setenv("THREAT_DB", str(path))

    def make(email: str = "analyst@uk.example", query: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.run()
        at.switch_page(PAGE).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield make
    close_all()


def _benchmarks(path: Path) -> list[str]:
    con = _store(path).cursor()
    rows = con.execute(
        f"select r.benchmark from eval_runs r where {evals.SCORED} group by 1 order by count(*) desc, 1"
    ).fetchall()
    return [str(b) for (b,) in rows]


def test_every_benchmark_of_the_real_store_renders_every_tab(open_real, real_db, tmp_path) -> None:
    """Issue 19, finding 1: no test opened every benchmark, and the ECI crashed the page. Every benchmark of the
    demo + Epoch + garak + JailbreakBench store, on the two tabs that draw the chosen benchmark; the other two
    tabs cover all benchmarks at once."""
    at = open_real()
    benchmarks = _benchmarks(tmp_path / "real.duckdb")
    assert len(benchmarks) > 250  # 50 Epoch, ~230 garak probe/detector pairs, 7 JailbreakBench, 12 demo
    failed = []
    for tab in ("Capability over time", "Run detail"):
        _tab(at, tab)
        for bench in benchmarks:
            at.selectbox(key="ev_benchmark").set_value(bench).run()
            if at.exception:
                failed.append((tab, bench, at.exception[0].message))
            elif tab == "Capability over time":
                # a chart, or the reason there is none
                assert _charts(at) or at.info, bench
    assert not failed, failed[:5]
    for tab in ("Compare models", "UK–AU agreement"):
        _tab(at, tab)
    assert at.query_params["benchmark"] == benchmarks[-1]


def test_the_benchmark_lives_in_the_link(open_real) -> None:
    """`?benchmark=NAME` (the name as stored) opens that benchmark, and a pick is written back to the link."""
    at = open_real(query={"benchmark": "METR Time Horizons"})
    assert at.selectbox(key="ev_benchmark").value == "METR Time Horizons"
    fig = _charts(at)[0]
    assert fig["layout"]["yaxis"]["type"] == "log"  # minutes: a log axis
    assert "minutes" in fig["layout"]["yaxis"]["title"]["text"]
    at.selectbox(key="ev_benchmark").set_value("GPQA Diamond").run()
    assert at.query_params["benchmark"] == "GPQA Diamond"
    # the filters' URL form carries it (so saved views and the after-sign-in redirect keep it) ...
    f = Filters.from_query_params({"benchmark": "GPQA Diamond", "orig": "UK"})
    assert f.benchmark == "GPQA Diamond" and f.to_query_params()["benchmark"] == "GPQA Diamond"
    # ... but not for people who may not read records: a benchmark name is stored text
    assert Filters(benchmark="GPQA Diamond").for_viewer(UK_POLICY).benchmark == ""


def test_an_unknown_benchmark_in_the_link_gets_a_message(open_real) -> None:
    at = open_real(query={"benchmark": "No such benchmark"})
    assert not at.exception
    assert any("No benchmark called “No such benchmark”" in w.value for w in at.warning)
    assert at.selectbox(key="ev_benchmark").value == "Cybench"
    assert at.query_params["benchmark"] == "Cybench"


def test_gpqa_diamond_draws_at_most_the_top_developers_and_other(open_real, real_db) -> None:
    at = open_real(query={"benchmark": "GPQA Diamond"})
    fig = _charts(at)[0]
    groups = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert len(groups) == eval_charts.TOP_DEVELOPERS + 1 and groups[-1]["name"] == eval_charts.OTHER
    assert (
        fig["layout"]["xaxis"]["title"]["text"]
        and "higher is better" in fig["layout"]["yaxis"]["title"]["text"]
    )
    labels = [t for t in fig["data"] if t.get("mode") == "text"]
    assert labels and 1 <= len(labels[0]["text"]) <= eval_charts.MAX_FRONTIER_LABELS
    downloads = [b for b in at.get("download_button") if "Chart data" in str(b.proto.label)]
    assert downloads, "a data download under the chart"


def test_compare_models_defaults_to_models_with_per_sample_data(open_real, tmp_path) -> None:
    at = _tab(open_real(), "Compare models")
    picked = at.multiselect(key="ev_models").value
    assert len(picked) == comparisons.DEFAULT_COMPARED
    # garak's calibration baseline is stored as a pseudo-model's runs: it is not a model to pick
    assert not [o for o in at.multiselect(key="ev_models").options if "calibration" in o]
    con = _store(tmp_path / "real.duckdb").cursor()
    for model in picked:
        row = con.execute(
            "select bool_and(coalesce(n_samples, 0) > 0) from eval_runs where model = ? and status = 'success'",
            [model],
        ).fetchone()
        assert row is not None and row[0], model
    assert any("no per-sample data" in c.value for c in at.caption)
    pairs = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert (
        pairs["Paired?"].str.startswith("paired on").all()
    )  # every default pair is paired: an interval each
    fig = next(f for f in _charts(at) if f["layout"].get("annotations"))
    for axis, spec in fig["layout"].items():
        if axis.startswith("xaxis") and spec.get("visible") is not False:
            assert spec["title"]["text"], axis


def test_tables_on_the_page_have_human_column_names(open_real) -> None:
    """No occurred_on, model_a, p_value, uk_ci_low or run_id: every column a person reads is named in words."""
    at = open_real(email="lead@uk.example")
    at.number_input(key="ev_threshold_value").set_value(0.3)
    at.button(key="FormSubmitter:ev_threshold_form-Save threshold").click().run()
    columns = {str(c) for d in at.dataframe for c in d.value.columns}
    for tab in ("Compare models", "UK–AU agreement", "Run detail"):
        _tab(at, tab)
        columns |= {str(c) for d in at.dataframe for c in d.value.columns}
    assert {"Model", "Best score", "First model", "Verdict", "UK − AU", "UK CI low"} <= columns
    assert {"Field", "Value", "Scorer", "Metric", "Sample"} <= columns  # the run's spec, metrics and samples
    assert not [c for c in columns if SNAKE.match(c)], sorted(c for c in columns if SNAKE.match(c))
    # the spec's field names are words too, and nothing reads "None"
    spec = next(d.value for d in at.dataframe if list(d.value.columns) == ["Field", "Value"])
    assert "Developer" in set(spec["Field"]) and not [f for f in spec["Field"] if SNAKE.match(str(f))]
    assert "None" not in set(spec["Value"].astype(str))


def test_the_threshold_form_starts_empty_and_an_empty_save_changes_nothing(open_real, tmp_path) -> None:
    at = open_real(query={"benchmark": "Epoch Capabilities Index"})
    field = at.number_input(key="ev_threshold_value")
    assert field.value is None and "index points" in field.label
    at.button(key="FormSubmitter:ev_threshold_form-Save threshold").click().run()
    assert any("Enter a threshold score first" in w.value for w in at.warning)
    con = _store(tmp_path / "real.duckdb").cursor()
    assert con.execute("select count(*) from eval_thresholds").fetchone() == (0,)


def test_the_threshold_section_says_a_crossing_is_at_or_above_and_what_that_means_when_lower_is_better(
    open_real, real_db
) -> None:
    """Crossings are runs at or above the line on every benchmark; on an attack success rate (lower is better)
    that is a run doing worse than the line, and the page says so rather than leave the reader to guess."""
    con = _store(real_db).cursor()
    lower = con.execute(
        f"select min(r.benchmark) from eval_runs r where not {evals.HIGHER_IS_BETTER_SQL} and {evals.SCORED}"
    ).fetchone()
    assert lower and lower[0], "the shared data's JailbreakBench runs are lower-is-better"
    at = open_real(query={"benchmark": lower[0]})
    captions = [c.value for c in at.caption]
    assert any("at or above it; here lower is better" in c for c in captions), captions
    at = open_real(query={"benchmark": "Epoch Capabilities Index"})
    captions = [c.value for c in at.caption]
    assert any(
        c == "A model crosses the threshold when one of its runs scores at or above it." for c in captions
    )
