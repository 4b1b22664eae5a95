"""One run in detail on a real store: the per-sample distribution, paging in SQL, and invisibility."""

from __future__ import annotations

from analytics.evals import runs as eval_runs
from tests.conftest import AU_ANALYST, UK_ANALYST

# -- run detail -----------------------------------------------------------------------------------------------


def test_run_detail_distribution_and_paging(store) -> None:
    samples = {f"s{k:03d}": (1.0 if k % 3 == 0 else 0.0) for k in range(120)}
    store.eval_run(run_id="r", samples=samples, n_samples=120, tlp="AMBER", releasable_to=["UK"])
    con = store.cursor()
    detail = eval_runs.run_detail(con, UK_ANALYST, "r")
    assert detail.data.samples_total == 120
    assert detail.data.distribution.values.tolist() == [["C", 1.0, 40], ["I", 0.0, 80]]
    assert (detail.marking.tlp, detail.marking.releasable_to) == ("AMBER", ("UK",))
    page = eval_runs.sample_page(con, UK_ANALYST, "r", 2, 50).data
    assert page["sample_id"].tolist() == [f"s{k:03d}" for k in range(100, 120)]
    assert eval_runs.sample_page(con, UK_ANALYST, "r", 0, 999).data.shape[0] == 50  # unknown page size -> 50
    assert eval_runs.run_detail(con, AU_ANALYST, "r") is None
