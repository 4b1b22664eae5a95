"""Chart images fit for a government paper (issue 18, finding 9): a title in the image and the file name even when
the on-screen figure has none, footers of at least 8 pt where the image is printed, the explicit date range
instead of "all dates", the named recipients of a TLP:RED chart, and real alt text in PPTX, DOCX and PDF."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime

import plotly.express as px
import pytest

from analytics.access.markings import Marking
from analytics.export import chart_image as chart_export
from analytics.export.briefing.content import BriefingChart
from analytics.export.briefing.docx_writer import to_docx
from analytics.export.briefing.slides import to_pptx
from analytics.filters import Filters
from tests.analytics.export.briefing_samples import sample_briefing
from tests.conftest import TODAY, UK_ANALYST

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _untitled():
    """A figure as a page draws it: the page heading names it on screen, the figure itself has no title."""
    return px.bar(x=["Jailbreak", "Model theft"], y=[5, 3], labels={"x": "Category", "y": "Incidents"})


def test_an_untitled_figure_gets_a_title_in_the_image_and_the_file_name() -> None:
    fig = _untitled()
    assert chart_export.figure_title(fig) == "Incidents by Category"
    prov = chart_export.provenance_for(
        UK_ANALYST, Marking(), filters=Filters(), today=TODAY, as_of=None, now=NOW
    )
    svg = chart_export.export_chart(fig, Marking(), prov, "svg", "slide")
    titles = [
        "".join(t.itertext())
        for t in ET.fromstring(svg).iter(f"{SVG}text")
        if "gtitle" in (t.get("class") or "")
    ]
    assert titles == ["Incidents by Category"]
    assert chart_export.export_filename(chart_export.figure_title(fig), Marking(), "png", TODAY).startswith(
        f"{TODAY.isoformat()}_incidents-by-category_"
    )


@pytest.mark.parametrize("preset", list(chart_export.PRESETS))
def test_footer_text_is_at_least_8pt_at_the_printed_size(preset: str) -> None:
    p = chart_export.PRESETS[preset]
    points = chart_export.footer_px(preset) * p.print_width_in * 72 / p.width
    assert points >= 8, f"{preset}: footer prints at {points:.1f} pt"
    prov = chart_export.provenance_for(
        UK_ANALYST, Marking(), filters=Filters(), today=TODAY, as_of=None, now=NOW
    )
    svg = chart_export.export_chart(_untitled(), Marking(), prov, "svg", preset)
    footer = ET.fromstring(svg).find(f"{SVG}g[@id='provenance']")
    assert footer is not None
    assert {float(t.get("font-size")) for t in footer.iter(f"{SVG}text")} == {chart_export.footer_px(preset)}


def test_the_footer_gives_the_date_range_not_all_dates() -> None:
    prov = chart_export.provenance_for(
        UK_ANALYST,
        Marking(),
        filters=Filters(),
        today=TODAY,
        as_of=None,
        now=NOW,
        span=(date(2024, 3, 1), date(2026, 6, 1)),
    )
    line = prov.lines(Marking())[0]
    assert "all dates" not in line
    assert "2024-03-01 to 2026-06-01" in line


def test_the_span_is_that_of_the_records_the_viewer_may_see(store) -> None:
    store.incident(occurred_on=date(2025, 2, 3))
    store.incident(occurred_on=date(2026, 5, 6))
    store.incident(occurred_on=date(2020, 1, 1), tlp="AMBER+STRICT", originator="AU", releasable_to=["AU"])
    assert chart_export.records_span(store.cursor(), UK_ANALYST, Filters(), TODAY) == (
        date(2025, 2, 3),
        date(2026, 5, 6),
    )


def test_red_recipients_are_only_those_named_on_every_red_row_a_name_repeated_in_one_row_counts_once(
    store,
) -> None:
    """Counted per row (the query counts each name's rows rather than folding the lists, which took minutes
    over 50k RED rows): a name twice in one row is not thereby on two rows."""
    a, lead = "analyst@uk.example", "lead@uk.example"
    store.incident(tlp="RED", releasable_to=["UK"], named_recipients=[a, lead, lead])
    store.incident(tlp="RED", releasable_to=["UK"], named_recipients=[lead, a])
    store.incident(tlp="AMBER", releasable_to=["UK"], named_recipients=[lead])  # not RED: not counted
    assert chart_export.red_recipients(store.cursor(), UK_ANALYST, Filters(), TODAY) == (a, lead)
    store.incident(tlp="RED", releasable_to=["UK"], named_recipients=[a])  # lead is on 2 of 3 RED rows
    assert chart_export.red_recipients(store.cursor(), UK_ANALYST, Filters(), TODAY) == (a,)


def test_a_red_chart_names_its_recipients_in_the_banner(store) -> None:
    store.incident(
        tlp="RED", releasable_to=["UK"], named_recipients=["analyst@uk.example", "lead@uk.example"]
    )
    store.incident(
        tlp="RED", releasable_to=["UK"], named_recipients=["analyst@uk.example", "lead@uk.example"]
    )
    names = chart_export.red_recipients(store.cursor(), UK_ANALYST, Filters(), TODAY)
    assert names == ("analyst@uk.example", "lead@uk.example")
    m = Marking("RED", ("UK",))
    prov = chart_export.provenance_for(
        UK_ANALYST, m, filters=Filters(), today=TODAY, as_of=None, now=NOW, recipients=names
    )
    svg = chart_export.export_chart(_untitled(), m, prov, "svg", "slide")
    banner = "".join(ET.fromstring(svg).find(f"{SVG}text").itertext())
    assert "for analyst@uk.example, lead@uk.example only" in banner


def test_pictures_carry_alt_text_in_pptx_and_docx(chart_png) -> None:
    from docx import Document
    from pptx import Presentation

    c = BriefingChart(
        "Incidents by category", chart_png, Marking("AMBER", ("UK",)), "2024-03-01 to 2026-06-01"
    )
    b = replace(sample_briefing(chart_png, draft=False, charts_n=0), charts=(c,))
    want = "Incidents by category — 2024-03-01 to 2026-06-01 (TLP:AMBER · releasable to UK)"
    prs = Presentation(io.BytesIO(to_pptx(b)))
    pics = [s for slide in prs.slides for s in slide.shapes if s.shape_type == 13]
    assert [p._element.nvPicPr.cNvPr.get("descr") for p in pics] == [want]
    doc = Document(io.BytesIO(to_docx(b)))
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
    descrs = [d.get("descr") for d in doc.element.body.iter(f"{ns}docPr")]
    assert descrs == [want]


def test_an_export_takes_the_rows_behind_it_from_the_cached_reads_when_given(store) -> None:
    """The page hands the export its provenance reads bound for later (`session.later`, cached per audience):
    they are the three reads the export would make itself, and the image's banner and footer use them."""
    from analytics.export.rows_behind import RowsBehind, rows_behind

    store.incident(
        occurred_on=date(2025, 2, 3),
        tlp="RED",
        releasable_to=["UK"],
        named_recipients=["analyst@uk.example", "lead@uk.example"],
    )
    store.incident(occurred_on=date(2026, 5, 6))
    con = store.cursor()
    behind = rows_behind(con, UK_ANALYST, Filters(), TODAY)
    assert behind == RowsBehind(
        chart_export.data_as_of(con, UK_ANALYST),
        chart_export.records_span(con, UK_ANALYST, Filters(), TODAY),
        ("analyst@uk.example", "lead@uk.example"),
    )
    asked: list[RowsBehind] = []

    def bound() -> RowsBehind:
        asked.append(behind)
        return replace(behind, span=(date(2001, 1, 1), date(2002, 2, 2)))  # tells its answer from the reads

    svg = chart_export.export_and_record(
        store.store, UK_ANALYST, _untitled(), Marking("RED", ("UK",)), fmt="svg", preset="slide",
        filters=Filters(), today=TODAY, obj="chart:xp_trend", rows_behind=bound,
    )  # fmt: skip
    text = " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text"))
    assert len(asked) == 1
    assert "2001-01-01 to 2002-02-02" in text and "for analyst@uk.example, lead@uk.example only" in text


def test_the_print_spec_leaves_the_on_screen_figure_as_it_was() -> None:
    """The spec is plotly's own deep copy (to_dict), changed for print: the figure on the page keeps its size,
    template and margins."""
    fig = _untitled()
    before = fig.to_json()
    spec = chart_export.print_spec(fig, 800, 450)
    spec["layout"]["title"]["text"] = "changed"
    assert spec["layout"]["width"] == 800 and fig.layout.width is None
    assert fig.to_json() == before


def _title_bottom_and_legend_rows(svg: bytes) -> tuple[float, list[float]]:
    """The bottom of the printed title's line and the top of each legend row, in the chart's pixels."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    title = next(t for t in root.iter(f"{ns}text") if "gtitle" in (t.get("class") or ""))
    font_px = float(re.search(r"font-size: ([\d.]+)px", title.get("style", "")).group(1))  # type: ignore[union-attr]
    legend = next(g for g in root.iter(f"{ns}g") if g.get("class") == "legend")

    def dy(g: ET.Element) -> float:
        moved = re.search(r"translate\([^,]+,([^)]+)\)", g.get("transform", ""))
        assert moved, g.attrib
        return float(moved.group(1))

    rows = sorted(
        {dy(legend) + dy(g) - font_px / 2 for g in legend.iter(f"{ns}g") if g.get("class") == "traces"}
    )
    return float(title.get("y", "0")) + font_px, rows


def test_a_legend_that_wraps_onto_several_rows_stays_under_the_printed_title() -> None:
    """A trend of ten categories has a legend of three rows at a slide's width: printed with a title, each row
    sits below the title's line, not across it (a 2026-12-07 export had the title over the legend's first row)."""
    import plotly.graph_objects as go

    from analytics.charts import style_figure

    names = ["AI-enabled cyber intrusion", "Deepfake fraud", "Disinformation campaign", "Prompt injection",
             "Unmapped", "Privacy and data leakage", "Safety failure", "Other", "Agentic system misuse",
             "All incidents, 3-month average", "Breaks from its baseline"]  # fmt: skip
    months = [f"2026-{m:02d}-01" for m in range(1, 13)]
    fig = style_figure(
        go.Figure([go.Bar(x=months, y=[k + m for m in range(12)], name=n) for k, n in enumerate(names)])
    )
    fig.update_layout(barmode="stack", yaxis_title="Incidents per month")
    svg = chart_export._render(fig, "svg", 1280, 640, 1)
    title_bottom, rows = _title_bottom_and_legend_rows(svg)
    assert len(rows) >= 2, "the legend wraps: the case this is about"
    assert min(rows) >= title_bottom, (title_bottom, rows)
