"""The Evaluations charts in Chromium (issue 19): a link with `?benchmark=` followed before sign-in opens that
benchmark after it, the chart's data downloads as a marked CSV (the real bytes), and at 1024 px the legend leaves
the plot its full height."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from tests.browser.conftest import BUSY, sign_in, wait_idle


def test_a_benchmark_link_opens_its_chart_with_a_marked_data_download(page: Any, server: Any) -> None:
    page.set_viewport_size({"width": 1024, "height": 2200})
    page.goto(server.url)  # a fresh server's first request runs a page alone (see test_smoke)
    page.get_by_text("Demo mode").wait_for(timeout=BUSY)
    sign_in(
        page, server.url, "analyst@uk.example", "evaluations?benchmark=" + urllib.parse.quote("WMDP-Cyber")
    )
    main = page.get_by_test_id("stMain")
    chart = main.get_by_test_id("stPlotlyChart").first
    chart.locator(".main-svg").first.wait_for(timeout=BUSY)
    wait_idle(page)
    assert "WMDP-Cyber: capability by model release date" in chart.inner_text()
    assert "benchmark=WMDP-Cyber" in page.url
    assert page.get_by_test_id("stException").count() == 0

    # the plot keeps its height: the legend has a margin of its own below it
    plot = chart.locator(".nsewdrag").first.bounding_box()
    figure = chart.locator(".main-svg").first.bounding_box()
    assert plot is not None and figure is not None
    assert plot["height"] >= 360 and plot["width"] >= 0.8 * figure["width"], (plot, figure)
    legend = chart.locator(".legend").first.bounding_box()
    assert legend is not None and legend["y"] >= plot["y"] + plot["height"]

    with page.expect_download(timeout=BUSY) as download:
        main.get_by_role("button", name="Chart data (CSV)").first.click()
    path = download.value.path()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# TLP:") and "releasable to" in lines[0]
    assert "WMDP-Cyber: capability over time" in lines[0]
    assert lines[1].startswith("Model,Developer,")
    assert download.value.suggested_filename.startswith("WMDP-Cyber-capability_")
