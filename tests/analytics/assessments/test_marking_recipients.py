"""A derived TLP:RED marking names only people its releasability admits (issue 15, finding 8): "releasable to UK"
never names an AU lead, and "releasable to UK" alone never names joint staff (they see only records releasable
to both). Pure rules, then the same through a saved assessment on a real store."""

from __future__ import annotations

from analytics.assessments.marking import EvidenceMarking, derive_marking, raise_to_current
from analytics.assessments.workflow import create_assessment
from tests.analytics.assessments.samples import INC, draft, get, judgement, ref
from tests.conftest import TODAY, UK_ANALYST, UK_LEAD

PEOPLE = {
    "analyst@uk.example": "UK",
    "lead@uk.example": "UK",
    "lead@au.example": "AU",
    "admin@joint.example": "JOINT",
}


def red(rel: tuple[str, ...], *named: str) -> EvidenceMarking:
    return EvidenceMarking("RED", rel, named, "UK")


def test_red_releasable_to_uk_names_no_au_or_joint_person() -> None:
    m = derive_marking(
        [red(("UK",), "lead@uk.example", "lead@au.example", "admin@joint.example")],
        creator_institute="UK",
        people=PEOPLE,
    )
    assert (m.tlp, m.releasable_to, m.named_recipients) == ("RED", ("UK",), ("lead@uk.example",))


def test_narrowing_by_the_authors_restriction_narrows_the_recipients_too() -> None:
    m = derive_marking(
        [red(("AU", "UK"), "lead@uk.example", "lead@au.example", "admin@joint.example")],
        creator_institute="UK",
        restrict_to=("UK",),
        people=PEOPLE,
    )
    assert m.named_recipients == ("lead@uk.example",)
    both = derive_marking(
        [red(("AU", "UK"), "lead@uk.example", "lead@au.example", "admin@joint.example")],
        creator_institute="UK",
        people=PEOPLE,
    )
    assert both.named_recipients == ("admin@joint.example", "lead@au.example", "lead@uk.example")


def test_authors_raising_to_red_cannot_name_someone_outside_the_releasability() -> None:
    m = derive_marking(
        [EvidenceMarking("AMBER", ("UK",), (), "UK")],
        creator_institute="UK",
        raise_tlp="RED",
        named_recipients=["Lead@UK.example", "lead@au.example"],
        people=PEOPLE,
    )
    assert m.named_recipients == ("lead@uk.example",)


def test_people_not_enrolled_are_not_named() -> None:
    m = derive_marking(
        [red(("UK",), "lead@uk.example", "stranger@uk.example")], creator_institute="UK", people=PEOPLE
    )
    assert m.named_recipients == ("lead@uk.example",)


def test_a_record_raised_to_red_later_names_only_admitted_people() -> None:
    stored = derive_marking(
        [EvidenceMarking("AMBER", ("UK",), (), "UK")], creator_institute="UK", people=PEOPLE
    )
    now = raise_to_current(stored, [red(("AU", "UK"), "lead@uk.example", "lead@au.example")], people=PEOPLE)
    assert (now.tlp, now.releasable_to, now.named_recipients) == ("RED", ("UK",), ("lead@uk.example",))


def test_a_saved_assessment_citing_a_red_uk_record_names_no_au_lead(store) -> None:
    red_id = store.incident(
        tlp="RED",
        releasable_to=["UK"],
        named_recipients=["analyst@uk.example", "lead@uk.example", "lead@au.example"],
    )
    aid = create_assessment(
        store.store, UK_ANALYST, draft(judgement(evidence=(ref(INC, red_id),))), today=TODAY
    )
    a = get(store, UK_LEAD, aid)
    assert a.marking.tlp == "RED" and a.marking.releasable_to == ("UK",)
    assert a.named_recipients == ("analyst@uk.example", "lead@uk.example")
