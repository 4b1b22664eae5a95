"""Fixtures of the assessment tests: a joint draft on a real DuckDB store."""

from __future__ import annotations

import pytest

from analytics.assessments.workflow import create_assessment
from tests.analytics.assessments.samples import INC, draft, judgement, ref
from tests.conftest import TODAY, UK_ANALYST, StoreBuilder


@pytest.fixture
def joint(store: StoreBuilder) -> tuple[StoreBuilder, int]:
    """A UK analyst's draft with two judgements citing records both institutes may see."""
    i1 = store.incident(title="Agent drained accounts", category="Agentic system misuse")
    i2 = store.incident(title="Invoice agent hijacked", originator="AU")
    r1 = store.eval_run(benchmark="Cybench", score=0.62)
    aid = create_assessment(
        store.store,
        UK_ANALYST,
        draft(
            judgement(evidence=(ref(INC, i1), ref("eval_run", r1))),
            judgement(
                "Criminal groups will adopt agent kits.", term="highly likely", evidence=(ref(INC, i2),)
            ),
        ),
        today=TODAY,
    )
    return store, aid
