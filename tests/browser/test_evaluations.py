"""The Evaluations page in Chromium: every tab renders with its marking, a model comparison can be picked with the
real multiselect, and screenshots of each tab are saved for a person to look at."""

from __future__ import annotations

from tests.browser.conftest import sign_in

TIMEOUT = 120_000  # the page runs several queries and charts; a busy CI machine needs the margin


def _idle(page) -> None:
    """Wait until Streamlit has no run in progress. (The shared wait_idle also waits for every chart to be
    visible, which charts in the tabs not shown never are.)"""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT
    )
    page.wait_for_timeout(300)


def _open_evaluations(page, server) -> None:
    page.set_viewport_size({"width": 1400, "height": 2200})
    sign_in(page, server.url, "analyst@uk.example")
    page.get_by_test_id("stSidebarNav").get_by_text("Evaluations", exact=True).click()
    page.get_by_test_id("stMain").get_by_role("tab", name="Capability over time").wait_for(timeout=TIMEOUT)
    _idle(page)
    page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=TIMEOUT)


def test_evaluations_tabs_render_with_markings(page, server, shots) -> None:
    _open_evaluations(page, server)
    main = page.get_by_test_id("stMain")
    assert page.get_by_test_id("stException").count() == 0
    assert main.get_by_text("TLP:").count() >= 2
    chart = main.get_by_test_id("stPlotlyChart").first
    chart.locator(".main-svg").first.wait_for()
    assert "Cybench: capability by model release date" in chart.inner_text()
    page.screenshot(path=str(shots / "evaluations-capability-analyst-uk.png"))

    main.get_by_role("tab", name="UK–AU agreement").click()
    main.get_by_text("Run by both", exact=True).wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(shots / "evaluations-agreement-analyst-uk.png"))

    main.get_by_role("tab", name="Run detail").click()
    main.get_by_text("Per-sample scores", exact=True).wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(shots / "evaluations-run-detail-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0


def test_comparing_three_models_shows_paired_verdicts(page, server, shots) -> None:
    _open_evaluations(page, server)
    main = page.get_by_test_id("stMain")
    main.get_by_role("tab", name="Compare models").click()
    picker = main.get_by_test_id("stMultiSelect").first
    picker.wait_for(timeout=TIMEOUT)
    for model in ("Helix-2.1", "Fjord-2.2", "Basalt-2.1"):
        picker.click()
        picker.locator("input").fill(model)  # the option list is virtualised: type to bring it into view
        page.get_by_role("option", name=model, exact=False).first.click()
        _idle(page)
    page.keyboard.press("Escape")
    _idle(page)
    for model in ("Helix-2.1", "Fjord-2.2", "Basalt-2.1"):
        assert picker.locator(f'button[aria-label^="Remove {model} ("]').count() == 1
    main.get_by_text("Is the difference real?", exact=False).first.wait_for(timeout=TIMEOUT)
    assert main.get_by_text("McNemar exact").count() >= 1 or main.get_by_test_id("stDataFrame").count() >= 1
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(shots / "evaluations-compare-analyst-uk.png"))


def test_clicking_a_point_opens_that_run(page, server) -> None:
    _open_evaluations(page, server)
    main = page.get_by_test_id("stMain")
    run_picker = main.get_by_role("combobox", name="Run", exact=True)
    main.get_by_role("tab", name="Run detail").click()
    run_picker.wait_for(timeout=TIMEOUT)
    default_run = run_picker.input_value()
    assert " · " in default_run  # model · institute · status · date
    main.get_by_role("tab", name="Capability over time").click()
    points = main.get_by_test_id("stPlotlyChart").first.locator(".scatterlayer .trace .points path")
    assert points.count() > 5
    points.nth(5).click(force=True)
    _idle(page)
    main.get_by_text("Run selected").wait_for(timeout=TIMEOUT)
    main.get_by_role("tab", name="Run detail").click()
    run_picker.wait_for(timeout=TIMEOUT)
    assert " · " in run_picker.input_value()
    assert run_picker.input_value() != default_run
    assert page.get_by_test_id("stException").count() == 0
