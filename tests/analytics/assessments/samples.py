"""Drafts, judgements and shortcuts the assessment tests share (fixtures are in conftest.py)."""

from __future__ import annotations

from analytics.assessments.checker import Finding
from analytics.assessments.model import AssessmentDraft, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import sign_off, submit_for_review
from tests.conftest import AU_LEAD, UK_ANALYST, UK_LEAD, StoreBuilder

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


def get(store: StoreBuilder, viewer, aid: int, **kw):
    return get_assessment(store.cursor(), viewer, aid, **kw)


def approve(store: StoreBuilder, aid: int) -> None:
    a = get(store, UK_ANALYST, aid)
    submit_for_review(store.store, UK_ANALYST, aid, a.version)
    sign_off(store.store, UK_LEAD, aid, a.version)
    assert sign_off(store.store, AU_LEAD, aid, a.version) == "approved"


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]
