"""Comparing two versions of an assessment: what a reviewer needs to see changed before signing again.

Judgements are matched by their stable key (not their number), so a reworded, re-rated, re-evidenced or
renumbered judgement reads as such, not as one removed and one added. Details are built from fixed vocabularies
(terms, confidence levels, counts), never from author text; the statements themselves travel as stored text for
the page to render as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.assessments.model import Assessment, Judgement
from analytics.assessments.reads import require_assessment

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False


@dataclass(frozen=True)
class JudgementChange:
    old_number: int | None
    new_number: int | None
    old: str  # statement (stored text)
    new: str
    detail: str  # built from fixed vocabularies: 'likely → highly likely'


@dataclass(frozen=True)
class VersionDiff:
    old_version: int
    new_version: int
    added: tuple[JudgementChange, ...] = ()
    removed: tuple[JudgementChange, ...] = ()
    reworded: tuple[JudgementChange, ...] = ()
    term_changed: tuple[JudgementChange, ...] = ()
    confidence_changed: tuple[JudgementChange, ...] = ()
    reasoning_changed: tuple[JudgementChange, ...] = ()
    evidence_changed: tuple[JudgementChange, ...] = ()
    sections_changed: tuple[str, ...] = ()
    marking_changed: str = ""
    renumbered: tuple[JudgementChange, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.added,
                self.removed,
                self.reworded,
                self.term_changed,
                self.confidence_changed,
                self.reasoning_changed,
                self.evidence_changed,
                self.sections_changed,
                self.marking_changed,
            )
        )


_SECTIONS: dict[str, str] = {
    "title": "title",
    "question": "question",
    "bluf": "bottom line up front",
    "assumptions": "assumptions",
    "alternatives": "alternative views",
    "indicators": "indicators",
    "changes": "what changed since the last assessment",
}


def diff_versions(old: Assessment, new: Assessment) -> VersionDiff:
    """What changed between two versions: judgements matched by their stable key."""
    olds = {j.key: j for j in old.judgements}
    news = {j.key: j for j in new.judgements}

    def change(o: Judgement | None, n: Judgement | None, detail: str = "") -> JudgementChange:
        return JudgementChange(
            o.number if o else None,
            n.number if n else None,
            o.statement if o else "",
            n.statement if n else "",
            detail,
        )

    added = tuple(change(None, j) for j in new.judgements if j.key not in olds)
    removed = tuple(change(j, None) for j in old.judgements if j.key not in news)
    reworded, terms, confs, reasons, evidence, renumbered = [], [], [], [], [], []
    for n in new.judgements:
        o = olds.get(n.key)
        if o is None:
            continue
        if o.statement != n.statement:
            reworded.append(change(o, n))
        if o.term != n.term:
            terms.append(change(o, n, f"{o.term or 'no term'} → {n.term or 'no term'}"))
        if o.confidence != n.confidence:
            confs.append(change(o, n, f"{o.confidence or 'none'} → {n.confidence or 'none'} confidence"))
        if o.reasoning != n.reasoning:
            reasons.append(change(o, n))
        if set(o.evidence) != set(n.evidence):
            plus = len(set(n.evidence) - set(o.evidence))
            minus = len(set(o.evidence) - set(n.evidence))
            evidence.append(change(o, n, f"{plus} added, {minus} removed"))
        if o.number != n.number:
            renumbered.append(change(o, n, f"{o.number} → {n.number}"))
    sections = tuple(label for attr, label in _SECTIONS.items() if getattr(old, attr) != getattr(new, attr))
    marking = "" if old.marking.label == new.marking.label else f"{old.marking.label} → {new.marking.label}"
    return VersionDiff(
        old.version,
        new.version,
        added,
        removed,
        tuple(reworded),
        tuple(terms),
        tuple(confs),
        tuple(reasons),
        tuple(evidence),
        sections,
        marking,
        tuple(renumbered),
    )


def compare_versions(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, old_version: int, new_version: int
) -> VersionDiff:
    viewer.require(*ASSESSMENT_AUTHORS)
    old = require_assessment(con, viewer, assessment_id, old_version)
    new = require_assessment(con, viewer, assessment_id, new_version)
    return diff_versions(old, new)
