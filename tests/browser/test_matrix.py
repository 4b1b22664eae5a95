"""The threat matrix in Chromium over a demo store with the real ATLAS and AIID imported: click a cell, read its
detail, switch modes, and keep screenshots (artifacts/screenshots/matrix-*.png) to look at."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import BUSY, ROOT, Server, build_demo_db, rerun, sign_in, wait_idle

SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def atlas_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = build_demo_db(tmp_path_factory.mktemp("matrix") / "matrix.duckdb")
    for kind, path in (("atlas", SHARED / "atlas" / "ATLAS.yaml"), ("aiid", SHARED / "aiid")):
        subprocess.run(
            [sys.executable, "-m", "analytics", "import", kind, str(path), "--db", str(db)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    s = Server(db)
    yield s
    s.stop()


def _open_matrix(page, server: Server) -> None:
    page.set_viewport_size({"width": 1400, "height": 2400})
    sign_in(page, server.url, "analyst@uk.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Threat matrix", exact=True).click()
    page.get_by_test_id("stPlotlyChart").first.wait_for(timeout=BUSY)


def test_click_a_technique_and_read_its_detail(page, atlas_server, shots: Path) -> None:
    _open_matrix(page, atlas_server)
    main = page.get_by_test_id("stMain")
    main.get_by_text("TLP:").first.wait_for(timeout=BUSY)
    assert main.get_by_text("AI Incident Database, CC BY-SA 4.0", exact=False).count() == 1
    page.screenshot(path=str(shots / "matrix-incidents-analyst-uk.png"))

    # the cell's lines are tspans, run together in its text ("▸ LLM PromptInjection311"); "LLM Prompt Crafting"
    # comes first in kill-chain order
    injection = re.compile(r"LLM Prompt\s*Injection")
    cell = page.get_by_test_id("stPlotlyChart").first.locator("text", has_text=injection).first
    box = cell.bounding_box()
    assert box is not None
    with rerun(page):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    main = page.get_by_role("dialog")  # the detail opens over the matrix (issue 20)
    main.get_by_text("Matching incidents").first.wait_for(timeout=BUSY)
    assert "technique=AML.T0051" in page.url
    main.get_by_text("AML.T0051 LLM Prompt Injection", exact=False).first.wait_for(timeout=BUSY)
    assert main.get_by_text("Mitigations", exact=True).count() == 1
    assert main.get_by_text("Evaluations mapped to this technique").count() == 1
    assert main.get_by_text("evaluation runs", exact=False).count() == 1  # the runs carry their own banner
    main.get_by_text("Mitigations", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "matrix-technique-detail-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0

    # select the newest matching incident: a link opens it in the explorer through ?incident=ID
    column = main.get_by_test_id("stColumn").filter(has_text="Matching incidents")
    grid = column.get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # the first row's selection box
    wait_idle(page)
    link = main.get_by_role("link", name="in the incident explorer")
    link.wait_for(timeout=BUSY)
    assert "explorer?incident=" in (link.get_attribute("href") or "")
    link.click()
    wait_idle(page)
    assert "/explorer?incident=" in page.url
    assert page.get_by_test_id("stException").count() == 0


def test_gap_mode_and_institute_difference(page, atlas_server, shots: Path) -> None:
    _open_matrix(page, atlas_server)
    main = page.get_by_test_id("stMain")
    with rerun(page):
        main.get_by_text("Gaps", exact=True).click()
    main.get_by_text("no evaluation you can see covers", exact=False).first.wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "matrix-gaps-analyst-uk.png"))
    with rerun(page):
        main.get_by_text("Incidents", exact=True).click()
    main.get_by_text("Click a cell for its detail", exact=False).first.wait_for(timeout=BUSY)
    main.get_by_test_id("stSelectbox").filter(has_text="Institutes").click()
    with rerun(page):
        page.get_by_role("option", name="Difference (UK − AU)").click()
    main.get_by_text("Blue: UK reported more", exact=False).wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "matrix-difference-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0


# Each tactic header's box, per band of the banded matrix (one x axis per band: .xaxislayer-above of each).
_HEADER_BOXES = """chart => Array.from(chart.querySelectorAll('.xaxislayer-above')).map(
    axis => Array.from(axis.querySelectorAll('text')).map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, left: r.left, right: r.right};
    }).sort((a, b) => a.left - b.left))"""


@pytest.mark.parametrize("width", [1400, 1024])
def test_tactic_headers_do_not_overlap_with_the_sidebar_open(
    page, atlas_server, shots: Path, width: int
) -> None:
    """Issue 20: at 1024 px with the sidebar open the sixteen ATLAS tactic headers ran into each other. Every
    header's text box must end before the next one in its band begins, at both widths the sweep looks at."""
    _open_matrix(page, atlas_server)
    page.set_viewport_size({"width": width, "height": 2400})
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_text("Sign out").is_visible()  # open: the narrow case is the sidebar taking room
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    wait_idle(page)
    page.screenshot(path=str(shots / f"matrix-headers-{width}.png"))
    bands = chart.evaluate(_HEADER_BOXES)
    headers = [h["text"] for band in bands for h in band]
    assert len(headers) == 16 and "Reconnaissance" in headers[0], headers  # the real ATLAS tactics, all drawn
    overlaps = [
        (a["text"], b["text"], round(a["right"] - b["left"]))
        for band in bands
        for a, b in itertools.pairwise(band)
        if a["right"] > b["left"] - 2  # touching counts: two words with no gap read as one
    ]
    assert overlaps == []
