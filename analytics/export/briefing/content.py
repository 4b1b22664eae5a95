"""Briefings: one content model, four writers (PPTX 16:9, DOCX, PDF, Markdown) that officials actually read.

A `Briefing` is what goes to the reader: a title, the marking of everything in it, whether it is a draft, the
bottom line, numbered key judgements (each with its yardstick term and confidence), chart images, and the
sources it credits. Pages build one from an assessment (see `from_assessment`) and chart images rendered by
analytics.export.chart_image; the writers only lay it out, so the four formats always say the same thing.

Rules every writer keeps:
- the marking (highest TLP, narrowest releasability of the assessment and every chart; `make_briefing` combines
  them) is on every slide and in every page header and footer, with the TLP label in its FIRST colour on black;
- a draft is watermarked DRAFT on every slide and page, and says so in its file name;
- file names carry the date, the title and the marking (`briefing_filename`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.access.markings import TLP_COLOURS, TLP_MEANING, Marking, combine_markings
from analytics.export.chart_image import (
    Provenance,
    export_chart,
    export_filename,
    figure_title,
    source_credits,
)

FORMATS: dict[str, str] = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "md": "text/markdown",
}
FORMAT_LABELS: dict[str, str] = {
    "pptx": "PowerPoint (16:9)",
    "docx": "Word",
    "pdf": "PDF",
    "md": "Markdown",
}
WATERMARK = "DRAFT"


@dataclass(frozen=True)
class KeyJudgement:
    number: int
    statement: str
    term: str | None = None  # PHIA yardstick term, e.g. "likely"
    confidence: str | None = None  # high / moderate / low
    term_label: str = ""  # the term with its band, e.g. "likely (55–75%)"; falls back to the term
    reasoning: str = ""

    @property
    def estimate(self) -> str:
        term = self.term_label or self.term or "no probability term"
        conf = f"{self.confidence} confidence" if self.confidence else "no confidence level"
        return f"{term} · {conf}"


@dataclass(frozen=True)
class BriefingChart:
    """A chart image ready for a briefing (rendered with banner and footer by analytics.export.chart_image)."""

    title: str
    png: bytes  # 16:9, for slides
    marking: Marking
    caption: str = ""  # e.g. the filters in words
    print_png: bytes | None = None  # A4 half-page shape, for documents; the slide image when absent

    @property
    def document_png(self) -> bytes:
        return self.print_png or self.png


def briefing_chart(fig: Any, marking: Marking, provenance: Provenance, caption: str = "") -> BriefingChart:
    """Render a figure for a briefing: a 16:9 image for slides and an A4 half-page one for documents."""
    return BriefingChart(
        title=figure_title(fig),
        png=export_chart(fig, marking, provenance, "png", "slide"),
        marking=marking,
        caption=caption,
        print_png=export_chart(fig, marking, provenance, "png", "a4half"),
    )


@dataclass(frozen=True)
class Briefing:
    title: str
    marking: Marking
    draft: bool
    bottom_line: str
    judgements: tuple[KeyJudgement, ...] = ()
    charts: tuple[BriefingChart, ...] = ()
    sources: tuple[str, ...] = ()
    status: str = ""  # e.g. "Approved", "Draft", "In review"
    question: str = ""
    prepared_by: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def has_bottom_line(self) -> bool:
        """A chart pack has no bottom line; anything from an assessment has one (flagged when missing)."""
        return bool(self.bottom_line or self.question or self.judgements)

    @property
    def slide_count(self) -> int:
        """Title, bottom line (unless a chart pack), one per judgement, one per chart, sources."""
        return 2 + int(self.has_bottom_line) + len(self.judgements) + len(self.charts)


def make_briefing(
    title: str,
    *,
    bottom_line: str = "",
    judgements: Sequence[KeyJudgement] = (),
    charts: Sequence[BriefingChart] = (),
    sources: Iterable[str] = (),
    base_marking: Marking | None = None,
    draft: bool = False,
    status: str = "",
    question: str = "",
    prepared_by: str = "",
    now: datetime | None = None,
) -> Briefing:
    """A briefing whose marking combines the assessment's (`base_marking`) and every chart's, and whose
    sources add the licence credits those markings call for."""
    marking = combine_markings([base_marking or Marking(), *(c.marking for c in charts)])
    credits = source_credits(marking)
    return Briefing(
        title=title.strip() or "Untitled briefing",
        marking=marking,
        draft=draft,
        bottom_line=bottom_line.strip(),
        judgements=tuple(judgements),
        charts=tuple(charts),
        sources=tuple(
            dict.fromkeys([*(s for s in sources if s.strip()), *credits, *_records_credit(charts)])
        ),
        status=status or ("Draft" if draft else ""),
        question=question.strip(),
        prepared_by=prepared_by,
        generated_at=now or datetime.now(UTC),
    )


def _records_credit(charts: Sequence[BriefingChart]) -> list[str]:
    if not charts:
        return []
    return ["Records in the joint UK–AU AI threat dashboard, drawn under the filters each figure names"]


def from_assessment(
    a: Any,
    *,
    charts: Sequence[BriefingChart] = (),
    prepared_by: str = "",
    now: datetime | None = None,
    extra_sources: Iterable[str] = (),
) -> Briefing:
    """A briefing from an analytics.assessments.workflow.Assessment (the read API's object).

    Duck-typed on purpose: this module stays free of the assessment workflow, and the adapter reads only the
    fields a reader sees. Anything that is not the approved text is a draft and is watermarked.
    """
    draft = not bool(getattr(a, "is_approved_text", False))
    judgements = []
    for j in a.judgements:
        band = getattr(j, "band", None)
        judgements.append(
            KeyJudgement(
                number=int(j.number),
                statement=str(j.statement),
                term=j.term,
                confidence=j.confidence,
                term_label=str(band.label) if band is not None else "",
                reasoning=str(getattr(j, "reasoning", "") or ""),
            )
        )
    version = f"version {a.version}"
    status = f"{a.status_label} · {version}" if hasattr(a, "status_label") else version
    sources = [f"Assessment A-{a.id} {version} ({len(a.evidence())} evidence items)"]
    return make_briefing(
        a.title,
        bottom_line=a.bluf or "(no bottom line yet)",
        judgements=judgements,
        charts=charts,
        sources=[*sources, *extra_sources],
        base_marking=a.marking,
        draft=draft,
        status=status,
        question=a.question,
        prepared_by=prepared_by,
        now=now,
    )


def briefing_filename(b: Briefing, ext: str) -> str:
    """'2026-11-20_cyber-uplift_TLP-AMBER_REL-AU-UK.pptx'; drafts say DRAFT after the date."""
    title = f"DRAFT {b.title}" if b.draft else b.title
    return export_filename(title, b.marking, ext, b.generated_at)


def _when(b: Briefing) -> str:
    g = b.generated_at
    if g.tzinfo is not None:
        return g.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return g.strftime("%Y-%m-%d %H:%M")


def _subtitle(b: Briefing) -> str:
    bits = ["Joint UK–AU AI threat briefing"]
    if b.status:
        bits.append(b.status)
    bits.append(f"generated {_when(b)}" + (f" by {b.prepared_by}" if b.prepared_by else ""))
    return " · ".join(bits)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _rel(m: Marking) -> str:
    return " and ".join(m.releasable_to) if m.releasable_to else "nobody"


# -- PowerPoint ----------------------------------------------------------------------------------------------------


def to_pptx(b: Briefing) -> bytes:
    """16:9 deck: title, bottom line, one slide per key judgement, one per chart, sources."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    prs.core_properties.title = b.title
    prs.core_properties.subject = b.marking.label
    prs.core_properties.keywords = f"TLP:{b.marking.tlp}" + (f"; {WATERMARK}" if b.draft else "")

    # A tall title box anchored at its foot: two-line titles grow upwards, never into the subtitle.
    s = _slide(prs, b, b.title, title_size=36, title_top=1.2, title_height=2.0)
    _text(s, _subtitle(b), 0.8, 3.35, 11.7, 0.8, size=18, colour="#404040")
    handling = f"TLP:{b.marking.tlp} · releasable to {_rel(b.marking)}"
    _text(s, handling, 0.8, 4.5, 11.7, 0.5, size=20, bold=True)
    _text(s, TLP_MEANING[b.marking.tlp], 0.8, 5.05, 11.7, 0.5, size=14, colour="#404040")

    if b.has_bottom_line:
        s = _slide(prs, b, "Bottom line")
        if b.question:
            _text(s, f"Question: {b.question}", 0.8, 1.55, 11.7, 0.7, size=16, colour="#404040", italic=True)
        text = b.bottom_line or "(no bottom line given)"
        _text(s, text, 0.8, 2.3, 11.7, 4.2, size=_fit(b.bottom_line, 26))

    for j in b.judgements:
        s = _slide(prs, b, f"Key judgement {j.number}")
        _text(s, j.statement, 0.8, 1.6, 11.7, 2.9, size=_fit(j.statement, 26))
        _estimate_box(s, j)
        if j.reasoning:
            _text(s, j.reasoning, 0.8, 5.45, 11.7, 1.1, size=_fit(j.reasoning, 14, 4), colour="#404040")

    for n, c in enumerate(b.charts, 1):
        s = _slide(prs, b, c.title or f"Figure {n}")
        _picture(s, c.png, top=1.45, max_w=12.3, max_h=5.35)

    s = _slide(prs, b, "Sources")
    lines = list(b.sources) or ["(no sources recorded)"]
    lines.append(f"Prepared {_when(b)}" + (f" by {b.prepared_by}" if b.prepared_by else ""))
    _bullets(s, lines, 0.8, 1.6, 11.7, 5.0, size=18)

    if b.draft:
        # Last on every slide, so no picture or box can cover it (it is translucent).
        for slide in prs.slides:
            _watermark(slide)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def _fit(text: str, size: int, lines_budget: int = 6) -> int:
    """A font size that keeps long text inside its box (python-pptx cannot measure; this errs on small)."""
    n = len(text or "")
    for limit, pt in ((160, size), (320, size - 4), (520, size - 8), (800, size - 11)):
        if n <= limit * lines_budget / 6:
            return max(pt, 10)
    return max(size - 13, 10)


def _slide(
    prs: Any,
    b: Briefing,
    title: str,
    *,
    title_size: int = 30,
    title_top: float = 0.6,
    title_height: float = 0.9,
) -> Any:
    from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
    from pptx.util import Inches, Pt

    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only": keeps a real title placeholder
    t = slide.shapes.title
    t.left, t.top, t.width, t.height = Inches(0.8), Inches(title_top), Inches(11.7), Inches(title_height)
    t.text_frame.text = title
    t.text_frame.word_wrap = True
    t.text_frame.vertical_anchor = MSO_ANCHOR.BOTTOM if title_height > 1 else MSO_ANCHOR.MIDDLE
    p = t.text_frame.paragraphs[0]
    p.alignment = PP_ALIGN.LEFT
    for r in p.runs:
        r.font.size = Pt(title_size if len(title) < 70 else title_size - 8)
        r.font.bold = True
    _band(slide, b.marking, Inches(0), "Marking banner top")
    _band(slide, b.marking, prs.slide_height - Inches(0.4), "Marking banner bottom")
    return slide


def _band(slide: Any, m: Marking, top: int, name: str) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
    from pptx.util import Inches, Pt

    bg, fg = TLP_COLOURS[m.tlp]
    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, top, Inches(13.333), Inches(0.4))
    shape.name = name
    shape.fill.solid()
    shape.fill.fore_color.rgb = RGBColor(*_rgb(bg))
    shape.line.fill.background()
    shape.shadow.inherit = False
    tf = shape.text_frame
    tf.vertical_anchor = MSO_ANCHOR.MIDDLE
    p = tf.paragraphs[0]
    p.alignment = PP_ALIGN.CENTER
    for text, colour, bold in ((f"TLP:{m.tlp}", fg, True), (f"   releasable to {_rel(m)}", "#FFFFFF", False)):
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold = Pt(14), bold
        r.font.color.rgb = RGBColor(*_rgb(colour))


def _watermark(slide: Any) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.text import PP_ALIGN
    from pptx.oxml.ns import qn
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(2.2), Inches(2.6), Inches(9.0), Inches(2.2))
    box.name = "DRAFT watermark"
    box.rotation = -30
    p = box.text_frame.paragraphs[0]
    p.alignment = PP_ALIGN.CENTER
    r = p.add_run()
    r.text = WATERMARK
    r.font.size, r.font.bold = Pt(140), True
    r.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    # On top of everything (so a chart cannot hide it) but translucent, so the slide stays readable.
    clr = r._r.find(f".//{qn('a:srgbClr')}")
    alpha = clr.makeelement(qn("a:alpha"), {"val": "22000"})
    clr.append(alpha)


def _text(
    slide: Any,
    text: str,
    left: float,
    top: float,
    width: float,
    height: float,
    *,
    size: int = 18,
    bold: bool = False,
    italic: bool = False,
    colour: str = "#1A1A1A",
) -> Any:
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    tf = box.text_frame
    tf.word_wrap = True
    for k, para in enumerate(text.split("\n")):
        p = tf.paragraphs[0] if k == 0 else tf.add_paragraph()
        r = p.add_run()
        r.text = para
        r.font.size, r.font.bold, r.font.italic = Pt(size), bold, italic
        r.font.color.rgb = RGBColor(*_rgb(colour))
    return box


def _bullets(
    slide: Any, lines: list[str], left: float, top: float, width: float, height: float, size: int
) -> None:
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    tf = box.text_frame
    tf.word_wrap = True
    for k, line in enumerate(lines):
        p = tf.paragraphs[0] if k == 0 else tf.add_paragraph()
        r = p.add_run()
        r.text = f"•  {line}"
        r.font.size = Pt(size if len(lines) < 10 else size - 4)
        p.space_after = Pt(6)


def _estimate_box(slide: Any, j: KeyJudgement) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.enum.text import MSO_ANCHOR
    from pptx.util import Inches, Pt

    box = slide.shapes.add_shape(
        MSO_SHAPE.ROUNDED_RECTANGLE, Inches(0.8), Inches(4.6), Inches(11.7), Inches(0.7)
    )
    box.name = "Estimate"
    box.fill.solid()
    box.fill.fore_color.rgb = RGBColor(0xEE, 0xF2, 0xF8)
    box.line.color.rgb = RGBColor(0x1D, 0x3B, 0x6F)
    box.shadow.inherit = False
    tf = box.text_frame
    tf.vertical_anchor = MSO_ANCHOR.MIDDLE
    p = tf.paragraphs[0]
    for text, bold in (
        ("Yardstick: ", False),
        (j.term_label or j.term or "no probability term", True),
        ("     Confidence: ", False),
        (j.confidence or "not given", True),
    ):
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold = Pt(20), bold
        r.font.color.rgb = RGBColor(0x1D, 0x3B, 0x6F)


def _picture(slide: Any, png: bytes, *, top: float, max_w: float, max_h: float) -> None:
    _picture_in(slide, png, (13.333 - max_w) / 2, top, max_w, max_h)


# -- Word ----------------------------------------------------------------------------------------------------------

_VML_WATERMARK = """<w:p xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"
 xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">
<w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:pict>
<v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" adj="10800"
 path="m@7,l@8m@5,21600l@6,21600e">
<v:formulas><v:f eqn="sum #0 0 10800"/><v:f eqn="prod #0 2 1"/><v:f eqn="sum 21600 0 @1"/>
<v:f eqn="sum 0 0 @2"/><v:f eqn="sum 21600 0 @3"/><v:f eqn="if @0 @3 0"/><v:f eqn="if @0 21600 @1"/>
<v:f eqn="if @0 0 @2"/><v:f eqn="if @0 @4 21600"/><v:f eqn="mid @5 @6"/><v:f eqn="mid @8 @5"/>
<v:f eqn="mid @7 @8"/><v:f eqn="mid @6 @7"/><v:f eqn="sum @6 0 @5"/></v:formulas>
<v:path textpathok="t" o:connecttype="custom" o:connectlocs="@9,0;@10,10800;@11,21600;@12,10800"
 o:connectangles="270,180,90,0"/>
<v:textpath on="t" fitshape="t"/><o:lock v:ext="edit" text="t" shapetype="t"/></v:shapetype>
<v:shape id="DraftWatermark" o:spid="_x0000_s2049" type="#_x0000_t136"
 style="position:absolute;margin-left:0;margin-top:0;width:420pt;height:140pt;rotation:315;z-index:-251657216;mso-position-horizontal:center;mso-position-horizontal-relative:margin;mso-position-vertical:center;mso-position-vertical-relative:margin"
 o:allowincell="f" fillcolor="#C00000" stroked="f">
<v:fill opacity=".2"/><v:textpath style="font-family:&quot;Arial&quot;;font-size:1pt;font-weight:bold" string="DRAFT"/>
</v:shape></w:pict></w:r></w:p>"""


def to_docx(b: Briefing) -> bytes:
    """The same content as a document; the marking is in every header and footer, drafts are watermarked."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    doc.core_properties.title = b.title
    doc.core_properties.subject = b.marking.label
    doc.core_properties.keywords = f"TLP:{b.marking.tlp}" + (f"; {WATERMARK}" if b.draft else "")
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))
    section.top_margin = section.bottom_margin = Cm(2.2)
    _docx_marking(section.header, b, header=True)
    _docx_marking(section.footer, b, header=False)

    doc.add_heading(b.title, level=0)
    sub = doc.add_paragraph()
    r = sub.add_run(_subtitle(b))
    r.italic = True
    r.font.color.rgb = RGBColor(0x40, 0x40, 0x40)
    handling = doc.add_paragraph()
    hr = handling.add_run(f"Handling: TLP:{b.marking.tlp}, releasable to {_rel(b.marking)}. ")
    hr.bold = True
    handling.add_run(TLP_MEANING[b.marking.tlp])

    if b.question:
        doc.add_heading("Question", level=1)
        doc.add_paragraph(b.question)
    if b.has_bottom_line:
        doc.add_heading("Bottom line", level=1)
        doc.add_paragraph(b.bottom_line or "(no bottom line given)")

    if b.judgements:
        doc.add_heading("Key judgements", level=1)
        for j in b.judgements:
            p = doc.add_paragraph()
            p.add_run(f"{j.number}. ").bold = True
            p.add_run(j.statement)
            est = doc.add_paragraph()
            est.paragraph_format.left_indent = Cm(0.6)
            est.add_run("Yardstick: ")
            est.add_run(j.term_label or j.term or "no probability term").bold = True
            est.add_run(" · Confidence: ")
            est.add_run(j.confidence or "not given").bold = True
            if j.reasoning:
                rp = doc.add_paragraph()
                rp.paragraph_format.left_indent = Cm(0.6)
                rr = rp.add_run(j.reasoning)
                rr.font.size = Pt(10)
                rr.font.color.rgb = RGBColor(0x40, 0x40, 0x40)

    if b.charts:
        doc.add_heading("Charts", level=1)
        for n, c in enumerate(b.charts, 1):
            doc.add_picture(io.BytesIO(c.document_png), width=Cm(15.0))
            cap = doc.add_paragraph()
            cap.add_run(f"Figure {n}: {c.title}").bold = True
            if c.caption:
                cap.add_run(f" — {c.caption}")
            cap.add_run(f" ({c.marking.label})")

    doc.add_heading("Sources", level=1)
    for s in b.sources or ("(no sources recorded)",):
        doc.add_paragraph(s, style="List Bullet")

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _docx_marking(part: Any, b: Briefing, *, header: bool) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    part.is_linked_to_previous = False
    p = part.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    bg, fg = TLP_COLOURS[b.marking.tlp]
    pieces = [(f" TLP:{b.marking.tlp} ", fg, True), (f" releasable to {_rel(b.marking)} ", "#FFFFFF", False)]
    if b.draft:
        pieces.append((f" {WATERMARK} ", "#FF5050", True))
    for text, colour, bold in pieces:
        r = p.add_run(text)
        r.bold = bold
        r.font.size = Pt(10)
        r.font.color.rgb = RGBColor(*_rgb(colour))
        # Run shading gives the black TLP band FIRST specifies (TLP:CLEAR is white and would vanish otherwise).
        shd = r._r.get_or_add_rPr().makeelement(
            qn("w:shd"), {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): bg.lstrip("#")}
        )
        r._r.get_or_add_rPr().append(shd)
    if header and b.draft:
        part._element.append(parse_xml(_VML_WATERMARK))
    if not header:
        p2 = part.add_paragraph()
        p2.alignment = WD_ALIGN_PARAGRAPH.CENTER
        r = p2.add_run(f"{b.title} · generated {_when(b)} · page ")
        r.font.size = Pt(8)
        _page_field(p2)


def _page_field(p: Any) -> None:
    from docx.oxml import parse_xml
    from docx.shared import Pt

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    for xml in (
        f'<w:r {w}><w:fldChar w:fldCharType="begin"/></w:r>',
        f'<w:r {w}><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>',
        f'<w:r {w}><w:fldChar w:fldCharType="separate"/></w:r>',
        f"<w:r {w}><w:t>1</w:t></w:r>",
        f'<w:r {w}><w:fldChar w:fldCharType="end"/></w:r>',
    ):
        p._p.append(parse_xml(xml))
    for r in p.runs:
        r.font.size = Pt(8)


# -- PDF -------------------------------------------------------------------------------------------------------------

_PDF_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Left-aligned, and every block starts again at the left margin (fpdf2 otherwise continues at the right edge).
_ML: dict[str, Any] = {"align": "L", "new_x": "LMARGIN", "new_y": "NEXT"}


def to_pdf(b: Briefing) -> bytes:
    """A4 portrait, from the same content; bands top and bottom on every page, DRAFT across drafts."""
    from fpdf import FPDF

    class _PDF(FPDF):
        def header(self) -> None:
            _pdf_band(self, b.marking, 0)

        def footer(self) -> None:
            _pdf_band(self, b.marking, self.h - 9)
            self.set_y(-15)
            self.set_font("Sans", size=7)
            self.set_text_color(90, 90, 90)
            draft = f"{WATERMARK}, not approved · " if b.draft else ""
            line = f"{draft}{b.title[:90]} · generated {_when(b)} · page {self.page_no()}/{{nb}}"
            self.cell(0, 5, line, align="C")
            if b.draft:
                # Drawn last on the page, so over charts too, but translucent.
                with self.local_context(fill_opacity=0.18, text_color=(192, 0, 0)):
                    self.set_font("Sans", "B", 110)
                    with self.rotation(angle=35, x=self.w / 2, y=self.h / 2):
                        width = self.get_string_width(WATERMARK)
                        self.text(self.w / 2 - width / 2, self.h / 2 + 15, WATERMARK)

    pdf = _PDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(b.title)
    pdf.set_subject(b.marking.label)
    pdf.set_keywords(f"TLP:{b.marking.tlp}" + (f" {WATERMARK}" if b.draft else ""))
    pdf.set_creator("UK–AU AI threat dashboard")
    _pdf_fonts(pdf)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Sans", "B", 20)
    pdf.set_text_color(20, 20, 20)
    pdf.multi_cell(width, 9, b.title, **_ML)
    pdf.ln(1)
    pdf.set_font("Sans", "", 10)
    pdf.set_text_color(70, 70, 70)
    pdf.multi_cell(width, 5, _subtitle(b), **_ML)
    pdf.ln(2)
    pdf.set_font("Sans", "B", 10)
    pdf.set_text_color(20, 20, 20)
    pdf.multi_cell(width, 5, f"Handling: TLP:{b.marking.tlp}, releasable to {_rel(b.marking)}.", **_ML)
    pdf.set_font("Sans", "", 10)
    pdf.multi_cell(width, 5, TLP_MEANING[b.marking.tlp], **_ML)

    def heading(text: str) -> None:
        pdf.ln(4)
        pdf.set_font("Sans", "B", 14)
        pdf.set_text_color(29, 59, 111)
        pdf.multi_cell(width, 7, text, **_ML)
        pdf.set_text_color(20, 20, 20)
        pdf.ln(1)

    def para(text: str, size: float = 11, style: str = "", indent: float = 0) -> None:
        pdf.set_font("Sans", style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(width - indent, size * 0.5, text, **_ML)
        pdf.ln(1)

    if b.question:
        heading("Question")
        para(b.question)
    if b.has_bottom_line:
        heading("Bottom line")
        para(b.bottom_line or "(no bottom line given)")
    if b.judgements:
        heading("Key judgements")
        for j in b.judgements:
            para(f"{j.number}. {j.statement}")
            pdf.set_text_color(29, 59, 111)
            para(
                f"Yardstick: {j.term_label or j.term or 'no probability term'} · Confidence: "
                f"{j.confidence or 'not given'}",
                size=10,
                style="B",
                indent=5,
            )
            pdf.set_text_color(20, 20, 20)
            if j.reasoning:
                pdf.set_text_color(70, 70, 70)
                para(j.reasoning, size=9, indent=5)
                pdf.set_text_color(20, 20, 20)
    for n, c in enumerate(b.charts, 1):
        from PIL import Image

        with Image.open(io.BytesIO(c.document_png)) as im:
            w = min(width, 150.0)
            h = w * im.size[1] / im.size[0]
        if pdf.get_y() + h + 16 > pdf.h - 20:
            pdf.add_page()
        if n == 1:
            heading("Charts")
        pdf.image(io.BytesIO(c.document_png), x=(pdf.w - w) / 2, w=w, h=h)
        pdf.ln(1)
        caption = (
            f"Figure {n}: {c.title}" + (f" — {c.caption}" if c.caption else "") + f" ({c.marking.label})"
        )
        para(caption, size=9)
    heading("Sources")
    for s in b.sources or ("(no sources recorded)",):
        para(f"•  {s}", size=10)
    return bytes(pdf.output())


def _pdf_fonts(pdf: Any) -> None:
    # DejaVu covers the dashes, dots and non-Latin names stored text may hold; the core PDF fonts are Latin-1.
    pdf.add_font("Sans", "", str(_PDF_FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("Sans", "B", str(_PDF_FONT_DIR / "DejaVuSans-Bold.ttf"))


def _pdf_band(pdf: Any, m: Marking, y: float) -> None:
    bg, fg = TLP_COLOURS[m.tlp]
    pdf.set_fill_color(*_rgb(bg))
    pdf.rect(0, y, pdf.w, 9, style="F")
    label, rest = f"TLP:{m.tlp}", f"   releasable to {_rel(m)}"
    pdf.set_font("Sans", "B", 10)
    w1 = pdf.get_string_width(label)
    pdf.set_font("Sans", "", 10)
    w2 = pdf.get_string_width(rest)
    x = (pdf.w - w1 - w2) / 2
    pdf.set_font("Sans", "B", 10)
    pdf.set_text_color(*_rgb(fg))
    pdf.text(x, y + 6, label)
    pdf.set_font("Sans", "", 10)
    pdf.set_text_color(255, 255, 255)
    pdf.text(x + w1, y + 6, rest)
    pdf.set_text_color(20, 20, 20)
    if y == 0:
        pdf.set_y(16)


# -- Markdown --------------------------------------------------------------------------------------------------------


def to_markdown(b: Briefing) -> str:
    """Text only: charts are listed by title and marking (download the images beside it)."""
    mark = f"**TLP:{b.marking.tlp}** · releasable to {_rel(b.marking)}"
    lines = [mark, ""]
    if b.draft:
        lines += [f"> **{WATERMARK}** — not approved; do not circulate as an agreed assessment.", ""]
    lines += [f"# {b.title}", "", f"*{_subtitle(b)}*", "", f"Handling: {TLP_MEANING[b.marking.tlp]}", ""]
    if b.question:
        lines += ["## Question", "", b.question, ""]
    if b.has_bottom_line:
        lines += ["## Bottom line", "", b.bottom_line or "(no bottom line given)", ""]
    if b.judgements:
        lines += ["## Key judgements", ""]
        for j in b.judgements:
            lines.append(f"{j.number}. {j.statement}  ")
            lines.append(
                f"   *Yardstick:* **{j.term_label or j.term or 'no probability term'}** · "
                f"*Confidence:* **{j.confidence or 'not given'}**"
            )
            if j.reasoning:
                lines.append(f"   {j.reasoning}")
            lines.append("")
    if b.charts:
        lines += ["## Charts", ""]
        for n, c in enumerate(b.charts, 1):
            name = export_filename(c.title, c.marking, "png", b.generated_at)
            extra = f" — {c.caption}" if c.caption else ""
            lines.append(f"- Figure {n}: {c.title}{extra} ({c.marking.label}; image: `{name}`)")
        lines.append("")
    lines += ["## Sources", ""]
    lines += [f"- {s}" for s in (b.sources or ("(no sources recorded)",))]
    lines += ["", mark, ""]
    return "\n".join(lines)


def render(b: Briefing, fmt: str) -> bytes:
    """The briefing in one of FORMATS."""
    if fmt == "pptx":
        return to_pptx(b)
    if fmt == "docx":
        return to_docx(b)
    if fmt == "pdf":
        return to_pdf(b)
    if fmt == "md":
        return to_markdown(b).encode("utf-8")
    raise ValueError(f"unknown briefing format {fmt!r}; expected one of {', '.join(FORMATS)}")


def one_slide(
    title: str, charts: Sequence[BriefingChart], *, prepared_by: str = "", now: datetime | None = None
) -> tuple[bytes, Marking]:
    """A single 16:9 slide of the current page: its title, its charts side by side, marked with all of them.

    Used by the page-to-slide button; the slide's marking combines every chart on it.
    """
    from pptx import Presentation
    from pptx.util import Inches

    b = make_briefing(title, charts=charts, prepared_by=prepared_by, now=now)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    prs.core_properties.title = b.title
    prs.core_properties.subject = b.marking.label
    s = _slide(prs, b, b.title, title_size=26, title_top=0.5)
    _text(s, _subtitle(b), 0.8, 1.2, 11.7, 0.4, size=12, colour="#404040")
    n = len(b.charts)
    if n:
        cols = 1 if n == 1 else 2
        rows = (n + cols - 1) // cols
        area_w, area_h, top = 12.3, 5.3, 1.7
        cell_w, cell_h = area_w / cols, area_h / rows
        for k, c in enumerate(b.charts):
            col, row = k % cols, k // cols
            _picture_in(s, c.png, 0.5 + col * cell_w, top + row * cell_h, cell_w - 0.15, cell_h - 0.15)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue(), b.marking


def _picture_in(slide: Any, png: bytes, left: float, top: float, max_w: float, max_h: float) -> None:
    from PIL import Image
    from pptx.util import Inches

    with Image.open(io.BytesIO(png)) as im:
        w_px, h_px = im.size
    w, h = max_w, max_w * h_px / w_px
    if h > max_h:
        w, h = max_h * w_px / h_px, max_h
    slide.shapes.add_picture(
        io.BytesIO(png), Inches(left + (max_w - w) / 2), Inches(top), Inches(w), Inches(h)
    )
