"""The Evaluations charts on real data (demo + Epoch + garak + JailbreakBench), as Epoch's Benchmarking Hub draws
them: at most TOP_DEVELOPERS + "Other", one colour per developer in every chart, units and direction on the axis,
log axis for time horizons, shortened names with the full name in the hover, legends that never squeeze the plot,
labelled frontier models, and the data behind each chart as a marked CSV."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analytics.evals import charts, comparisons
from analytics.evals import queries as evals
from analytics.export import table as table_export
from analytics.filters import Filters
from analytics.store.database import Store, close_all, open_store
from tests.analytics.evals.real_store import build_real_store
from tests.conftest import TODAY, UK_ANALYST


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = build_real_store(tmp_path_factory.mktemp("evals-real") / "real.duckdb")
    yield open_store(path)
    close_all()


def _capability(store: Store, benchmark: str, by: str = "release") -> tuple[Any, Any]:
    cap = evals.capability_over_time(store.cursor(), UK_ANALYST, Filters(), TODAY, benchmark, by).data
    colours = charts.developer_colours(evals.developer_ranking(store.cursor(), UK_ANALYST, TODAY))
    scale = charts.scale_for(cap.unit, cap.higher_is_better, cap.metrics)
    fig = charts.capability_chart(cap.points, cap.frontier, benchmark, scale, colours, None, cap.by)
    return cap, fig


def _developer_traces(fig: Any) -> list[Any]:
    return [t for t in fig.data if t.mode == "markers"]


def test_gpqa_diamond_draws_the_top_developers_and_other(real) -> None:
    """Issue 19: GPQA Diamond's legend listed 25 developers. Now the eight with most runs and "Other"."""
    cap, fig = _capability(real, "GPQA Diamond")
    assert cap.points["developer"].nunique() > charts.TOP_DEVELOPERS + 1  # the real data has many more
    traces = _developer_traces(fig)
    assert len(traces) == charts.TOP_DEVELOPERS + 1
    assert traces[-1].name == charts.OTHER and traces[-1].marker.color == charts.OTHER_COLOUR
    counts = cap.points["developer"].value_counts()
    top = sorted(counts.index, key=lambda d: (-counts[d], d))[: charts.TOP_DEVELOPERS]
    assert [t.name for t in traces[:-1]] == [charts.shorten(d, 24) for d in top]
    # every run is on the chart once
    assert sum(len(t.y) for t in traces) == len(cap.points)


def test_a_developer_has_one_colour_in_every_chart(real) -> None:
    """One mapping, not palette order per chart: OpenAI is the same colour on GPQA Diamond and on MMLU (where the
    developers come in another order), and Meta AI / Microsoft, OpenAI / Alibaba never share a colour."""
    colours = {}
    for bench in ("GPQA Diamond", "MMLU", "Epoch Capabilities Index"):
        _, fig = _capability(real, bench)
        colours[bench] = {t.name: t.marker.color for t in _developer_traces(fig)}
    for dev in ("OpenAI", "Meta AI", "Alibaba"):
        seen = {c[dev] for c in colours.values() if dev in c}
        assert len(seen) == 1, (dev, seen)
    orders = [list(c) for c in colours.values()]
    assert orders[0] != orders[1]  # the same colours although the charts list developers in another order
    mapping = charts.developer_colours(evals.developer_ranking(real.cursor(), UK_ANALYST, TODAY))
    assert mapping["Meta AI"] != mapping["Microsoft"]
    assert mapping["OpenAI"] != mapping["Alibaba"]
    shown = list(colours["GPQA Diamond"].values())
    assert len(set(shown)) == len(shown)  # no two groups of one chart share a colour


def test_the_comparison_colours_models_by_the_same_developer_mapping(real) -> None:
    cmp = comparisons.compare_models(
        real.cursor(),
        UK_ANALYST,
        Filters(),
        TODAY,
        ("gpt-4o-2024-11-20", "claude-3-7-sonnet-20250219", "Helix-2.1"),
    ).data
    ranking = evals.developer_ranking(real.cursor(), UK_ANALYST, TODAY)
    colours = charts.developer_colours(ranking)
    fig = charts.comparison_chart(cmp.scores, sorted(set(cmp.scores["model"])), colours)
    by_name = {t.name: t.marker.color for t in fig.data}
    for dev in set(cmp.scores["developer"]):
        assert by_name[charts.shorten(dev, 24)] == charts.colour_of(dev, colours)


@pytest.mark.parametrize(
    ("benchmark", "words", "log", "percent"),
    [
        ("GPQA Diamond", ("Share of tasks solved", "higher is better"), False, True),
        ("METR Time Horizons", ("Time horizon", "minutes, log scale", "higher is better"), True, False),
        ("Epoch Capabilities Index", ("Epoch Capabilities Index", "index points"), False, False),
        ("WebDev Arena", ("Arena rating", "Elo"), False, False),
        ("JailbreakBench PAIR (black_box)", ("Attack success rate", "lower is better"), False, True),
        ("garak dan.Ablation_Dan_11_0 / dan.DAN", ("Pass rate", "higher is better"), False, True),
    ],
)
def test_units_and_direction_come_from_the_import(real, benchmark, words, log, percent) -> None:
    """Axis titles name what is measured, its unit and which way is better; minutes are on a log axis."""
    _, fig = _capability(real, benchmark, "release" if not cap_undated(real, benchmark) else "evaluation")
    title = fig.layout.yaxis.title.text
    for w in words:
        assert w in title, title
    assert (fig.layout.yaxis.type == "log") is log
    assert (fig.layout.yaxis.tickformat == ".0%") is percent
    assert fig.layout.xaxis.title.text in charts.X_TITLES.values()


def cap_undated(real: Store, benchmark: str) -> bool:
    cap = evals.capability_over_time(real.cursor(), UK_ANALYST, Filters(), TODAY, benchmark).data
    return cap.points.empty


def test_lower_is_better_draws_the_lowest_as_the_frontier(real) -> None:
    """An attack success rate is best low: its frontier is the lowest so far, not the highest."""
    cap = evals.capability_over_time(
        real.cursor(), UK_ANALYST, Filters(), TODAY, "JailbreakBench PAIR (black_box)", "evaluation"
    ).data
    assert cap.higher_is_better is False
    assert cap.frontier["best"].iloc[-1] == pytest.approx(cap.points["score"].min())
    assert set(cap.points.loc[cap.points["on_frontier"], "score"]) == {cap.points["score"].min()}


def test_results_of_one_day_get_a_readable_date_axis(real) -> None:
    """JailbreakBench artifacts share one date: the axis spans months, not milliseconds."""
    _, fig = _capability(real, "JailbreakBench PAIR (black_box)", "evaluation")
    start, end = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    assert (end - start).days >= 120


def test_long_names_are_shortened_with_the_full_name_in_the_hover(real) -> None:
    """One Epoch developer string is 169 characters: drawn under its first organisation, in full on hover."""
    cap = evals.capability_over_time(real.cursor(), UK_ANALYST, Filters(), TODAY, "Video-MME").data
    longest = max(cap.points["developers"], key=len)
    assert len(longest) > 150
    fig = charts.capability_chart(
        cap.points, cap.frontier, "Video-MME", charts.scale_for(cap.unit), charts.developer_colours(), None
    )
    assert all(len(t.name) <= 36 for t in fig.data if t.name)
    hovers = [cell[5] for t in _developer_traces(fig) for cell in t.customdata]
    assert any(h.replace(",<br>", ",") == longest for h in hovers)


def test_legends_never_squeeze_the_plot(real) -> None:
    """The legend sits below the plot in a margin sized for its rows: the plot keeps its height whether the
    legend has 2 entries or 11."""
    heights = []
    for bench in ("JailbreakBench PAIR (black_box)", "GPQA Diamond", "METR Time Horizons"):
        by = "evaluation" if bench.startswith("Jailbreak") else "release"
        _, fig = _capability(real, bench, by)
        layout = fig.layout
        assert layout.legend.orientation == "h" and layout.legend.yref == "container"
        assert layout.legend.y == 0 and layout.legend.yanchor == "bottom"
        entries = sum(1 for t in fig.data if t.showlegend is not False)
        rows = -(-entries // charts.LEGEND_PER_ROW)
        assert layout.margin.b >= rows * charts.LEGEND_ROW + 56
        heights.append(layout.height - layout.margin.t - layout.margin.b)
    assert len(set(heights)) == 1 and heights[0] >= 380


def test_frontier_models_are_labelled_without_overlap(real) -> None:
    cap, fig = _capability(real, "Epoch Capabilities Index")
    labels = [t for t in fig.data if t.mode == "text"]
    assert len(labels) == 1
    text = list(labels[0].text)
    assert 3 <= len(text) <= charts.MAX_FRONTIER_LABELS
    on = cap.points[cap.points["on_frontier"]]
    assert set(text) <= {charts.shorten(m, 22) for m in on["model"]}
    # the newest frontier model is always labelled
    assert charts.shorten(on.sort_values("x")["model"].iloc[-1], 22) in text


def test_every_chart_has_axis_titles(real) -> None:
    _, cap_fig = _capability(real, "GPQA Diamond")
    cmp = comparisons.compare_models(
        real.cursor(), UK_ANALYST, Filters(), TODAY, ("Helix-2.1", "Fjord-2.2", "gpt-4o-2024-11-20")
    ).data
    cmp_fig = charts.comparison_chart(cmp.scores, ["Helix-2.1", "Fjord-2.2", "gpt-4o-2024-11-20"])
    agree = comparisons.institute_agreement(real.cursor(), UK_ANALYST, Filters(), TODAY).data
    figs = [cap_fig, cmp_fig, charts.agreement_chart(agree)]
    for fig in figs:
        axes = [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
        for axis in axes:
            if fig.layout[axis].visible is False:
                continue  # an empty cell of the comparison's grid
            if str(axis).startswith("yaxis") and fig is cmp_fig and not fig.layout[axis].showticklabels:
                continue  # a panel's model names are on the first column only
            assert fig.layout[axis].title.text, (axis, fig.layout.title.text)


def test_comparison_panels_share_the_share_axis_and_name_their_unit(real) -> None:
    """Shares of tasks read on one 0–100% axis in every panel; other units (the ECI's index points, ...) keep
    their own axis, titled with the unit."""
    cmp = comparisons.compare_models(
        real.cursor(), UK_ANALYST, Filters(), TODAY, ("gpt-4o-2024-11-20", "claude-3-7-sonnet-20250219")
    ).data
    assert {"fraction", "ECI"} <= set(cmp.scores["unit"])
    fig = charts.comparison_chart(cmp.scores, ["claude-3-7-sonnet-20250219", "gpt-4o-2024-11-20"])
    benches = sorted(cmp.scores["benchmark"].unique())
    units = cmp.scores.groupby("benchmark")["unit"].first()
    shares = [k for k, b in enumerate(benches) if units[b] == "fraction"]
    first = "x" if shares[0] == 0 else f"x{shares[0] + 1}"
    for k, b in enumerate(benches):
        axis = fig.layout["xaxis" if k == 0 else f"xaxis{k + 1}"]
        if units[b] == "fraction":
            assert axis.tickformat == ".0%" and "share" in axis.title.text
            assert k == shares[0] or axis.matches == first
        else:
            assert axis.matches is None and charts.scale_for(units[b]).unit in axis.title.text


def test_the_chart_data_download_is_marked_and_human(real, tmp_path: Path) -> None:
    cap, _ = _capability(real, "METR Time Horizons")
    scoped = evals.capability_over_time(real.cursor(), UK_ANALYST, Filters(), TODAY, "METR Time Horizons")
    frame = charts.capability_table(cap.points, charts.scale_for(cap.unit))
    assert "Score (minutes)" in frame.columns and "run_id" not in frame.columns
    assert all(not c.islower() or " " in c for c in frame.columns)
    data = table_export.export_csv(
        real,
        UK_ANALYST,
        frame,
        scoped.marking,
        header=[table_export.marking_comment(scoped.marking, ["METR Time Horizons: capability over time"])],
        obj="chart:ev_capability",
    )
    lines = data.decode().splitlines()
    assert lines[0].startswith("# TLP:CLEAR · releasable to AU and UK")
    back = pd.read_csv(io.StringIO("\n".join(lines[1:])))
    assert len(back) == len(cap.points)
    exports = real.cursor().execute("select count(*) from audit_log where action = 'export'").fetchone()
    assert exports is not None and exports[0] >= 1


def test_tables_read_as_people_write_them() -> None:
    """Human column names, "—" for every missing value (never "None" or "nan"), dates without a time."""
    df = pd.DataFrame(
        {
            "model_a": ["A", None],
            "p_value": [0.01234, float("nan")],
            "occurred_on": pd.to_datetime(["2024-01-02", None]),
            "institutes": [["AU", "UK"], None],
            "paired": [True, False],
        }
    )
    table = charts.human_table(
        df,
        {
            "model_a": "Model A",
            "p_value": "p (unadjusted)",
            "occurred_on": "Date",
            "institutes": "Run by",
            "paired": "Paired",
        },
    )
    assert list(table.columns) == ["Model A", "p (unadjusted)", "Date", "Run by", "Paired"]
    shown = charts.styled(table).to_string()
    assert "None" not in shown and "nan" not in shown.lower() and "NaT" not in shown
    assert shown.count(charts.MISSING) == 4
    assert "2024-01-02" in shown and "00:00:00" not in shown
    assert "AU, UK" in shown and "0.012" in shown and "yes" in shown


def test_no_chart_of_the_real_store_gives_two_developer_groups_one_colour(real) -> None:
    """With 48 developers and a finite palette the rarest share colours across the store, never within a chart."""
    con = real.cursor()
    colours = charts.developer_colours(evals.developer_ranking(con, UK_ANALYST, TODAY))
    assert len(colours) > len(charts.PALETTE)
    clashes = []
    for (bench,) in con.execute("select distinct benchmark from eval_runs order by 1").fetchall():
        cap = evals.capability_over_time(con, UK_ANALYST, Filters(), TODAY, bench).data
        groups = set(charts.developer_groups(cap.points["developer"]))
        shown = [charts.colour_of(g, colours) for g in groups]
        if len(shown) != len(set(shown)):
            clashes.append(bench)
    assert not clashes


def test_shortened_names_stay_distinct_where_they_differ_at_the_end(real) -> None:
    """garak's frontier lines differ only by task version at the end of the name: cut in the middle, they stay
    distinct; a model that moved several of them is labelled once; a long benchmark name fits the title."""
    bench = "garak malwaregen.Evasion / malwaregen.AnyCode"
    cap, fig = _capability(real, bench, "evaluation")
    lines = [t.name for t in fig.data if t.mode == "lines"]
    assert len(lines) == cap.frontier["line"].nunique() > 1
    assert len(set(lines)) == len(lines) and all(len(n) <= charts.FRONTIER_NAME_LIMIT for n in lines)
    labels = next(t for t in fig.data if t.mode == "text")
    assert len(set(labels.text)) == len(labels.text)
    assert len(fig.layout.title.text) <= 75 and fig.layout.title.text.endswith(
        "capability by evaluation date"
    )
