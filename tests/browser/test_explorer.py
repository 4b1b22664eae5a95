"""The incident explorer and the overview in Chromium against a real server over the demo store: a sidebar
filter redraws the trend, a click on the heatmap narrows the filters (the chips show it), the CSV download's
real bytes, an incident opened by link, and screenshots of both pages at 1400 px (artifacts/screenshots/)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import BUSY, rerun, sign_in, wait_idle

TREND_BARS = """() => {
    const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
    return plots.length ? plots[0].data.filter(t => t.type === 'bar').map(t => t.name) : null;
}"""
ONE_BAR_TRACE = """() => {
    const p = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    return p && p.data.filter(t => t.type === 'bar').length === 1;
}"""


def open_explorer(page: Any, server: Any, email: str = "analyst@uk.example", path: str = "") -> Any:
    page.set_viewport_size({"width": 1400, "height": 2400})
    sign_in(page, server.url, email, path)
    if "Incident explorer" not in page.get_by_test_id("stMain").get_by_role("heading").first.inner_text():
        with rerun(page):
            page.get_by_test_id("stSidebarNav").get_by_text("Incident explorer", exact=True).click()
    main = page.get_by_test_id("stMain")
    main.get_by_text("TLP:").first.wait_for(timeout=BUSY)
    return main


def open_tab(page: Any, name: str) -> None:
    """The explorer's tabs are stateful: opening one makes a run."""
    with rerun(page):
        page.get_by_role("tab", name=name).click()
    page.get_by_role("tab", name=name, selected=True).wait_for(timeout=BUSY)


def test_a_sidebar_filter_redraws_the_trend(page, server, shots: Path) -> None:
    main = open_explorer(page, server)
    # wait_idle holds for a page with no chart element yet (every() of nothing), so wait for the trend itself.
    before = page.wait_for_function(TREND_BARS, timeout=BUSY).json_value()
    assert "Jailbreak" in before and len(before) >= 5
    page.screenshot(path=str(shots / "explorer-trend-analyst-uk.png"))
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stMultiSelect").filter(has_text="Category").click()
    with rerun(page):
        page.get_by_role("option", name=re.compile(r"^Jailbreak \(")).click()
    page.keyboard.press("Escape")
    page.wait_for_function(ONE_BAR_TRACE, timeout=BUSY)
    assert page.evaluate(TREND_BARS) == ["Jailbreak"]
    assert "cat=Jailbreak" in page.url
    assert main.get_by_test_id("stMetricValue").first.inner_text() != ""
    open_tab(page, "UK and AU")
    main.get_by_text("Where their pictures differ most").wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "explorer-uk-au-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0


def test_clicking_a_heatmap_cell_narrows_the_filters(page, server, shots: Path) -> None:
    main = open_explorer(page, server)
    open_tab(page, "Breakdowns")
    heatmap = main.get_by_test_id("stPlotlyChart").first
    heatmap.locator("g.points path.point").first.wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "explorer-breakdowns-analyst-uk.png"))
    before = main.get_by_test_id("stMetricValue").first.inner_text()
    point = heatmap.locator("g.points path.point").first
    box = point.bounding_box()
    assert box is not None
    with rerun(page):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name=re.compile(r"^Remove ")).first.wait_for(timeout=BUSY)
    chips = [
        b.get_attribute("aria-label")
        for b in sidebar.get_by_role("button", name=re.compile(r"^Remove ")).all()
    ]
    assert len(chips) == 2, chips  # one category and one sector
    assert "cat=" in page.url and "sector=" in page.url
    after = main.get_by_test_id("stMetricValue").first.inner_text()
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    page.screenshot(path=str(shots / "explorer-after-click-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0


def test_the_csv_download_is_marked_escaped_and_complete(page, server, shots: Path) -> None:
    main = open_explorer(page, server)
    open_tab(page, "Incidents")
    main.get_by_test_id("stDataFrame").first.wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "explorer-table-analyst-uk.png"))
    button = main.get_by_test_id("stDownloadButton").filter(has_text="as CSV")
    label = button.inner_text()
    rows = int(re.search(r"Download ([\d,]+) rows", label).group(1).replace(",", ""))
    with page.expect_download(timeout=BUSY) as info:
        button.get_by_role("button").click()
    download = info.value
    assert re.fullmatch(r"incidents_2026-11-20_TLP-[A-Z-]+_REL-[A-Z-]+\.csv", download.suggested_filename)
    data = Path(download.path()).read_bytes().decode("utf-8")
    lines = data.splitlines()
    assert lines[0].startswith("# TLP:") and "exported 2026-11-20" in lines[0]
    assert lines[1].startswith("id,occurred_on,reported_on,title,summary,originator")
    assert len(lines) - 2 == rows
    banner = main.get_by_text("TLP:").first.inner_text()
    tlp = re.search(r"TLP:([A-Z+]+)", banner).group(1)
    assert lines[0].startswith(f"# TLP:{tlp} ")
    assert tlp.replace("+", "-") in download.suggested_filename
    # no cell starts a formula
    assert not any(re.search(r'(^|,)"?[=+@]', line) for line in lines[2:])


def test_a_row_choice_and_a_link_open_the_incident(page, server, shots: Path) -> None:
    main = open_explorer(page, server)
    open_tab(page, "Incidents")
    grid = main.get_by_test_id("stDataFrame").first
    grid.wait_for(timeout=BUSY)
    box = grid.bounding_box()
    assert box is not None
    # The first column of a single-row-selection table is the row picker; rows are 35 px under a 35 px header.
    with rerun(page):
        page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    page.wait_for_function("() => location.search.includes('incident=')", timeout=BUSY)
    incident = re.search(r"incident=([A-Z]{2}-\d{4}-\d{7})", page.url).group(1)
    detail = page.get_by_role("dialog")  # the detail opens over the table (issue 20)
    detail.get_by_text("Related incidents", exact=False).first.wait_for(timeout=BUSY)
    assert detail.get_by_role("heading", name=incident).count() == 1
    page.screenshot(path=str(shots / "explorer-detail-analyst-uk.png"))
    with rerun(page):
        detail.get_by_test_id("stBaseButton-secondary").filter(has_text="Close").click()
    page.wait_for_function("() => !location.search.includes('incident=')", timeout=BUSY)
    assert page.get_by_text("Related incidents", exact=False).count() == 0


def test_the_overview_at_1400px(page, server, shots: Path) -> None:
    page.set_viewport_size({"width": 1400, "height": 2000})
    sign_in(page, server.url, "policy@au.example")
    main = page.get_by_test_id("stMain")
    main.get_by_text("Rising fastest").wait_for(timeout=BUSY)
    main.get_by_test_id("stPlotlyChart").locator(".main-svg").first.wait_for(timeout=BUSY)
    wait_idle(page)
    page.screenshot(path=str(shots / "overview-policy-au.png"))
    assert main.get_by_test_id("stMetricValue").count() == 4, main.inner_text()[:500]
    sign_in(page, server.url, "analyst@uk.example")
    page.get_by_test_id("stMain").get_by_text("Rising fastest").wait_for(timeout=BUSY)
    page.get_by_test_id("stMain").get_by_test_id("stPlotlyChart").locator(".main-svg").first.wait_for(
        timeout=BUSY
    )
    wait_idle(page)
    page.screenshot(path=str(shots / "overview-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0
