"""Protective markings beside TLP in every header and footer of every format, slide numbers, and named recipients
on a TLP:RED briefing; the protective marking is set per assessment and stored with each version."""

from __future__ import annotations

import io
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from analytics.access.markings import Marking
from analytics.assessments.model import AssessmentError
from analytics.assessments.workflow import create_assessment
from analytics.export.briefing.content import Briefing, protective_line
from analytics.export.briefing.docx_writer import to_docx
from analytics.export.briefing.markdown import to_markdown
from analytics.export.briefing.pdf import to_pdf
from analytics.export.briefing.slides import to_pptx
from tests.analytics.assessments.samples import INC, draft, get, judgement, ref
from tests.analytics.export.briefing_samples import sample_briefing
from tests.conftest import TODAY, UK_ANALYST

SENSITIVE = "UK OFFICIAL-SENSITIVE · AU OFFICIAL: Sensitive"


def _sensitive(chart_png: bytes, charts_n: int = 1) -> Briefing:
    return replace(
        sample_briefing(chart_png, draft=False, charts_n=charts_n), protective="OFFICIAL-SENSITIVE"
    )


def test_the_mapping_names_both_schemes() -> None:
    assert protective_line("OFFICIAL") == "UK OFFICIAL · AU OFFICIAL"
    assert protective_line("OFFICIAL-SENSITIVE") == SENSITIVE
    assert protective_line("PROTECTED").startswith("UK OFFICIAL-SENSITIVE")
    assert protective_line("PROTECTED").endswith("AU PROTECTED")


def test_pptx_every_slide_has_protective_marking_top_and_bottom_and_a_slide_number(chart_png) -> None:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(to_pptx(_sensitive(chart_png))))
    total = len(prs.slides)
    for n, slide in enumerate(prs.slides, 1):
        bands = {s.name: s.text_frame.text for s in slide.shapes if s.name.startswith("Marking banner")}
        assert SENSITIVE in bands["Marking banner top"] and SENSITIVE in bands["Marking banner bottom"]
        assert "TLP:AMBER" in bands["Marking banner top"]
        assert f"{n} / {total}" in bands["Marking banner bottom"]


def test_docx_header_and_footer_carry_tlp_and_protective_marking(chart_png) -> None:
    from docx import Document

    doc = Document(io.BytesIO(to_docx(_sensitive(chart_png))))
    for section in doc.sections:
        for part in (section.header, section.footer):
            text = "\n".join(p.text for p in part.paragraphs)
            assert SENSITIVE in text and "TLP:AMBER" in text


def test_pdf_every_page_has_protective_marking_twice_and_footers_of_8pt(chart_png, tmp_path: Path) -> None:
    path = tmp_path / "b.pdf"
    path.write_bytes(to_pdf(_sensitive(chart_png, charts_n=4)))
    pages = subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for text in pages:
        assert " ".join(text.split()).count(SENSITIVE) >= 2, text[:200]
    sizes = _font_sizes(path)
    assert sizes and min(sizes) >= 8


def _font_sizes(path: Path) -> list[float]:
    """Every font size the PDF's page content sets (the `Tf` operators of its inflated content streams)."""
    import re
    import zlib

    out: list[float] = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", path.read_bytes(), re.S):
        try:
            content = zlib.decompress(raw)
        except zlib.error:
            continue
        out += [float(x) for x in re.findall(rb"/F\d+ ([\d.]+) Tf", content)]
    return out


def test_markdown_first_and_last_lines_carry_both(chart_png) -> None:
    md = to_markdown(_sensitive(chart_png)).strip().splitlines()
    assert SENSITIVE in md[0] and SENSITIVE in md[-1]


@pytest.mark.parametrize("writer", ["pptx", "docx", "pdf", "md"])
def test_a_red_briefing_names_its_recipients_in_the_marking(chart_png, writer: str, tmp_path: Path) -> None:
    b = replace(
        sample_briefing(chart_png, draft=False, charts_n=0),
        marking=Marking("RED", ("UK",)),
        recipients=("lead@uk.example", "analyst@uk.example"),
    )
    if writer == "pptx":
        from pptx import Presentation

        prs = Presentation(io.BytesIO(to_pptx(b)))
        for slide in prs.slides:
            band = next(s for s in slide.shapes if s.name == "Marking banner top").text_frame.text
            assert "for lead@uk.example, analyst@uk.example only" in band
    elif writer == "docx":
        from docx import Document

        header = "\n".join(p.text for p in Document(io.BytesIO(to_docx(b))).sections[0].header.paragraphs)
        assert "for lead@uk.example, analyst@uk.example only" in header
    elif writer == "pdf":
        path = tmp_path / "r.pdf"
        path.write_bytes(to_pdf(b))
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
        assert "lead@uk.example, analyst@uk.example" in " ".join(text.split())
    else:
        assert "for lead@uk.example, analyst@uk.example only" in to_markdown(b).splitlines()[0]


def test_protective_marking_is_stored_per_assessment_version(store) -> None:
    inc = store.incident()
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(judgement(evidence=(ref(INC, inc),)), protective="OFFICIAL-SENSITIVE"),
        today=TODAY,
    )
    assert get(store, UK_ANALYST, aid).protective == "OFFICIAL-SENSITIVE"
    with pytest.raises(AssessmentError, match="protective marking"):
        create_assessment(store.store, UK_ANALYST, draft(judgement(), protective="SECRET"), today=TODAY)
