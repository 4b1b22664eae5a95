"""Briefing writers: open the PPTX, DOCX, PDF and Markdown they produce and check what a reader would see."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from docx import Document
from pptx import Presentation

from analytics import charts
from analytics.access.markings import Marking
from analytics.export import chart_image as chart_export
from analytics.export.briefing import content as briefing
from analytics.filters import Filters
from analytics.incidents import queries as incidents
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
GREEN = Marking("GREEN", ("AU", "UK"))
AMBER_UK = Marking("AMBER", ("UK",), 3, ("aiid", "institute"))

JUDGEMENTS = (
    briefing.KeyJudgement(
        1,
        "State actors will automate intrusion with agentic systems.",
        "likely",
        "moderate",
        "likely (55–75%)",
        "Three confirmed incidents since June.",
    ),
    briefing.KeyJudgement(
        2,
        "Open-weight models will match frontier cyber scores within a year.",
        "realistic possibility",
        "low",
        "realistic possibility (40–50%)",
    ),
)


@pytest.fixture(scope="module")
def chart_png() -> bytes:
    import pandas as pd

    df = pd.DataFrame(
        {"originator": ["UK", "AU"], "category": ["Jailbreak", "Jailbreak"], "incidents": [5, 3]}
    )
    fig = charts.counts_by_originator_and_category(df)
    prov = chart_export.provenance_for(
        UK_ANALYST, AMBER_UK, filters=Filters(), today=TODAY, as_of=None, now=NOW
    )
    return chart_export.export_chart(fig, AMBER_UK, prov, "png", "slide")


def _briefing(chart_png: bytes, *, draft: bool, charts_n: int = 2) -> briefing.Briefing:
    figures = [
        briefing.BriefingChart(f"Figure title {k}", chart_png, AMBER_UK, "all dates") for k in range(charts_n)
    ]
    return briefing.make_briefing(
        "Agentic AI and cyber intrusion",
        bottom_line="It is likely that state actors will automate intrusion within 12 months.",
        judgements=JUDGEMENTS,
        charts=figures,
        sources=["Assessment A-7 version 3"],
        base_marking=GREEN,
        draft=draft,
        status="Draft · version 3" if draft else "Approved · version 3",
        prepared_by="Priya Shah (analyst@uk.example)",
        now=NOW,
    )


def _slide_texts(slide) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def test_marking_combines_assessment_and_charts_and_credits_sources(chart_png) -> None:
    b = _briefing(chart_png, draft=False)
    assert (b.marking.tlp, b.marking.releasable_to) == ("AMBER", ("UK",))
    assert b.sources == (
        "Assessment A-7 version 3",
        "AI Incident Database, CC BY-SA 4.0",
        "Records in the joint UK–AU AI threat dashboard, drawn under the filters each figure names",
    )
    assert (
        briefing.briefing_filename(b, "pptx")
        == "2026-11-20_agentic-ai-and-cyber-intrusion_TLP-AMBER_REL-UK.pptx"
    )
    assert briefing.briefing_filename(_briefing(chart_png, draft=True), "docx") == (
        "2026-11-20_draft-agentic-ai-and-cyber-intrusion_TLP-AMBER_REL-UK.docx"
    )


@pytest.mark.parametrize("draft", [False, True])
def test_pptx_slides_titles_judgements_pictures_marking_and_watermark(chart_png, draft: bool) -> None:
    b = _briefing(chart_png, draft=draft)
    prs = Presentation(io.BytesIO(briefing.to_pptx(b)))
    assert round(prs.slide_width / prs.slide_height, 3) == round(16 / 9, 3)
    slides = list(prs.slides)
    assert len(slides) == b.slide_count == 7
    assert [s.shapes.title.text for s in slides] == [
        "Agentic AI and cyber intrusion",
        "Bottom line",
        "Key judgement 1",
        "Key judgement 2",
        "Figure title 0",
        "Figure title 1",
        "Sources",
    ]
    assert "TLP:AMBER · releasable to UK" in _slide_texts(slides[0])
    assert "It is likely that state actors" in _slide_texts(slides[1])
    for slide, j in zip(slides[2:4], JUDGEMENTS, strict=True):
        text = _slide_texts(slide)
        assert j.statement in text
        assert f"Yardstick: {j.term_label}" in text and f"Confidence: {j.confidence}" in text
    pictures = [[s for s in slide.shapes if s.shape_type == 13] for slide in slides]
    assert [len(p) for p in pictures] == [0, 0, 0, 0, 1, 1, 0]
    assert "AI Incident Database, CC BY-SA 4.0" in _slide_texts(slides[6])
    for slide in slides:
        names = {s.name: s for s in slide.shapes}
        for band in ("Marking banner top", "Marking banner bottom"):
            assert names[band].text_frame.text == "TLP:AMBER   releasable to UK"
            runs = names[band].text_frame.paragraphs[0].runs
            assert str(runs[0].font.color.rgb) == "FFC000"
        assert ("DRAFT watermark" in names) is draft
        if draft:
            assert names["DRAFT watermark"].text_frame.text == "DRAFT"
            assert list(slide.shapes)[-1].name == "DRAFT watermark", "on top of pictures and boxes"


@pytest.mark.parametrize("draft", [False, True])
def test_docx_marking_in_every_header_and_footer_and_draft_watermark(chart_png, draft: bool) -> None:
    b = _briefing(chart_png, draft=draft)
    doc = Document(io.BytesIO(briefing.to_docx(b)))
    assert doc.core_properties.title == "Agentic AI and cyber intrusion"
    for section in doc.sections:
        assert not section.different_first_page_header_footer
        for part in (section.header, section.footer):
            text = "\n".join(p.text for p in part.paragraphs)
            assert "TLP:AMBER" in text and "releasable to UK" in text
            assert ("DRAFT" in text) is draft
        header_xml = section.header._element.xml
        assert ('string="DRAFT"' in header_xml) is draft
    body = "\n".join(p.text for p in doc.paragraphs)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings == [
        "Agentic AI and cyber intrusion",
        "Bottom line",
        "Key judgements",
        "Charts",
        "Sources",
    ]
    for j in JUDGEMENTS:
        assert f"{j.number}. {j.statement}" in body
        assert f"Yardstick: {j.term_label} · Confidence: {j.confidence}" in body
    assert len(doc.inline_shapes) == 2
    assert "Figure 1: Figure title 0 — all dates (TLP:AMBER · releasable to UK)" in body


def _pdf_pages(tmp_path: Path, pdf: bytes) -> list[str]:
    path = tmp_path / "b.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True)
    return [p for p in out.stdout.split("\f") if p.strip()]


@pytest.mark.parametrize("draft", [False, True])
def test_pdf_every_page_marked_and_draft_watermarked(chart_png, tmp_path, draft: bool) -> None:
    b = _briefing(chart_png, draft=draft, charts_n=3)
    pages = _pdf_pages(tmp_path, briefing.to_pdf(b))
    assert len(pages) >= 2
    for page in pages:
        assert page.count("TLP:AMBER") >= 2, "banner at the top and the bottom of every page"
        # the watermark itself, and the footer line
        assert page.count("DRAFT") == (2 if draft else 0)
    text = "\n".join(pages)
    for j in JUDGEMENTS:
        assert j.statement in " ".join(text.split())
    # pdftoppm renders it (the test suite leaves the PNGs for a person to look at)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(tmp_path / "b.pdf"), str(tmp_path / "page")], check=True
    )
    assert len(list(tmp_path.glob("page-*.png"))) == len(pages)


def test_markdown_carries_marking_judgements_and_draft_notice(chart_png) -> None:
    md = briefing.to_markdown(_briefing(chart_png, draft=True))
    lines = md.splitlines()
    assert lines[0] == "**TLP:AMBER** · releasable to UK" and lines[-1] == "**TLP:AMBER** · releasable to UK"
    assert "> **DRAFT** — not approved" in md
    assert "   *Yardstick:* **likely (55–75%)** · *Confidence:* **moderate**" in lines
    assert "- AI Incident Database, CC BY-SA 4.0" in lines
    assert "DRAFT" not in briefing.to_markdown(_briefing(chart_png, draft=False))


def test_chart_pack_has_no_bottom_line_slide(chart_png) -> None:
    figures = [briefing.BriefingChart("Figure", chart_png, AMBER_UK)]
    b = briefing.make_briefing("Pack", charts=figures, now=NOW)
    prs = Presentation(io.BytesIO(briefing.to_pptx(b)))
    assert [s.shapes.title.text for s in prs.slides] == ["Pack", "Figure", "Sources"] and b.slide_count == 3
    assert "Bottom line" not in briefing.to_markdown(b)


def test_render_refuses_unknown_format(chart_png) -> None:
    with pytest.raises(ValueError, match="unknown briefing format"):
        briefing.render(_briefing(chart_png, draft=False), "odp")


def test_one_slide_combines_markings_of_every_chart(chart_png) -> None:
    green = briefing.BriefingChart("Overview", chart_png, GREEN)
    data, marking = briefing.one_slide(
        "Overview", [green, briefing.BriefingChart("B", chart_png, AMBER_UK)], now=NOW
    )
    assert (marking.tlp, marking.releasable_to) == ("AMBER", ("UK",))
    prs = Presentation(io.BytesIO(data))
    (slide,) = prs.slides
    assert slide.shapes.title.text == "Overview"
    assert len([s for s in slide.shapes if s.shape_type == 13]) == 2
    assert {s.name for s in slide.shapes} >= {"Marking banner top", "Marking banner bottom"}
    assert "TLP:AMBER   releasable to UK" in _slide_texts(slide)


def test_briefing_chart_for_a_viewer_never_holds_records_they_may_not_see(store) -> None:
    store.incident(category="Model theft", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK"])
    store.incident(category="Jailbreak", originator="AU")
    scoped = incidents.counts_by_originator_and_category(store.cursor(), AU_ANALYST, Filters(), TODAY)
    fig = charts.counts_by_originator_and_category(scoped.data)
    prov = chart_export.provenance_for(AU_ANALYST, scoped.marking, filters=Filters(), today=TODAY, as_of=None)
    c = briefing.briefing_chart(fig, scoped.marking, prov)
    b = briefing.make_briefing("Pack", charts=[c], now=NOW)
    assert (b.marking.tlp, b.marking.releasable_to) == ("GREEN", ("AU", "UK"))
    assert "Model theft" not in briefing.to_markdown(b)
    assert "Model theft" not in str(fig.to_dict())
    assert c.print_png and c.print_png != c.png
    assert date.fromisoformat(briefing.briefing_filename(b, "md")[:10]) == NOW.date()
