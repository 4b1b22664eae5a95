"""Text attached to one version of an assessment (dissents, comments, review remarks, version notes) never reaches
a later version whose audience is wider than the audience of the version it was written on (issue 22, finding 7).

The red team wrote a dissent on a TLP:RED version; the authors later saved a GREEN version, both leads approved
it, and the AU lead, the AU policymaker and the JOINT administrator read the dissent in the approved text. Here the
same story runs on a real store for each way a version can be narrower than its successor (RED named recipients,
releasable to one institute, AMBER+STRICT), and everything the read API hands to pages and briefings is searched
for the canary text.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, replace

import pytest

from analytics.access.viewer import Viewer
from analytics.assessments.marking import DerivedMarking, audience_within
from analytics.assessments.model import Assessment, AssessmentDraft, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment, list_versions, not_carried
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    submit_for_review,
)
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

# Who reads the approved GREEN text, and who could not read the narrow version the dissent was written on.
WIDER_AUDIENCE: tuple[Viewer, ...] = (AU_ANALYST, AU_LEAD, AU_POLICY, ADMIN)


def _blob(a: Assessment | None) -> str:
    """Every value of the read API's object: what pages, the overview and briefings can render from it."""
    return json.dumps(asdict(a), default=str) if a is not None else ""


def _judgement(evidence: tuple[EvidenceRef, ...]) -> JudgementDraft:
    return JudgementDraft(
        "Agentic misuse against banks will rise.",
        term="likely",
        confidence="moderate",
        reasoning="Reports rose every quarter.",
        evidence=evidence,
    )


def _draft(evidence: tuple[EvidenceRef, ...], **kw: object) -> AssessmentDraft:
    return AssessmentDraft(
        title="Agentic misuse in finance",
        question="Will it rise?",
        bluf="It is likely to rise.",
        judgements=(_judgement(evidence),),
        **kw,  # type: ignore[arg-type]
    )


# How the first version is narrower than the GREEN, AU-and-UK version that follows it.
NARROW: dict[str, dict[str, object]] = {
    "red-named": {"raise_tlp": "RED", "named_recipients": ("analyst@uk.example", "lead@uk.example")},
    "uk-only": {"restrict_to": ("UK",)},
    "amber-strict-uk": {"raise_tlp": "AMBER+STRICT"},
}


@pytest.mark.parametrize("case", sorted(NARROW))
def test_a_dissent_on_a_narrow_version_is_not_carried_to_a_wider_one_nor_to_the_approved_text(
    store: StoreBuilder, case: str
) -> None:
    token = f"zqxdissent{secrets.token_hex(4)}"
    shared = EvidenceRef("incident", store.incident(title="Shared control", tlp="GREEN"))
    aid = create_assessment(store.store, UK_ANALYST, _draft((shared,), **NARROW[case]), today=TODAY)
    narrow = get_assessment(store.cursor(), UK_LEAD, aid)
    assert narrow is not None and narrow.version == 1
    for reader in WIDER_AUDIENCE:  # the premise: the narrow version is not theirs to read
        assert get_assessment(store.cursor(), reader, aid, 1) is None
    key = narrow.judgements[0].key
    add_comment(store.store, UK_LEAD, aid, 1, key, f"{token} judgement dissent", dissent=True)
    add_comment(store.store, UK_LEAD, aid, 1, None, f"{token} whole dissent", dissent=True)
    add_comment(store.store, UK_LEAD, aid, 1, key, f"{token} plain comment")

    # The authors widen the audience: GREEN, releasable to both institutes, no named recipients.
    wide = replace(narrow.to_draft(), raise_tlp=None, restrict_to=(), named_recipients=())
    assert save_version(store.store, UK_ANALYST, aid, wide, 1, note="widened", today=TODAY) == 2
    v2 = get_assessment(store.cursor(), UK_LEAD, aid)
    assert v2 is not None and v2.marking.tlp == "GREEN" and v2.marking.releasable_to == ("AU", "UK")
    assert token not in _blob(v2), (
        "a dissent written for the narrow audience was carried to the wider version"
    )
    # The author is told how many items stayed behind, and nothing of what they say.
    assert not_carried(store.cursor(), UK_ANALYST, aid, 2) == 2

    submit_for_review(store.store, UK_ANALYST, aid, 2)
    sign_off(store.store, UK_LEAD, aid, 2)
    assert sign_off(store.store, AU_LEAD, aid, 2) == "approved"
    for reader in (*WIDER_AUDIENCE, UK_POLICY, UK_LEAD):
        assert token not in _blob(get_assessment(store.cursor(), reader, aid)), reader.email
        assert token not in _blob(get_assessment(store.cursor(), reader, aid, approved=True)), reader.email

    # Nothing is lost: the dissents stay on the version they were written on, for its audience.
    v1 = get_assessment(store.cursor(), UK_LEAD, aid, 1)
    assert v1 is not None
    assert [d.body for d in v1.judgements[0].dissents] == [f"{token} judgement dissent"]
    assert [d.body for d in v1.dissents] == [f"{token} whole dissent"]


def test_review_remarks_and_version_notes_stay_with_their_version(store: StoreBuilder) -> None:
    token = f"zqxremark{secrets.token_hex(4)}"
    shared = EvidenceRef("incident", store.incident(title="Shared control", tlp="GREEN"))
    red = {
        "raise_tlp": "RED",
        "named_recipients": ("analyst@uk.example", "lead@uk.example", "lead@au.example"),
    }
    aid = create_assessment(store.store, UK_ANALYST, _draft((shared,), **red), today=TODAY)
    v1 = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert v1 is not None
    # a second RED version, with a note, submitted and returned with a remark by the UK lead
    save_version(
        store.store, UK_ANALYST, aid, replace(v1.to_draft(), bluf="Likely."), 1, note=f"{token} note"
    )
    submit_for_review(store.store, UK_ANALYST, aid, 2)
    return_for_changes(store.store, UK_LEAD, aid, 2, f"{token} return remark")
    wide = replace(v1.to_draft(), bluf="Likely.", raise_tlp=None, named_recipients=())
    save_version(store.store, UK_ANALYST, aid, wide, 2, today=TODAY)
    assert get_assessment(store.cursor(), AU_ANALYST, aid, 3) is not None
    assert token not in _blob(get_assessment(store.cursor(), AU_ANALYST, aid))
    notes = [v.note for v in list_versions(store.cursor(), AU_ANALYST, aid)]
    assert notes and all(token not in n for n in notes)


def test_a_dissent_is_still_carried_to_a_version_whose_audience_is_the_same_or_narrower(
    store: StoreBuilder,
) -> None:
    """The positive control: the rule drops only what the new audience may not read."""
    shared = EvidenceRef("incident", store.incident(title="Shared control", tlp="GREEN"))
    aid = create_assessment(store.store, UK_ANALYST, _draft((shared,)), today=TODAY)
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert a is not None
    add_comment(store.store, AU_LEAD, aid, 1, a.judgements[0].key, "I read it differently.", dissent=True)
    add_comment(store.store, AU_LEAD, aid, 1, None, "Overall I disagree.", dissent=True)
    # same audience, then a narrower one (UK only): both carry the dissents
    save_version(store.store, UK_ANALYST, aid, replace(a.to_draft(), bluf="Likely."), 1, today=TODAY)
    narrower = replace(a.to_draft(), bluf="Likely.", restrict_to=("UK",))
    save_version(store.store, UK_ANALYST, aid, narrower, 2, today=TODAY)
    for version in (2, 3):
        v = get_assessment(store.cursor(), UK_LEAD, aid, version)
        assert v is not None
        assert [d.body for d in v.judgements[0].dissents] == ["I read it differently."], version
        assert [d.body for d in v.dissents] == ["Overall I disagree."], version
        assert not_carried(store.cursor(), UK_ANALYST, aid, version) == 0


@pytest.mark.parametrize(
    ("origin", "target", "within"),
    [
        # (tlp, releasable_to, named_recipients, originator) of the version written on, then of the later one
        (("GREEN", ("AU", "UK"), (), "UK"), ("AMBER", ("AU", "UK"), (), "UK"), True),
        (("GREEN", ("UK",), (), "UK"), ("GREEN", ("AU", "UK"), (), "UK"), False),
        (("AMBER+STRICT", ("AU", "UK"), (), "UK"), ("AMBER", ("UK",), (), "UK"), True),
        (("AMBER+STRICT", ("AU", "UK"), (), "UK"), ("AMBER+STRICT", ("AU", "UK"), (), "AU"), False),
        (("AMBER+STRICT", ("UK",), (), "UK"), ("RED", ("AU", "UK"), ("lead@au.example",), "UK"), False),
        (
            ("RED", ("AU", "UK"), ("a@uk.example", "b@au.example"), "UK"),
            ("RED", ("UK",), ("a@uk.example",), "UK"),
            True,
        ),
        (
            ("RED", ("AU", "UK"), ("a@uk.example",), "UK"),
            ("RED", ("AU", "UK"), ("a@uk.example", "c@au.example"), "UK"),
            False,
        ),
        (("RED", ("AU", "UK"), ("a@uk.example",), "UK"), ("AMBER", ("AU", "UK"), (), "UK"), False),
        (("AMBER", ("AU", "UK"), (), "UK"), ("AMBER", (), (), "UK"), True),  # nobody can read the later one
    ],
)
def test_audience_within(origin: tuple, target: tuple, within: bool) -> None:
    o = DerivedMarking(origin[0], origin[1], origin[2], origin[3], origin[0])
    t = DerivedMarking(target[0], target[1], target[2], target[3], target[0])
    assert audience_within(t, o) is within
