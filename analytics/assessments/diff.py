"""Comparing two versions of an assessment: what a reviewer needs to see changed before signing again.

Judgements are matched by their stable key (not their number), so a reworded, re-rated, re-evidenced or
renumbered judgement reads as such, not as one removed and one added. A lead signs what changed, so the diff
carries the changed words themselves (`word_diff`: word-level, from difflib) for statements, reasoning and every
text section, and for evidence the ids, titles and markings of the records added and removed (as this reader may
see them, `evidence_info`). Details are built from fixed vocabularies (terms, confidence levels, counts); stored
text (statements, words, titles) travels as data for the page to render inert, never as markup.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.assessments.evidence import evidence_info
from analytics.assessments.model import Assessment, EvidenceRef, Judgement
from analytics.assessments.reads import require_assessment

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False


# One run of words: '=' kept, '-' removed, '+' added; the text is stored text (render it inert).
Segment = tuple[str, str]


def word_diff(old: str, new: str) -> tuple[Segment, ...]:
    """The words removed and added between two texts, in order, runs of one kind joined by single spaces."""
    a, b = old.split(), new.split()
    out: list[Segment] = []

    def put(op: str, words: list[str]) -> None:
        if words:
            out.append((op, " ".join(words)))

    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            put("=", a[i1:i2])
        else:
            put("-", a[i1:i2])
            put("+", b[j1:j2])
    return tuple(out)


@dataclass(frozen=True)
class EvidenceItem:
    """A cited record as the reader may see it: id, title (stored text) and marking (fixed vocabularies)."""

    ref: EvidenceRef
    label: str
    tlp: str
    releasable_to: tuple[str, ...]


@dataclass(frozen=True)
class JudgementChange:
    old_number: int | None
    new_number: int | None
    old: str  # statement (stored text)
    new: str
    detail: str  # built from fixed vocabularies: 'likely → highly likely'
    old_text: str = ""  # the text that changed (the statement, or the reasoning for reasoning changes)
    new_text: str = ""
    words: tuple[Segment, ...] = ()
    added: tuple[EvidenceItem, ...] = ()  # evidence changes only
    removed: tuple[EvidenceItem, ...] = ()


@dataclass(frozen=True)
class SectionChange:
    label: str
    old: tuple[str, ...]  # lines (one for a single-text section)
    new: tuple[str, ...]
    words: tuple[Segment, ...]


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
    section_changes: tuple[SectionChange, ...] = ()

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


def _lines(value: object) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(str(v) for v in value)
    return (str(value),) if value else ()


def diff_versions(
    old: Assessment, new: Assessment, evidence: dict[EvidenceRef, EvidenceItem] | None = None
) -> VersionDiff:
    """What changed between two versions: judgements matched by their stable key, the words changed, and the
    evidence added and removed (described by `evidence` where given, else by id alone)."""
    olds = {j.key: j for j in old.judgements}
    news = {j.key: j for j in new.judgements}
    known = evidence or {}

    def item(r: EvidenceRef) -> EvidenceItem:
        return known.get(r, EvidenceItem(r, r.ref_id, "", ()))

    def change(o: Judgement | None, n: Judgement | None, detail: str = "", **kw: object) -> JudgementChange:
        return JudgementChange(
            o.number if o else None,
            n.number if n else None,
            o.statement if o else "",
            n.statement if n else "",
            detail,
            **kw,  # type: ignore[arg-type]
        )

    added = tuple(change(None, j) for j in new.judgements if j.key not in olds)
    removed = tuple(change(j, None) for j in old.judgements if j.key not in news)
    reworded, terms, confs, reasons, evidence_changes, renumbered = [], [], [], [], [], []
    for n in new.judgements:
        o = olds.get(n.key)
        if o is None:
            continue
        if o.statement != n.statement:
            reworded.append(
                change(
                    o,
                    n,
                    old_text=o.statement,
                    new_text=n.statement,
                    words=word_diff(o.statement, n.statement),
                )
            )
        if o.term != n.term:
            terms.append(change(o, n, f"{o.term or 'no term'} → {n.term or 'no term'}"))
        if o.confidence != n.confidence:
            confs.append(change(o, n, f"{o.confidence or 'none'} → {n.confidence or 'none'} confidence"))
        if o.reasoning != n.reasoning:
            reasons.append(
                change(
                    o,
                    n,
                    old_text=o.reasoning,
                    new_text=n.reasoning,
                    words=word_diff(o.reasoning, n.reasoning),
                )
            )
        if set(o.evidence) != set(n.evidence):
            plus = [e for e in n.evidence if e not in set(o.evidence)]
            minus = [e for e in o.evidence if e not in set(n.evidence)]
            evidence_changes.append(
                change(
                    o,
                    n,
                    f"{len(plus)} added, {len(minus)} removed",
                    added=tuple(item(e) for e in plus),
                    removed=tuple(item(e) for e in minus),
                )
            )
        if o.number != n.number:
            renumbered.append(change(o, n, f"{o.number} → {n.number}"))
    section_changes = tuple(
        SectionChange(
            label,
            _lines(getattr(old, attr)),
            _lines(getattr(new, attr)),
            word_diff("\n".join(_lines(getattr(old, attr))), "\n".join(_lines(getattr(new, attr)))),
        )
        for attr, label in _SECTIONS.items()
        if getattr(old, attr) != getattr(new, attr)
    )
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
        tuple(evidence_changes),
        tuple(c.label for c in section_changes),
        marking,
        tuple(renumbered),
        section_changes,
    )


def _evidence_items(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, refs: Iterable[EvidenceRef]
) -> dict[EvidenceRef, EvidenceItem]:
    """Id, title and marking of each record the viewer may see (the others: id only, from diff_versions)."""
    return {
        r: EvidenceItem(r, i.label, i.marking.tlp, tuple(i.marking.releasable_to))
        for r, i in evidence_info(con, viewer, refs).items()
    }


def compare_versions(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, old_version: int, new_version: int
) -> VersionDiff:
    viewer.require(*ASSESSMENT_AUTHORS)
    old = require_assessment(con, viewer, assessment_id, old_version)
    new = require_assessment(con, viewer, assessment_id, new_version)
    changed = set(old.evidence()) ^ set(new.evidence())
    return diff_versions(old, new, _evidence_items(con, viewer, changed) if changed else {})
