"""What the evaluation results run to (analytics.evals.currency): the latest evaluation date of the institutes'
runs and of each public source, through the viewer's markings (issue 15: every page states its currency)."""

from __future__ import annotations

from datetime import date

from analytics.evals.currency import evaluation_currency
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST


def test_each_series_runs_to_its_latest_visible_evaluation(store) -> None:
    store.eval_run(eval_date=date(2026, 10, 2))
    store.eval_run(institute="AU", eval_date=date(2026, 11, 12), tlp="AMBER+STRICT", releasable_to=["AU"])
    store.eval_run(institute="PUBLIC", source="epoch", tlp="CLEAR", eval_date=date(2026, 9, 30))
    uk = evaluation_currency(store.cursor(), UK_ANALYST, TODAY)
    assert uk.describe() == (
        "Evaluations: institute evaluations to 2 Oct 2026; Epoch AI Benchmarking Hub to 30 Sep 2026."
    )
    au = evaluation_currency(store.cursor(), AU_ANALYST, TODAY)
    assert au.series[0].last_evaluated == date(2026, 11, 12)  # the AU-only run moves only AU's date


def test_no_runs(store) -> None:
    assert (
        evaluation_currency(store.cursor(), UK_ANALYST, TODAY).describe()
        == "No evaluation runs you may see yet."
    )
