"""The PowerPoint writer: a 16:9 deck of a Briefing, and the single slide of a page's charts.

Title, bottom line (unless a chart pack), one slide per key judgement, one per chart, sources. Every slide has
the marking band top and bottom; drafts carry a translucent DRAFT over everything. python-pptx is imported
inside the functions so opening a page that never writes a deck does not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from analytics.access.markings import TLP_COLOURS, TLP_MEANING, Marking
from analytics.export.briefing.content import (
    WATERMARK,
    Briefing,
    BriefingChart,
    KeyJudgement,
    band_text,
    generated_when,
    make_briefing,
    protective_line,
    rgb,
    section_pages,
    subtitle_line,
)


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
    _text(s, subtitle_line(b), 0.8, 3.35, 11.7, 0.8, size=18, colour="#404040")
    handling = f"TLP:{b.marking.tlp} · {band_text(b)} · {protective_line(b.protective)}"
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

    for sec in b.sections:
        pages = section_pages(sec)
        for k, items in enumerate(pages):
            more = f" ({k + 1} of {len(pages)})" if len(pages) > 1 else ""
            s = _slide(prs, b, sec.title + more)
            _bullets(s, list(items), 0.8, 1.6, 11.7, 5.2, size=_fit(" ".join(items), 18, 9))

    for n, c in enumerate(b.charts, 1):
        s = _slide(prs, b, c.title or f"Figure {n}")
        if c.native is not None:
            # PowerPoint's own chart, editable in the deck; the marked image with its footer follows it.
            _native_chart(s, c)
            s = _slide(prs, b, f"{c.title or f'Figure {n}'} (image)")
        _picture(s, c.png, top=1.45, max_w=12.3, max_h=5.35, alt=c.alt_text)

    s = _slide(prs, b, "Sources")
    lines = list(b.sources) or ["(no sources recorded)"]
    lines.append(f"Prepared {generated_when(b)}" + (f" by {b.prepared_by}" if b.prepared_by else ""))
    _bullets(s, lines, 0.8, 1.6, 11.7, 5.0, size=18)

    _number_slides(prs)
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
    _band(slide, b, Inches(0), "Marking banner top")
    _band(slide, b, prs.slide_height - Inches(0.4), "Marking banner bottom")
    return slide


def _number_slides(prs: Any) -> None:
    """'n / total' at the end of every slide's bottom band (added once the deck is complete)."""
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    total = len(prs.slides)
    for n, slide in enumerate(prs.slides, 1):
        band = next(s for s in slide.shapes if s.name == "Marking banner bottom")
        r = band.text_frame.paragraphs[0].add_run()
        r.text = f"   ·   {n} / {total}"
        r.font.size = Pt(12)
        r.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)


def _band(slide: Any, b: Briefing, top: int, name: str) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
    from pptx.util import Inches, Pt

    m = b.marking
    bg, fg = TLP_COLOURS[m.tlp]
    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, top, Inches(13.333), Inches(0.4))
    shape.name = name
    shape.fill.solid()
    shape.fill.fore_color.rgb = RGBColor(*rgb(bg))
    shape.line.fill.background()
    shape.shadow.inherit = False
    tf = shape.text_frame
    tf.vertical_anchor = MSO_ANCHOR.MIDDLE
    p = tf.paragraphs[0]
    p.alignment = PP_ALIGN.CENTER
    for text, colour, bold in (
        (f"TLP:{m.tlp}", fg, True),
        (f"   {band_text(b)}", "#FFFFFF", False),
        (f"   ·   {protective_line(b.protective)}", "#FFFFFF", True),
    ):
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold = Pt(12), bold
        r.font.color.rgb = RGBColor(*rgb(colour))


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
        r.font.color.rgb = RGBColor(*rgb(colour))
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
        (j.term_text, True),
        ("     Confidence: ", False),
        (j.confidence_text, True),
    ):
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold = Pt(20), bold
        r.font.color.rgb = RGBColor(0x1D, 0x3B, 0x6F)


def _native_chart(slide: Any, c: BriefingChart) -> None:
    """An editable bar or line chart from the figure's data, with the filters, range and marking under it."""
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
    from pptx.util import Inches, Pt

    assert c.native is not None
    data = CategoryChartData()
    data.categories = list(c.native.categories)
    for name, values in c.native.series:
        data.add_series(name, list(values))
    kind = {
        "bar": XL_CHART_TYPE.COLUMN_CLUSTERED,
        "barh": XL_CHART_TYPE.BAR_CLUSTERED,
        "line": XL_CHART_TYPE.LINE_MARKERS,
    }[c.native.kind]
    frame = slide.shapes.add_chart(kind, Inches(0.8), Inches(1.5), Inches(11.7), Inches(4.6), data)
    frame.name = "Native chart"
    frame._element.nvGraphicFramePr.cNvPr.set("descr", c.alt_text)
    chart = frame.chart
    chart.has_legend = len(c.native.series) > 1
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.TOP
        chart.legend.include_in_layout = False
    chart.font.size = Pt(12)
    if c.native.value_title:
        axis = chart.value_axis
        axis.has_title = True
        axis.axis_title.text_frame.text = c.native.value_title
    _text(slide, c.alt_text, 0.8, 6.2, 11.7, 0.6, size=11, colour="#404040")


def _picture(slide: Any, png: bytes, *, top: float, max_w: float, max_h: float, alt: str = "") -> None:
    _picture_in(slide, png, (13.333 - max_w) / 2, top, max_w, max_h, alt)


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
    _text(s, subtitle_line(b), 0.8, 1.2, 11.7, 0.4, size=12, colour="#404040")
    n = len(b.charts)
    if n:
        cols = 1 if n == 1 else 2
        rows = (n + cols - 1) // cols
        area_w, area_h, top = 12.3, 5.3, 1.7
        cell_w, cell_h = area_w / cols, area_h / rows
        for k, c in enumerate(b.charts):
            col, row = k % cols, k // cols
            _picture_in(
                s, c.png, 0.5 + col * cell_w, top + row * cell_h, cell_w - 0.15, cell_h - 0.15, c.alt_text
            )
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue(), b.marking


def _picture_in(
    slide: Any, png: bytes, left: float, top: float, max_w: float, max_h: float, alt: str = ""
) -> None:
    from PIL import Image
    from pptx.util import Inches

    with Image.open(io.BytesIO(png)) as im:
        w_px, h_px = im.size
    w, h = max_w, max_w * h_px / w_px
    if h > max_h:
        w, h = max_h * w_px / h_px, max_h
    pic = slide.shapes.add_picture(
        io.BytesIO(png), Inches(left + (max_w - w) / 2), Inches(top), Inches(w), Inches(h)
    )
    # python-pptx names the picture "image.png" for screen readers; say what the chart is instead.
    pic._element.nvPicPr.cNvPr.set("descr", alt or "chart")
