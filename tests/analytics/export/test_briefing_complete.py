"""A briefing carries everything that was approved, in all four formats, read back with the formats' own readers.

An approved successor assessment with assumptions, alternative views, indicators, what changed since the one it
supersedes, a dissent on a judgement and one on the whole, two sign-offs and cited records: each of these, each
approver with the date they signed, and each evidence id with its reliability and marking must appear in the
PowerPoint deck (python-pptx), the Word document (python-docx), the PDF (pdftotext) and the Markdown.
"""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

import pytest

from analytics.assessments.workflow import add_comment, create_assessment
from analytics.export.briefing.builder import export_briefing
from analytics.filters import Filters
from tests.analytics.assessments.samples import INC, approve, draft, get, judgement, ref
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY, StoreBuilder

FORMATS = ("pptx", "docx", "pdf", "md")


def pptx_text(data: bytes) -> str:
    from pptx import Presentation

    out = []
    for slide in Presentation(io.BytesIO(data)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                out.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                out.extend(c.text for row in shape.table.rows for c in row.cells)
    return "\n".join(out)


def docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    out = [p.text for p in doc.paragraphs]
    out += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join(out)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "b.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout


def read_back(fmt: str, data: bytes, tmp_path: Path) -> str:
    text = {
        "pptx": pptx_text,
        "docx": docx_text,
        "md": lambda d: d.decode("utf-8"),
    }.get(fmt)
    raw = text(data) if text else pdf_text(data, tmp_path)
    return " ".join(raw.split())  # line wrapping differs per format; the words do not


@pytest.fixture
def approved_successor(store: StoreBuilder) -> tuple[StoreBuilder, int, dict[str, str]]:
    first_inc = store.incident(title="Earlier agent case")
    first = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, first_inc),))), today=TODAY
    )
    approve(store, first)
    i1 = store.incident(title="Agent drained accounts", source_reliability="B", credibility=2)
    i2 = store.incident(
        title="Invoice agent hijacked", originator="AU", source_reliability="C", credibility=3
    )
    r1 = store.eval_run(benchmark="Cybench", score=0.62)
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(
            judgement(evidence=(ref(INC, i1), ref("eval_run", r1))),
            judgement(
                "Criminal groups will adopt agent kits.", term="highly likely", evidence=(ref(INC, i2),)
            ),
            title="Agentic misuse in finance, second look",
            assumptions=("Reporting rates stay level across both institutes",),
            alternatives=("The rise is an artefact of new reporting rules",),
            indicators=("Bank-reported agent incidents fall for two quarters",),
            changes="Added the AU invoice-agent case and raised judgement 2 to highly likely.",
            supersedes=first,
        ),
        today=TODAY,
    )
    a = get(store, UK_ANALYST, aid)
    add_comment(
        store.store,
        AU_ANALYST,
        aid,
        a.version,
        a.judgements[1].key,
        "AU assesses adoption as a realistic possibility only.",
        dissent=True,
    )
    add_comment(
        store.store, AU_ANALYST, aid, a.version, None, "AU would frame the question by sector.", dissent=True
    )
    approve(store, aid)
    return store, aid, {"i1": i1, "i2": i2, "r1": r1, "first": str(first)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_approved_section_and_each_approver_appears(approved_successor, fmt: str, tmp_path) -> None:
    store, aid, ids = approved_successor
    a = get(store, UK_POLICY, aid)
    data = export_briefing(
        store.store,
        UK_POLICY,
        fmt,
        title="",
        chart_keys=[],
        current=Filters(),
        today=TODAY,
        assessment_id=aid,
    )
    text = read_back(fmt, data, tmp_path)
    expected = [
        "Agentic misuse in finance, second look",
        "It is likely to rise.",
        "Agentic misuse against banks will rise.",
        "Criminal groups will adopt agent kits.",
        "Assumptions",
        "Reporting rates stay level across both institutes",
        "Alternative views",
        "The rise is an artefact of new reporting rules",
        "Indicators",
        "Bank-reported agent incidents fall for two quarters",
        "What changed since the last assessment",
        "Added the AU invoice-agent case and raised judgement 2 to highly likely.",
        f"Supersedes assessment A-{ids['first']}",
        "Dissent",
        "AU assesses adoption as a realistic possibility only.",
        "AU would frame the question by sector.",
        AU_ANALYST.name,
        "Evidence annex",
        f"{ids['i1']}",
        f"{ids['i2']}",
        f"{ids['r1']}",
        "B2",
        "C3",
        "TLP:GREEN",
    ]
    for s in a.signoffs:  # each approver, their institute and the date they signed
        expected += [s.name, f"{s.institute} lead", s.at.strftime("%Y-%m-%d")]
    assert len(a.signoffs) == 2
    missing = [e for e in expected if e not in text]
    assert not missing, f"{fmt} briefing lacks {missing}"
    # The title block says who approved it and when, not only "Approved · version N".
    assert f"Approved {a.approved_at:%Y-%m-%d}" in text


def test_bar_and_line_charts_are_editable_native_charts_in_pptx(store) -> None:
    from pptx import Presentation

    store.incident(category="Jailbreak", occurred_on=date(2026, 5, 2))
    store.incident(category="Jailbreak", originator="AU", occurred_on=date(2026, 6, 3))
    keys = ["by_category|current", "by_month|current"]
    data = export_briefing(
        store.store, UK_POLICY, "pptx", title="Pack", chart_keys=keys, current=Filters(), today=TODAY
    )
    prs = Presentation(io.BytesIO(data))
    charts = [s.chart for slide in prs.slides for s in slide.shapes if s.has_chart]
    assert len(charts) == 2
    by_category, by_month = charts
    assert list(by_category.plots[0].categories) == ["Jailbreak"]
    assert {s.name: list(s.values) for s in by_category.series} == {"UK": [1.0], "AU": [1.0]}
    assert list(by_month.plots[0].categories) == ["2026-05-01", "2026-06-01"]
    # The marked image (banner and footer) still follows each native chart.
    assert sum(1 for slide in prs.slides for s in slide.shapes if s.shape_type == 13) == 2
