"""The chart drawer keeps kaleido's page loaded between charts: the images must be exactly those a freshly loaded
page draws, the page must still be reloaded every RELOAD_EVERY charts, and a failed chart must not leave a broken
browser behind (analytics/export/chart_drawer.py says why)."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import plotly.express as px
import plotly.graph_objects as go
import pytest

from analytics.export import chart_drawer
from analytics.export.chart_drawer import ChartDrawer
from analytics.export.chart_image import print_spec


def _figures() -> list[tuple[str, dict[str, Any]]]:
    """Different kinds of chart, as the pages draw them, each in the print template at its export size."""
    months = [f"2026-{m:02d}-01" for m in range(1, 13)]
    trend = go.Figure(
        [go.Scatter(x=months, y=[m * 3 % 11 for m in range(12)], name="Jailbreak", mode="lines+markers"),
         go.Scatter(x=months, y=[m * 5 % 7 for m in range(12)], name="Prompt injection", mode="lines")]
    )  # fmt: skip
    trend.update_layout(title="Incidents per month", legend_title_text="Category")
    bars = px.bar(
        x=[12, 7, 3], y=["Jailbreak", "Prompt injection", "AI-enabled cyber intrusion"], orientation="h"
    )
    bars.add_annotation(x=12, y="Jailbreak", text="highest", showarrow=True)
    heat = go.Figure(go.Heatmap(z=[[1, 0, 4], [2, 9, 0]], x=["Recon", "Exec", "Exfil"], y=["UK", "AU"]))
    heat.update_layout(title="Techniques by institute")
    scatter = px.scatter(x=[0.2, 0.5, 0.9], y=[0.1, 0.6, 0.3], color=["a", "b", "a"], title="Scores")
    pie = go.Figure(go.Pie(labels=["RED", "AMBER", "GREEN"], values=[1, 4, 9]))
    return [
        (name, print_spec(fig, 960, 540))
        for name, fig in [
            ("trend", trend),
            ("bars", bars),
            ("heat", heat),
            ("scatter", scatter),
            ("pie", pie),
        ]
    ]


def _comparable(image: bytes) -> bytes:
    """A PNG as it is; an SVG in canonical XML (attributes sorted: plotly sets some in a different order when it
    has measured text before) with plotly's random ids (6 hex digits: per drawing, trace and colour bar) numbered
    in order of first appearance. Neither differs between two drawings of one figure on any page."""
    if not image.startswith(b"<svg"):
        return image
    text = ET.canonicalize(image.decode())
    ids = dict.fromkeys(re.findall(r"(?:defs-|trace|-cb)([0-9a-f]{6})\b", text))
    for k, uid in enumerate(ids):
        text = text.replace(uid, f"@{k}@")
    return text.encode()


@pytest.fixture(scope="module")
def keeping() -> Iterator[ChartDrawer]:
    drawer = ChartDrawer()
    yield drawer
    drawer.close()


@pytest.fixture
def fresh() -> Iterator[ChartDrawer]:
    """A drawer that reloads the page after every chart, as kaleido itself does."""
    drawer = ChartDrawer(reload_every=1)
    yield drawer
    drawer.close()


def test_a_kept_page_draws_exactly_what_a_fresh_page_draws(keeping, fresh) -> None:
    figures = _figures()
    # The trend again at the end: a chart drawn after four others is the chart drawn first.
    sequence = [*figures, figures[0]]
    for fmt, scale in (("png", 1.5), ("svg", 1)):
        opts = {"format": fmt, "width": 960, "height": 540, "scale": scale}
        kept = [_comparable(keeping.draw(spec, opts)) for _, spec in sequence]
        reloaded = [_comparable(fresh.draw(spec, opts)) for _, spec in sequence]
        for (name, _), a, b in zip(sequence, kept, reloaded, strict=True):
            assert a == b, f"{name} ({fmt}) differs when the page was kept"
        assert kept[0] == kept[-1]
        assert len(set(kept[:-1])) == len(figures), "every chart is its own image"
    assert fresh.reloads == 2 * len(sequence)  # the hook kaleido calls after each chart is still ours
    assert keeping.reloads == 0


def test_the_page_is_reloaded_every_so_many_charts() -> None:
    assert chart_drawer.RELOAD_EVERY > 1
    drawer = ChartDrawer(reload_every=3)
    try:
        spec = _figures()[1][1]
        for _ in range(7):
            drawer.draw(spec, {"format": "svg", "width": 960, "height": 540, "scale": 1})
        assert drawer.reloads == 2
    finally:
        drawer.close()


def _drawer_threads() -> int:
    return sum(t.name == "chart-drawer" and t.is_alive() for t in threading.enumerate())


def test_after_a_failed_chart_the_next_is_drawn_by_a_new_browser_and_the_old_one_is_gone(monkeypatch) -> None:
    drawer = ChartDrawer()
    try:
        spec = _figures()[0][1]
        opts = {"format": "png", "width": 960, "height": 540, "scale": 1}
        before = drawer.draw(spec, opts)
        _, first = drawer._started()
        threads = _drawer_threads()

        async def broken(*args: Any, **kwargs: Any) -> bytes:
            raise RuntimeError("the browser went away")

        monkeypatch.setattr(first, "calc_fig", broken)
        with pytest.raises(RuntimeError, match="went away"):
            drawer.draw(spec, opts)
        assert drawer._browser is None and drawer._loop is None
        assert not first.alive, "the failed browser's Chromium has ended"
        assert _drawer_threads() == threads - 1, "and its loop's thread"
        assert drawer.draw(spec, opts) == before
        assert drawer._browser is not first
    finally:
        drawer.close()


def test_a_browser_that_died_is_replaced_before_the_next_chart() -> None:
    drawer = ChartDrawer()
    try:
        spec = _figures()[1][1]
        opts = {"format": "svg", "width": 960, "height": 540, "scale": 1}
        before = _comparable(drawer.draw(spec, opts))
        _, first = drawer._started()
        first.kill()  # as if Chromium had crashed or been killed by the system
        assert _comparable(drawer.draw(spec, opts)) == before
        assert drawer._browser is not first
    finally:
        drawer.close()


def test_a_browser_that_cannot_start_leaves_nothing_running_and_the_next_export_tries_again(
    monkeypatch,
) -> None:
    drawer = ChartDrawer()
    threads = _drawer_threads()
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    with pytest.raises(Exception, match="nonexistent"):
        drawer.draw(_figures()[1][1], {"format": "svg", "width": 960, "height": 540, "scale": 1})
    assert _drawer_threads() == threads and drawer._browser is None
    monkeypatch.undo()
    try:
        assert drawer.draw(_figures()[1][1], {"format": "svg", "width": 960, "height": 540, "scale": 1})
    finally:
        drawer.close()
    assert _drawer_threads() == threads, "closing ends the drawer's thread"
