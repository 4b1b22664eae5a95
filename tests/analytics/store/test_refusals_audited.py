"""Every write in `analytics` refuses people outside its roles and leaves an audit entry of the attempt, even when
the caller's own transaction is rolled back by the refusal; the refused change itself writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from analytics import views
from analytics.access.markings import Scoped
from analytics.access.viewer import AccessDenied, Viewer
from analytics.assessments.model import AssessmentDraft
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    start_successor,
    submit_for_review,
)
from analytics.evals import queries as evals
from analytics.export import stix as stix_export
from analytics.export.briefing import builder as bb
from analytics.filters import Filters
from analytics.ingest import history as imports
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.links import queries as links
from analytics.store import audit
from tests.conftest import ADMIN, TODAY, UK_ANALYST, UK_POLICY, StoreBuilder

# the audit log names a benchmark by an opaque id, never by its name (analytics.store.audit)
BENCH_ID = f"benchmark:{audit.opaque_id('cybench')}"

DRAFT = AssessmentDraft(title="Refusal check", question="Will it hold?")


def refusals(store: StoreBuilder) -> list[tuple[str, str, dict[str, Any]]]:
    rows = store.cursor().execute(
        "select email, object, detail from audit_log where action = 'refused' order by id"
    )
    return [(e, o, json.loads(d)) for e, o, d in rows.fetchall()]


def content_counts(store: StoreBuilder) -> tuple[int, ...]:
    tables = ("assessments", "assessment_versions", "eval_thresholds", "benchmark_techniques", "saved_views")
    con = store.cursor()
    return tuple(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)  # type: ignore[index]


def in_transaction(store: StoreBuilder, write: Callable[[Any], object]) -> Callable[[], object]:
    """The way pages call connection-taking writes: inside the caller's transaction."""

    def run() -> object:
        with store.store.transaction() as con:
            return write(con)

    return run


CASES: dict[str, tuple[Viewer, str, str, Callable[[StoreBuilder, int], Callable[[], object]]]] = {
    "create assessment": (
        UK_POLICY,
        "create assessment",
        "",
        lambda s, a: lambda: create_assessment(s.store, UK_POLICY, DRAFT, today=TODAY),
    ),
    "edit": (
        UK_POLICY,
        "save assessment",
        "assessment:{a}",
        lambda s, a: lambda: save_version(s.store, UK_POLICY, a, DRAFT, 1, today=TODAY),
    ),
    "submit": (
        ADMIN,
        "submit assessment",
        "assessment:{a}",
        lambda s, a: lambda: submit_for_review(s.store, ADMIN, a, 1),
    ),
    "approve": (
        UK_ANALYST,
        "sign off assessment",
        "assessment:{a}",
        lambda s, a: lambda: sign_off(s.store, UK_ANALYST, a, 1),
    ),
    "return": (
        UK_ANALYST,
        "return assessment",
        "assessment:{a}",
        lambda s, a: lambda: return_for_changes(s.store, UK_ANALYST, a, 1, "Not yet"),
    ),
    "comment": (
        UK_POLICY,
        "comment on assessment",
        "assessment:{a}",
        lambda s, a: lambda: add_comment(s.store, UK_POLICY, a, 1, None, "I disagree"),
    ),
    "supersede": (
        UK_POLICY,
        "start successor",
        "assessment:{a}",
        lambda s, a: lambda: start_successor(s.store, UK_POLICY, a, today=TODAY),
    ),
    "set threshold": (
        UK_POLICY,
        "eval threshold set",
        BENCH_ID,
        lambda s, a: in_transaction(s, lambda con: evals.set_threshold(con, UK_POLICY, "Cybench", 0.5)),
    ),
    "clear threshold": (
        UK_POLICY,
        "eval threshold cleared",
        BENCH_ID,
        lambda s, a: in_transaction(s, lambda con: evals.clear_threshold(con, UK_POLICY, "Cybench")),
    ),
    "add mapping": (
        UK_POLICY,
        "map benchmark",
        BENCH_ID,
        lambda s, a: in_transaction(s, lambda con: links.add_mapping(con, UK_POLICY, "Cybench", "AML.T0051")),
    ),
    "remove mapping": (
        UK_POLICY,
        "unmap benchmark",
        BENCH_ID,
        lambda s, a: in_transaction(
            s, lambda con: links.remove_mapping(con, UK_POLICY, "Cybench", "AML.T0051")
        ),
    ),
    "save view": (
        UK_POLICY,
        "save view",
        "",
        lambda s, a: in_transaction(
            s, lambda con: views.save_view(con, UK_POLICY, "Mine", "explorer", Filters())
        ),
    ),
    "undo import": (
        UK_POLICY,
        "undo import",
        "batch:b-1",
        lambda s, a: lambda: imports.undo_batch(s.store, "b-1", actor="x", viewer=UK_POLICY),
    ),
    "partner export": (
        UK_POLICY,
        "export stix",
        "partner:AU",
        lambda s, a: lambda: stix_export.export_for_partner(s.store, "AU", actor="x", viewer=UK_POLICY),
    ),
    "stix import": (
        UK_POLICY,
        "import",
        f"file:{audit.opaque_id('b.json')}",
        lambda s, a: (
            lambda: import_stix_bytes(
                s.store,
                "b.json",
                b"{}",
                actor="x",
                institute=None,
                tlp=None,
                releasable=None,
                viewer=UK_POLICY,
            )
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_write_outside_ones_role_is_refused_audited_and_changes_nothing(
    store: StoreBuilder, name: str
) -> None:
    store.eval_run(benchmark="Cybench")
    assessment = create_assessment(store.store, UK_ANALYST, DRAFT, today=TODAY)
    who, action, obj, make = CASES[name]
    before = content_counts(store)
    assert refusals(store) == []

    with pytest.raises(AccessDenied):
        make(store, assessment)()

    assert content_counts(store) == before
    assert refusals(store) == [(who.email, obj.format(a=assessment), {"action": action, "role": who.role})]


def test_a_refused_briefing_export_is_audited(store: StoreBuilder) -> None:
    kind = bb.ChartKind("test_records", "Records", lambda con, v, f, t: Scoped(None, None), summary=False)  # type: ignore[arg-type]
    bb.register_chart(kind)
    try:
        with pytest.raises(AccessDenied):
            bb.export_briefing(
                store.store,
                UK_POLICY,
                "docx",
                title="Pack",
                chart_keys=["test_records|current"],
                current=Filters(),
                today=TODAY,
            )
    finally:
        del bb.CHART_KINDS["test_records"]
    assert refusals(store) == [
        (UK_POLICY.email, "briefing:charts", {"action": "export", "role": "policymaker"})
    ]
    exports = store.cursor().execute("select count(*) from audit_log where action = 'export'").fetchone()
    assert exports == (0,)


def test_an_allowed_write_leaves_no_refusal(store: StoreBuilder) -> None:
    store.eval_run(benchmark="Cybench")
    with store.store.transaction() as con:
        evals.set_threshold(con, UK_ANALYST, "Cybench", 0.5)
    assert refusals(store) == []
