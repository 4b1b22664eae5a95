"""Every chart the pages draw: its colour scales are ones Plotly accepts, its colours say what the caption says,
and its legend lists the series in the order the bars stand (issue 20: the matrix's Gaps scale ended at
0.9999999999999998, so Plotly drew its default scale against a red/green/grey caption; the UK–AU legend read UK,
AU over bars drawn AU above UK).

The figures are the ones the pages send to the browser (AppTest over the demo store, every tab and matrix mode),
so a chart added to a page is checked without being listed here."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from plotly.colors import hex_to_rgb, unlabel_rgb

from analytics.incidents import charts as incident_charts
from analytics.matrix import charts as matrix_charts
from tests.conftest import figure_spec

ANALYST = "analyst@uk.example"
VIEWS: list[tuple[str, dict[str, Any]]] = [
    ("pages/overview.py", {}),
    *[("pages/explorer.py", {"xp_tab": tab}) for tab in ("Trend", "UK and AU", "Breakdowns")],
    *[("pages/matrix.py", {"mx_mode": mode}) for mode in ("incidents", "coverage", "gaps")],
    ("pages/matrix.py", {"mx_mode": "incidents", "mx_compare": "separate"}),
    ("pages/matrix.py", {"mx_mode": "incidents", "mx_compare": "difference"}),
    *[
        ("pages/evaluations.py", {"ev_tab": tab})
        for tab in (
            "Capability over time",
            "UK–AU agreement",
        )  # "Compare models" draws once models are picked
    ],
]


def _figures(app_factory, path: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    at = app_factory(ANALYST, page=path)
    if state:
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return [figure_spec(el) for el in at.get("plotly_chart")]


def _scales(fig: dict[str, Any]) -> list[tuple[str, list[list[Any]], dict[str, Any]]]:
    """Every colour scale in a figure, with where it is and the object holding it (for cmin/cmax)."""
    found = []
    for k, trace in enumerate(fig["data"]):
        for holder, where in ((trace, f"trace {k}"), (trace.get("marker") or {}, f"trace {k} marker")):
            if isinstance(holder.get("colorscale"), list):
                found.append((where, holder["colorscale"], holder))
    for key, value in fig.get("layout", {}).items():
        if key.startswith("coloraxis") and isinstance(value.get("colorscale"), list):
            found.append((key, value["colorscale"], value))
    return found


def _rgb(colour: str) -> tuple[float, float, float]:
    if colour.startswith("#"):
        r, g, b = hex_to_rgb(colour)
        return float(r), float(g), float(b)
    r, g, b = unlabel_rgb(colour)[:3]
    return float(r), float(g), float(b)


def colour_at(scale: list[list[Any]], cmin: float, cmax: float, z: float) -> tuple[float, float, float]:
    """The colour Plotly gives value `z` on `scale` (linear between stops; at a repeated stop, the later one)."""
    t = min(1.0, max(0.0, (z - cmin) / (cmax - cmin)))
    stops = [(float(s), _rgb(c)) for s, c in scale]
    for (s0, c0), (s1, c1) in pairwise(stops):
        if s0 <= t <= s1 and s1 > s0 and not (t == s1 and s1 < 1):
            f = (t - s0) / (s1 - s0)
            return tuple(a + (b - a) * f for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
    return stops[-1][1]


def hue_word(rgb: tuple[float, float, float]) -> str:
    """The colour word a caption would use for `rgb`: by hue, or grey when hardly saturated."""
    import colorsys

    h, sat, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    degrees = h * 360
    if sat < 0.12:
        return "grey"
    for word, lo, hi in (("red", -20, 18), ("amber", 18, 55), ("green", 80, 170), ("blue", 180, 260)):
        if lo <= (degrees if degrees < 340 else degrees - 360) < hi:
            return word
    return "other"


@pytest.fixture(scope="module")
def every_figure(request) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    app_factory = request.getfixturevalue("app_factory")
    return [(path, state, fig) for path, state in VIEWS for fig in _figures(app_factory, path, state)]


@pytest.fixture(scope="module")
def app_factory(demo_db, navigation_mode_module):  # module-scoped: each page is drawn once for all checks
    import os

    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    os.environ["THREAT_DB"] = str(demo_db)

    def make(email: str, page: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        at.secrets["auth"] = dict(_auth())
        at.run()
        at.switch_page(page).run()
        return at

    return make


def _auth() -> dict[str, str]:
    from tests.conftest import TEST_OIDC_AUTH

    return TEST_OIDC_AUTH


@pytest.fixture(scope="module")
def navigation_mode_module():
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]
    yield
    PagesManager.__init__ = original  # type: ignore[method-assign]


def test_every_view_draws_charts(every_figure) -> None:
    drawn = {(path, tuple(sorted(state.items()))) for path, state, _ in every_figure}
    views = {(path, tuple(sorted(state.items()))) for path, state in VIEWS}
    assert drawn == views, views - drawn


def test_every_colour_scale_is_one_plotly_accepts(every_figure) -> None:
    checked = 0
    for path, state, fig in every_figure:
        for where, scale, _ in _scales(fig):
            stops = [s for s, _ in scale]
            assert stops[0] == 0 and stops[-1] == 1, (path, state, where, stops)  # exactly: Plotly checks
            assert all(a <= b for a, b in pairwise(stops)), (path, state, where, stops)
            for _, colour in scale:
                _rgb(colour)  # a colour Plotly can read
            checked += 1
    assert checked >= 5  # heatmap, three matrix modes, the difference matrix


def test_every_continuous_colour_has_a_key_or_a_caption(every_figure) -> None:
    """A colour scale either shows its colour bar or is a matrix mode whose caption names its colours."""
    for path, state, fig in every_figure:
        for where, _, holder in _scales(fig):
            if holder.get("showscale") is False:
                assert path == "pages/matrix.py" and state.get("mx_mode") == "gaps", (path, state, where)


def _matrix_axis(every_figure, **state: Any) -> dict[str, Any]:
    for path, s, fig in every_figure:
        if path == "pages/matrix.py" and all(s.get(k) == v for k, v in state.items()):
            for _, _, holder in _scales(fig):
                return holder
    raise AssertionError(f"no matrix figure for {state}")


def test_the_gaps_colours_are_the_ones_the_caption_names(every_figure) -> None:
    caption = matrix_charts.MODE_LEGENDS["gaps"]
    assert "Red:" in caption and "Green:" in caption and "Grey:" in caption
    axis = _matrix_axis(every_figure, mx_mode="gaps")
    scale, lo, hi = axis["colorscale"], axis["cmin"], axis["cmax"]
    # z: -1 covered, 0 not seen, log1p(n) for n uncovered incidents (matrix_charts.matrix_heatmap)
    assert hue_word(colour_at(scale, lo, hi, -1.0)) == "green"
    assert hue_word(colour_at(scale, lo, hi, 0.0)) == "grey"
    for n in (1, 5, 100):
        assert hue_word(colour_at(scale, lo, hi, min(hi, __import__("math").log1p(n)))) == "red", n


def test_the_difference_colours_are_the_ones_the_caption_names(every_figure) -> None:
    caption = matrix_charts.MODE_LEGENDS["difference"]
    assert "Blue: UK reported more" in caption and "amber: AU reported more" in caption
    axis = _matrix_axis(every_figure, mx_compare="difference")
    scale, lo, hi = axis["colorscale"], axis["cmin"], axis["cmax"]
    assert hue_word(colour_at(scale, lo, hi, hi)) == "blue"
    assert hue_word(colour_at(scale, lo, hi, lo)) == "amber"
    assert hue_word(colour_at(scale, lo, hi, 0)) == "grey"


def _legend_order(fig: dict[str, Any]) -> list[str]:
    shown = [t["name"] for t in fig["data"] if t.get("showlegend", True) and t.get("name")]
    order = (fig["layout"].get("legend") or {}).get("traceorder", "")
    return shown[::-1] if "reversed" in order else shown


def test_legends_list_grouped_horizontal_bars_in_the_order_they_stand(every_figure) -> None:
    """In a group of horizontal bars Plotly draws the first trace lowest: the legend, read top-down, must name
    the bars top-down (so it lists the traces reversed)."""
    checked = 0
    for path, state, fig in every_figure:
        bars = [t for t in fig["data"] if t["type"] == "bar" and t.get("orientation") == "h"]
        if len(bars) < 2 or fig["layout"].get("barmode") != "group":
            continue
        top_down = [t["name"] for t in bars][::-1]
        assert _legend_order(fig) == top_down, (path, state)
        checked += 1
    assert checked >= 2  # the overview's category chart and the explorer's UK–AU chart


def test_the_institutes_read_uk_then_au_then_public() -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "category": ["Jailbreak"] * 3,
            "originator": ["AU", "UK", "PUBLIC"],
            "source": ["institute", "institute", "aiid"],
            "n": [3, 4, 5],
        }
    )
    for fig in (
        incident_charts.originator_chart(df),
        incident_charts.category_by_originator_chart(df.rename(columns={"n": "incidents"})),
    ):
        spec = fig.to_plotly_json()
        order = _legend_order(spec)
        assert [o.split(" (")[0].removeprefix("Reported by ") for o in order] == [
            "UK",
            "AU",
            "Public — AI Incident Database",
        ]


def test_severity_bars_stand_in_scale_order_and_darken_with_severity() -> None:
    import pandas as pd

    fig = incident_charts.severity_chart(pd.DataFrame({"severity": [1, 2, 3, 4, 5], "n": [50, 9, 30, 2, 7]}))
    spec = fig.to_plotly_json()
    order = list(spec["layout"]["yaxis"]["categoryarray"])
    assert [o.split(" ")[0] for o in order] == ["1", "2", "3", "4", "5"]  # bottom-up: 5 critical on top
    colour_of = dict(zip(spec["data"][0]["y"], spec["data"][0]["marker"]["color"], strict=True))
    hues = [hue_word(_rgb(colour_of[label])) for label in order]
    assert hues[:2] == ["blue", "blue"] and hues[3] in ("amber", "red") and hues[4] == "red"  # cool to hot
    darkness = [-sum(_rgb(colour_of[label])) for label in order]
    assert max(darkness) == darkness[-1]  # critical is the darkest
