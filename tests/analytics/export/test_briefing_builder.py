"""The briefing builder on a real store: assessments (drafts and approved) and charts, drawn for each viewer."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from docx import Document
from pptx import Presentation

from analytics import views
from analytics.access.viewer import AccessDenied
from analytics.assessments.model import AssessmentDraft, EvidenceRef, JudgementDraft, NotFound
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import create_assessment, sign_off, submit_for_review
from analytics.export.briefing import builder as bb
from analytics.filters import Filters
from tests.conftest import AU_ANALYST, AU_LEAD, AU_POLICY, TODAY, UK_ANALYST, UK_LEAD, UK_POLICY

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ALL = Filters()


def _assessment(store, *, evidence: list[str], title: str = "Agentic AI misuse in finance, 2027") -> int:
    j1 = JudgementDraft(
        "Agentic misuse against banks will rise.",
        term="likely",
        confidence="moderate",
        reasoning="Reports rose every quarter.",
        evidence=tuple(EvidenceRef("incident", e) for e in evidence),
    )
    j2 = JudgementDraft(
        "Criminal groups will adopt agent kits.",
        term="highly likely",
        confidence="high",
        evidence=tuple(EvidenceRef("incident", e) for e in evidence),
    )
    d = AssessmentDraft(
        title=title, question="Will misuse rise?", bluf="It is likely to rise in 2027.", judgements=(j1, j2)
    )
    return create_assessment(store.store, UK_ANALYST, d, today=TODAY)


def _approve(store, aid: int) -> None:
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    submit_for_review(store.store, UK_ANALYST, aid, a.version)
    sign_off(store.store, UK_LEAD, aid, a.version)
    assert sign_off(store.store, AU_LEAD, aid, a.version) == "approved"


@pytest.fixture
def two(store):
    """An approved joint assessment and a draft one, over records both institutes may see."""
    i1 = store.incident(category="Agentic system misuse", tlp="AMBER")
    i2 = store.incident(category="Jailbreak", originator="AU", source="aiid")
    approved = _assessment(store, evidence=[i1, i2])
    _approve(store, approved)
    draft = _assessment(store, evidence=[i2], title="Jailbreak kits, draft")
    return store, approved, draft


def test_policymakers_are_offered_approved_assessments_only(two) -> None:
    store, approved, draft = two
    con = store.cursor()
    assert [i for i, _ in bb.assessment_choices(con, UK_POLICY)] == [approved]
    assert [i for i, _ in bb.assessment_choices(con, AU_POLICY)] == [approved]
    assert sorted(i for i, _ in bb.assessment_choices(con, UK_ANALYST)) == sorted([approved, draft])
    label = dict(bb.assessment_choices(con, UK_ANALYST))[draft]
    assert label == f"A-{draft} · Jailbreak kits, draft · Draft · v1"
    with pytest.raises(NotFound):
        bb.plan_briefing(
            con, UK_POLICY, title="", chart_keys=(), current=ALL, today=TODAY, assessment_id=draft
        )
    with pytest.raises(NotFound):
        bb.build_briefing(
            store.store, AU_POLICY, title="", chart_keys=(), current=ALL, today=TODAY, assessment_id=draft
        )


def test_approved_assessment_briefing_is_not_watermarked_and_carries_judgements(two) -> None:
    store, approved, _ = two
    keys = ("by_category|current", "by_month|current")
    b = bb.build_briefing(
        store.store,
        UK_POLICY,
        title="",
        chart_keys=keys,
        current=ALL,
        today=TODAY,
        assessment_id=approved,
        now=NOW,
    )
    assert not b.draft
    assert b.title == "Agentic AI misuse in finance, 2027"
    assert [(j.term_label, j.confidence) for j in b.judgements] == [
        ("likely (55–75%)", "moderate"),
        ("highly likely (80–90%)", "high"),
    ]
    assert (b.marking.tlp, b.marking.releasable_to) == ("AMBER", ("AU", "UK"))
    assert "AI Incident Database, CC BY-SA 4.0" in b.sources
    prs = Presentation(io.BytesIO(bb.render(b, "pptx")))
    assert [s.shapes.title.text for s in prs.slides] == [
        "Agentic AI misuse in finance, 2027",
        "Bottom line",
        "Key judgement 1",
        "Key judgement 2",
        "What changed since the last assessment",
        "Assumptions",
        "Alternative views",
        "Indicators that would change these judgements",
        "Dissent",
        "Approval",
        "Evidence annex",
        "Incidents by category and reporting institute",
        "Incidents by category and reporting institute (image)",
        "Incidents per month by reporting institute",
        "Incidents per month by reporting institute (image)",
        "Sources",
    ]
    assert not any(s.name == "DRAFT watermark" for slide in prs.slides for s in slide.shapes)
    plan = bb.plan_briefing(
        store.cursor(), UK_POLICY, title="", chart_keys=keys, current=ALL, today=TODAY, assessment_id=approved
    )
    assert (plan.marking.tlp, plan.marking.releasable_to, plan.slides, plan.draft) == (
        "AMBER",
        ("AU", "UK"),
        len(prs.slides),
        False,
    )
    assert (
        plan.filename("pptx", TODAY)
        == "2026-11-20_agentic-ai-misuse-in-finance-2027_TLP-AMBER_REL-AU-UK.pptx"
    )


def test_draft_assessment_briefing_is_watermarked_everywhere(two) -> None:
    store, _, draft = two
    b = bb.build_briefing(
        store.store,
        UK_ANALYST,
        title="Kits",
        chart_keys=(),
        current=ALL,
        today=TODAY,
        assessment_id=draft,
        now=NOW,
    )
    assert b.draft and b.title == "Kits" and b.status == "Draft · version 1"
    prs = Presentation(io.BytesIO(bb.render(b, "pptx")))
    assert all(any(s.name == "DRAFT watermark" for s in slide.shapes) for slide in prs.slides)
    doc = Document(io.BytesIO(bb.render(b, "docx")))
    assert 'string="DRAFT"' in doc.sections[0].header._element.xml


def test_export_by_person_not_cleared_never_contains_the_record(store) -> None:
    store.incident(category="Model theft", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK"])
    store.incident(category="Jailbreak", originator="AU")
    with store.store.transaction() as con:
        vid = views.save_view(con, AU_ANALYST, "Thefts", "explorer", Filters(categories=("Model theft",)))
    data_au = bb.export_briefing(
        store.store,
        AU_ANALYST,
        "md",
        title="Pack",
        chart_keys=("by_category|current", f"by_category|view:{vid}"),
        current=ALL,
        today=TODAY,
    )
    b_au = bb.build_briefing(
        store.store, AU_ANALYST, title="Pack", chart_keys=("by_category|current",), current=ALL, today=TODAY
    )
    assert (b_au.marking.tlp, b_au.marking.releasable_to) == ("GREEN", ("AU", "UK"))
    assert "Model theft" not in str(
        bb.draw_chart(store.cursor(), AU_ANALYST, "by_category|current", ALL, TODAY).data.to_dict()
    )
    assert "Model theft" in str(
        bb.draw_chart(store.cursor(), UK_ANALYST, "by_category|current", ALL, TODAY).data.to_dict()
    )
    # the AU view's filters are the view owner's; the rows are the AU reader's: nothing from the UK-only record
    assert b"TLP:GREEN" in data_au and b"AMBER" not in data_au
    # a UK analyst may not use an AU saved view (it looks like it does not exist)
    with pytest.raises(ValueError, match="no saved view"):
        bb.draw_chart(store.cursor(), UK_ANALYST, f"by_category|view:{vid}", ALL, TODAY)
    entry = (
        store.cursor()
        .execute(
            "select email, object, detail from audit_log where action = 'export' order by id desc limit 1"
        )
        .fetchone()
    )
    detail = json.loads(entry[2])
    assert entry[:2] == ("analyst@au.example", "briefing:charts")
    assert (detail["kind"], detail["format"], detail["marking"]) == (
        "briefing",
        "md",
        "TLP:GREEN · releasable to AU and UK",
    )
    assert detail["charts"] == ["by_category|current", f"by_category|view:{vid}"]


def test_chart_choices_offer_current_filters_and_visible_saved_views(store) -> None:
    with store.store.transaction() as con:
        uk = views.save_view(con, UK_ANALYST, "UK jailbreaks", "explorer", Filters(categories=("Jailbreak",)))
        views.save_view(con, AU_ANALYST, "AU only", "explorer", Filters())
    keys = [k for k, _ in bb.chart_choices(store.cursor(), UK_POLICY)]
    assert keys == [
        "by_category|current",
        f"by_category|view:{uk}",
        "by_month|current",
        f"by_month|view:{uk}",
        "by_severity|current",
        f"by_severity|view:{uk}",
        "eval_scores|current",
        f"eval_scores|view:{uk}",
        "atlas_tactics|current",
        f"atlas_tactics|view:{uk}",
    ]
    labels = dict(bb.chart_choices(store.cursor(), UK_ANALYST))
    assert (
        labels[f"by_month|view:{uk}"]
        == "Incidents per month by reporting institute — saved view “UK jailbreaks” (explorer)"
    )
    with pytest.raises(ValueError):
        bb.ChartChoice.parse("nope|current")
    with pytest.raises(ValueError):
        bb.ChartChoice.parse("by_month|view:x")


def test_record_level_chart_kinds_are_refused_for_policymakers(store) -> None:
    from analytics.access.markings import Scoped

    kind = bb.ChartKind("test_records", "Records", lambda con, v, f, t: Scoped(None, None), summary=False)  # type: ignore[arg-type]
    bb.register_chart(kind)
    try:
        assert "test_records|current" not in dict(bb.chart_choices(store.cursor(), UK_POLICY))
        assert "test_records|current" in dict(bb.chart_choices(store.cursor(), UK_ANALYST))
        with pytest.raises(AccessDenied):
            bb.draw_chart(store.cursor(), UK_POLICY, "test_records|current", ALL, TODAY)
    finally:
        del bb.CHART_KINDS["test_records"]


def test_page_slide_is_marked_with_all_its_charts_and_audited(store) -> None:
    store.incident(category="Model theft", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK"])
    store.incident(category="Jailbreak", originator="AU")
    a = bb.draw_chart(store.cursor(), UK_ANALYST, "by_category|current", ALL, TODAY)
    b = bb.draw_chart(store.cursor(), UK_ANALYST, "by_month|current", Filters(originators=("AU",)), TODAY)
    assert b.marking.tlp == "GREEN"
    data = bb.export_page_slide(
        store.store,
        UK_ANALYST,
        title="Overview",
        figures=[(a.data, a.marking), (b.data, b.marking)],
        filters=ALL,
        today=TODAY,
        page="overview",
    )
    (slide,) = Presentation(io.BytesIO(data)).slides
    assert "TLP:AMBER+STRICT   releasable to UK   ·   UK OFFICIAL · AU OFFICIAL" in [
        s.text_frame.text for s in slide.shapes if s.has_text_frame
    ]
    assert (
        bb.slide_filename("Overview", [a.marking, b.marking], TODAY)
        == "2026-11-20_slide-overview_TLP-AMBER-STRICT_REL-UK.pptx"
    )
    obj, detail = (
        store.cursor()
        .execute("select object, detail from audit_log where action = 'export' order by id desc limit 1")
        .fetchone()
    )
    assert obj == "page:overview" and json.loads(detail)["kind"] == "slide"


def test_the_tactic_chart_counts_a_sub_technique_under_its_parents_tactics(store) -> None:
    """ATLAS links tactics to parent techniques; an incident citing only a sub-technique still serves them (as
    the sidebar and the matrix count it), and an incident counts once per tactic."""
    with store.store.transaction() as con:
        con.executemany(
            "insert into atlas_tactics (id, name, ordinal) values (?, ?, ?)",
            [("AML.TA0005", "Execution", 1), ("AML.TA0007", "Defense Evasion", 2)],
        )
        con.executemany(
            "insert into atlas_technique_tactics values (?, ?)",
            [("AML.T0051", "AML.TA0005"), ("AML.T0054", "AML.TA0005"), ("AML.T0054", "AML.TA0007")],
        )
    store.incident(techniques=["AML.T0051.000"])
    store.incident(techniques=["AML.T0051", "AML.T0054"])
    fig = bb._atlas_tactics(store.cursor(), UK_ANALYST, Filters(), TODAY).data
    assert dict(zip(fig.data[0].x, fig.data[0].y, strict=True)) == {"Execution": 2, "Defense Evasion": 1}
