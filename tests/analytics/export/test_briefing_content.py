"""The briefing content model: its marking combines every piece, its sources credit what the marking calls for,
its file name says draft, date and marking, and a chart drawn for a viewer holds only what they may see."""

from __future__ import annotations

from datetime import date

from analytics import charts
from analytics.export import chart_image as chart_export
from analytics.export.briefing.content import KeyJudgement, briefing_chart, briefing_filename, make_briefing
from analytics.export.briefing.markdown import to_markdown
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from tests.analytics.export.briefing_samples import JUDGEMENTS, NOW, sample_briefing
from tests.conftest import AU_ANALYST, TODAY


def test_marking_combines_assessment_and_charts_and_credits_sources(chart_png) -> None:
    b = sample_briefing(chart_png, draft=False)
    assert (b.marking.tlp, b.marking.releasable_to) == ("AMBER", ("UK",))
    assert b.sources == (
        "Assessment A-7 version 3",
        "AI Incident Database, CC BY-SA 4.0",
        "Records in the joint UK–AU AI threat dashboard, drawn under the filters each figure names",
    )
    assert briefing_filename(b, "pptx") == "2026-11-20_agentic-ai-and-cyber-intrusion_TLP-AMBER_REL-UK.pptx"
    assert briefing_filename(sample_briefing(chart_png, draft=True), "docx") == (
        "2026-11-20_draft-agentic-ai-and-cyber-intrusion_TLP-AMBER_REL-UK.docx"
    )


def test_briefing_chart_for_a_viewer_never_holds_records_they_may_not_see(store) -> None:
    store.incident(category="Model theft", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK"])
    store.incident(category="Jailbreak", originator="AU")
    scoped = incident_base.counts_by_originator_and_category(store.cursor(), AU_ANALYST, Filters(), TODAY)
    fig = charts.counts_by_originator_and_category(scoped.data)
    prov = chart_export.provenance_for(AU_ANALYST, scoped.marking, filters=Filters(), today=TODAY, as_of=None)
    c = briefing_chart(fig, scoped.marking, prov)
    b = make_briefing("Pack", charts=[c], now=NOW)
    assert (b.marking.tlp, b.marking.releasable_to) == ("GREEN", ("AU", "UK"))
    assert "Model theft" not in to_markdown(b)
    assert "Model theft" not in str(fig.to_dict())
    assert c.print_png and c.print_png != c.png
    assert date.fromisoformat(briefing_filename(b, "md")[:10]) == NOW.date()


def test_judgement_estimate_words_fall_back_when_term_or_confidence_is_missing() -> None:
    bare = KeyJudgement(3, "No estimate yet.")
    assert (bare.term_text, bare.confidence_text) == ("no probability term", "not given")
    assert bare.estimate == "no probability term · no confidence level"
    assert JUDGEMENTS[0].term_text == "likely (55–75%)" and JUDGEMENTS[0].confidence_text == "moderate"
    assert KeyJudgement(4, "Term only.", term="likely").term_text == "likely"
