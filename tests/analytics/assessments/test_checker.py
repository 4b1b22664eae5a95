"""The checker on drafts: each flag with a positive and a negative example (analytics/assessments/checker.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from analytics.assessments.checker import check, check_draft, check_judgement
from analytics.assessments.model import AssessmentDraft, JudgementDraft
from tests.analytics.assessments.samples import INC, codes, get, ref
from tests.analytics.assessments.samples import judgement as sample_judgement
from tests.conftest import TODAY, UK_ANALYST


def judgement(statement: str = "Agentic misuse against banks will rise in 2027.", **kw) -> JudgementDraft:
    """The shared sample judgement, with a time frame: a judgement without one is flagged (time_frame), which
    every test here but the time-frame ones would otherwise have to expect."""
    return sample_judgement(statement, **kw)


def test_flags_a_judgement_without_term_or_confidence() -> None:
    flagged = check_judgement(1, judgement(term=None, confidence=None, evidence=(ref(INC, "x"),)))
    assert codes(flagged) == ["no_term", "no_confidence"]
    assert all(f.severity == "error" and f.judgement == 1 for f in flagged)
    assert check_judgement(1, judgement(evidence=(ref(INC, "x"),))) == []


@pytest.mark.parametrize("word", ["could", "May", "MIGHT", "possibly", "potentially"])
def test_flags_vague_words_as_whole_words_in_any_case(word: str) -> None:
    j = judgement(f"Attackers {word} use agents in 2027.", evidence=(ref(INC, "x"),))
    assert codes(check_judgement(2, j)) == ["vague_word"]
    assert word.lower() in check_judgement(2, j)[0].message


def test_vague_words_inside_other_words_are_not_flagged() -> None:
    j = judgement(
        "In 2027 Mayfield banks mightily saw couldron-themed lures; possibilities abound.",
        reasoning="Potentiality is not a word we use.",
        evidence=(ref(INC, "x"),),
    )
    assert check_judgement(1, j) == []


def test_vague_word_in_the_reasoning_is_flagged_too() -> None:
    j = judgement(reasoning="The trend could reverse.", evidence=(ref(INC, "x"),))
    assert codes(check_judgement(1, j)) == ["vague_word"]


def test_flags_a_probability_term_in_the_text_that_contradicts_the_band() -> None:
    j = judgement(
        "It is highly unlikely that banks escape in 2027.", term="likely", evidence=(ref(INC, "x"),)
    )
    flagged = check_judgement(1, j)
    assert codes(flagged) == ["term_contradicts"]
    assert "highly unlikely" in flagged[0].message and "likely (55–75%)" in flagged[0].message
    # the same words with the matching term, a PHIA synonym, or an overlapping ICD phrase are fine
    assert (
        check_judgement(
            1, judgement("It is highly unlikely in 2027.", term="highly unlikely", evidence=(ref(INC, "x"),))
        )
        == []
    )
    assert (
        check_judgement(
            1, judgement("Banks will probably be hit in 2027.", term="likely", evidence=(ref(INC, "x"),))
        )
        == []
    )
    assert (
        check_judgement(
            1, judgement("It is very likely in 2027.", term="highly likely", evidence=(ref(INC, "x"),))
        )
        == []
    )


def test_flags_a_percentage_outside_the_band() -> None:
    j = judgement("We put this at 70% for 2027.", term="highly likely", evidence=(ref(INC, "x"),))
    flagged = check_judgement(1, j)
    assert codes(flagged) == ["percent_outside"]
    assert "70%" in flagged[0].message and "80–90%" in flagged[0].message
    assert (
        check_judgement(
            1, judgement("We put this at 85% for 2027.", term="highly likely", evidence=(ref(INC, "x"),))
        )
        == []
    )
    assert (
        check_judgement(1, judgement("Between 60 and 70 per cent, by 2027.", evidence=(ref(INC, "x"),))) == []
    )
    assert codes(check_judgement(1, judgement("About 50-60%, by 2027.", evidence=(ref(INC, "x"),)))) == [
        "percent_outside"
    ]
    # a value in one of the deliberate gaps is outside every band
    assert codes(
        check_judgement(1, judgement("37% by 2027.", term="unlikely", evidence=(ref(INC, "x"),)))
    ) == ["percent_outside"]


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
    # the fixture's judgements give no time frame (flagged since issue 18, finding 7: a reviewer asks "by when?")
    assert [(f.code, f.judgement) for f in found] == [
        ("time_frame", 1),
        ("time_frame", 2),
        ("evidence_newer", 2),
    ]


def test_draft_level_checks() -> None:
    found = check_draft(AssessmentDraft(title=" ", bluf="It might happen."))
    assert codes(found) == ["no_title", "no_judgements", "vague_word"]
