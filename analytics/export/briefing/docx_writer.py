"""The Word writer: a Briefing as an A4 document (named docx_writer so it never shadows the python-docx package).

The marking is in every header and footer (shaded black as FIRST asks, so TLP:CLEAR stays visible); drafts carry
a VML DRAFT watermark behind the text and say DRAFT in the header. python-docx is imported inside the functions.
"""

from __future__ import annotations

import io
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
    r = sub.add_run(subtitle_line(b))
    r.italic = True
    r.font.color.rgb = RGBColor(0x40, 0x40, 0x40)
    handling = doc.add_paragraph()
    hr = handling.add_run(f"Handling: TLP:{b.marking.tlp}, {band_text(b)}; {protective_line(b.protective)}. ")
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
            est.add_run(j.term_text).bold = True
            est.add_run(" · Confidence: ")
            est.add_run(j.confidence_text).bold = True
            block = [p, est]
            if j.reasoning:
                rp = doc.add_paragraph()
                rp.paragraph_format.left_indent = Cm(0.6)
                rr = rp.add_run(j.reasoning)
                rr.font.size = Pt(10)
                rr.font.color.rgb = RGBColor(0x40, 0x40, 0x40)
                block.append(rp)
            _keep_whole(block)

    for sec in b.sections:
        h = doc.add_heading(sec.title, level=1)
        h.paragraph_format.keep_with_next = True
        for item in sec.items or ("(none recorded)",):
            ip = doc.add_paragraph(item, style="List Bullet")
            ip.paragraph_format.keep_together = True

    if b.charts:
        doc.add_heading("Charts", level=1)
        for n, c in enumerate(b.charts, 1):
            shape = doc.add_picture(io.BytesIO(c.document_png), width=Cm(15.0))
            # python-docx describes the picture as "image.png"; screen readers read the chart's own words.
            shape._inline.docPr.set("descr", c.alt_text)
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


def _keep_whole(paragraphs: list[Any]) -> None:
    """A judgement (statement, estimate, reasoning) on one page: each paragraph unbroken and kept with the
    next, the last one ending the chain."""
    for k, para in enumerate(paragraphs):
        para.paragraph_format.keep_together = True
        para.paragraph_format.keep_with_next = k < len(paragraphs) - 1


def _docx_marking(part: Any, b: Briefing, *, header: bool) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    part.is_linked_to_previous = False
    p = part.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    bg, fg = TLP_COLOURS[b.marking.tlp]
    pieces = [
        (f" TLP:{b.marking.tlp} ", fg, True),
        (f" {band_text(b)} ", "#FFFFFF", False),
        (f" {protective_line(b.protective)} ", "#FFFFFF", True),
    ]
    if b.draft:
        pieces.append((f" {WATERMARK} ", "#FF5050", True))
    for text, colour, bold in pieces:
        r = p.add_run(text)
        r.bold = bold
        r.font.size = Pt(10)
        r.font.color.rgb = RGBColor(*rgb(colour))
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
        r = p2.add_run(f"{b.title} · generated {generated_when(b)} · page ")
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
