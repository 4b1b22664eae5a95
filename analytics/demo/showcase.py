"""What `make run` adds to the synthetic demo store so a newcomer sees every page working, truthfully:

- the real public data sets found in the shared data folder (ATLAS taxonomy and case studies, the AI Incident
  Database, Epoch AI benchmark results), through the same importers as `python -m analytics import`, so they are
  recorded as PUBLIC with their licence credit and can be undone like any import;
- two joint assessments written, submitted and signed through the real workflow (analytics.assessments.workflow),
  never by SQL: one approved by a UK and an AU lead, so the policymakers' pages have something to read, and one
  waiting in review, so the leads' inboxes do. They are written at the real time of the build, then dated into
  the demo's world (`date_into_demo`): every page says "today" is the pinned day, and an assessment approved
  after it ("Approved 06 December" beside "Today: 20 November") would be the one untruthful date on the page.
  The audit log keeps the real time of the build, as it must.

Kept apart from analytics.demo.generator, which the tests and benchmarks use for their bare synthetic stores.
Evidence is chosen by rule from what the store holds (institute reports both institutes and policymakers may
read), so the assessments' derived markings let both policymakers read the approved one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from analytics.access.viewer import Viewer
from analytics.accounts import identity
from analytics.assessments.model import AssessmentDraft, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import create_assessment, sign_off, submit_for_review
from analytics.ingest import ImportReport
from analytics.ingest.aiid import import_aiid
from analytics.ingest.atlas import import_atlas
from analytics.ingest.epoch import import_epoch
from analytics.store.database import Store

# (name, path inside the shared data folder, importer): the public sets the demo loads when they are present.
PUBLIC_SETS: tuple[tuple[str, str, Callable[..., ImportReport]], ...] = (
    ("MITRE ATLAS", "atlas/ATLAS.yaml", import_atlas),
    ("AI Incident Database", "aiid", import_aiid),
    ("Epoch AI Benchmarking Hub", "epoch-benchmarks", import_epoch),
)

APPROVED_TITLE = "Agentic AI misuse against financial services, next 12 months"
IN_REVIEW_TITLE = "Prompt injection through AI coding agents"


@dataclass(frozen=True)
class Showcase:
    public_sets: tuple[str, ...]  # the names of PUBLIC_SETS that were found and imported
    approved: int | None  # assessment ids; None when the store lacks the evidence to cite
    in_review: int | None


def import_public_sets(store: Store, shared: Path) -> tuple[str, ...]:
    """Import each public set present under `shared` (a missing one is skipped; the demo works without it)."""
    done = []
    for name, relative, importer in PUBLIC_SETS:
        path = shared / relative
        if path.exists():
            importer(store, path, actor="demo")
            done.append(name)
    return tuple(done)


def _persona(store: Store, email: str) -> Viewer:
    viewer = identity.viewer_for_email(store.cursor(), email)
    if viewer is None:
        raise ValueError(f"the demo persona {email} is not enrolled in this store")
    return viewer


def _shared_incidents(store: Store, category: str, n: int) -> list[str]:
    """The latest institute reports of a category that every demo persona may read (CLEAR or GREEN, releasable
    to both institutes), so the assessment that cites them is readable by both institutes' policymakers."""
    rows = (
        store.cursor()
        .execute(
            "select id from incidents where source = 'institute' and category = ? and list_contains(['CLEAR', "
            "'GREEN'], tlp) and list_contains(releasable_to, 'UK') and list_contains(releasable_to, 'AU') "
            "order by occurred_on desc, id limit ?",
            [category, n],
        )
        .fetchall()
    )
    return [str(r[0]) for r in rows]


def _shared_run(store: Store, benchmark: str) -> str | None:
    row = (
        store.cursor()
        .execute(
            "select run_id from eval_runs where benchmark = ? and list_contains(['CLEAR', 'GREEN'], tlp) "
            "and list_contains(releasable_to, 'UK') and list_contains(releasable_to, 'AU') and score is not null "
            "order by eval_date desc, run_id limit 1",
            [benchmark],
        )
        .fetchone()
    )
    return str(row[0]) if row else None


def _refs(kind: str, ids: list[str]) -> tuple[EvidenceRef, ...]:
    return tuple(EvidenceRef(kind, i) for i in ids)


def add_assessments(store: Store, today: date) -> tuple[int | None, int | None]:
    """One joint assessment approved (UK analyst drafts and submits, UK and AU leads sign) and one in review
    (AU analyst drafts and submits). Returns their ids (None for one whose evidence the store lacks)."""
    uk_analyst, au_analyst = _persona(store, "analyst@uk.example"), _persona(store, "analyst@au.example")
    leads = (_persona(store, "lead@uk.example"), _persona(store, "lead@au.example"))
    approved = in_review = None

    agentic = _shared_incidents(store, "Agentic system misuse", 4)
    run = _shared_run(store, "AgentHarm")
    if len(agentic) >= 2 and run:
        draft = AssessmentDraft(
            title=APPROVED_TITLE,
            question="Will misuse of AI agents against banks and payment services grow over the next 12 months?",
            bluf="Agentic misuse against financial services is likely to keep rising over the next year.",
            judgements=(
                JudgementDraft(
                    "Criminal groups will use AI agents against payment services more often in the next year.",
                    term="likely",
                    confidence="moderate",
                    reasoning="Both institutes' reports of agentic misuse rose through 2026.",
                    evidence=_refs("incident", agentic[:2]),
                ),
                JudgementDraft(
                    "Frontier agents can already complete a large share of harmful multi-step tasks.",
                    term="highly likely",
                    confidence="moderate",
                    reasoning="Recent AgentHarm runs show high completion of harmful agentic tasks.",
                    evidence=(EvidenceRef("eval_run", run), *_refs("incident", agentic[2:3])),
                ),
            ),
            assumptions=("Reporting rates by banks stay level",),
            alternatives=("The rise reflects better detection, not more misuse",),
            indicators=("A fall in bank-reported agent incidents for two quarters",),
        )
        approved = create_assessment(store, uk_analyst, draft, today=today)
        version = _version(store, uk_analyst, approved)
        submit_for_review(store, uk_analyst, approved, version)
        for lead in leads:
            sign_off(store, lead, approved, version)

    injection = _shared_incidents(store, "Prompt injection", 3)
    if len(injection) >= 2:
        draft = AssessmentDraft(
            title=IN_REVIEW_TITLE,
            question="How exposed are organisations using AI coding agents to indirect prompt injection?",
            bluf="Indirect prompt injection through coding agents is likely to cause more incidents.",
            judgements=(
                JudgementDraft(
                    "Attackers will plant instructions in repositories that coding agents read.",
                    term="likely",
                    confidence="low",
                    reasoning="Several recent reports from both institutes describe this route.",
                    evidence=_refs("incident", injection),
                ),
            ),
            assumptions=("Agents keep reading untrusted repository content",),
            alternatives=("Vendors' isolation measures close the route",),
            indicators=("Reports of injected instructions in package READMEs",),
        )
        in_review = create_assessment(store, au_analyst, draft, today=today)
        submit_for_review(store, au_analyst, in_review, _version(store, au_analyst, in_review))
    return approved, in_review


def _version(store: Store, viewer: Viewer, assessment_id: int) -> int:
    a = get_assessment(store.cursor(), viewer, assessment_id)
    assert a is not None, "the author reads their own draft"
    return a.version


# Every timestamp of an assessment's own tables (migration 006); names from this list only.
ASSESSMENT_TIMES: tuple[tuple[str, str, str], ...] = (
    ("assessments", "created_at", "id"),
    ("assessments", "approved_at", "id"),
    ("assessment_writes", '"at"', "assessment_id"),
    ("assessment_versions", "saved_at", "assessment_id"),
    ("assessment_judgements", "edited_at", "assessment_id"),
    ("assessment_signoffs", '"at"', "assessment_id"),
    ("assessment_comments", '"at"', "assessment_id"),
    ("assessment_pins", "pinned_at", "assessment_id"),
)
# The demo's assessments are dated on its pinned day, in the working morning, in the order they were written.
DEMO_WORKDAY_START = time(9, 30)


def date_into_demo(store: Store, ids: list[int], today: date) -> None:
    """Move every timestamp of these assessments by one interval so the earliest falls on `today` at 09:30: the
    order and spacing of drafting, submission and sign-off are kept, only the day is the demo's."""
    if not ids:
        return
    with store.transaction(changes_records=False) as cur:
        marks = " union all ".join(
            f"select min({col}) as t from {table} where {key} in (select unnest($ids))"
            for table, col, key in ASSESSMENT_TIMES
        )
        row = cur.execute(f"select min(t) from ({marks})", {"ids": ids}).fetchone()
        if not row or row[0] is None:
            return
        shift = datetime.combine(today, DEMO_WORKDAY_START) - row[0]
        for table, col, key in ASSESSMENT_TIMES:
            cur.execute(
                f"update {table} set {col} = {col} + $shift where {key} in (select unnest($ids))",
                {"shift": shift, "ids": ids},
            )


def build_showcase(store: Store, shared: Path | None, today: date) -> Showcase:
    """The public sets found under `shared` (none when it is None), then the two assessments, dated on `today`."""
    public = import_public_sets(store, shared) if shared is not None else ()
    approved, in_review = add_assessments(store, today)
    date_into_demo(store, [i for i in (approved, in_review) if i is not None], today)
    return Showcase(public, approved, in_review)
