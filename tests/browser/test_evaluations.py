"""The Evaluations page in Chromium: every tab renders with its marking, a model comparison can be picked with the
real multiselect, and screenshots of each tab are saved for a person to look at.

The page's tabs are stateful (only the open one is computed), so opening a tab makes a run: every click here goes
through `rerun`, and every wait is on something the page shows (conftest.py says why never on time)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import BUSY, rerun, sign_in


def _open_evaluations(page: Any, server: Any) -> Any:
    page.set_viewport_size({"width": 1400, "height": 2200})
    sign_in(page, server.url, "analyst@uk.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Evaluations", exact=True).click()
    main = page.get_by_test_id("stMain")
    main.get_by_role("tab", name="Capability over time", selected=True).wait_for(timeout=BUSY)
    main.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=BUSY)
    return main


def _open_tab(page: Any, main: Any, name: str) -> None:
    with rerun(page):
        main.get_by_role("tab", name=name).click()
    main.get_by_role("tab", name=name, selected=True).wait_for(timeout=BUSY)


def test_evaluations_tabs_render_with_markings(page, server, shots) -> None:
    main = _open_evaluations(page, server)
    assert page.get_by_test_id("stException").count() == 0
    assert main.get_by_text("TLP:").count() >= 2
    chart = main.get_by_test_id("stPlotlyChart").first
    assert "Cybench: capability by model release date" in chart.inner_text()
    page.screenshot(path=str(shots / "evaluations-capability-analyst-uk.png"))

    _open_tab(page, main, "UK–AU agreement")
    main.get_by_text("Run by both", exact=True).wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "evaluations-agreement-analyst-uk.png"))

    _open_tab(page, main, "Run detail")
    main.get_by_text("Per-sample scores", exact=True).wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "evaluations-run-detail-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0


def test_comparing_three_models_shows_paired_verdicts(page, server, shots) -> None:
    main = _open_evaluations(page, server)
    _open_tab(page, main, "Compare models")
    picker = main.get_by_test_id("stMultiSelect").first
    picker.wait_for(timeout=BUSY)
    # The page starts with three models that have per-sample data: clear them to pick these three.
    with rerun(page):
        picker.get_by_role("button", name="Clear all").click()
    for model in ("Helix-2.1", "Fjord-2.2", "Basalt-2.1"):
        picker.click()
        picker.locator("input").fill(model)  # the option list is virtualised: type to bring it into view
        with rerun(page):
            page.get_by_role("option", name=model, exact=False).first.click(timeout=BUSY)
        picker.locator(f'button[aria-label^="Remove {model} ("]').wait_for(timeout=BUSY)
    page.keyboard.press("Escape")
    for model in ("Helix-2.1", "Fjord-2.2", "Basalt-2.1"):
        assert picker.locator(f'button[aria-label^="Remove {model} ("]').count() == 1
    main.get_by_text("Is the difference real?", exact=False).first.wait_for(timeout=BUSY)
    assert main.get_by_text("McNemar exact").count() >= 1 or main.get_by_test_id("stDataFrame").count() >= 1
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(shots / "evaluations-compare-analyst-uk.png"))


def test_clicking_a_point_opens_that_run(page, server) -> None:
    main = _open_evaluations(page, server)
    run_picker = main.get_by_role("combobox", name="Run", exact=True)
    _open_tab(page, main, "Run detail")
    run_picker.wait_for(timeout=BUSY)
    default_run = run_picker.input_value()
    assert " · " in default_run  # model · institute · status · date
    _open_tab(page, main, "Capability over time")
    points = main.get_by_test_id("stPlotlyChart").first.locator(".scatterlayer .trace .points path")
    points.nth(5).wait_for(state="attached", timeout=BUSY)
    assert points.count() > 5
    with rerun(page):
        points.nth(5).click(force=True)
    main.get_by_text("Run selected").wait_for(timeout=BUSY)
    _open_tab(page, main, "Run detail")
    run_picker.wait_for(timeout=BUSY)
    assert " · " in run_picker.input_value()
    assert run_picker.input_value() != default_run
    assert page.get_by_test_id("stException").count() == 0
