"""The Word writer: open the document and check the marking in every header and footer and the draft watermark."""

from __future__ import annotations

import io

import pytest
from docx import Document

from analytics.export.briefing.docx_writer import to_docx
from tests.analytics.export.briefing_samples import JUDGEMENTS, sample_briefing


@pytest.mark.parametrize("draft", [False, True])
def test_docx_marking_in_every_header_and_footer_and_draft_watermark(chart_png, draft: bool) -> None:
    b = sample_briefing(chart_png, draft=draft)
    doc = Document(io.BytesIO(to_docx(b)))
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
