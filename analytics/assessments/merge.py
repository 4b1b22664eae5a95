"""The field-level three-way merge of two edits of one assessment version: nobody's edit is lost.

Two authors open version N and both edit it. The first save makes version N+1; the second is refused with an
`EditConflict` (workflow.save_version) carrying the version both started from (`base`), the refused draft (`mine`)
and the saved one (`theirs`). Before this module the editor offered "save mine as the next version", which wrote
the whole of `mine` over `theirs` and silently dropped every change the first author made in a field the second
did not touch. A merge instead looks at every field of the draft, as git merges lines:

- a field only one side changed takes that side's value (both changes are kept automatically);
- a field both sides changed to the same value is no conflict;
- a field both sides changed differently is a conflict (`FieldConflict`): the merged draft keeps *theirs* (the
  change already saved, which the person resolving has not seen yet) unless they explicitly discard it, field by
  field (`Merge.resolve(discard_theirs=...)`);
- evidence lists and named recipients are sets: additions and removals of both sides are all applied;
- line sections (assumptions, alternative views, indicators) merge line by line, conflicting only where both
  changed the same lines;
- judgements are matched by their stable key at every level (each of their fields merges as above); a judgement
  added by either side is kept, one removed by a side is removed unless the other side changed it (a conflict).

Every field of `AssessmentDraft` and `JudgementDraft` is merged, including fields added to them later (as a plain
value unless listed below), so no field can be dropped by being forgotten here. Pure: no store, no Streamlit.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from analytics.assessments.model import AssessmentDraft, EditConflict, JudgementDraft

# Labels the conflict panel and the summary show (fixed words). Fields not listed get their name as a label.
FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "question": "Question",
    "bluf": "Bottom line up front",
    "assumptions": "Assumptions",
    "alternatives": "Alternative views",
    "indicators": "Indicators",
    "changes": "What changed since the last assessment",
    "supersedes": "Supersedes",
    "raise_tlp": "TLP raised to",
    "restrict_to": "Releasability restricted to",
    "named_recipients": "Named recipients",
    "protective": "Protective marking",
}
JUDGEMENT_LABELS: dict[str, str] = {
    "statement": "judgement",
    "term": "probability term",
    "confidence": "confidence",
    "reasoning": "reasoning",
    "evidence": "evidence",
}
# How each field merges; anything else is one value (changed by one side, or a conflict).
SET_FIELDS = frozenset({"named_recipients", "evidence"})
LINE_FIELDS = frozenset({"assumptions", "alternatives", "indicators"})


@dataclass(frozen=True)
class FieldConflict:
    """One field both sides changed differently. `path` names it ('title', 'judgement.<key>.reasoning', or
    'judgement.<key>' when one side removed a judgement the other changed); values are stored text, or a
    JudgementDraft (None: absent) for a whole judgement."""

    path: str
    label: str
    base: Any
    mine: Any
    theirs: Any


@dataclass(frozen=True)
class Merge:
    """The outcome of merging `mine` and `theirs` over `base`: conflicts to decide, and what was kept from each
    side automatically (paths, with `labels`)."""

    base: AssessmentDraft | None
    mine: AssessmentDraft
    theirs: AssessmentDraft
    conflicts: tuple[FieldConflict, ...]
    kept_mine: tuple[str, ...]
    kept_theirs: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)

    def resolve(self, discard_theirs: Iterable[str] = ()) -> AssessmentDraft:
        """The merged draft: every conflict keeps theirs except those named in `discard_theirs` (paths of
        conflicts), which keep mine. Naming a path that is not a conflict is refused."""
        chosen = frozenset(discard_theirs)
        unknown = sorted(chosen - {c.path for c in self.conflicts})
        if unknown:
            raise ValueError(f"no conflict {unknown[0]!r} in this merge")
        return _merge(self.base, self.mine, self.theirs, chosen).draft


def merge_drafts(base: AssessmentDraft | None, mine: AssessmentDraft, theirs: AssessmentDraft) -> Merge:
    """Merge two edits of `base` (None when the starting version cannot be read: every difference then
    conflicts)."""
    out = _merge(base, mine, theirs, frozenset())
    return Merge(
        base,
        mine,
        theirs,
        tuple(out.conflicts),
        tuple(out.kept_mine),
        tuple(out.kept_theirs),
        out.labels,
    )


def merge_conflict(conflict: EditConflict) -> Merge:
    """The merge a refused save offers: the refused draft over the saved version, from the version both opened."""
    base = conflict.base.to_draft() if conflict.base is not None else None
    return merge_drafts(base, conflict.mine, conflict.theirs.to_draft())


# -- the merge --------------------------------------------------------------------------------------------------


_ABSENT = object()


@dataclass
class _Outcome:
    draft: AssessmentDraft
    conflicts: list[FieldConflict] = field(default_factory=list)
    kept_mine: list[str] = field(default_factory=list)
    kept_theirs: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


class _Merger:
    def __init__(self, has_base: bool, prefer_mine: frozenset[str]) -> None:
        self.has_base = has_base
        self.prefer_mine = prefer_mine
        self.out = _Outcome(AssessmentDraft(title=""))

    def value(self, path: str, label: str, name: str, b: Any, m: Any, t: Any) -> Any:
        """One field: a plain value, a set (evidence, recipients) or lines (the line sections)."""
        self.out.labels[path] = label
        if _same(name, m, t):
            return t
        if self.has_base:
            if _same(name, m, b):
                self.out.kept_theirs.append(path)
                return t
            if _same(name, t, b):
                self.out.kept_mine.append(path)
                return m
            if name in SET_FIELDS:
                self.out.kept_mine.append(path)
                self.out.kept_theirs.append(path)
                return _merge_sets(b, m, t)
            if name in LINE_FIELDS:
                lines = _merge_lines(b, m, t)
                if lines is not None:
                    self.out.kept_mine.append(path)
                    self.out.kept_theirs.append(path)
                    return lines
        self.out.conflicts.append(FieldConflict(path, label, b if self.has_base else None, m, t))
        return m if path in self.prefer_mine else t


def _same(name: str, a: Any, b: Any) -> bool:
    if name in SET_FIELDS:
        return set(a) == set(b)
    return bool(a == b)


def _merge_sets(b: Sequence[Any], m: Sequence[Any], t: Sequence[Any]) -> tuple[Any, ...]:
    """Base items neither side removed, then mine's additions, then theirs'."""
    kept = [x for x in b if x in m and x in t]
    added = [x for x in m if x not in b] + [x for x in t if x not in b]
    return tuple(dict.fromkeys(kept + added))


def _changes(b: Sequence[str], side: Sequence[str]) -> list[tuple[int, int, list[str]]]:
    matcher = difflib.SequenceMatcher(a=list(b), b=list(side), autojunk=False)
    return [(i1, i2, list(side[j1:j2])) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]


def _apply(b: Sequence[str], changes: list[tuple[int, int, list[str]]], lo: int, hi: int) -> list[str]:
    out: list[str] = []
    k = lo
    for i1, i2, lines in sorted(changes, key=lambda c: (c[0], c[1])):
        out += list(b[k:i1]) + lines
        k = i2
    return out + list(b[k:hi])


def _merge_lines(b: Sequence[str], m: Sequence[str], t: Sequence[str]) -> tuple[str, ...] | None:
    """Line-by-line three-way merge (diff3): None when both sides changed the same lines differently. Changes
    next to each other do not conflict; two insertions at one place, or overlapping changes, do."""
    events = sorted(
        [(*c, "m") for c in _changes(b, m)] + [(*c, "t") for c in _changes(b, t)], key=lambda c: (c[0], c[1])
    )
    groups: list[list[tuple[int, int, list[str], str]]] = []
    spans: list[list[int]] = []
    for ev in events:
        i1, i2 = ev[0], ev[1]
        if spans and (i1 < spans[-1][1] or (i1 == spans[-1][1] == spans[-1][0])):
            groups[-1].append(ev)
            spans[-1][1] = max(spans[-1][1], i2)
        else:
            groups.append([ev])
            spans.append([i1, i2])
    out: list[str] = []
    pos = 0
    for group, (lo, hi) in zip(groups, spans, strict=True):
        out += list(b[pos:lo])
        mine = _apply(b, [(i1, i2, ls) for i1, i2, ls, s in group if s == "m"], lo, hi)
        theirs = _apply(b, [(i1, i2, ls) for i1, i2, ls, s in group if s == "t"], lo, hi)
        sides = {s for *_, s in group}
        if sides == {"m"}:
            out += mine
        elif sides == {"t"} or mine == theirs:
            out += theirs
        else:
            return None
        pos = hi
    return tuple(out + list(b[pos:]))


def _merge(
    base: AssessmentDraft | None, mine: AssessmentDraft, theirs: AssessmentDraft, prefer_mine: frozenset[str]
) -> _Outcome:
    m = _Merger(base is not None, prefer_mine)
    values: dict[str, Any] = {}
    for f in fields(AssessmentDraft):
        if f.name == "judgements":
            continue
        label = FIELD_LABELS.get(f.name, f.name.replace("_", " ").capitalize())
        b = getattr(base, f.name) if base is not None else None
        values[f.name] = m.value(f.name, label, f.name, b, getattr(mine, f.name), getattr(theirs, f.name))
    values["judgements"] = _merge_judgements(m, base, mine, theirs)
    m.out.draft = AssessmentDraft(**values)
    return m.out


def _judgement_same(a: JudgementDraft, b: JudgementDraft) -> bool:
    return all(_same(f.name, getattr(a, f.name), getattr(b, f.name)) for f in fields(JudgementDraft))


def _merge_judgements(
    m: _Merger, base: AssessmentDraft | None, mine: AssessmentDraft, theirs: AssessmentDraft
) -> tuple[JudgementDraft, ...]:
    bj = {j.key: j for j in base.judgements} if base is not None else {}
    mj = {j.key: j for j in mine.judgements}
    tj = {j.key: j for j in theirs.judgements}
    number = {j.key: n for n, j in enumerate(mine.judgements, start=1)}
    number.update({j.key: n for n, j in enumerate(theirs.judgements, start=1)})
    merged: dict[str, JudgementDraft] = {}
    for key in dict.fromkeys([*tj, *mj]):
        b, mi, th = bj.get(key), mj.get(key), tj.get(key)
        label = f"Judgement {number[key]}"
        path = f"judgement.{key}"
        if mi is not None and th is not None:
            merged[key] = _merge_one(m, path, label, b, mi, th)
            continue
        # Present on one side only: added by it, or removed by the other.
        present = mi if mi is not None else th
        assert present is not None
        m.out.labels[path] = label
        if b is None and m.has_base:
            (m.out.kept_mine if mi is not None else m.out.kept_theirs).append(path)
            merged[key] = present
        elif b is not None and _judgement_same(present, b):
            # the side that kept it did not change it: the removal stands
            (m.out.kept_theirs if mi is not None else m.out.kept_mine).append(path)
        else:
            m.out.conflicts.append(FieldConflict(path, label, b, mi, th))
            keep = mi if path in m.prefer_mine else th
            if keep is not None:
                merged[key] = keep
    return tuple(merged[k] for k in _order(base, mine, theirs, merged))


def _merge_one(
    m: _Merger, path: str, label: str, b: JudgementDraft | None, mi: JudgementDraft, th: JudgementDraft
) -> JudgementDraft:
    values: dict[str, Any] = {}
    for f in fields(JudgementDraft):
        if f.name == "key":
            values["key"] = th.key
            continue
        name = JUDGEMENT_LABELS.get(f.name, f.name.replace("_", " "))
        values[f.name] = m.value(
            f"{path}.{f.name}",
            f"{label} · {name}",
            f.name,
            getattr(b, f.name) if b is not None else None,
            getattr(mi, f.name),
            getattr(th, f.name),
        )
    return replace(th, **values)


def _order(
    base: AssessmentDraft | None,
    mine: AssessmentDraft,
    theirs: AssessmentDraft,
    merged: dict[str, JudgementDraft],
) -> list[str]:
    """Theirs' order unless only mine reordered the judgements they share; judgements only one side lists go
    after their predecessor on that side (after the other side's additions there)."""
    old = [j.key for j in base.judgements] if base is not None else []
    common = [k for k in old if k in merged]

    def shared(d: AssessmentDraft) -> list[str]:
        return [j.key for j in d.judgements if j.key in common]

    mine_keys = [j.key for j in mine.judgements]
    theirs_keys = [j.key for j in theirs.judgements]
    primary, other = theirs_keys, mine_keys
    if shared(theirs) == common and shared(mine) != common:
        primary, other = mine_keys, theirs_keys
    order = [k for k in primary if k in merged]
    for n, k in enumerate(other):
        if k in order or k not in merged:
            continue
        before = [p for p in other[:n] if p in order]
        at = order.index(before[-1]) + 1 if before else 0
        while at < len(order) and order[at] not in old and order[at] not in other:
            at += 1  # the primary side's own additions there come first
        order.insert(at, k)
    return order
