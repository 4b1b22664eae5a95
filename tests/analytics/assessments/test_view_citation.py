"""A joint assessment citing a saved view, and briefed with a chart, stays releasable to both institutes.

A view stores filters, not data: cited in an assessment whose other evidence both institutes may see, its query
is evaluated at that audience (records releasable to both, never AMBER+STRICT or RED), not at the author's full
scope, so the UK author's own AMBER+STRICT and RED records do not make the assessment UK-only. A briefing drawn
from that assessment draws its charts at the assessment's marking too, so the default chart never raises it.
"""

from __future__ import annotations

from analytics import views
from analytics.assessments.checker import blocking, blocks_text, check
from analytics.assessments.evidence import draft_marking, evidence_info, marking_responsible, view_audience
from analytics.assessments.model import EvidenceRef
from analytics.assessments.workflow import create_assessment
from analytics.export.briefing.builder import (
    build_briefing,
    chart_choices,
    default_chart_keys,
    plan_briefing,
)
from analytics.filters import Filters
from tests.analytics.assessments.samples import INC, approve, draft, get, judgement, ref
from tests.conftest import AU_LEAD, AU_POLICY, TODAY, UK_ANALYST, UK_POLICY, StoreBuilder


def _uk_records(store: StoreBuilder) -> str:
    """Jailbreak records of every marking a UK analyst may see; returns the id of a joint GREEN one."""
    joint = store.incident(category="Jailbreak", tlp="GREEN")
    store.incident(category="Jailbreak", tlp="AMBER", releasable_to=["AU", "UK"], originator="AU")
    store.incident(category="Jailbreak", tlp="AMBER+STRICT", originator="UK")
    store.incident(category="Jailbreak", tlp="RED", named_recipients=["analyst@uk.example"])
    store.incident(category="Jailbreak", tlp="AMBER", releasable_to=["UK"])
    return joint


def _view(store: StoreBuilder) -> int:
    with store.store.transaction() as con:
        return views.save_view(con, UK_ANALYST, "Jailbreaks", "explorer", Filters(categories=("Jailbreak",)))


def test_a_view_cited_in_a_joint_assessment_is_marked_at_the_joint_audience(store) -> None:
    joint = _uk_records(store)
    vid = _view(store)
    d = draft(judgement(evidence=(ref(INC, joint), ref("view", str(vid)))))
    derived = draft_marking(store.cursor(), UK_ANALYST, d, TODAY)
    # Only the records releasable to both and neither AMBER+STRICT nor RED count: the highest is AMBER (AU's).
    assert (derived.tlp, derived.releasable_to) == ("AMBER", ("AU", "UK"))
    aid = create_assessment(store.store, UK_ANALYST, d, today=TODAY)
    a = get(store, UK_ANALYST, aid)
    assert a.marking.label == "TLP:AMBER · releasable to AU and UK"
    # The AU lead can read it (and so sign it off); after approval, policymakers of both institutes read it.
    assert get(store, AU_LEAD, aid) is not None
    approve(store, aid)
    assert get(store, AU_POLICY, aid) is not None and get(store, UK_POLICY, aid) is not None


def test_a_view_cited_alone_is_joint_and_its_marking_is_shown_before_choosing(store) -> None:
    _uk_records(store)
    vid = _view(store)
    d = draft(judgement(evidence=(ref("view", str(vid)),)))
    assert draft_marking(store.cursor(), UK_ANALYST, d, TODAY).releasable_to == ("AU", "UK")
    # The picker's marking of the view is the one citing it gives (at the draft's audience).
    audience = view_audience(store.cursor(), UK_ANALYST, d, TODAY)
    info = evidence_info(
        store.cursor(), UK_ANALYST, [EvidenceRef("view", str(vid))], TODAY, audience=audience
    )
    m = info[EvidenceRef("view", str(vid))].marking
    assert (m.tlp, m.releasable_to) == ("AMBER", ("AU", "UK"))


def test_a_view_in_an_assessment_narrowed_to_the_uk_keeps_the_authors_full_scope(store) -> None:
    _uk_records(store)
    vid = _view(store)
    d = draft(judgement(evidence=(ref("view", str(vid)),)), restrict_to=("UK",))
    derived = draft_marking(store.cursor(), UK_ANALYST, d, TODAY)
    assert derived.releasable_to == ("UK",)
    assert derived.tlp == "RED"  # the author's own RED record is in the view at that scope


def test_the_default_briefing_chart_does_not_raise_a_joint_assessment(store) -> None:
    joint = _uk_records(store)
    vid = _view(store)
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(judgement(evidence=(ref(INC, joint), ref("view", str(vid))))),
        today=TODAY,
    )
    approve(store, aid)
    a = get(store, UK_POLICY, aid)
    keys = default_chart_keys(store.cursor(), UK_POLICY, aid)
    assert keys and keys[0] in {k for k, _ in chart_choices(store.cursor(), UK_POLICY, assessment_id=aid)}
    plan = plan_briefing(
        store.cursor(),
        UK_POLICY,
        title="",
        chart_keys=keys,
        current=Filters(),
        today=TODAY,
        assessment_id=aid,
    )
    assert plan.marking.label == a.marking.label
    assert plan.raised_by == ()
    b = build_briefing(
        store.store,
        UK_POLICY,
        title="",
        chart_keys=keys,
        current=Filters(),
        today=TODAY,
        assessment_id=aid,
    )
    assert b.marking.label == "TLP:AMBER · releasable to AU and UK"
    # The chart shows only records at the assessment's marking: the joint GREEN and AMBER ones (2), not the
    # UK-only, AMBER+STRICT or RED records the policymaker could otherwise count.
    assert all(c.marking.releasable_to == ("AU", "UK") for c in b.charts)


def test_a_chart_at_the_full_scope_says_it_raises_the_marking(store) -> None:
    joint = _uk_records(store)
    aid = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, joint),))), today=TODAY
    )
    full = next(k for k, label in chart_choices(store.cursor(), UK_ANALYST) if "current filters" in label)
    plan = plan_briefing(
        store.cursor(),
        UK_ANALYST,
        title="",
        chart_keys=[full],
        current=Filters(),
        today=TODAY,
        assessment_id=aid,
    )
    assert plan.marking.tlp == "RED"
    assert plan.raised_by and "raises" in plan.raised_by[0]


def test_the_block_message_names_the_judgement_and_record_that_narrow_the_marking(store) -> None:
    joint = store.incident(category="Jailbreak")
    strict = store.incident(tlp="AMBER+STRICT", originator="UK")
    uk_only = store.incident(tlp="AMBER", releasable_to=["UK"])
    d = draft(
        judgement(evidence=(ref(INC, joint),)),
        judgement("Criminal groups will adopt agent kits.", evidence=(ref(INC, strict), ref(INC, uk_only))),
    )
    why = marking_responsible(store.cursor(), UK_ANALYST, d, TODAY)
    assert why == (
        f"Judgement 2 cites incident {strict} (TLP:AMBER+STRICT, UK only); "
        f"judgement 2 cites incident {uk_only} (TLP:AMBER, releasable to UK)."
    )
    text = blocks_text(blocking(check(store.cursor(), UK_ANALYST, d, None, TODAY)))
    assert f"Judgement 2 cites incident {strict}" in text
    # A joint draft has nothing to blame; an author's own narrowing is named as theirs.
    assert (
        marking_responsible(store.cursor(), UK_ANALYST, draft(judgement(evidence=(ref(INC, joint),))), TODAY)
        == ""
    )
    narrowed = draft(judgement(evidence=(ref(INC, joint),)), restrict_to=("UK",))
    assert marking_responsible(store.cursor(), UK_ANALYST, narrowed, TODAY) == (
        "The releasability chosen for the assessment (UK)."
    )
