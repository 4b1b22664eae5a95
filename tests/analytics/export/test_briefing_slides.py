"""The PowerPoint writer: open the deck and the single page slide and check what a reader would see."""

from __future__ import annotations

import io

import pytest
from pptx import Presentation

from analytics.export.briefing.content import BriefingChart, make_briefing
from analytics.export.briefing.markdown import to_markdown
from analytics.export.briefing.slides import one_slide, to_pptx
from tests.analytics.export.briefing_samples import AMBER_UK, GREEN, JUDGEMENTS, NOW, sample_briefing


def _slide_texts(slide) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


@pytest.mark.parametrize("draft", [False, True])
def test_pptx_slides_titles_judgements_pictures_marking_and_watermark(chart_png, draft: bool) -> None:
    b = sample_briefing(chart_png, draft=draft)
    prs = Presentation(io.BytesIO(to_pptx(b)))
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
    for n, slide in enumerate(slides, 1):
        names = {s.name: s for s in slide.shapes}
        number = {"Marking banner top": "", "Marking banner bottom": f"   ·   {n} / {len(slides)}"}
        for band in ("Marking banner top", "Marking banner bottom"):
            assert names[band].text_frame.text == (
                "TLP:AMBER   releasable to UK   ·   UK OFFICIAL · AU OFFICIAL" + number[band]
            )
            runs = names[band].text_frame.paragraphs[0].runs
            assert str(runs[0].font.color.rgb) == "FFC000"
        assert ("DRAFT watermark" in names) is draft
        if draft:
            assert names["DRAFT watermark"].text_frame.text == "DRAFT"
            assert list(slide.shapes)[-1].name == "DRAFT watermark", "on top of pictures and boxes"


def test_chart_pack_has_no_bottom_line_slide(chart_png) -> None:
    figures = [BriefingChart("Figure", chart_png, AMBER_UK)]
    b = make_briefing("Pack", charts=figures, now=NOW)
    prs = Presentation(io.BytesIO(to_pptx(b)))
    assert [s.shapes.title.text for s in prs.slides] == ["Pack", "Figure", "Sources"] and b.slide_count == 3
    assert "Bottom line" not in to_markdown(b)


def test_one_slide_combines_markings_of_every_chart(chart_png) -> None:
    green = BriefingChart("Overview", chart_png, GREEN)
    data, marking = one_slide("Overview", [green, BriefingChart("B", chart_png, AMBER_UK)], now=NOW)
    assert (marking.tlp, marking.releasable_to) == ("AMBER", ("UK",))
    prs = Presentation(io.BytesIO(data))
    (slide,) = prs.slides
    assert slide.shapes.title.text == "Overview"
    assert len([s for s in slide.shapes if s.shape_type == 13]) == 2
    assert {s.name for s in slide.shapes} >= {"Marking banner top", "Marking banner bottom"}
    assert "TLP:AMBER   releasable to UK" in _slide_texts(slide)
