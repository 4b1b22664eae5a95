"""Real downloads in Chromium: chart PNG/SVG from the overview, every briefing format, and the page slide."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

from docx import Document
from PIL import Image
from pptx import Presentation

from tests.browser.conftest import BUSY, rerun, sign_in, wait_idle


def _download(page, button) -> tuple[str, bytes]:
    with page.expect_download(timeout=BUSY) as info:
        button.click()
    d = info.value
    return d.suggested_filename, open(d.path(), "rb").read()


def test_overview_chart_downloads_png_and_svg(page, server, shots) -> None:
    sign_in(page, server.url, "analyst@uk.example")
    main = page.get_by_test_id("stMain")
    main.get_by_role("button", name="Export chart").first.click()
    popover = page.get_by_test_id("stPopoverBody")
    popover.get_by_text("A4 half page").click()
    wait_idle(page)
    page.screenshot(path=str(shots / "briefings-chart-export-popover.png"))
    name, png = _download(page, popover.get_by_role("button", name="PNG"))
    assert name.endswith("_incidents-by-category-and-reporting-institute_TLP-RED_REL-UK.png"), name
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (1920, 1440)
    assert img.getpixel((3, 3)) == (0, 0, 0)
    (shots / "briefings-chart-export.png").write_bytes(png)
    name, svg = _download(page, popover.get_by_role("button", name="SVG"))
    assert name.endswith(".svg")
    root = ET.fromstring(svg)
    assert root.get("width") == "960"
    assert "TLP:RED" in "".join(root.itertext())


def test_briefing_page_downloads_every_format(page, server, shots) -> None:
    sign_in(page, server.url, "lead@au.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Briefings", exact=True).click()
    main = page.get_by_test_id("stMain")
    main.get_by_label("Title").fill("Weekly AI threat pack")
    with rerun(page):
        main.get_by_label("Title").press("Enter")
    # add a second chart, then move it to the top
    main.get_by_test_id("stMultiSelect").locator("input").click()
    with rerun(page):
        page.get_by_role(
            "option", name="Incidents per month by reporting institute — current filters"
        ).click()
    page.keyboard.press("Escape")
    with rerun(page):
        main.locator(".st-key-brf_up_1 button").first.click()
    page.screenshot(path=str(shots / "briefings-builder-lead-au.png"))
    files = {}
    for label in ("PowerPoint (16:9)", "Word", "PDF", "Markdown"):
        files[label] = _download(page, main.get_by_role("button", name=label))
    name, pptx = files["PowerPoint (16:9)"]
    assert name.endswith("_weekly-ai-threat-pack_TLP-RED_REL-AU.pptx"), name
    prs = Presentation(io.BytesIO(pptx))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == [
        "Weekly AI threat pack",
        "Incidents per month by reporting institute",  # PowerPoint's own editable chart (issue 18)
        "Incidents per month by reporting institute (image)",  # then the marked image
        "Incidents by category and reporting institute",
        "Incidents by category and reporting institute (image)",
        "Sources",
    ]
    name, docx = files["Word"]
    doc = Document(io.BytesIO(docx))
    assert "TLP:RED" in doc.sections[0].header.paragraphs[0].text
    assert len(doc.inline_shapes) == 2
    name, pdf = files["PDF"]
    assert pdf.startswith(b"%PDF") and name.endswith(".pdf")
    (shots / "briefings-download.pdf").write_bytes(pdf)
    name, md = files["Markdown"]
    assert md.decode().startswith("**TLP:RED** · releasable to AU")
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        assert "word/header1.xml" in z.namelist()
    # the page-to-slide button in the preview
    main.get_by_text("Preview the charts").click()
    wait_idle(page)
    page.screenshot(path=str(shots / "briefings-preview-lead-au.png"))
    wait_idle(page)
    name, slide = _download(page, main.get_by_role("button", name="Page to slide"))
    assert name.startswith("2026-") and "_slide-weekly-ai-threat-pack_" in name
    (one,) = Presentation(io.BytesIO(slide)).slides
    assert len([s for s in one.shapes if s.shape_type == 13]) == 2


def test_policymaker_builds_from_summary_charts_only(page, server, shots) -> None:
    sign_in(page, server.url, "policy@uk.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Briefings", exact=True).click()
    main = page.get_by_test_id("stMain")
    page.screenshot(path=str(shots / "briefings-policy-uk.png"))
    name, md = _download(page, main.get_by_role("button", name="Markdown"))
    assert name.endswith(".md") and md.decode().startswith("**TLP:")
