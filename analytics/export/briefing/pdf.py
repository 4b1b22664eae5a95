"""The PDF writer: a Briefing as A4 portrait pages, with fpdf2 (imported inside the functions, so a page that
never writes a PDF does not pay for it).

Marking bands top and bottom on every page (drawn in the page header and footer, so a page break cannot lose
them); drafts get a translucent DRAFT drawn last on each page, over charts too. DejaVu fonts, because stored
text may hold characters the core PDF fonts (Latin-1) cannot show.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from analytics.access.markings import TLP_COLOURS, TLP_MEANING
from analytics.export.briefing.content import (
    WATERMARK,
    Briefing,
    band_text,
    generated_when,
    protective_line,
    rgb,
    subtitle_line,
)

_PDF_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Left-aligned, and every block starts again at the left margin (fpdf2 otherwise continues at the right edge).
_ML: dict[str, Any] = {"align": "L", "new_x": "LMARGIN", "new_y": "NEXT"}


def to_pdf(b: Briefing) -> bytes:
    """A4 portrait, from the same content; bands top and bottom on every page, DRAFT across drafts."""
    pdf = _marked_pdf(b)
    pdf.set_title(b.title)
    pdf.set_subject(b.marking.label)
    pdf.set_keywords(f"TLP:{b.marking.tlp}" + (f" {WATERMARK}" if b.draft else ""))
    pdf.set_creator("UK–AU AI threat dashboard")
    _pdf_fonts(pdf)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=_BAND_H + 12)
    pdf.add_page()
    _front_matter(pdf, b)
    if b.question:
        _heading(pdf, "Question")
        _para(pdf, b.question)
    if b.has_bottom_line:
        _heading(pdf, "Bottom line")
        _para(pdf, b.bottom_line or "(no bottom line given)")
    _judgements(pdf, b)
    for sec in b.sections:
        _heading(pdf, sec.title)
        for item in sec.items or ("(none recorded)",):
            _para(pdf, f"•  {item}", size=10)
    _charts(pdf, b)
    _heading(pdf, "Sources")
    for s in b.sources or ("(no sources recorded)",):
        _para(pdf, f"•  {s}", size=10)
    return bytes(pdf.output())


def _marked_pdf(b: Briefing) -> Any:
    """An A4 document whose every page draws the marking bands, the footer line and (drafts) the watermark."""
    from fpdf import FPDF

    class _PDF(FPDF):
        def header(self) -> None:
            _pdf_band(self, b, 0)

        def footer(self) -> None:
            _pdf_band(self, b, self.h - _BAND_H)
            self.set_y(-(_BAND_H + 6))
            self.set_font("Sans", size=8)
            self.set_text_color(90, 90, 90)
            draft = f"{WATERMARK}, not approved · " if b.draft else ""
            line = f"{draft}{b.title[:90]} · generated {generated_when(b)} · page {self.page_no()}/{{nb}}"
            self.cell(0, 5, line, align="C")
            if b.draft:
                # Drawn last on the page, so over charts too, but translucent.
                with self.local_context(fill_opacity=0.18, text_color=(192, 0, 0)):
                    self.set_font("Sans", "B", 110)
                    with self.rotation(angle=35, x=self.w / 2, y=self.h / 2):
                        width = self.get_string_width(WATERMARK)
                        self.text(self.w / 2 - width / 2, self.h / 2 + 15, WATERMARK)

    return _PDF(orientation="P", unit="mm", format="A4")


def _width(pdf: Any) -> float:
    return float(pdf.w - pdf.l_margin - pdf.r_margin)


def _front_matter(pdf: Any, b: Briefing) -> None:
    """Title, subtitle and the handling line with what the TLP level means."""
    pdf.set_font("Sans", "B", 20)
    pdf.set_text_color(20, 20, 20)
    pdf.multi_cell(_width(pdf), 9, b.title, **_ML)
    pdf.ln(1)
    pdf.set_font("Sans", "", 10)
    pdf.set_text_color(70, 70, 70)
    pdf.multi_cell(_width(pdf), 5, subtitle_line(b), **_ML)
    pdf.ln(2)
    pdf.set_font("Sans", "B", 10)
    pdf.set_text_color(20, 20, 20)
    handling = f"Handling: TLP:{b.marking.tlp}, {band_text(b)}; {protective_line(b.protective)}."
    pdf.multi_cell(_width(pdf), 5, handling, **_ML)
    pdf.set_font("Sans", "", 10)
    pdf.multi_cell(_width(pdf), 5, TLP_MEANING[b.marking.tlp], **_ML)


def _heading(pdf: Any, text: str) -> None:
    pdf.ln(4)
    pdf.set_font("Sans", "B", 14)
    pdf.set_text_color(29, 59, 111)
    pdf.multi_cell(_width(pdf), 7, text, **_ML)
    pdf.set_text_color(20, 20, 20)
    pdf.ln(1)


def _para(pdf: Any, text: str, size: float = 11, style: str = "", indent: float = 0) -> None:
    pdf.set_font("Sans", style, size)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(_width(pdf) - indent, size * 0.5, text, **_ML)
    pdf.ln(1)


def _judgements(pdf: Any, b: Briefing) -> None:
    if not b.judgements:
        return
    _heading(pdf, "Key judgements")
    for j in b.judgements:
        with pdf.unbreakable():  # a judgement is never split across pages
            _para(pdf, f"{j.number}. {j.statement}")
            pdf.set_text_color(29, 59, 111)
            estimate = f"Yardstick: {j.term_text} · Confidence: {j.confidence_text}"
            _para(pdf, estimate, size=10, style="B", indent=5)
            pdf.set_text_color(20, 20, 20)
            if j.reasoning:
                pdf.set_text_color(70, 70, 70)
                _para(pdf, j.reasoning, size=9, indent=5)
                pdf.set_text_color(20, 20, 20)


def _charts(pdf: Any, b: Briefing) -> None:
    """Each chart's print image centred, on a new page when it would not fit, with its caption and marking."""
    from PIL import Image

    for n, c in enumerate(b.charts, 1):
        with Image.open(io.BytesIO(c.document_png)) as im:
            w = min(_width(pdf), 150.0)
            h = w * im.size[1] / im.size[0]
        if pdf.get_y() + h + 16 > pdf.h - _BAND_H - 12:
            pdf.add_page()
        if n == 1:
            _heading(pdf, "Charts")
        pdf.image(io.BytesIO(c.document_png), x=(pdf.w - w) / 2, w=w, h=h, alt_text=c.alt_text)
        pdf.ln(1)
        caption = (
            f"Figure {n}: {c.title}" + (f" — {c.caption}" if c.caption else "") + f" ({c.marking.label})"
        )
        _para(pdf, caption, size=9)


def _pdf_fonts(pdf: Any) -> None:
    # DejaVu covers the dashes, dots and non-Latin names stored text may hold; the core PDF fonts are Latin-1.
    pdf.add_font("Sans", "", str(_PDF_FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("Sans", "B", str(_PDF_FONT_DIR / "DejaVuSans-Bold.ttf"))


_BAND_H = 13.0  # mm: two lines, TLP and releasability over the protective marking


def _pdf_band(pdf: Any, b: Briefing, y: float) -> None:
    """A black band: 'TLP:X  releasable to … (RED: for … only)' over both schemes' protective marking."""
    m = b.marking
    bg, fg = TLP_COLOURS[m.tlp]
    pdf.set_fill_color(*rgb(bg))
    pdf.rect(0, y, pdf.w, _BAND_H, style="F")
    label, rest = f"TLP:{m.tlp}", f"   {band_text(b)}"
    size = 10.0
    while size > 8:  # long recipient lists shrink the line, never below 8 pt
        pdf.set_font("Sans", "B", size)
        w1 = pdf.get_string_width(label)
        pdf.set_font("Sans", "", size)
        w2 = pdf.get_string_width(rest)
        if w1 + w2 <= pdf.w - 10:
            break
        size -= 0.5
    x = max((pdf.w - w1 - w2) / 2, 5)
    pdf.set_font("Sans", "B", size)
    pdf.set_text_color(*rgb(fg))
    pdf.text(x, y + 5.2, label)
    pdf.set_font("Sans", "", size)
    pdf.set_text_color(255, 255, 255)
    pdf.text(x + w1, y + 5.2, rest)
    pdf.set_font("Sans", "B", 9)
    prot = protective_line(b.protective)
    pdf.text((pdf.w - pdf.get_string_width(prot)) / 2, y + 10.5, prot)
    pdf.set_text_color(20, 20, 20)
    if y == 0:
        pdf.set_y(_BAND_H + 6)
