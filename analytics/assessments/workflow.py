"""The two-nation workflow: every write to an assessment, and the rules that decide whether it is allowed.

Shape of the rules (docs/assessments.md has the reasoning):

- Versions. Every save writes a new immutable version; `assessments.current_version` is the optimistic
  concurrency token. A save names the version it started from; if someone else saved first it is refused with
  `EditConflict` carrying both texts to the editor. The audit log records the conflict with ids, versions and
  the names of the fields that differ, never the text (the log holds no record content).
- Marking. A version's marking is derived from its evidence (analytics/assessments/marking.py); a save that
  would leave its own author unable to read it is refused.
- Workflow. draft -> in_review -> approved, or in_review -> returned -> in_review. Approval needs sign-offs on
  the current version from a lead of each institute (UK and AU) who did not write any version of it. Any save
  makes a new version, so sign-offs on the old one stop counting. The checker's blocks
  (analytics/assessments/checker.py) apply at submission, to every save while in review, and again to the
  version being signed off. Approved versions are final: they pin their evidence (values and markings) and a
  successor assessment is started to update them.
- Carried text. Comments, review remarks and version notes belong to their version; which dissents later
  versions show is decided on read (analytics/assessments/reads.py).

Every write takes a Store (it runs its own transaction so conflicts become `EditConflict`), checks the role with
`audit.require`, and writes an audit entry in the same transaction. Writes of one assessment are serialised
(`_claim`), so two people racing from the same state never both succeed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import duckdb

from analytics.access.roles import ASSESSMENT_AUTHORS, SIGNERS
from analytics.access.viewer import Viewer
from analytics.assessments.checker import blocking, blocks_text, check
from analytics.assessments.evidence import EvidenceInfo, cited_evidence, pin_evidence
from analytics.assessments.marking import DerivedMarking, derive_marking
from analytics.assessments.model import (
    EDITABLE_STATUSES,
    SIGNOFF_INSTITUTES,
    STATUS_LABELS,
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EditConflict,
    EvidenceRef,
    NotFound,
    WorkflowError,
    differing_fields,
    normalise_draft,
    same_judgement,
)
from analytics.assessments.reads import get_assessment, people, require_assessment
from analytics.store import audit
from analytics.store.database import Store

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

# DuckDB reports a lost race as either of these when the second writer commits (duplicate assessment_writes key).
_RACE_ERRORS = (duckdb.TransactionException, duckdb.ConstraintException)
_RACE_MESSAGE = "Someone changed this assessment at the same moment. Reload it and try again."


def _now(con: duckdb.DuckDBPyConnection) -> datetime:
    row = con.execute("select current_timestamp::timestamp").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def _write_version(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    aid: int,
    version: int,
    draft: AssessmentDraft,
    base: Assessment | None,
    creator_institute: str,
    note: str,
    today: date | None,
) -> DerivedMarking:
    """Insert version `version` of assessment `aid` from a normalised draft, with its judgements and the
    markings of its evidence as the saver sees them now. Returns the marking the version carries."""
    info = cited_evidence(con, viewer, draft, today)
    marking = derive_marking(
        (info[e].marking for e in dict.fromkeys(e for j in draft.judgements for e in j.evidence)),
        creator_institute=creator_institute,
        raise_tlp=draft.raise_tlp,
        restrict_to=draft.restrict_to,
        named_recipients=draft.named_recipients,
        people=people(con),
    )
    if not marking.cleared(viewer):
        raise AssessmentError(
            "With this marking you could not read your own assessment (check the RED named recipients and the "
            "releasability you chose)."
        )
    now = _now(con)
    _insert_version_row(con, viewer, aid, version, draft, marking, note, now)
    _insert_judgements(con, viewer, aid, version, draft, base, info, now)
    return marking


def _insert_version_row(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    aid: int,
    version: int,
    draft: AssessmentDraft,
    marking: DerivedMarking,
    note: str,
    now: datetime,
) -> None:
    con.execute(
        "insert into assessment_versions (assessment_id, version, title, question, bluf, assumptions, "
        "alternatives, indicators, changes, raise_tlp, restrict_to, requested_recipients, tlp, releasable_to, "
        "named_recipients, originator, saved_by, saved_at, note, protective) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            aid,
            version,
            draft.title,
            draft.question,
            draft.bluf,
            list(draft.assumptions),
            list(draft.alternatives),
            list(draft.indicators),
            draft.changes,
            draft.raise_tlp,
            list(draft.restrict_to),
            list(draft.named_recipients),
            marking.tlp,
            list(marking.releasable_to),
            list(marking.named_recipients),
            marking.originator,
            viewer.email,
            now,
            note.strip()[:500],
            draft.protective,
        ],
    )


def _insert_judgements(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    aid: int,
    version: int,
    draft: AssessmentDraft,
    base: Assessment | None,
    info: dict[EvidenceRef, EvidenceInfo],
    now: datetime,
) -> None:
    """The judgements and their evidence. A judgement unchanged since `base` keeps its last-edit time and
    editor, so the checker can tell evidence updated since it was last thought about."""
    saved = {j.key: j for j in base.judgements} if base else {}
    for pos, j in enumerate(draft.judgements, start=1):
        old = saved.get(j.key)
        kept = old if old is not None and same_judgement(j, old) else None
        con.execute(
            "insert into assessment_judgements (assessment_id, version, position, judgement_key, statement, term, "
            "confidence, reasoning, edited_at, edited_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                aid,
                version,
                pos,
                j.key,
                j.statement,
                j.term,
                j.confidence,
                j.reasoning,
                kept.edited_at if kept else now,
                kept.edited_by if kept else viewer.email,
            ],
        )
        for e in j.evidence:
            m = info[e].marking
            con.execute(
                "insert into assessment_evidence (assessment_id, version, judgement_key, kind, ref_id, tlp, "
                "releasable_to, named_recipients, originator) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    aid,
                    version,
                    j.key,
                    e.kind,
                    e.ref_id,
                    m.tlp,
                    list(m.releasable_to),
                    list(m.named_recipients),
                    m.originator,
                ],
            )


def create_assessment(
    store: Store, viewer: Viewer, draft: AssessmentDraft, *, note: str = "", today: date | None = None
) -> int:
    """A new draft (version 1) by this analyst or lead, with the author's note for it ("created" when none).
    Returns its id."""
    audit.require(store, viewer, *ASSESSMENT_AUTHORS, action="create assessment")
    if viewer.institute not in SIGNOFF_INSTITUTES:
        raise WorkflowError("Assessments are drafted by UK or AU staff.")
    draft = normalise_draft(draft)
    if not draft.title:
        raise AssessmentError("An assessment needs a title.")
    with store.transaction(changes_records=False) as con:
        if (
            draft.supersedes is not None
            and get_assessment(con, viewer, draft.supersedes, approved=True) is None
        ):
            raise NotFound(f"No approved assessment {draft.supersedes} to supersede.")
        row = con.execute(
            "insert into assessments (created_by, created_institute, status, current_version, supersedes) "
            "values (?, ?, 'draft', 1, ?) returning id",
            [viewer.email, viewer.institute, draft.supersedes],
        ).fetchone()
        assert row is not None
        aid = int(row[0])
        _claim(con, viewer, aid, "create")
        marking = _write_version(
            con, viewer, aid, 1, draft, None, viewer.institute, note.strip() or "created", today
        )
        audit.record(
            con,
            viewer.email,
            "create assessment",
            f"assessment:{aid}",
            {"version": 1, "tlp": marking.tlp, "releasable_to": marking.releasable_to},
        )
    return aid


def save_version(
    store: Store,
    viewer: Viewer,
    assessment_id: int,
    draft: AssessmentDraft,
    expected_version: int,
    *,
    note: str = "",
    today: date | None = None,
) -> int:
    """Save an edit as a new version, if nobody else saved since `expected_version`. Returns the new version.

    Raises EditConflict (with both texts) when someone else got there first; the audit log records the conflict
    (ids and the names of the fields that differ, not the text). In review, a save the checker blocks is refused
    with the blocks named and nothing saved. Sign-offs on the previous version stop counting."""
    audit.require(
        store, viewer, *ASSESSMENT_AUTHORS, action="save assessment", obj=f"assessment:{assessment_id}"
    )
    draft = normalise_draft(draft)
    if not draft.title:
        raise AssessmentError("An assessment needs a title.")
    try:
        with store.transaction(changes_records=False) as con:
            base = require_assessment(con, viewer, assessment_id)
            if base.status not in EDITABLE_STATUSES:
                raise WorkflowError(
                    "An approved assessment is final. Start a successor assessment to update it."
                )
            if base.current_version != expected_version:
                started = get_assessment(con, viewer, assessment_id, expected_version)
                raise EditConflict(expected_version, draft, base, started)
            if draft == normalise_draft(base.to_draft()):
                return base.version  # nothing changed: no new version, sign-offs stand
            if base.status == "in_review":
                # Leads sign what is in review: once submitted, every save must pass what submission had to.
                problems = blocking(check(con, viewer, draft, base, today))
                if problems:
                    raise WorkflowError(
                        "Nothing was saved: this assessment is in review, so every save must pass the checker, "
                        f"which blocks {blocks_text(problems)}"
                    )
            _claim(con, viewer, assessment_id, "save")
            new_version = base.current_version + 1
            creator = _created_institute(con, assessment_id)
            marking = _write_version(
                con, viewer, assessment_id, new_version, draft, base, creator, note, today
            )
            con.execute(
                "update assessments set current_version = ? where id = ?", [new_version, assessment_id]
            )
            cleared = [s.email for s in base.signoffs]
            audit.record(
                con,
                viewer.email,
                "save assessment",
                f"assessment:{assessment_id}",
                {
                    "version": new_version,
                    "tlp": marking.tlp,
                    "releasable_to": marking.releasable_to,
                    "signoffs_cleared": cleared,
                },
            )
    except EditConflict as conflict:
        _record_conflict(store, viewer, assessment_id, conflict)
        raise
    except _RACE_ERRORS:
        # Another session's write committed between our read and our commit.
        with store.transaction(changes_records=False) as con:
            theirs = require_assessment(con, viewer, assessment_id)
            started = get_assessment(con, viewer, assessment_id, expected_version)
        late = EditConflict(expected_version, draft, theirs, started)
        _record_conflict(store, viewer, assessment_id, late)
        raise late from None
    return new_version


def _record_conflict(store: Store, viewer: Viewer, aid: int, conflict: EditConflict) -> None:
    """The audit entry of a refused save: ids, versions and the names of the fields where the refused draft
    differs from the saved version, never the text (the log holds no record content; the refused text stays
    with its author, in the EditConflict the editor shows)."""
    with store.transaction(changes_data=False) as con:
        audit.record(
            con,
            viewer.email,
            "assessment save conflict",
            f"assessment:{aid}",
            {
                "expected_version": conflict.expected_version,
                "current_version": conflict.theirs.version,
                "fields": differing_fields(conflict.mine, conflict.theirs.to_draft()),
            },
        )


def submit_for_review(store: Store, viewer: Viewer, assessment_id: int, expected_version: int) -> None:
    """Draft or returned -> in review, if the checker finds nothing blocking in the current version."""
    audit.require(
        store, viewer, *ASSESSMENT_AUTHORS, action="submit assessment", obj=f"assessment:{assessment_id}"
    )
    try:
        _submit(store, viewer, assessment_id, expected_version)
    except _RACE_ERRORS:
        raise WorkflowError(_RACE_MESSAGE) from None


def _submit(store: Store, viewer: Viewer, assessment_id: int, expected_version: int) -> None:
    with store.transaction(changes_records=False) as con:
        a = require_assessment(con, viewer, assessment_id)
        if a.status not in ("draft", "returned"):
            raise WorkflowError(
                f"Only drafts can be submitted; this one is {STATUS_LABELS[a.status].lower()}."
            )
        if a.current_version != expected_version:
            raise EditConflict(expected_version, a.to_draft(), a)
        problems = blocking(check(con, viewer, a.to_draft(), a))
        if problems:
            raise WorkflowError(f"Fix what the checker blocks first: {blocks_text(problems)}")
        _claim(con, viewer, assessment_id, "submit")
        con.execute("update assessments set status = 'in_review' where id = ?", [assessment_id])
        audit.record(
            con, viewer.email, "submit assessment", f"assessment:{assessment_id}", {"version": a.version}
        )


def _claim(con: duckdb.DuckDBPyConnection, viewer: Viewer, aid: int, action: str) -> None:
    """Take the next write number of this assessment. Two writes racing from the same state take the same number
    and the second to commit fails, so per-assessment writes are serialised (see the migration)."""
    con.execute(
        "insert into assessment_writes (assessment_id, seq, email, action) "
        "select ?, coalesce(max(seq), 0) + 1, ?, ? from assessment_writes where assessment_id = ?",
        [aid, viewer.email, action, aid],
    )


def _created_institute(con: duckdb.DuckDBPyConnection, assessment_id: int) -> str:
    row = con.execute("select created_institute from assessments where id = ?", [assessment_id]).fetchone()
    assert row is not None
    return str(row[0])


def authors_of(con: duckdb.DuckDBPyConnection, assessment_id: int) -> set[str]:
    """Everyone who created or saved any version: none of them may sign it off."""
    rows = con.execute(
        "select created_by from assessments where id = ? union select saved_by from assessment_versions "
        "where assessment_id = ?",
        [assessment_id, assessment_id],
    ).fetchall()
    return {email for (email,) in rows}


def sign_off(store: Store, viewer: Viewer, assessment_id: int, version: int) -> str:
    """A lead signs off the version they read, if the checker finds nothing blocking in it (checked again here,
    whatever the saves did). When leads of both institutes have signed the current version it is approved and its
    evidence pinned. Returns the status afterwards."""
    audit.require(store, viewer, *SIGNERS, action="sign off assessment", obj=f"assessment:{assessment_id}")
    if viewer.institute not in SIGNOFF_INSTITUTES:
        raise WorkflowError("Sign-off needs a UK or AU lead.")
    # Two leads signing at the same moment: the second commit fails; trying once more sees the first signature
    # (and approves if that completes the pair).
    for attempt in (1, 2):
        try:
            return _sign_off(store, viewer, assessment_id, version)
        except _RACE_ERRORS:
            if attempt == 2:
                raise WorkflowError(_RACE_MESSAGE) from None
    raise AssertionError("unreachable")


def _sign_off(store: Store, viewer: Viewer, assessment_id: int, version: int) -> str:
    with store.transaction(changes_records=False) as con:
        a = require_assessment(con, viewer, assessment_id)
        if a.status != "in_review":
            raise WorkflowError(
                f"Only assessments in review can be signed off; this one is {a.status_label_now.lower()}."
            )
        if version != a.current_version:
            raise WorkflowError(
                f"Version {a.current_version} was saved after you opened version {version}: read it and sign again."
            )
        if viewer.email in authors_of(con, assessment_id):
            raise WorkflowError("You wrote part of this assessment, so you cannot approve it.")
        if any(s.email == viewer.email for s in a.signoffs):
            raise WorkflowError("You have already signed off this version.")
        # Defence in depth: saves in review are checked, but the version signed is checked again here, so a
        # version that reached review by any other path is never approved.
        problems = blocking(check(con, viewer, a.to_draft(), a))
        if problems:
            raise WorkflowError(
                f"Version {version} cannot be signed off: the checker blocks {blocks_text(problems)} "
                "Return it to the authors."
            )
        _claim(con, viewer, assessment_id, "sign off")
        con.execute(
            "insert into assessment_signoffs (assessment_id, version, email, institute) values (?, ?, ?, ?)",
            [assessment_id, version, viewer.email, viewer.institute],
        )
        signed = {s.institute for s in a.signoffs} | {viewer.institute}
        status = "in_review"
        if signed >= set(SIGNOFF_INSTITUTES):
            status = "approved"
            now = _now(con)
            con.execute(
                "update assessments set status = 'approved', approved_version = ?, approved_at = ? where id = ?",
                [version, now, assessment_id],
            )
            pin_evidence(con, a, now)
        audit.record(
            con,
            viewer.email,
            "sign off assessment",
            f"assessment:{assessment_id}",
            {"version": version, "institute": viewer.institute, "status": status},
        )
    return status


def return_for_changes(store: Store, viewer: Viewer, assessment_id: int, version: int, comment: str) -> None:
    """A lead sends the draft back to its authors with a comment (required). Sign-offs so far stop counting
    once the authors save their changes."""
    audit.require(store, viewer, *SIGNERS, action="return assessment", obj=f"assessment:{assessment_id}")
    if not comment.strip():
        raise AssessmentError("Say what needs to change.")
    try:
        _return(store, viewer, assessment_id, version, comment)
    except _RACE_ERRORS:
        raise WorkflowError(_RACE_MESSAGE) from None


def _return(store: Store, viewer: Viewer, assessment_id: int, version: int, comment: str) -> None:
    with store.transaction(changes_records=False) as con:
        a = require_assessment(con, viewer, assessment_id)
        if a.status != "in_review":
            raise WorkflowError("Only assessments in review can be returned.")
        if version != a.current_version:
            raise WorkflowError(f"Version {a.current_version} was saved after you opened version {version}.")
        if viewer.email in authors_of(con, assessment_id):
            raise WorkflowError("You wrote part of this assessment; another lead reviews it.")
        _claim(con, viewer, assessment_id, "return")
        _insert_comment(con, viewer, assessment_id, version, None, "return", comment)
        con.execute("update assessments set status = 'returned' where id = ?", [assessment_id])
        audit.record(
            con, viewer.email, "return assessment", f"assessment:{assessment_id}", {"version": version}
        )


def add_comment(
    store: Store,
    viewer: Viewer,
    assessment_id: int,
    version: int,
    judgement_key: str | None,
    body: str,
    *,
    dissent: bool = False,
) -> int:
    """A comment on one judgement (or the whole assessment). A dissent is a comment that stays visible in the
    approved text, beside the judgement it disagrees with."""
    audit.require(
        store, viewer, *ASSESSMENT_AUTHORS, action="comment on assessment", obj=f"assessment:{assessment_id}"
    )
    if not body.strip():
        raise AssessmentError("A comment needs some text.")
    with store.transaction(changes_records=False) as con:
        a = require_assessment(con, viewer, assessment_id, version)
        if judgement_key is not None and judgement_key not in {j.key for j in a.judgements}:
            raise NotFound("No such judgement in this version.")
        if dissent and a.status == "approved":
            raise WorkflowError(
                "Record a dissent before approval; start a successor to revisit an approved text."
            )
        cid = _insert_comment(
            con, viewer, assessment_id, version, judgement_key, "dissent" if dissent else "comment", body
        )
        audit.record(
            con,
            viewer.email,
            "dissent on assessment" if dissent else "comment on assessment",
            f"assessment:{assessment_id}",
            {"version": version, "judgement": judgement_key, "comment": cid},
        )
    return cid


def _insert_comment(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    aid: int,
    version: int,
    judgement_key: str | None,
    kind: str,
    body: str,
) -> int:
    row = con.execute(
        "insert into assessment_comments (assessment_id, version, judgement_key, email, institute, kind, body) "
        "values (?, ?, ?, ?, ?, ?, ?) returning id",
        [aid, version, judgement_key, viewer.email, viewer.institute, kind, body.strip()[:4000]],
    ).fetchone()
    assert row is not None
    return int(row[0])


def start_successor(store: Store, viewer: Viewer, assessment_id: int, *, today: date | None = None) -> int:
    """A new draft that supersedes an approved assessment, starting from its approved text."""
    audit.require(
        store, viewer, *ASSESSMENT_AUTHORS, action="start successor", obj=f"assessment:{assessment_id}"
    )
    with store.transaction(changes_records=False) as con:
        a = get_assessment(con, viewer, assessment_id, approved=True)
    if a is None:
        raise NotFound(f"No approved assessment {assessment_id}.")
    draft = replace(a.to_draft(), supersedes=a.id, changes="")
    return create_assessment(store, viewer, draft, today=today)
