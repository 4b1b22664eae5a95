"""The Run detail tab's sample reading in Chromium (pages/parts/eval_run_detail.py): the open sample sits beside
the list, and "Read full width" opens the sample in a dialog, which only a browser shows. Screenshots are saved
for a person to look at."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import BUSY, rerun, sign_in


def _open_run_detail(page: Any, server: Any) -> Any:
    page.set_viewport_size({"width": 1500, "height": 1400})
    sign_in(page, server.url, "analyst@uk.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Evaluations", exact=True).click()
    main = page.get_by_test_id("stMain")
    main.get_by_role("tab", name="Capability over time", selected=True).wait_for(timeout=BUSY)
    with rerun(page):
        main.get_by_role("tab", name="Run detail").click()
    main.get_by_role("tab", name="Run detail", selected=True).wait_for(timeout=BUSY)
    main.get_by_text("Open sample", exact=True).wait_for(timeout=BUSY)
    return main


def test_a_sample_opens_beside_the_list_and_full_width(page, server, shots) -> None:
    main = _open_run_detail(page, server)
    main.get_by_text("Sample s00000 · epoch 1", exact=True).first.wait_for(timeout=BUSY)
    main.get_by_text("Sample s00000 · epoch 1", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "evaluations-run-detail-sample-analyst-uk.png"))
    # The open sample is beside the list, not below it: right of the list's "Open sample" picker, and above it.
    picker = main.get_by_text("Open sample", exact=True).first.bounding_box()
    opened = main.get_by_text("Sample s00000 · epoch 1", exact=True).first.bounding_box()
    assert picker is not None and opened is not None
    assert opened["x"] > picker["x"] + 300 and opened["y"] < picker["y"]
    with rerun(page):
        main.get_by_role("button", name="Read full width").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Sample s00000 · epoch 1", exact=True).wait_for(timeout=BUSY)
    dialog.get_by_role("tab", name="Transcript").click()
    dialog.get_by_text("Assistant", exact=False).first.wait_for(timeout=BUSY)
    assert dialog.get_by_text("TLP:", exact=False).count() >= 1
    page.screenshot(path=str(shots / "evaluations-run-detail-sample-dialog-analyst-uk.png"))
    assert page.get_by_test_id("stException").count() == 0
