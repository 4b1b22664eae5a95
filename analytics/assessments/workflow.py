"""Joint assessments: the model, the checker, the derived marking, the two-nation workflow, versions and pins.

An assessment answers one question in proper analytic form: a bottom line up front, numbered key judgements
(each with one PHIA term, one confidence level, its reasoning and its evidence), assumptions, alternative views,
indicators that would change the judgements, and what changed since the assessment it supersedes.

Shape of the rules (docs/assessments.md has the reasoning):

- Versions. Every save writes a new immutable version; `assessments.current_version` is the optimistic
  concurrency token. A save names the version it started from; if someone else saved first it is refused with
  `EditConflict` carrying both texts to the editor. The audit log records the conflict with ids, versions and
  the names of the fields that differ, never the text (the log holds no record content).
- Marking. A version's marking is derived from its evidence: highest TLP, narrowest releasability, RED only for
  people named on every RED record, AMBER+STRICT records narrow releasability to their originating institute.
  Authors may ask for more (a floor), never less. Reads also check every evidence record against the reader in
  SQL, so nobody sees an assessment built on a record they may not see, whatever the stored marking says.
- Workflow. draft -> in_review -> approved, or in_review -> returned -> in_review. Approval needs sign-offs on
  the current version from a lead of each institute (UK and AU) who did not write any version of it. Any save
  makes a new version, so sign-offs on the old one stop counting. The checker's blocks apply at submission, to
  every save while in review, and again to the version being signed off. Approved versions are final: they pin
  their evidence (values and markings) and a successor assessment is started to update them.
- Carried text. Comments, review remarks and version notes belong to their version. A dissent is also shown on
  later versions (and in the approved text) only if the later version's audience may read the version it was
  written on (`audience_within`); otherwise it stays on its own version and the saver is told a count.
- Readers. Analysts and leads see drafts and approved assessments they are cleared for; everyone else
  (policymakers, administrators) sees only approved versions they are cleared for.

Every write takes a Store (it runs its own transaction so conflicts become `EditConflict`), checks the role with
`viewer.require`, and writes an audit entry in the same transaction. Reads take a cursor and the viewer.
An assessment the viewer may not read behaves exactly like one that does not exist (`NotFound`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from analytics import views
from analytics.access.markings import (
    INSTITUTES,
    TLP_LEVELS,
    Marking,
    Scoped,
    combine_markings,
    normalise_tlp,
    releasable_sql,
    tlp_rank,
    visible_sql,
)
from analytics.access.viewer import Viewer
from analytics.assessments import yardstick
from analytics.filters import Filters
from analytics.store import audit
from analytics.store.database import Store

AUTHOR_ROLES: tuple[str, ...] = ("analyst", "lead")
SIGNOFF_INSTITUTES: tuple[str, ...] = ("UK", "AU")

STATUS_LABELS: dict[str, str] = {
    "draft": "Draft",
    "in_review": "In review",
    "returned": "Returned with comments",
    "approved": "Approved",
}
EDITABLE_STATUSES: frozenset[str] = frozenset({"draft", "returned", "in_review"})

EVIDENCE_KINDS: dict[str, str] = {"incident": "Incident", "eval_run": "Evaluation run", "view": "Saved view"}

VAGUE_WORDS: tuple[str, ...] = ("could", "may", "might", "possibly", "potentially")
_VAGUE_RE = re.compile(r"\b(" + "|".join(VAGUE_WORDS) + r")\b", re.IGNORECASE)

# Evidence values pinned at approval, per kind. Column names come only from here.
PIN_FIELDS: dict[str, tuple[str, ...]] = {
    "incident": (
        "title",
        "summary",
        "occurred_on",
        "originator",
        "category",
        "severity",
        "status",
        "tlp",
        "releasable_to",
        "named_recipients",
    ),
    "eval_run": (
        "institute",
        "model",
        "benchmark",
        "task_version",
        "eval_date",
        "metric",
        "score",
        "stderr",
        "n_samples",
        "status",
        "tlp",
        "releasable_to",
        "named_recipients",
    ),
    "view": ("name", "page", "query"),
}


# -- errors ---------------------------------------------------------------------------------------------------


class AssessmentError(ValueError):
    """A refused action; the message is safe to show to the person who tried it."""


class NotFound(AssessmentError):
    """No such assessment or version, or not one this viewer may read (the two look the same)."""


class WorkflowError(AssessmentError):
    """The action is not allowed in the assessment's current state or for this person."""


class EditConflict(AssessmentError):
    """Someone else saved this draft since `expected_version` was loaded. Both texts travel with the error."""

    def __init__(self, expected_version: int, mine: AssessmentDraft, theirs: Assessment) -> None:
        super().__init__(
            f"Version {theirs.version} was saved by {theirs.saved_by} after you opened version "
            f"{expected_version}. Your text has not been saved yet: compare the two and save again."
        )
        self.expected_version = expected_version
        self.mine = mine
        self.theirs = theirs


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
        )


# -- marking derivation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceMarking:
    """A record's marking: what an assessment citing it inherits."""

    tlp: str
    releasable_to: tuple[str, ...]
    named_recipients: tuple[str, ...] = ()
    originator: str = ""


@dataclass(frozen=True)
class DerivedMarking:
    tlp: str
    releasable_to: tuple[str, ...]
    named_recipients: tuple[str, ...]  # meaningful only for RED
    originator: str  # the institute AMBER+STRICT refers to
    evidence_tlp: str  # what the evidence alone requires (the lowest the author may choose)

    @property
    def marking(self) -> Marking:
        return Marking(self.tlp, self.releasable_to)

    def cleared(self, viewer: Viewer) -> bool:
        """The same rule as for records (analytics.access.markings.visible_sql), in Python, for checks before saving."""
        needed = set(INSTITUTES) if viewer.institute == "JOINT" else {viewer.institute}
        if not needed <= set(self.releasable_to):
            return False
        if self.tlp == "RED" and viewer.email.lower() not in self.named_recipients:
            return False
        return not (self.tlp == "AMBER+STRICT" and self.originator != viewer.institute)


def derive_marking(
    evidence: Iterable[EvidenceMarking],
    *,
    creator_institute: str,
    raise_tlp: str | None = None,
    restrict_to: Sequence[str] = (),
    named_recipients: Sequence[str] = (),
) -> DerivedMarking:
    """The marking an assessment must carry given its evidence and what its authors asked for.

    - TLP: the highest of the evidence and the authors' floor (`raise_tlp` can raise, never lower).
    - Releasability: the intersection of every record's, narrowed further by `restrict_to` if given.
    - AMBER+STRICT records may be seen only in their originating institute, so each one narrows releasability
      to that institute; the assessment's originator is that institute (else the creator's institute).
    - RED: named recipients are those named on every RED record (and in `named_recipients` when the authors
      give a list); with no RED evidence, the authors' list.
    """
    items = list(evidence)
    evidence_tlp = max((e.tlp for e in items), key=tlp_rank, default="CLEAR")
    tlp = evidence_tlp
    if raise_tlp:
        raise_tlp = normalise_tlp(raise_tlp)
        if tlp_rank(raise_tlp) > tlp_rank(tlp):
            tlp = raise_tlp
    rel = set(INSTITUTES)
    for e in items:
        rel &= set(e.releasable_to)
    if restrict_to:
        rel &= set(restrict_to)
    strict_origins = {e.originator for e in items if e.tlp == "AMBER+STRICT"}
    for origin in strict_origins:  # each strict record alone keeps the result inside its own institute
        rel &= {origin}
    if len(strict_origins) == 1:
        originator = next(iter(strict_origins))
    elif strict_origins:
        originator = "NONE"  # strict records of two institutes: nobody may read the combination
    else:
        originator = creator_institute
    named: set[str] | None = None
    for e in items:
        if e.tlp == "RED":
            names = {n.lower() for n in e.named_recipients}
            named = names if named is None else named & names
    requested = {n.strip().lower() for n in named_recipients if n.strip()}
    if requested:
        named = requested if named is None else named & requested
    return DerivedMarking(
        tlp=tlp,
        releasable_to=tuple(sorted(rel)),
        named_recipients=tuple(sorted(named or ())) if tlp == "RED" else (),
        originator=originator,
        evidence_tlp=evidence_tlp,
    )


# -- the checker ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing the checker flags. Messages are built from fixed vocabularies and numbers, never author text."""

    code: str
    severity: str  # 'error' blocks submission for review; 'warning' is advice
    message: str
    judgement: int | None = None  # 1-based judgement number, None for the whole assessment


def _vague_words(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1).lower() for m in _VAGUE_RE.finditer(text or "")))


def check_judgement(
    number: int,
    j: JudgementDraft,
    *,
    edited_at: datetime | None = None,
    evidence_updated: Mapping[EvidenceRef, datetime] | None = None,
) -> list[Finding]:
    """Findings for one judgement. `edited_at` is when it was last changed (None while being edited now);
    `evidence_updated` gives each cited record's last update."""
    out: list[Finding] = []
    band: yardstick.Band | None = None
    if not j.term:
        out.append(Finding("no_term", "error", "has no probability term from the PHIA yardstick.", number))
    else:
        try:
            band = yardstick.phia_band(j.term)
        except ValueError:
            out.append(Finding("no_term", "error", "uses a term that is not on the PHIA yardstick.", number))
    if not j.confidence:
        out.append(
            Finding("no_confidence", "error", "has no confidence level (high, moderate or low).", number)
        )
    elif j.confidence not in yardstick.CONFIDENCE_LEVELS:
        out.append(Finding("no_confidence", "error", "has an unknown confidence level.", number))
    for word in _vague_words(f"{j.statement}\n{j.reasoning}"):
        out.append(
            Finding(
                "vague_word",
                "warning",
                f"uses “{word}”, which carries no probability: say how likely, with a yardstick term.",
                number,
            )
        )
    if band is not None:
        seen: set[str] = set()
        for mention in yardstick.terms_in_text(j.statement):
            if mention.phrase in seen or mention.band.overlaps(band):
                continue
            seen.add(mention.phrase)
            out.append(
                Finding(
                    "term_contradicts",
                    "warning",
                    f"says “{mention.phrase}” ({mention.band.low}–{mention.band.high}%) in its text, "
                    f"but the chosen term is {band.label}.",
                    number,
                )
            )
        for lo, hi in yardstick.percentages_in_text(j.statement):
            if band.low <= lo and hi <= band.high:
                continue
            out.append(
                Finding(
                    "percent_outside",
                    "warning",
                    f"gives {yardstick.format_percent(lo, hi)} in its text, outside the chosen band "
                    f"{band.label}.",
                    number,
                )
            )
    if not j.evidence:
        out.append(Finding("no_evidence", "warning", "cites no evidence.", number))
    elif edited_at is not None and evidence_updated:
        newer = [e for e in j.evidence if (t := evidence_updated.get(e)) is not None and t > edited_at]
        if newer:
            kinds = ", ".join(sorted({EVIDENCE_KINDS[e.kind].lower() for e in newer}))
            out.append(
                Finding(
                    "evidence_newer",
                    "warning",
                    f"cites {len(newer)} record(s) ({kinds}) updated after the judgement was last edited: "
                    "re-read the evidence and confirm the judgement.",
                    number,
                )
            )
    return out


def check_draft(
    draft: AssessmentDraft,
    *,
    edited_at: Mapping[str, datetime] | None = None,
    evidence_updated: Mapping[EvidenceRef, datetime] | None = None,
    marking: DerivedMarking | None = None,
) -> list[Finding]:
    """Everything the checker flags in a draft. `edited_at` maps judgement keys to their last edit (only for
    judgements unchanged since the saved version); `marking` adds the checks on who could approve it."""
    out: list[Finding] = []
    if not draft.title.strip():
        out.append(Finding("no_title", "error", "The assessment has no title."))
    if not draft.bluf.strip():
        out.append(Finding("no_bluf", "warning", "There is no bottom line up front."))
    if not draft.judgements:
        out.append(Finding("no_judgements", "error", "There are no key judgements."))
    for word in _vague_words(draft.bluf):
        out.append(
            Finding("vague_word", "warning", f"The bottom line uses “{word}”, which carries no probability.")
        )
    for n, j in enumerate(draft.judgements, start=1):
        out.extend(
            check_judgement(
                n,
                j,
                edited_at=(edited_at or {}).get(j.key) if j.key else None,
                evidence_updated=evidence_updated,
            )
        )
    if marking is not None:
        out.extend(marking_findings(marking))
    return out


def marking_findings(m: DerivedMarking) -> list[Finding]:
    """A joint assessment needs a lead of each institute to approve it: flag markings that make that impossible."""
    if not m.releasable_to:
        return [
            Finding(
                "unreadable",
                "error",
                "No one is cleared for all of this evidence together (its releasability or AMBER+STRICT "
                "originators do not overlap). Remove or replace evidence.",
            )
        ]
    missing = [i for i in SIGNOFF_INSTITUTES if i not in m.releasable_to]
    if missing:
        return [
            Finding(
                "single_institute",
                "error",
                f"The evidence makes this assessment releasable to {' and '.join(m.releasable_to)} only, so no "
                f"{' or '.join(missing)} lead can read it to sign it off. Use evidence both institutes may see.",
            )
        ]
    if m.tlp == "AMBER+STRICT":
        return [
            Finding(
                "single_institute",
                "error",
                f"TLP:AMBER+STRICT keeps this assessment inside {m.originator}, so the other institute's lead "
                "cannot sign it off.",
            )
        ]
    if m.tlp == "RED" and not m.named_recipients:
        return [Finding("unreadable", "error", "TLP:RED with no named recipient common to all the evidence.")]
    return []


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# -- SQL helpers ----------------------------------------------------------------------------------------------


def _eval_updated_column(con: duckdb.DuckDBPyConnection) -> str:
    """eval_runs may gain an updated_at column (the evaluation feature); until then creation time is its age."""
    row = con.execute(
        "select count(*) from information_schema.columns where table_name = 'eval_runs' and column_name = 'updated_at'"
    ).fetchone()
    return "r.updated_at" if row and row[0] else "r.created_at"


def _visible_version_sql(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """Predicate over `assessment_versions v` (joined with `assessments a`): the version's own marking, every
    record it cites (checked now, with the same rules as the records' own pages), and the reader's role."""
    inc, params = visible_sql(viewer, "incidents", "i")
    run, run_params = visible_sql(viewer, "eval_runs", "r")
    rel, rel_params = releasable_sql(viewer, "v")
    params.update(run_params)
    params.update(rel_params)
    sql = (
        f"({rel}"
        " and (v.tlp <> 'RED' or list_contains(v.named_recipients, $v_email))"
        " and (v.tlp <> 'AMBER+STRICT' or v.originator = $v_inst)"
        " and not exists (select 1 from assessment_evidence e join incidents i on i.id = e.ref_id"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'incident'"
        f"   and not ({inc}))"
        " and not exists (select 1 from assessment_evidence e join eval_runs r on r.run_id = e.ref_id"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'eval_run'"
        f"   and not ({run}))"
        " and not exists (select 1 from assessment_evidence e join saved_views sv on cast(sv.id as varchar) = e.ref_id"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'view'"
        "   and not ((sv.institute = $v_inst and sv.institute <> 'JOINT') or sv.owner = $v_email)))"
    )
    if viewer.role not in AUTHOR_ROLES:
        sql += " and a.status = 'approved' and v.version = a.approved_version"
    return sql, params


_VERSION_COLUMNS = (
    "a.id, v.version, a.current_version, a.status, v.title, v.question, v.bluf, v.assumptions, v.alternatives, "
    "v.indicators, v.changes, a.supersedes, v.tlp, v.releasable_to, v.named_recipients, v.originator, "
    "v.raise_tlp, v.restrict_to, v.requested_recipients, a.created_by, v.saved_by, v.saved_at, "
    "a.approved_version, a.approved_at"
)


def _names(con: duckdb.DuckDBPyConnection, emails: Iterable[str]) -> dict[str, str]:
    emails = list(set(emails))
    if not emails:
        return {}
    rows = con.execute("select email, name from users where list_contains(?, email)", [emails]).fetchall()
    return {e: n for e, n in rows}


def _now(con: duckdb.DuckDBPyConnection) -> datetime:
    row = con.execute("select current_timestamp::timestamp").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


# -- reads ----------------------------------------------------------------------------------------------------


def get_assessment(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    assessment_id: int,
    version: int | None = None,
    *,
    approved: bool = False,
) -> Assessment | None:
    """One version of an assessment, or None when it does not exist or this viewer may not read it.

    `version=None` gives the newest version this viewer may read: the current one for analysts and leads, the
    approved one for everyone else. `approved=True` asks for the approved version whoever is reading (None
    while there is none). The marking is the stored one raised by the evidence's markings as they are now."""
    where, params = _visible_version_sql(viewer)
    params["aid"] = int(assessment_id)
    if approved:
        pick = "v.version = a.approved_version"
    elif version is not None:
        pick = "v.version = $ver"
        params["ver"] = int(version)
    elif viewer.role in AUTHOR_ROLES:
        pick = "v.version = a.current_version"
    else:
        pick = "v.version = a.approved_version"
    row = con.execute(
        f"select {_VERSION_COLUMNS} from assessments a join assessment_versions v on v.assessment_id = a.id "
        f"where a.id = $aid and {pick} and {where}",
        params,
    ).fetchone()
    return _assessment_from_row(con, viewer, row) if row else None


def _assessment_from_row(con: duckdb.DuckDBPyConnection, viewer: Viewer, row: tuple[Any, ...]) -> Assessment:
    (
        aid,
        ver,
        current,
        status,
        title,
        question,
        bluf,
        assumptions,
        alternatives,
        indicators,
        changes,
        supersedes,
        tlp,
        rel,
        named,
        originator,
        raise_tlp,
        restrict_to,
        requested,
        created_by,
        saved_by,
        saved_at,
        approved_version,
        approved_at,
    ) = row
    evidence: dict[str, list[EvidenceRef]] = {}
    for key, kind, ref in con.execute(
        "select judgement_key, kind, ref_id from assessment_evidence where assessment_id = ? and version = ? "
        "order by kind, ref_id",
        [aid, ver],
    ).fetchall():
        evidence.setdefault(key, []).append(EvidenceRef(kind, ref))
    stored = DerivedMarking(tlp, tuple(rel), tuple(named), originator, tlp)
    marking = _effective_marking(con, aid, ver, stored)
    comments = _carried_comments(con, aid, ver, marking)
    judgements = []
    for pos, key, statement, term, conf, reasoning, edited_at, edited_by in con.execute(
        "select position, judgement_key, statement, term, confidence, reasoning, edited_at, edited_by "
        "from assessment_judgements where assessment_id = ? and version = ? order by position",
        [aid, ver],
    ).fetchall():
        judgements.append(
            Judgement(
                number=int(pos),
                key=key,
                statement=statement,
                term=term,
                confidence=conf,
                reasoning=reasoning,
                evidence=tuple(evidence.get(key, ())),
                edited_at=edited_at,
                edited_by=edited_by,
                dissents=tuple(c for c in comments if c.kind == "dissent" and c.judgement_key == key),
            )
        )
    authors = [
        r[0]
        for r in con.execute(
            "select saved_by from assessment_versions where assessment_id = ? group by saved_by "
            "order by min(version)",
            [aid],
        ).fetchall()
    ]
    sign_rows = con.execute(
        'select s.email, coalesce(u.name, s.email), s.institute, s."at" from assessment_signoffs s '
        'left join users u on u.email = s.email where s.assessment_id = ? and s.version = ? order by s."at"',
        [aid, ver],
    ).fetchall()
    successor = con.execute(
        "select min(id) from assessments where supersedes = ? and status = 'approved'", [aid]
    ).fetchone()
    all_authors = tuple(dict.fromkeys([created_by, *authors]))
    names = _names(con, all_authors)
    return Assessment(
        id=int(aid),
        version=int(ver),
        current_version=int(current),
        status=status,
        title=title,
        question=question,
        bluf=bluf,
        judgements=tuple(judgements),
        assumptions=tuple(assumptions),
        alternatives=tuple(alternatives),
        indicators=tuple(indicators),
        changes=changes,
        supersedes=int(supersedes) if supersedes is not None else None,
        superseded_by=int(successor[0]) if successor and successor[0] is not None else None,
        marking=marking.marking,
        named_recipients=marking.named_recipients,
        originator=marking.originator,
        raise_tlp=raise_tlp,
        restrict_to=tuple(restrict_to),
        requested_recipients=tuple(requested),
        created_by=created_by,
        authors=all_authors,
        author_names=tuple(names.get(e, e) for e in all_authors),
        saved_by=saved_by,
        saved_at=saved_at,
        signoffs=tuple(SignOff(*r) for r in sign_rows),
        approved_version=int(approved_version) if approved_version is not None else None,
        approved_at=approved_at,
        comments=tuple(comments),
        dissents=tuple(c for c in comments if c.kind == "dissent" and c.judgement_key is None),
    )


def _effective_marking(
    con: duckdb.DuckDBPyConnection, aid: int, ver: int, stored: DerivedMarking
) -> DerivedMarking:
    """The stored marking raised by the cited records' markings as they are now (a record marked up after the
    save makes the assessment's banner go up too; it never goes down)."""
    current = _current_evidence_markings(con, aid, ver)
    if not current:
        return stored
    now = derive_marking(current, creator_institute=stored.originator)
    tlp = stored.tlp if tlp_rank(stored.tlp) >= tlp_rank(now.tlp) else now.tlp
    rel = tuple(sorted(set(stored.releasable_to) & set(now.releasable_to)))
    if tlp == "RED":
        named = set(stored.named_recipients) if stored.tlp == "RED" else None
        if now.tlp == "RED":
            named = set(now.named_recipients) if named is None else named & set(now.named_recipients)
        named_t = tuple(sorted(named or ()))
    else:
        named_t = ()
    originator = (
        now.originator
        if now.originator != stored.originator and any(e.tlp == "AMBER+STRICT" for e in current)
        else stored.originator
    )
    return DerivedMarking(tlp, rel, named_t, originator, stored.evidence_tlp)


def _current_evidence_markings(con: duckdb.DuckDBPyConnection, aid: int, ver: int) -> list[EvidenceMarking]:
    rows = con.execute(
        "select i.tlp, i.releasable_to, i.named_recipients, i.originator from assessment_evidence e "
        "join incidents i on i.id = e.ref_id where e.assessment_id = ? and e.version = ? and e.kind = 'incident' "
        "union all "
        "select r.tlp, r.releasable_to, r.named_recipients, r.institute from assessment_evidence e "
        "join eval_runs r on r.run_id = e.ref_id where e.assessment_id = ? and e.version = ? and e.kind = 'eval_run' "
        "union all "
        "select e.tlp, e.releasable_to, e.named_recipients, e.originator from assessment_evidence e "
        "where e.assessment_id = ? and e.version = ? and e.kind = 'view'",
        [aid, ver, aid, ver, aid, ver],
    ).fetchall()
    return [EvidenceMarking(t, tuple(r), tuple(n), o) for t, r, n, o in rows]


def _carried_comments(
    con: duckdb.DuckDBPyConnection, aid: int, ver: int, marking: DerivedMarking
) -> list[Comment]:
    """The comments a version shows: those written on it (comments, dissents, review remarks), and dissents
    written on an earlier version whose audience contains this version's audience (`audience_within`).

    This is the only place text attached to one version reaches another: version notes and review remarks stay
    on their own version, and the editor's text is the authors' own. A dissent written for a narrow audience
    (RED named recipients, one institute, AMBER+STRICT) is therefore never shown on a later, wider version nor
    in its approved text; it stays on the version it was written on, for that version's readers."""
    rows = con.execute(
        'select c.id, c.version, c.judgement_key, c.email, coalesce(u.name, c.email), c.institute, c.kind, c.body, c."at" '
        "from assessment_comments c left join users u on u.email = c.email "
        "where c.assessment_id = ? and (c.version = ? or (c.version < ? and c.kind = 'dissent')) order by c.id",
        [aid, ver, ver],
    ).fetchall()
    comments = [Comment(*r) for r in rows]
    origins = {v: _version_marking(con, aid, v) for v in {c.version for c in comments if c.version != ver}}
    return [
        c
        for c in comments
        if c.version == ver or ((o := origins[c.version]) is not None and audience_within(marking, o))
    ]


def _version_marking(con: duckdb.DuckDBPyConnection, aid: int, ver: int) -> DerivedMarking | None:
    """A version's marking as it stands: stored, raised by its evidence's current markings (never lower)."""
    row = con.execute(
        "select tlp, releasable_to, named_recipients, originator from assessment_versions "
        "where assessment_id = ? and version = ?",
        [aid, ver],
    ).fetchone()
    if row is None:
        return None
    tlp, rel, named, originator = row
    return _effective_marking(con, aid, ver, DerivedMarking(tlp, tuple(rel), tuple(named), originator, tlp))


def _admits(m: DerivedMarking, institute: str) -> bool:
    """Whether some people of `institute` ('JOINT' for the joint service) pass the marking's institute rules."""
    needed = set(INSTITUTES) if institute == "JOINT" else {institute}
    if not needed <= set(m.releasable_to):
        return False
    return not (m.tlp == "AMBER+STRICT" and m.originator != institute)


def audience_within(target: DerivedMarking, origin: DerivedMarking) -> bool:
    """True when everyone cleared for `target` is also cleared for `origin` (the rules of
    analytics.access.markings.visible_sql, per institute and per named recipient): text written for `origin`'s audience
    may then be shown under `target`. Conservative where the marking alone cannot tell (a RED origin needs a RED
    target whose recipients are all among the origin's)."""
    admitted = [i for i in (*INSTITUTES, "JOINT") if _admits(target, i)]
    if target.tlp == "RED" and not target.named_recipients:
        admitted = []  # RED with nobody named: nobody reads it
    if any(not _admits(origin, i) for i in admitted):
        return False
    if origin.tlp == "RED" and admitted:
        return target.tlp == "RED" and set(target.named_recipients) <= set(origin.named_recipients)
    return True


def not_carried(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, version: int) -> int:
    """How many dissents shown on the version before `version` are not shown on `version` because its audience
    is wider than that of the version they were written on (to tell the author after a save, without content).
    0 when the viewer may not read both versions."""
    viewer.require(*AUTHOR_ROLES)
    new = get_assessment(con, viewer, assessment_id, version)
    old = get_assessment(con, viewer, assessment_id, version - 1) if version > 1 else None
    if new is None or old is None:
        return 0
    kept = {c.id for c in new.comments}
    return sum(1 for c in old.comments if c.kind == "dissent" and c.id not in kept)


def require_assessment(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, version: int | None = None
) -> Assessment:
    a = get_assessment(con, viewer, assessment_id, version)
    if a is None:
        raise NotFound(f"No assessment {assessment_id}" + (f" version {version}" if version else "") + ".")
    return a


def list_assessments(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Scoped[pd.DataFrame]:
    """The workspace list for analysts and leads: each assessment's current version this viewer may read, with
    status, marking, authors, sign-offs so far, and whether it awaits this viewer's sign-off."""
    viewer.require(*AUTHOR_ROLES)
    where, params = _visible_version_sql(viewer)
    df = con.execute(
        "select a.id, v.title, a.status, v.version, v.tlp, v.releasable_to, v.saved_at as updated, "
        "(select list(distinct coalesce(u.name, x.saved_by) order by coalesce(u.name, x.saved_by)) "
        "   from assessment_versions x left join users u on u.email = x.saved_by where x.assessment_id = a.id) "
        "   as authors, "
        "(select list(x.saved_by) from assessment_versions x where x.assessment_id = a.id) as author_emails, "
        "(select coalesce(list(distinct s.institute order by s.institute), []) from assessment_signoffs s "
        "   where s.assessment_id = a.id and s.version = a.current_version) as signed_by "
        "from assessments a join assessment_versions v on v.assessment_id = a.id and v.version = a.current_version "
        f"where {where} order by v.saved_at desc, a.id desc",
        params,
    ).df()
    if df.empty:
        df["awaiting_me"] = pd.Series(dtype=bool)
    else:
        df["awaiting_me"] = [
            viewer.role == "lead"
            and status == "in_review"
            and viewer.email not in list(emails)
            and viewer.institute not in list(signed)
            for status, emails, signed in zip(df["status"], df["author_emails"], df["signed_by"], strict=True)
        ]
    df = df.drop(columns=["author_emails"])
    return Scoped(df, _list_marking(df))


def _list_marking(df: pd.DataFrame) -> Marking:
    return combine_markings(
        Marking(t, tuple(r), 1) for t, r in zip(df.get("tlp", []), df.get("releasable_to", []), strict=False)
    )


def list_approved(con: duckdb.DuckDBPyConnection, viewer: Viewer, limit: int = 200) -> Scoped[pd.DataFrame]:
    """Approved assessments this viewer is cleared for, newest approval first (everyone may call this)."""
    where, params = _visible_version_sql(viewer)
    params["lim"] = int(limit)
    df = con.execute(
        "select a.id, v.title, v.bluf, a.approved_at, v.version, v.tlp, v.releasable_to, a.supersedes, "
        "(select min(s.id) from assessments s where s.supersedes = a.id and s.status = 'approved') as superseded_by "
        "from assessments a join assessment_versions v on v.assessment_id = a.id and v.version = a.approved_version "
        f"where a.status = 'approved' and {where} order by a.approved_at desc, a.id desc limit $lim",
        params,
    ).df()
    return Scoped(df, _list_marking(df))


def latest_approved(con: duckdb.DuckDBPyConnection, viewer: Viewer, n: int = 5) -> Scoped[pd.DataFrame]:
    """The `n` most recently approved assessments this viewer may read that nothing newer has superseded (for
    the overview): id, title, bluf, approved_at, tlp, releasable_to."""
    scoped = list_approved(con, viewer)
    df = scoped.data
    df = df[df["superseded_by"].isna()].head(int(n)).reset_index(drop=True)
    return Scoped(df[["id", "title", "bluf", "approved_at", "tlp", "releasable_to"]], _list_marking(df))


@dataclass(frozen=True)
class VersionInfo:
    version: int
    saved_by: str
    saved_at: datetime
    note: str
    tlp: str
    approved: bool


def list_versions(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int) -> list[VersionInfo]:
    """Every version of an assessment this viewer may read, newest first."""
    viewer.require(*AUTHOR_ROLES)
    where, params = _visible_version_sql(viewer)
    params["aid"] = int(assessment_id)
    rows = con.execute(
        "select v.version, coalesce(u.name, v.saved_by), v.saved_at, v.note, v.tlp, "
        "coalesce(v.version = a.approved_version, false) "
        "from assessments a join assessment_versions v on v.assessment_id = a.id "
        f"left join users u on u.email = v.saved_by where a.id = $aid and {where} order by v.version desc",
        params,
    ).fetchall()
    return [VersionInfo(*r) for r in rows]


# -- evidence -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceInfo:
    ref: EvidenceRef
    label: str  # stored text (titles, names): render as plain text
    when: date | None
    updated_at: datetime | None
    marking: EvidenceMarking


def evidence_info(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, refs: Iterable[EvidenceRef], today: date | None = None
) -> dict[EvidenceRef, EvidenceInfo]:
    """Label, date, last update and marking of each record the viewer may see; the others are simply absent.

    A saved view's marking is that of the incidents it shows this viewer, narrowed to the view's institute
    (views are shared within an institute only)."""
    refs = list(dict.fromkeys(refs))
    out: dict[EvidenceRef, EvidenceInfo] = {}
    by_kind: dict[str, list[str]] = {}
    for r in refs:
        by_kind.setdefault(r.kind, []).append(r.ref_id)
    if ids := by_kind.get("incident"):
        vis, params = visible_sql(viewer, "incidents", "i")
        params["ids"] = ids
        for rid, title, occurred, updated, tlp, rel, named, orig in con.execute(
            "select i.id, i.title, i.occurred_on, i.updated_at, i.tlp, i.releasable_to, i.named_recipients, "
            f"i.originator from incidents i where list_contains($ids::varchar[], i.id) and {vis}",
            params,
        ).fetchall():
            ref = EvidenceRef("incident", rid)
            out[ref] = EvidenceInfo(
                ref,
                f"{rid} · {title}",
                occurred,
                updated,
                EvidenceMarking(tlp, tuple(rel), tuple(named), orig),
            )
    if ids := by_kind.get("eval_run"):
        vis, params = visible_sql(viewer, "eval_runs", "r")
        params["ids"] = ids
        updated_col = _eval_updated_column(con)
        for rid, model, bench, metric, score, when, updated, tlp, rel, named, inst in con.execute(
            f"select r.run_id, r.model, r.benchmark, r.metric, r.score, r.eval_date, {updated_col}, r.tlp, "
            "r.releasable_to, r.named_recipients, r.institute from eval_runs r "
            f"where list_contains($ids::varchar[], r.run_id) and {vis}",
            params,
        ).fetchall():
            ref = EvidenceRef("eval_run", rid)
            score_text = f" {metric} {score:.2f}" if score is not None else ""
            out[ref] = EvidenceInfo(
                ref,
                f"{rid} · {model} on {bench}{score_text}",
                when,
                updated,
                EvidenceMarking(tlp, tuple(rel), tuple(named), inst),
            )
    if ids := by_kind.get("view"):
        wanted = {int(i) for i in ids if i.isdigit()}
        for v in views.list_views(con, viewer):
            if v.id not in wanted:
                continue
            ref = EvidenceRef("view", str(v.id))
            where, params = v.filters.sql_where(viewer, today or date.today())
            row = con.execute(
                "select coalesce(max(list_position(['CLEAR','GREEN','AMBER','AMBER+STRICT','RED'], i.tlp)), 1), "
                "coalesce(bool_and(list_contains(i.releasable_to, 'UK')), true), "
                "coalesce(bool_and(list_contains(i.releasable_to, 'AU')), true), "
                "list(distinct i.originator) filter (i.tlp = 'AMBER+STRICT'), "
                "list_reduce(list(i.named_recipients) filter (i.tlp = 'RED'), lambda a, b: list_intersect(a, b)) "
                f"from incidents i where {where}",
                params,
            ).fetchone()
            assert row is not None
            tlp_pos, uk, au, strict, red_names = row
            view_inst = _view_institute(con, v.id)
            rel = tuple(i for i in ("AU", "UK") if (i == "AU" and au) or (i == "UK" and uk))
            rel = tuple(i for i in rel if i == view_inst) if view_inst in INSTITUTES else ()
            strict_list = list(strict or [])
            if strict_list:
                rel = tuple(i for i in rel if i in strict_list)
            out[ref] = EvidenceInfo(
                ref,
                f"view {v.id} · {v.name}",
                None,
                _view_created(con, v.id),
                EvidenceMarking(
                    TLP_LEVELS[int(tlp_pos) - 1],
                    rel,
                    tuple(red_names or ()),
                    strict_list[0] if len(strict_list) == 1 else view_inst,
                ),
            )
    return out


def _view_institute(con: duckdb.DuckDBPyConnection, view_id: int) -> str:
    row = con.execute("select institute from saved_views where id = ?", [view_id]).fetchone()
    return str(row[0]) if row else ""


def _view_created(con: duckdb.DuckDBPyConnection, view_id: int) -> datetime | None:
    row = con.execute("select created_at from saved_views where id = ?", [view_id]).fetchone()
    return row[0] if row else None


def search_evidence(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    kind: str,
    text: str,
    today: date,
    limit: int = 25,
) -> pd.DataFrame:
    """Evidence the author may cite: records matching `text` (title/summary, or an exact id) that this viewer
    may see, newest first. Columns: ref (kind:id), label, when, tlp, releasable_to."""
    viewer.require(*AUTHOR_ROLES)
    if kind not in EVIDENCE_KINDS:
        raise AssessmentError(f"unknown evidence kind {kind!r}")
    q = text.strip()[:200]
    cols = ["ref", "label", "when", "tlp", "releasable_to"]
    if kind == "incident":
        where, params = Filters(text=q).sql_where(viewer, today)
        vis, vparams = visible_sql(viewer, "incidents", "i")
        params.update(vparams)
        params["q_id"] = q.upper()
        params["lim"] = int(limit)
        return con.execute(
            "select 'incident:' || i.id as ref, i.id || ' · ' || i.title as label, i.occurred_on as \"when\", "
            f"i.tlp, i.releasable_to from incidents i where ({where}) or ({vis} and upper(i.id) = $q_id) "
            "order by (upper(i.id) = $q_id) desc, i.occurred_on desc, i.id limit $lim",
            params,
        ).df()
    if kind == "eval_run":
        vis, params = visible_sql(viewer, "eval_runs", "r")
        params["q"] = q.lower()
        params["lim"] = int(limit)
        return con.execute(
            "select 'eval_run:' || r.run_id as ref, "
            "r.run_id || ' · ' || r.model || ' on ' || r.benchmark || coalesce(' ' || r.metric || ' ' || "
            "printf('%.2f', r.score), '') as label, r.eval_date as \"when\", r.tlp, r.releasable_to "
            f"from eval_runs r where {vis} and (contains(lower(r.model), $q) or contains(lower(r.benchmark), $q) "
            "or lower(r.run_id) = $q or contains(lower(coalesce(r.model_developer, '')), $q)) "
            "order by r.eval_date desc nulls last, r.run_id limit $lim",
            params,
        ).df()
    rows: list[tuple[Any, ...]] = [
        (f"view:{v.id}", f"view {v.id} · {v.name}", None, "", [])
        for v in views.list_views(con, viewer)
        if q.lower() in v.name.lower()
    ][: int(limit)]
    return pd.DataFrame(rows, columns=cols)


# -- writes ---------------------------------------------------------------------------------------------------


def _clean_lines(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(s.strip() for s in items if s and s.strip())


def _normalise(draft: AssessmentDraft) -> AssessmentDraft:
    """Trimmed text, canonical terms, distinct keys and evidence; unknown terms or levels refused."""
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


def draft_marking(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    draft: AssessmentDraft,
    today: date | None = None,
    creator_institute: str | None = None,
) -> DerivedMarking:
    """The marking a draft would carry if this viewer saved it now (for the editor's banner). Evidence the
    viewer cannot see is refused, exactly like evidence that does not exist."""
    info = evidence_info(con, viewer, [e for j in draft.judgements for e in j.evidence], today)
    missing = [e for j in draft.judgements for e in j.evidence if e not in info]
    if missing:
        raise AssessmentError(
            f"No {EVIDENCE_KINDS[missing[0].kind].lower()} {missing[0].ref_id}: cite only records you can open."
        )
    return derive_marking(
        (i.marking for i in info.values()),
        creator_institute=creator_institute or viewer.institute,
        raise_tlp=draft.raise_tlp,
        restrict_to=draft.restrict_to,
        named_recipients=draft.named_recipients,
    )


def check(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    draft: AssessmentDraft,
    base: Assessment | None = None,
    today: date | None = None,
) -> list[Finding]:
    """The checker on a draft as the author writes it. Judgements unchanged since `base` (the saved version
    the author started from) keep their last-edit time, so evidence updated since then is flagged."""
    viewer.require(*AUTHOR_ROLES)
    refs = [e for j in draft.judgements for e in j.evidence]
    info = evidence_info(con, viewer, refs, today)
    edited: dict[str, datetime] = {}
    if base is not None:
        saved = {j.key: j for j in base.judgements}
        for j in draft.judgements:
            old = saved.get(j.key)
            if old is not None and _same_judgement(j, old):
                edited[j.key] = old.edited_at
    findings = check_draft(
        draft,
        edited_at=edited,
        evidence_updated={r: i.updated_at for r, i in info.items() if i.updated_at is not None},
    )
    missing = [e for e in refs if e not in info]
    if missing:
        findings.append(
            Finding("no_evidence", "error", f"{len(missing)} cited record(s) cannot be opened by you.")
        )
    else:
        creator = base.originator if base is not None and base.originator in INSTITUTES else None
        findings.extend(marking_findings(draft_marking(con, viewer, draft, today, creator)))
    return findings


def _same_judgement(j: JudgementDraft, old: Judgement) -> bool:
    return (
        j.statement.strip() == old.statement
        and (j.term or None) == old.term
        and (j.confidence or None) == old.confidence
        and j.reasoning.strip() == old.reasoning
        and set(j.evidence) == set(old.evidence)
    )


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
    refs = [e for j in draft.judgements for e in j.evidence]
    info = evidence_info(con, viewer, refs, today)
    missing = [e for e in refs if e not in info]
    if missing:
        # Exactly the message for a record that does not exist: nothing about the invisible one leaks.
        raise AssessmentError(
            f"No {EVIDENCE_KINDS[missing[0].kind].lower()} {missing[0].ref_id}: cite only records you can open."
        )
    marking = derive_marking(
        (info[e].marking for e in dict.fromkeys(refs)),
        creator_institute=creator_institute,
        raise_tlp=draft.raise_tlp,
        restrict_to=draft.restrict_to,
        named_recipients=draft.named_recipients,
    )
    if not marking.cleared(viewer):
        raise AssessmentError(
            "With this marking you could not read your own assessment (check the RED named recipients and the "
            "releasability you chose)."
        )
    now = _now(con)
    con.execute(
        "insert into assessment_versions (assessment_id, version, title, question, bluf, assumptions, "
        "alternatives, indicators, changes, raise_tlp, restrict_to, requested_recipients, tlp, releasable_to, "
        "named_recipients, originator, saved_by, saved_at, note) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        ],
    )
    saved = {j.key: j for j in base.judgements} if base else {}
    for pos, j in enumerate(draft.judgements, start=1):
        old = saved.get(j.key)
        unchanged = old is not None and _same_judgement(j, old)
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
                old.edited_at if unchanged and old else now,
                old.edited_by if unchanged and old else viewer.email,
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
    return marking


def create_assessment(
    store: Store, viewer: Viewer, draft: AssessmentDraft, *, today: date | None = None
) -> int:
    """A new draft (version 1) by this analyst or lead. Returns its id."""
    audit.require(store, viewer, *AUTHOR_ROLES, action="create assessment")
    if viewer.institute not in SIGNOFF_INSTITUTES:
        raise WorkflowError("Assessments are drafted by UK or AU staff.")
    draft = _normalise(draft)
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
        marking = _write_version(con, viewer, aid, 1, draft, None, viewer.institute, "created", today)
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
    audit.require(store, viewer, *AUTHOR_ROLES, action="save assessment", obj=f"assessment:{assessment_id}")
    draft = _normalise(draft)
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
                raise EditConflict(expected_version, draft, base)
            if draft == _normalise(base.to_draft()):
                return base.version  # nothing changed: no new version, sign-offs stand
            if base.status == "in_review":
                # Leads sign what is in review: once submitted, every save must pass what submission had to.
                problems = blocking(check(con, viewer, draft, base, today))
                if problems:
                    raise WorkflowError(
                        "Nothing was saved: this assessment is in review, so every save must pass the checker, "
                        f"which blocks {_blocks_text(problems)}"
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
        late = EditConflict(expected_version, draft, theirs)
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


def differing_fields(mine: AssessmentDraft, theirs: AssessmentDraft) -> list[str]:
    """Names of the draft's fields (AssessmentDraft attributes, a fixed list) whose values differ."""
    a, b = _normalise(mine), _normalise(theirs)
    return sorted(
        f.name for f in dataclass_fields(AssessmentDraft) if getattr(a, f.name) != getattr(b, f.name)
    )


def submit_for_review(store: Store, viewer: Viewer, assessment_id: int, expected_version: int) -> None:
    """Draft or returned -> in review, if the checker finds nothing blocking in the current version."""
    audit.require(store, viewer, *AUTHOR_ROLES, action="submit assessment", obj=f"assessment:{assessment_id}")
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
            raise WorkflowError(f"Fix what the checker blocks first: {_blocks_text(problems)}")
        _claim(con, viewer, assessment_id, "submit")
        con.execute("update assessments set status = 'in_review' where id = ?", [assessment_id])
        audit.record(
            con, viewer.email, "submit assessment", f"assessment:{assessment_id}", {"version": a.version}
        )


def _blocks_text(problems: Sequence[Finding]) -> str:
    """'2 problem(s): Judgement 2 has no probability term …; Judgement 2 has no confidence level ….' Built from
    the checker's fixed messages and numbers only, never author text."""
    parts = [(f"Judgement {f.judgement} " if f.judgement else "") + f.message.rstrip(".") for f in problems]
    return f"{len(problems)} problem(s): " + "; ".join(parts) + "."


# DuckDB reports a lost race as either of these when the second writer commits (duplicate assessment_writes key).
_RACE_ERRORS = (duckdb.TransactionException, duckdb.ConstraintException)
_RACE_MESSAGE = "Someone changed this assessment at the same moment. Reload it and try again."


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
    return {r[0] for r in rows}


def sign_off(store: Store, viewer: Viewer, assessment_id: int, version: int) -> str:
    """A lead signs off the version they read, if the checker finds nothing blocking in it (checked again here,
    whatever the saves did). When leads of both institutes have signed the current version it is approved and its
    evidence pinned. Returns the status afterwards."""
    audit.require(store, viewer, "lead", action="sign off assessment", obj=f"assessment:{assessment_id}")
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
                f"Version {version} cannot be signed off: the checker blocks {_blocks_text(problems)} "
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
            _pin_evidence(con, viewer, a, now)
        audit.record(
            con,
            viewer.email,
            "sign off assessment",
            f"assessment:{assessment_id}",
            {"version": version, "institute": viewer.institute, "status": status},
        )
    return status


def _pin_evidence(con: duckdb.DuckDBPyConnection, viewer: Viewer, a: Assessment, now: datetime) -> None:
    for ref in a.evidence():
        snap = _snapshot(con, ref)
        if snap is None:
            continue  # deleted since the version was saved: the stored evidence marking still applies
        values, marking = snap
        con.execute(
            "insert into assessment_pins (assessment_id, version, kind, ref_id, snapshot, tlp, releasable_to, "
            "named_recipients, pinned_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                a.id,
                a.version,
                ref.kind,
                ref.ref_id,
                json.dumps(values, default=str, sort_keys=True),
                marking.tlp,
                list(marking.releasable_to),
                list(marking.named_recipients),
                now,
            ],
        )


def _snapshot(
    con: duckdb.DuckDBPyConnection, ref: EvidenceRef
) -> tuple[dict[str, Any], EvidenceMarking] | None:
    """Current values of one record (no viewer filter: callers have already checked the reader may see it)."""
    fields = PIN_FIELDS[ref.kind]
    if ref.kind == "incident":
        sql = f"select {', '.join('i.' + f for f in fields)} from incidents i where i.id = ?"
        key: Any = ref.ref_id
    elif ref.kind == "eval_run":
        sql = f"select {', '.join('r.' + f for f in fields)} from eval_runs r where r.run_id = ?"
        key = ref.ref_id
    else:
        sql = "select name, page, query, institute from saved_views where id = ?"
        key = int(ref.ref_id) if ref.ref_id.isdigit() else -1
    row = con.execute(sql, [key]).fetchone()
    if row is None:
        return None
    values = {f: _jsonable(v) for f, v in zip(fields, row, strict=False)}
    if ref.kind == "view":
        stored = con.execute(
            "select tlp, releasable_to, named_recipients, originator from assessment_evidence "
            "where kind = 'view' and ref_id = ? order by version desc limit 1",
            [ref.ref_id],
        ).fetchone()
        if stored:
            return values, EvidenceMarking(stored[0], tuple(stored[1]), tuple(stored[2]), stored[3])
        return values, EvidenceMarking("CLEAR", (str(row[3]),), (), str(row[3]))
    origin = values["originator"] if ref.kind == "incident" else values["institute"]
    return values, EvidenceMarking(
        values["tlp"], tuple(values["releasable_to"]), tuple(values["named_recipients"]), origin
    )


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def return_for_changes(store: Store, viewer: Viewer, assessment_id: int, version: int, comment: str) -> None:
    """A lead sends the draft back to its authors with a comment (required). Sign-offs so far stop counting
    once the authors save their changes."""
    audit.require(store, viewer, "lead", action="return assessment", obj=f"assessment:{assessment_id}")
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
        store, viewer, *AUTHOR_ROLES, action="comment on assessment", obj=f"assessment:{assessment_id}"
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
    audit.require(store, viewer, *AUTHOR_ROLES, action="start successor", obj=f"assessment:{assessment_id}")
    with store.transaction(changes_records=False) as con:
        a = get_assessment(con, viewer, assessment_id, approved=True)
    if a is None:
        raise NotFound(f"No approved assessment {assessment_id}.")
    draft = replace(a.to_draft(), supersedes=a.id, changes="")
    return create_assessment(store, viewer, draft, today=today)


# -- versions: compare ----------------------------------------------------------------------------------------


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
    viewer.require(*AUTHOR_ROLES)
    old = require_assessment(con, viewer, assessment_id, old_version)
    new = require_assessment(con, viewer, assessment_id, new_version)
    return diff_versions(old, new)


# -- pinned evidence ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PinnedEvidence:
    ref: EvidenceRef
    pinned: dict[str, Any]  # values at approval (stored text inside: render as plain text)
    marking: EvidenceMarking  # marking at approval
    pinned_at: datetime
    changed_fields: tuple[str, ...]  # fields whose value differs now
    available: bool  # False when the record is gone or no longer visible to this reader (indistinguishable)

    @property
    def changed(self) -> bool:
        return bool(self.changed_fields) or not self.available

    @property
    def label(self) -> str:
        title = (
            self.pinned.get("title")
            or self.pinned.get("name")
            or (f"{self.pinned.get('model', '')} on {self.pinned.get('benchmark', '')}")
        )
        return f"{self.ref.ref_id} · {title}"


def pinned_evidence(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int
) -> list[PinnedEvidence]:
    """Evidence of the approved version as it was at approval, and what has changed since (compared with what
    this reader can see now). Empty when there is no approved version this viewer may read."""
    a = get_assessment(con, viewer, assessment_id, approved=True)
    if a is None:
        return []
    rows = con.execute(
        "select kind, ref_id, snapshot, tlp, releasable_to, named_recipients, pinned_at from assessment_pins "
        "where assessment_id = ? and version = ? order by kind, ref_id",
        [a.id, a.version],
    ).fetchall()
    visible_now = evidence_info(con, viewer, [EvidenceRef(k, r) for k, r, *_ in rows])
    out = []
    for kind, ref_id, snapshot, tlp, rel, named, pinned_at in rows:
        ref = EvidenceRef(kind, ref_id)
        pinned = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
        available = ref in visible_now
        changed: tuple[str, ...] = ()
        if available:
            now = _snapshot(con, ref)
            if now is not None:
                current = json.loads(json.dumps(now[0], default=str, sort_keys=True))
                changed = tuple(f for f in PIN_FIELDS[kind] if pinned.get(f) != current.get(f))
        out.append(
            PinnedEvidence(
                ref, pinned, EvidenceMarking(tlp, tuple(rel), tuple(named)), pinned_at, changed, available
            )
        )
    return out


def evidence_changed_count(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int) -> int:
    """How many pinned records differ now (for readers who see the brief, not the records)."""
    return sum(1 for p in pinned_evidence(con, viewer, assessment_id) if p.changed)
