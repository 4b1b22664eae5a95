"""The assessment model: what an assessment is, as authors write it and as readers see it.

This module owns the shapes every other assessments module passes around, and nothing that touches the store:
the vocabularies (institutes that sign, statuses, evidence kinds; who may author is access.roles'
ASSESSMENT_AUTHORS), the errors a refused action raises, the draft an author edits (`AssessmentDraft`,
`JudgementDraft`), one saved version as a reader may see it (`Assessment`, the read API for pages and
briefings), and the normalisation every save applies to a draft. It is pure so that the checker, the marking
rules and the diff can be tested without a database.

An assessment answers one question in proper analytic form: a bottom line up front, numbered key judgements
(each with one PHIA term, one confidence level, its reasoning and its evidence), assumptions, alternative views,
indicators that would change the judgements, and what changed since the assessment it supersedes.
docs/assessments.md has the reasoning behind the rules; analytics/assessments/workflow.py enforces them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime

from analytics.access.markings import INSTITUTES, Marking, normalise_tlp
from analytics.assessments import yardstick

SIGNOFF_INSTITUTES: tuple[str, ...] = ("UK", "AU")

STATUS_LABELS: dict[str, str] = {
    "draft": "Draft",
    "in_review": "In review",
    "returned": "Returned with comments",
    "approved": "Approved",
}
EDITABLE_STATUSES: frozenset[str] = frozenset({"draft", "returned", "in_review"})

EVIDENCE_KINDS: dict[str, str] = {"incident": "Incident", "eval_run": "Evaluation run", "view": "Saved view"}

# Protective marking set per assessment beside its TLP (the words of each government's scheme for each level are
# in analytics/export/briefing/content.py PROTECTIVE_WORDS; docs/briefings.md has the mapping).
PROTECTIVE_MARKINGS: tuple[str, ...] = ("OFFICIAL", "OFFICIAL-SENSITIVE", "PROTECTED")

# -- errors ---------------------------------------------------------------------------------------------------


class AssessmentError(ValueError):
    """A refused action; the message is safe to show to the person who tried it."""


class NotFound(AssessmentError):
    """No such assessment or version, or not one this viewer may read (the two look the same)."""


class WorkflowError(AssessmentError):
    """The action is not allowed in the assessment's current state or for this person."""


class EditConflict(AssessmentError):
    """Someone else saved this draft since `expected_version` was loaded. Both texts travel with the error, and
    the version both started from (`base`, None if this viewer can no longer read it), so the editor can merge
    the two field by field (analytics/assessments/merge.py) instead of one overwriting the other."""

    def __init__(
        self,
        expected_version: int,
        mine: AssessmentDraft,
        theirs: Assessment,
        base: Assessment | None = None,
    ) -> None:
        super().__init__(
            f"Version {theirs.version} was saved by {theirs.saved_by} after you opened version "
            f"{expected_version}. Your text has not been saved yet: their changes and yours are merged below."
        )
        self.expected_version = expected_version
        self.mine = mine
        self.theirs = theirs
        self.base = base


# -- the model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceRef:
    kind: str  # one of EVIDENCE_KINDS
    ref_id: str

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise AssessmentError(f"unknown evidence kind {self.kind!r}")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref_id}"

    @classmethod
    def parse(cls, key: str) -> EvidenceRef:
        kind, _, ref = key.partition(":")
        return cls(kind, ref)


@dataclass(frozen=True)
class JudgementDraft:
    """A key judgement as the author writes it. `key` is stable across versions (empty for a new one)."""

    statement: str
    term: str | None = None
    confidence: str | None = None
    reasoning: str = ""
    evidence: tuple[EvidenceRef, ...] = ()
    key: str = ""


@dataclass(frozen=True)
class AssessmentDraft:
    """Everything an author can edit. `raise_tlp`, `restrict_to` and `named_recipients` only ever tighten the
    marking derived from the evidence."""

    title: str
    question: str = ""
    bluf: str = ""
    judgements: tuple[JudgementDraft, ...] = ()
    assumptions: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    indicators: tuple[str, ...] = ()
    changes: str = ""
    supersedes: int | None = None
    raise_tlp: str | None = None
    restrict_to: tuple[str, ...] = ()
    named_recipients: tuple[str, ...] = ()
    protective: str = "OFFICIAL"  # one of PROTECTIVE_MARKINGS


@dataclass(frozen=True)
class Comment:
    id: int
    version: int
    judgement_key: str | None
    email: str
    name: str
    institute: str
    kind: str  # 'comment' | 'dissent' | 'return'
    body: str
    at: datetime


@dataclass(frozen=True)
class Judgement:
    number: int
    key: str
    statement: str
    term: str | None
    confidence: str | None
    reasoning: str
    evidence: tuple[EvidenceRef, ...]
    edited_at: datetime
    edited_by: str
    dissents: tuple[Comment, ...] = ()

    @property
    def band(self) -> yardstick.Band | None:
        return yardstick.phia_band(self.term) if self.term else None

    @property
    def estimate(self) -> str:
        """'likely (55–75%), moderate confidence' — built from fixed vocabularies only."""
        term = self.band.label if self.band else "no probability term"
        conf = f"{self.confidence} confidence" if self.confidence else "no confidence level"
        return f"{term}, {conf}"


@dataclass(frozen=True)
class SignOff:
    email: str
    name: str
    institute: str
    at: datetime


@dataclass(frozen=True)
class Assessment:
    """One version of an assessment as a reader may see it (the read API for pages and briefings)."""

    id: int
    version: int
    current_version: int
    status: str
    title: str
    question: str
    bluf: str
    judgements: tuple[Judgement, ...]
    assumptions: tuple[str, ...]
    alternatives: tuple[str, ...]
    indicators: tuple[str, ...]
    changes: str
    supersedes: int | None
    superseded_by: int | None
    marking: Marking
    named_recipients: tuple[str, ...]
    originator: str
    raise_tlp: str | None
    restrict_to: tuple[str, ...]
    requested_recipients: tuple[str, ...]
    created_by: str
    authors: tuple[str, ...]  # emails of everyone who created or saved a version
    saved_by: str
    saved_at: datetime
    signoffs: tuple[SignOff, ...]
    approved_version: int | None
    approved_at: datetime | None
    comments: tuple[Comment, ...] = ()
    dissents: tuple[Comment, ...] = ()  # dissents on the whole assessment (not one judgement)
    author_names: tuple[str, ...] = ()  # display names of `authors`, same order
    protective: str = "OFFICIAL"  # one of PROTECTIVE_MARKINGS

    @property
    def is_current(self) -> bool:
        return self.version == self.current_version

    @property
    def is_approved_text(self) -> bool:
        return self.approved_version == self.version

    @property
    def signed_institutes(self) -> tuple[str, ...]:
        return tuple(sorted({s.institute for s in self.signoffs}))

    @property
    def status_label(self) -> str:
        if self.is_approved_text:
            return STATUS_LABELS["approved"]
        return (
            STATUS_LABELS[self.status]
            if self.is_current
            else f"Earlier version (now {self.status_label_now})"
        )

    @property
    def status_label_now(self) -> str:
        return STATUS_LABELS[self.status]

    def evidence(self) -> tuple[EvidenceRef, ...]:
        """Every distinct piece of evidence, in judgement order."""
        return tuple(dict.fromkeys(e for j in self.judgements for e in j.evidence))

    def to_draft(self) -> AssessmentDraft:
        return AssessmentDraft(
            title=self.title,
            question=self.question,
            bluf=self.bluf,
            judgements=tuple(
                JudgementDraft(j.statement, j.term, j.confidence, j.reasoning, j.evidence, j.key)
                for j in self.judgements
            ),
            assumptions=self.assumptions,
            alternatives=self.alternatives,
            indicators=self.indicators,
            changes=self.changes,
            supersedes=self.supersedes,
            raise_tlp=self.raise_tlp,
            restrict_to=self.restrict_to,
            named_recipients=self.requested_recipients,
            protective=self.protective,
        )


@dataclass(frozen=True)
class VersionInfo:
    version: int
    saved_by: str
    saved_at: datetime
    note: str
    tlp: str
    approved: bool


# -- normalising a draft --------------------------------------------------------------------------------------


def _clean_lines(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(s.strip() for s in items if s and s.strip())


def normalise_draft(draft: AssessmentDraft) -> AssessmentDraft:
    """Trimmed text, canonical terms, distinct keys and evidence; unknown terms or levels refused. Every save
    stores the normalised draft, so comparing two normalised drafts says whether a save would change anything."""
    judgements = []
    used: set[str] = set()
    for n, j in enumerate(draft.judgements, start=1):
        term = None
        if j.term:
            try:
                term = yardstick.phia_term(j.term)
            except ValueError as e:
                raise AssessmentError(f"Judgement {n}: {e}") from None
        if j.confidence and j.confidence not in yardstick.CONFIDENCE_LEVELS:
            raise AssessmentError(f"Judgement {n}: confidence must be high, moderate or low")
        key = j.key if j.key and j.key not in used else secrets.token_hex(4)
        used.add(key)
        judgements.append(
            JudgementDraft(
                statement=j.statement.strip(),
                term=term,
                confidence=j.confidence or None,
                reasoning=j.reasoning.strip(),
                evidence=tuple(dict.fromkeys(j.evidence)),
                key=key,
            )
        )
    if draft.protective not in PROTECTIVE_MARKINGS:
        raise AssessmentError(f"protective marking must be one of {', '.join(PROTECTIVE_MARKINGS)}")
    raise_tlp = normalise_tlp(draft.raise_tlp) if draft.raise_tlp else None
    restrict = tuple(sorted({i.strip().upper() for i in draft.restrict_to if i.strip()}))
    if any(i not in INSTITUTES for i in restrict):
        raise AssessmentError("releasability can be narrowed to UK and/or AU only")
    return replace(
        draft,
        title=draft.title.strip()[:300],
        question=draft.question.strip(),
        bluf=draft.bluf.strip(),
        judgements=tuple(judgements),
        assumptions=_clean_lines(draft.assumptions),
        alternatives=_clean_lines(draft.alternatives),
        indicators=_clean_lines(draft.indicators),
        changes=draft.changes.strip(),
        raise_tlp=raise_tlp,
        restrict_to=restrict,
        named_recipients=tuple(sorted({n.strip().lower() for n in draft.named_recipients if n.strip()})),
    )


def same_judgement(j: JudgementDraft, old: Judgement) -> bool:
    """Whether a judgement being edited still says what its saved version said (it then keeps its last-edit
    time, which the checker compares with its evidence's updates)."""
    return (
        j.statement.strip() == old.statement
        and (j.term or None) == old.term
        and (j.confidence or None) == old.confidence
        and j.reasoning.strip() == old.reasoning
        and set(j.evidence) == set(old.evidence)
    )


def differing_fields(mine: AssessmentDraft, theirs: AssessmentDraft) -> list[str]:
    """Names of the draft's fields (AssessmentDraft attributes, a fixed list) whose values differ."""
    a, b = normalise_draft(mine), normalise_draft(theirs)
    return sorted(
        f.name for f in dataclass_fields(AssessmentDraft) if getattr(a, f.name) != getattr(b, f.name)
    )
