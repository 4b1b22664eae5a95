"""Assessments on a real DuckDB store: the checker, marking derivation, workflow, versions, pins, visibility."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta

import pytest

from analytics import views
from analytics.access.viewer import AccessDenied
from analytics.assessments.checker import Finding, check, check_draft, check_judgement, marking_findings
from analytics.assessments.diff import compare_versions
from analytics.assessments.evidence import (
    draft_marking,
    evidence_changed_count,
    pinned_evidence,
    search_evidence,
)
from analytics.assessments.marking import EvidenceMarking, derive_marking
from analytics.assessments.model import (
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    EvidenceRef,
    JudgementDraft,
    NotFound,
    WorkflowError,
)
from analytics.assessments.reads import (
    get_assessment,
    latest_approved,
    list_approved,
    list_assessments,
    list_versions,
)
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    start_successor,
    submit_for_review,
)
from analytics.filters import Filters
from tests.conftest import (
    ADMIN,
    AU_ANALYST,
    AU_LEAD,
    AU_POLICY,
    TODAY,
    UK_ANALYST,
    UK_LEAD,
    UK_POLICY,
    StoreBuilder,
)

INC = "incident"


def ref(kind: str, rid: str) -> EvidenceRef:
    return EvidenceRef(kind, rid)


def judgement(statement: str = "Agentic misuse against banks will rise.", **kw) -> JudgementDraft:
    base = {
        "term": "likely",
        "confidence": "moderate",
        "reasoning": "Reports from both institutes rose every quarter.",
        "evidence": (),
    }
    base.update(kw)
    return JudgementDraft(statement, **base)


def draft(*judgements: JudgementDraft, **kw) -> AssessmentDraft:
    base = {
        "title": "Agentic AI misuse in finance, 2027",
        "question": "Will agentic misuse against banks rise in 2027?",
        "bluf": "It is likely to rise.",
        "judgements": judgements,
        "assumptions": ("Reporting rates stay level",),
        "alternatives": ("The rise is a reporting artefact",),
        "indicators": ("A fall in bank-reported incidents",),
    }
    base.update(kw)
    return AssessmentDraft(**base)


@pytest.fixture
def joint(store: StoreBuilder) -> tuple[StoreBuilder, int]:
    """A UK analyst's draft with two judgements citing records both institutes may see."""
    i1 = store.incident(title="Agent drained accounts", category="Agentic system misuse")
    i2 = store.incident(title="Invoice agent hijacked", originator="AU")
    r1 = store.eval_run(benchmark="Cybench", score=0.62)
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(
            judgement(evidence=(ref(INC, i1), ref("eval_run", r1))),
            judgement(
                "Criminal groups will adopt agent kits.", term="highly likely", evidence=(ref(INC, i2),)
            ),
        ),
        today=TODAY,
    )
    return store, aid


def get(store: StoreBuilder, viewer, aid: int, **kw):
    return get_assessment(store.cursor(), viewer, aid, **kw)


def approve(store: StoreBuilder, aid: int) -> None:
    a = get(store, UK_ANALYST, aid)
    submit_for_review(store.store, UK_ANALYST, aid, a.version)
    sign_off(store.store, UK_LEAD, aid, a.version)
    assert sign_off(store.store, AU_LEAD, aid, a.version) == "approved"


# -- the checker: each flag with a positive and a negative example ----------------------------------------------


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_flags_a_judgement_without_term_or_confidence() -> None:
    flagged = check_judgement(1, judgement(term=None, confidence=None, evidence=(ref(INC, "x"),)))
    assert codes(flagged) == ["no_term", "no_confidence"]
    assert all(f.severity == "error" and f.judgement == 1 for f in flagged)
    assert check_judgement(1, judgement(evidence=(ref(INC, "x"),))) == []


@pytest.mark.parametrize("word", ["could", "May", "MIGHT", "possibly", "potentially"])
def test_flags_vague_words_as_whole_words_in_any_case(word: str) -> None:
    j = judgement(f"Attackers {word} use agents.", evidence=(ref(INC, "x"),))
    assert codes(check_judgement(2, j)) == ["vague_word"]
    assert word.lower() in check_judgement(2, j)[0].message


def test_vague_words_inside_other_words_are_not_flagged() -> None:
    j = judgement(
        "Mayfield banks, maybe mightily, saw couldron-themed lures; possibilities abound.",
        reasoning="Potentiality is not a word we use.",
        evidence=(ref(INC, "x"),),
    )
    assert check_judgement(1, j) == []


def test_vague_word_in_the_reasoning_is_flagged_too() -> None:
    j = judgement(reasoning="The trend could reverse.", evidence=(ref(INC, "x"),))
    assert codes(check_judgement(1, j)) == ["vague_word"]


def test_flags_a_probability_term_in_the_text_that_contradicts_the_band() -> None:
    j = judgement("It is highly unlikely that banks escape.", term="likely", evidence=(ref(INC, "x"),))
    flagged = check_judgement(1, j)
    assert codes(flagged) == ["term_contradicts"]
    assert "highly unlikely" in flagged[0].message and "likely (55–75%)" in flagged[0].message
    # the same words with the matching term, a PHIA synonym, or an overlapping ICD phrase are fine
    assert (
        check_judgement(
            1, judgement("It is highly unlikely.", term="highly unlikely", evidence=(ref(INC, "x"),))
        )
        == []
    )
    assert (
        check_judgement(1, judgement("Banks will probably be hit.", term="likely", evidence=(ref(INC, "x"),)))
        == []
    )
    assert (
        check_judgement(1, judgement("It is very likely.", term="highly likely", evidence=(ref(INC, "x"),)))
        == []
    )


def test_flags_a_percentage_outside_the_band() -> None:
    j = judgement("We put this at 70%.", term="highly likely", evidence=(ref(INC, "x"),))
    flagged = check_judgement(1, j)
    assert codes(flagged) == ["percent_outside"]
    assert "70%" in flagged[0].message and "80–90%" in flagged[0].message
    assert (
        check_judgement(1, judgement("We put this at 85%.", term="highly likely", evidence=(ref(INC, "x"),)))
        == []
    )
    assert check_judgement(1, judgement("Between 60 and 70 per cent.", evidence=(ref(INC, "x"),))) == []
    assert codes(check_judgement(1, judgement("About 50-60%.", evidence=(ref(INC, "x"),)))) == [
        "percent_outside"
    ]
    # a value in one of the deliberate gaps is outside every band
    assert codes(check_judgement(1, judgement("37%.", term="unlikely", evidence=(ref(INC, "x"),)))) == [
        "percent_outside"
    ]


def test_flags_a_judgement_with_no_evidence() -> None:
    assert codes(check_judgement(1, judgement())) == ["no_evidence"]
    assert check_judgement(1, judgement(evidence=(ref(INC, "x"),))) == []


def test_flags_evidence_updated_after_the_judgement_was_last_edited() -> None:
    edited = datetime(2026, 11, 1, 12)
    e = ref(INC, "x")
    newer = check_judgement(
        1, judgement(evidence=(e,)), edited_at=edited, evidence_updated={e: edited + timedelta(hours=1)}
    )
    assert codes(newer) == ["evidence_newer"]
    older = check_judgement(
        1, judgement(evidence=(e,)), edited_at=edited, evidence_updated={e: edited - timedelta(days=3)}
    )
    assert older == []


def test_evidence_newer_is_found_from_the_store(joint) -> None:
    store, aid = joint
    a = get(store, UK_ANALYST, aid)
    assert "evidence_newer" not in codes(check(store.cursor(), UK_ANALYST, a.to_draft(), a, TODAY))
    cited = a.judgements[1].evidence[0].ref_id
    with store.store.transaction() as con:
        con.execute(
            "update incidents set summary = 'new facts', updated_at = current_timestamp + interval 1 minute where id = ?",
            [cited],
        )
    found = check(store.cursor(), UK_ANALYST, a.to_draft(), a, TODAY)
    assert [(f.code, f.judgement) for f in found] == [("evidence_newer", 2)]


def test_draft_level_checks() -> None:
    found = check_draft(AssessmentDraft(title=" ", bluf="It might happen."))
    assert codes(found) == ["no_title", "no_judgements", "vague_word"]


# -- marking derivation --------------------------------------------------------------------------------------------


def em(tlp: str, rel=("AU", "UK"), named=(), orig="UK") -> EvidenceMarking:
    return EvidenceMarking(tlp, tuple(rel), tuple(named), orig)


def test_marking_is_highest_tlp_and_narrowest_releasability() -> None:
    m = derive_marking([em("GREEN"), em("AMBER", rel=("UK",)), em("CLEAR")], creator_institute="AU")
    assert (m.tlp, m.releasable_to, m.originator) == ("AMBER", ("UK",), "AU")
    assert derive_marking([], creator_institute="UK").marking.label == "TLP:CLEAR · releasable to AU and UK"


def test_authors_may_raise_the_marking_but_never_lower_it() -> None:
    evidence = [em("AMBER")]
    assert derive_marking(evidence, creator_institute="UK", raise_tlp="GREEN").tlp == "AMBER"
    raised = derive_marking(
        evidence, creator_institute="UK", raise_tlp="RED", named_recipients=["Lead@UK.example"]
    )
    assert (raised.tlp, raised.named_recipients, raised.evidence_tlp) == (
        "RED",
        ("lead@uk.example",),
        "AMBER",
    )
    assert derive_marking(evidence, creator_institute="UK", restrict_to=["UK"]).releasable_to == ("UK",)


def test_strict_evidence_keeps_the_assessment_in_its_originating_institute() -> None:
    m = derive_marking([em("GREEN"), em("AMBER+STRICT", orig="AU")], creator_institute="UK")
    assert (m.tlp, m.releasable_to, m.originator) == ("AMBER+STRICT", ("AU",), "AU")
    both = derive_marking(
        [em("AMBER+STRICT", orig="AU"), em("AMBER+STRICT", orig="UK")], creator_institute="UK"
    )
    assert both.releasable_to == ()
    assert codes(marking_findings(both)) == ["unreadable"]
    assert codes(marking_findings(m)) == ["single_institute"]


def test_red_recipients_are_those_named_on_every_red_record() -> None:
    m = derive_marking(
        [
            em("RED", named=("a@uk.example", "b@au.example", "c@uk.example")),
            em("RED", named=("b@au.example", "a@uk.example")),
        ],
        creator_institute="UK",
    )
    assert (m.tlp, m.named_recipients) == ("RED", ("a@uk.example", "b@au.example"))


def test_saved_marking_comes_from_the_cited_records(store) -> None:
    green = store.incident()
    amber = store.incident(tlp="AMBER", releasable_to=["UK", "AU"])
    run = store.eval_run(tlp="AMBER", releasable_to=["UK"], institute="UK")
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(judgement(evidence=(ref(INC, green), ref(INC, amber), ref("eval_run", run)))),
        today=TODAY,
    )
    a = get(store, UK_ANALYST, aid)
    assert a.marking.label == "TLP:AMBER · releasable to UK"
    assert (
        get(store, AU_ANALYST, aid) is None
    )  # an AU analyst cannot see the UK-only run, so not the assessment


def test_a_record_marked_up_later_hides_the_assessment_and_raises_its_banner(joint) -> None:
    store, aid = joint
    approve(store, aid)
    cited = next(e.ref_id for e in get(store, UK_POLICY, aid).judgements[0].evidence if e.kind == INC)
    with store.store.transaction() as con:
        con.execute(
            "update incidents set tlp = 'RED', named_recipients = ['lead@uk.example', 'policy@uk.example'] where id = ?",
            [cited],
        )
    assert get(store, AU_POLICY, aid) is None
    assert get(store, AU_LEAD, aid) is None
    assert list_approved(store.cursor(), AU_POLICY).data.empty
    a = get(store, UK_POLICY, aid)
    assert a.marking.tlp == "RED" and a.named_recipients == ("lead@uk.example", "policy@uk.example")


def test_cannot_cite_a_record_you_may_not_see_and_the_refusal_reads_like_a_missing_one(store) -> None:
    hidden = store.incident(originator="UK", tlp="AMBER+STRICT", releasable_to=["UK", "AU"])
    with pytest.raises(AssessmentError) as refused:
        create_assessment(store.store, AU_ANALYST, draft(judgement(evidence=(ref(INC, hidden),))))
    with pytest.raises(AssessmentError) as missing:
        create_assessment(store.store, AU_ANALYST, draft(judgement(evidence=(ref(INC, "T-9999"),))))
    assert str(refused.value).replace(hidden, "ID") == str(missing.value).replace("T-9999", "ID")
    assert store.cursor().execute("select count(*) from assessments").fetchone()[0] == 0


def test_evidence_search_shows_only_what_the_author_may_see(store) -> None:
    store.incident(
        title="Agent fraud at a bank", originator="UK", tlp="AMBER+STRICT", releasable_to=["UK", "AU"]
    )
    shared = store.incident(title="Agent fraud at a lender", originator="UK")
    store.eval_run(model="Kestrel-2", tlp="AMBER", releasable_to=["UK"])
    au = search_evidence(store.cursor(), AU_ANALYST, "incident", "agent fraud", TODAY)
    uk = search_evidence(store.cursor(), UK_ANALYST, "incident", "agent fraud", TODAY)
    assert list(au["ref"]) == [f"incident:{shared}"]
    assert len(uk) == 2
    assert search_evidence(store.cursor(), AU_ANALYST, "eval_run", "kestrel", TODAY).empty
    assert len(search_evidence(store.cursor(), UK_ANALYST, "eval_run", "kestrel", TODAY)) == 1
    by_id = search_evidence(store.cursor(), AU_ANALYST, "incident", shared.lower(), TODAY)
    assert list(by_id["ref"]) == [f"incident:{shared}"]
    with pytest.raises(AccessDenied):
        search_evidence(store.cursor(), UK_POLICY, "incident", "agent", TODAY)


def test_saved_views_as_evidence_narrow_to_their_institute(store) -> None:
    store.incident(category="Jailbreak")
    with store.store.transaction() as con:
        vid = views.save_view(con, UK_ANALYST, "Jailbreaks", "explorer", Filters(categories=("Jailbreak",)))
    found = search_evidence(store.cursor(), UK_ANALYST, "view", "jail", TODAY)
    assert list(found["ref"]) == [f"view:{vid}"]
    assert search_evidence(store.cursor(), AU_ANALYST, "view", "jail", TODAY).empty
    aid = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref("view", str(vid)),))), today=TODAY
    )
    a = get(store, UK_ANALYST, aid)
    assert a.marking.label == "TLP:GREEN · releasable to UK"
    assert get(store, AU_ANALYST, aid) is None


# -- workflow -------------------------------------------------------------------------------------------------------


def test_nobody_approves_their_own_draft(store) -> None:
    i = store.incident()
    aid = create_assessment(store.store, UK_LEAD, draft(judgement(evidence=(ref(INC, i),))))
    submit_for_review(store.store, UK_LEAD, aid, 1)
    with pytest.raises(WorkflowError, match="cannot approve it"):
        sign_off(store.store, UK_LEAD, aid, 1)
    # nor does a lead who edited a later version
    aid2 = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, i),))))
    save_version(store.store, AU_LEAD, aid2, draft(judgement(evidence=(ref(INC, i),)), title="Retitled"), 1)
    submit_for_review(store.store, UK_ANALYST, aid2, 2)
    with pytest.raises(WorkflowError, match="cannot approve it"):
        sign_off(store.store, AU_LEAD, aid2, 2)


def test_approval_needs_a_lead_of_each_institute(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    assert sign_off(store.store, UK_LEAD, aid, 1) == "in_review"
    a = get(store, UK_ANALYST, aid)
    assert (a.status, a.signed_institutes, a.approved_version) == ("in_review", ("UK",), None)
    with pytest.raises(WorkflowError, match="already signed"):
        sign_off(store.store, UK_LEAD, aid, 1)
    assert get(store, UK_POLICY, aid) is None
    assert sign_off(store.store, AU_LEAD, aid, 1) == "approved"
    a = get(store, UK_ANALYST, aid)
    assert (a.status, a.signed_institutes, a.approved_version) == ("approved", ("AU", "UK"), 1)


def test_only_leads_sign_off_and_only_in_review(joint) -> None:
    store, aid = joint
    with pytest.raises(WorkflowError, match="in review"):
        sign_off(store.store, AU_LEAD, aid, 1)
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    with pytest.raises(AccessDenied):
        sign_off(store.store, AU_ANALYST, aid, 1)
    with pytest.raises(AccessDenied):
        sign_off(store.store, AU_POLICY, aid, 1)


def test_an_edit_after_a_sign_off_makes_a_new_version_and_clears_sign_offs(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    sign_off(store.store, UK_LEAD, aid, 1)
    edited = replace_title(
        get(store, UK_ANALYST, aid).to_draft(), "Agentic AI misuse in finance, 2027 (revised)"
    )
    assert save_version(store.store, UK_ANALYST, aid, edited, 1) == 2
    a = get(store, AU_LEAD, aid)
    assert (a.version, a.status, a.signoffs) == (2, "in_review", ())
    # the old sign-off is history, not approval: AU alone does not approve version 2
    with pytest.raises(WorkflowError, match="saved after you opened version 1"):
        sign_off(store.store, AU_LEAD, aid, 1)
    assert sign_off(store.store, AU_LEAD, aid, 2) == "in_review"
    assert sign_off(store.store, UK_LEAD, aid, 2) == "approved"
    audit = (
        store.cursor()
        .execute("select detail from audit_log where action = 'save assessment' order by id desc limit 1")
        .fetchone()[0]
    )
    assert json.loads(audit)["signoffs_cleared"] == ["lead@uk.example"]


def replace_title(d: AssessmentDraft, title: str) -> AssessmentDraft:
    from dataclasses import replace

    return replace(d, title=title)


def test_the_second_of_two_saves_from_the_same_version_gets_a_conflict_and_nothing_is_lost(joint) -> None:
    store, aid = joint
    base = get(store, UK_ANALYST, aid).to_draft()
    save_version(store.store, UK_ANALYST, aid, replace_title(base, "UK edit"), 1)
    mine = replace_title(base, "AU edit")
    with pytest.raises(EditConflict) as conflict:
        save_version(store.store, AU_ANALYST, aid, mine, 1)
    assert conflict.value.theirs.title == "UK edit" and conflict.value.theirs.version == 2
    assert conflict.value.mine.title == "AU edit"
    assert "Version 2 was saved by analyst@uk.example after you opened version 1" in str(conflict.value)
    logged = (
        store.cursor()
        .execute("select email, detail from audit_log where action = 'assessment save conflict'")
        .fetchone()
    )
    assert logged[0] == "analyst@au.example"
    # the log keeps ids and the names of the fields that differ, never the refused text (it stays in the editor)
    assert json.loads(logged[1]) == {"expected_version": 1, "current_version": 2, "fields": ["title"]}
    # the author re-saves on top of the version they now know about; both texts are kept as versions
    assert save_version(store.store, AU_ANALYST, aid, mine, 2) == 3
    titles = [get(store, UK_ANALYST, aid, version=v).title for v in (1, 2, 3)]
    assert titles == ["Agentic AI misuse in finance, 2027", "UK edit", "AU edit"]


def race(*calls) -> list[object]:
    """Run the calls in threads released together; each result is its return value or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except Exception as e:  # the test asserts on what came back
            results[k] = e

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("attempt", range(4))
def test_truly_concurrent_saves_one_wins_one_conflicts(joint, attempt: int) -> None:
    """However the two sessions interleave, exactly one save lands and the other gets both texts back."""
    store, aid = joint
    base = get(store, UK_ANALYST, aid).to_draft()
    results = race(
        lambda: save_version(store.store, UK_ANALYST, aid, replace_title(base, "UK edit"), 1),
        lambda: save_version(store.store, AU_ANALYST, aid, replace_title(base, "AU edit"), 1),
    )
    assert sorted(type(r).__name__ for r in results) == ["EditConflict", "int"], results
    conflict = next(r for r in results if isinstance(r, EditConflict))
    assert conflict.mine.title in ("UK edit", "AU edit")
    current = get(store, UK_ANALYST, aid)
    assert current.version == 2 and current.title != conflict.mine.title
    assert [v.version for v in list_versions(store.cursor(), UK_ANALYST, aid)] == [2, 1]


@pytest.mark.parametrize("attempt", range(3))
def test_two_leads_signing_at_once_still_approve(joint, attempt: int) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    results = race(
        lambda: sign_off(store.store, UK_LEAD, aid, 1),
        lambda: sign_off(store.store, AU_LEAD, aid, 1),
    )
    assert sorted(results) == ["approved", "in_review"], results
    a = get(store, UK_POLICY, aid)
    assert (a.status, a.signed_institutes) == ("approved", ("AU", "UK"))


def test_submit_is_blocked_by_checker_errors(store) -> None:
    i = store.incident()
    aid = create_assessment(store.store, UK_ANALYST, draft(judgement(term=None, evidence=(ref(INC, i),))))
    with pytest.raises(WorkflowError, match="no probability term"):
        submit_for_review(store.store, UK_ANALYST, aid, 1)
    assert get(store, UK_ANALYST, aid).status == "draft"


def test_return_with_comments_then_resubmit(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)
    sign_off(store.store, UK_LEAD, aid, 1)
    with pytest.raises(AssessmentError):
        return_for_changes(store.store, AU_LEAD, aid, 1, "  ")
    return_for_changes(store.store, AU_LEAD, aid, 1, "Judgement 2 needs the AU reporting.")
    a = get(store, UK_ANALYST, aid)
    assert a.status == "returned"
    assert [(c.kind, c.email, c.body) for c in a.comments] == [
        ("return", "lead@au.example", "Judgement 2 needs the AU reporting.")
    ]
    assert save_version(store.store, UK_ANALYST, aid, a.to_draft(), 1) == 1  # no change, no new version
    save_version(store.store, UK_ANALYST, aid, replace_title(a.to_draft(), "With AU reporting"), 1, note="AU")
    submit_for_review(store.store, UK_ANALYST, aid, 2)
    assert get(store, UK_ANALYST, aid).status == "in_review"


def test_comments_per_judgement_and_dissent_stays_in_the_approved_text(joint) -> None:
    store, aid = joint
    a = get(store, UK_ANALYST, aid)
    j2 = a.judgements[1].key
    add_comment(store.store, AU_LEAD, aid, 1, j2, "Cite the AU intrusion set too.")
    add_comment(
        store.store, AU_ANALYST, aid, 1, j2, "AU assesses this as a realistic possibility.", dissent=True
    )
    with pytest.raises(NotFound):
        add_comment(store.store, AU_LEAD, aid, 1, "nope", "x")
    approve(store, aid)
    approved = get(store, AU_POLICY, aid)
    assert approved.judgements[0].dissents == ()
    assert [(d.name, d.body) for d in approved.judgements[1].dissents] == [
        ("Liam Nguyen", "AU assesses this as a realistic possibility.")
    ]
    with pytest.raises(WorkflowError):
        add_comment(store.store, AU_ANALYST, aid, 1, j2, "late", dissent=True)


def test_approved_assessments_are_final_and_successors_supersede_them(joint) -> None:
    store, aid = joint
    approve(store, aid)
    with pytest.raises(WorkflowError, match="final"):
        save_version(store.store, UK_ANALYST, aid, get(store, UK_ANALYST, aid).to_draft(), 1)
    nxt = start_successor(store.store, AU_ANALYST, aid, today=TODAY)
    succ = get(store, AU_ANALYST, nxt)
    assert (succ.supersedes, succ.status, len(succ.judgements)) == (aid, "draft", 2)
    assert list(latest_approved(store.cursor(), UK_POLICY, 5).data["id"]) == [aid]
    approve_as(store, nxt, author=AU_ANALYST)
    assert list(latest_approved(store.cursor(), UK_POLICY, 5).data["id"]) == [nxt]
    assert get(store, UK_POLICY, aid).superseded_by == nxt


def approve_as(store: StoreBuilder, aid: int, author) -> None:
    a = get(store, author, aid)
    submit_for_review(store.store, author, aid, a.version)
    sign_off(store.store, UK_LEAD, aid, a.version)
    sign_off(store.store, AU_LEAD, aid, a.version)


def test_writes_are_role_checked_and_audited(joint) -> None:
    store, aid = joint
    with pytest.raises(AccessDenied):
        create_assessment(store.store, UK_POLICY, draft())
    with pytest.raises(AccessDenied):
        save_version(store.store, ADMIN, aid, draft(), 1)
    approve(store, aid)
    actions = [
        r[0]
        for r in store.cursor()
        .execute(
            "select action || ' by ' || email from audit_log where object = ? order by id",
            [f"assessment:{aid}"],
        )
        .fetchall()
    ]
    assert actions == [
        "create assessment by analyst@uk.example",
        "refused by admin@joint.example",
        "submit assessment by analyst@uk.example",
        "sign off assessment by lead@uk.example",
        "sign off assessment by lead@au.example",
    ]


# -- versions --------------------------------------------------------------------------------------------------------


def test_compare_two_versions(joint) -> None:
    store, aid = joint
    v1 = get(store, UK_ANALYST, aid)
    j1, j2 = v1.judgements
    new = JudgementDraft(
        "Insurers will also be targeted.", "realistic possibility", "low", "New reports.", j1.evidence
    )
    edited = AssessmentDraft(
        title=v1.title,
        question=v1.question,
        bluf="It is highly likely to rise.",
        judgements=(
            JudgementDraft(
                "Agentic misuse against banks will rise sharply.",
                "highly likely",
                "high",
                j1.reasoning,
                j1.evidence,
                j1.key,
            ),
            new,
        ),
        assumptions=v1.assumptions,
        alternatives=v1.alternatives,
        indicators=v1.indicators,
    )
    save_version(store.store, AU_ANALYST, aid, edited, 1)
    d = compare_versions(store.cursor(), UK_ANALYST, aid, 1, 2)
    assert [(c.new_number, c.new) for c in d.added] == [(2, "Insurers will also be targeted.")]
    assert [(c.old_number, c.old) for c in d.removed] == [(2, j2.statement)]
    assert [(c.old, c.new) for c in d.reworded] == [
        ("Agentic misuse against banks will rise.", "Agentic misuse against banks will rise sharply.")
    ]
    assert [c.detail for c in d.term_changed] == ["likely → highly likely"]
    assert [c.detail for c in d.confidence_changed] == ["moderate → high confidence"]
    assert d.evidence_changed == () and d.reasoning_changed == ()
    assert d.sections_changed == ("bottom line up front",)
    assert not d.empty
    assert compare_versions(store.cursor(), UK_ANALYST, aid, 2, 2).empty
    assert [v.version for v in list_versions(store.cursor(), UK_ANALYST, aid)] == [2, 1]


def test_unchanged_judgements_keep_their_last_edit_time(joint) -> None:
    store, aid = joint
    v1 = get(store, UK_ANALYST, aid)
    d = v1.to_draft()
    from dataclasses import replace

    changed = replace(d, judgements=(d.judgements[0], replace(d.judgements[1], confidence="high")))
    save_version(store.store, AU_ANALYST, aid, changed, 1)
    v2 = get(store, UK_ANALYST, aid)
    assert v2.judgements[0].edited_at == v1.judgements[0].edited_at
    assert v2.judgements[0].edited_by == "analyst@uk.example"
    assert v2.judgements[1].edited_by == "analyst@au.example"
    assert v2.authors == ("analyst@uk.example", "analyst@au.example")


# -- pinning -------------------------------------------------------------------------------------------------------


def test_approval_pins_evidence_and_the_page_can_tell_what_changed_since(joint) -> None:
    store, aid = joint
    approve(store, aid)
    a = get(store, UK_POLICY, aid)
    i1 = a.judgements[0].evidence[0]
    assert i1.kind == "eval_run" or i1.kind == INC
    pins = pinned_evidence(store.cursor(), UK_ANALYST, aid)
    assert [(p.ref.kind, p.changed) for p in pins] == [("eval_run", False), (INC, False), (INC, False)]
    inc = next(p for p in pins if p.pinned.get("title") == "Agent drained accounts")
    with store.store.transaction() as con:
        con.execute(
            "update incidents set title = 'Agent drained 40 accounts', severity = 5, tlp = 'AMBER' where id = ?",
            [inc.ref.ref_id],
        )
    after = {p.ref: p for p in pinned_evidence(store.cursor(), UK_ANALYST, aid)}
    changed = after[inc.ref]
    assert changed.changed_fields == ("title", "severity", "tlp")
    assert (changed.pinned["title"], changed.pinned["severity"], changed.marking.tlp) == (
        "Agent drained accounts",
        3,
        "GREEN",
    )
    assert sum(p.changed for p in after.values()) == 1
    assert evidence_changed_count(store.cursor(), AU_POLICY, aid) == 1
    # the approved text itself did not move; its banner rose with the evidence
    again = get(store, UK_POLICY, aid)
    assert again.judgements == a.judgements and again.marking.tlp == "AMBER"


# -- who sees what ---------------------------------------------------------------------------------------------------


def test_policymakers_and_admins_see_only_approved_assessments_they_are_cleared_for(store) -> None:
    shared = store.incident()
    red = store.incident(
        tlp="RED",
        named_recipients=["analyst@uk.example", "lead@uk.example", "lead@au.example", "policy@uk.example"],
    )
    open_one = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, shared),)), title="Open")
    )
    red_one = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, red),)), title="Red")
    )
    draft_only = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, shared),)), title="Draft")
    )
    for viewer in (UK_POLICY, AU_POLICY, ADMIN):
        assert get(store, viewer, open_one) is None
        assert list_approved(store.cursor(), viewer).data.empty
    approve(store, open_one)
    approve(store, red_one)
    assert get(store, UK_ANALYST, red_one).marking.tlp == "RED"

    def titles(viewer) -> list[str]:
        return sorted(list_approved(store.cursor(), viewer).data["title"])

    assert titles(UK_POLICY) == ["Open", "Red"]
    assert titles(AU_POLICY) == ["Open"]
    assert titles(ADMIN) == ["Open"]
    assert get(store, AU_POLICY, red_one) is None
    assert get(store, AU_POLICY, draft_only) is None
    assert get(store, AU_POLICY, open_one).title == "Open"
    assert get(store, AU_POLICY, open_one, version=1).version == 1
    with pytest.raises(AccessDenied):
        list_assessments(store.cursor(), AU_POLICY)
    # analysts see drafts in the workspace list; the RED one only if named
    listed = list_assessments(store.cursor(), AU_ANALYST).data
    assert sorted(listed["title"]) == ["Draft", "Open"]
    assert list_assessments(store.cursor(), AU_ANALYST).marking.label == "TLP:GREEN · releasable to AU and UK"


def test_list_says_what_awaits_my_sign_off(joint) -> None:
    store, aid = joint
    submit_for_review(store.store, UK_ANALYST, aid, 1)

    def awaiting(viewer) -> bool:
        df = list_assessments(store.cursor(), viewer).data
        return bool(df.loc[df["id"] == aid, "awaiting_me"].iloc[0])

    assert awaiting(UK_LEAD) and awaiting(AU_LEAD)
    assert not awaiting(UK_ANALYST)
    sign_off(store.store, UK_LEAD, aid, 1)
    assert not awaiting(UK_LEAD) and awaiting(AU_LEAD)
    row = list_assessments(store.cursor(), UK_ANALYST).data.iloc[0]
    assert (row["status"], list(row["signed_by"]), list(row["authors"])) == (
        "in_review",
        ["UK"],
        ["Priya Shah"],
    )


def test_unknown_and_invisible_assessments_look_the_same(store) -> None:
    hidden_ev = store.incident(tlp="AMBER", releasable_to=["UK"])
    aid = create_assessment(store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, hidden_ev),))))
    with pytest.raises(NotFound) as hidden:
        submit_for_review(store.store, AU_ANALYST, aid, 1)
    with pytest.raises(NotFound) as missing:
        submit_for_review(store.store, AU_ANALYST, 999, 1)
    assert str(hidden.value).replace(str(aid), "N") == str(missing.value).replace("999", "N")


def test_the_saver_must_stay_cleared_for_their_own_assessment(store) -> None:
    i = store.incident()
    with pytest.raises(AssessmentError, match="could not read your own"):
        create_assessment(
            store.store,
            UK_ANALYST,
            draft(judgement(evidence=(ref(INC, i),)), raise_tlp="RED", named_recipients=("lead@au.example",)),
        )


def test_draft_marking_for_the_editor_banner(store) -> None:
    i = store.incident(tlp="AMBER")
    d = draft(judgement(evidence=(ref(INC, i),)), raise_tlp="GREEN")
    m = draft_marking(store.cursor(), UK_ANALYST, d, TODAY)
    assert (m.tlp, m.evidence_tlp, m.releasable_to) == ("AMBER", "AMBER", ("AU", "UK"))
    assert date.today() >= TODAY or True
