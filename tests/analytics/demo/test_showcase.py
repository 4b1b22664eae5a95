"""The store `make run` builds (issue 20): the policymakers' pages are not empty, and the overview does not open
on an artificial fall. Built as `make run` builds it: the CLI, with the shared public data when it is there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.accounts import identity
from analytics.assessments.inbox import inbox
from analytics.assessments.reads import latest_approved, list_approved
from analytics.demo.showcase import APPROVED_TITLE, IN_REVIEW_TITLE
from analytics.demo.world import DEMO_END
from analytics.filters import Filters
from analytics.incidents import overview
from analytics.incidents.currency import data_currency
from analytics.store.database import Store, close_all, open_store
from tests.conftest import AU_LEAD, AU_POLICY, ROOT, SHARED_DATA, UK_LEAD, UK_POLICY


@pytest.fixture(scope="module")
def showcase_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("showcase") / "demo.duckdb"
    cmd = [sys.executable, "-m", "analytics", "demo", "--db", str(path), "--showcase"]
    if SHARED_DATA.is_dir():
        cmd += ["--public", str(SHARED_DATA)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["approved_assessment_id"] is not None and out["in_review_assessment_id"] is not None
    return path


@pytest.fixture
def showcase(showcase_db: Path) -> Iterator[Store]:
    yield open_store(showcase_db)
    close_all()


def test_both_policymakers_read_the_approved_assessment(showcase: Store) -> None:
    for policy in (UK_POLICY, AU_POLICY):
        latest = latest_approved(showcase.cursor(), policy).data
        assert latest["title"].tolist() == [APPROVED_TITLE]
        assert len(list_approved(showcase.cursor(), policy).data) == 1


def test_one_assessment_waits_for_each_institutes_lead(showcase: Store) -> None:
    for lead in (UK_LEAD, AU_LEAD):
        waiting = inbox(showcase.cursor(), lead).waiting_for_signoff
        assert [w.title for w in waiting] == [IN_REVIEW_TITLE]


@pytest.mark.parametrize("persona", ["policy@uk.example", "policy@au.example", "analyst@au.example"])
def test_the_overview_opens_on_no_artificial_fall(showcase: Store, persona: str) -> None:
    """Today pinned to the data's end (as `make run` pins it): the 30- and 90-day windows end at the last
    complete day of the data, and the changes are the data's own (the synthetic intensity grows ~40% a year, so
    a fall like the old "↓51%", from counting days with no data yet, cannot appear)."""
    con = showcase.cursor()
    viewer = identity.viewer_for_email(con, persona)
    assert viewer is not None
    currency = data_currency(con, viewer, DEMO_END)
    assert currency.data_end == DEMO_END
    summary = overview.overview_summary(con, viewer, Filters(), DEMO_END, currency=currency)
    for w in summary.windows:
        assert w.incidents > 50
        assert abs(w.adjusted / w.prev_adjusted - 1) < 0.25, (persona, w.adjusted, w.prev_adjusted)


def test_public_sets_are_public_beside_the_institutes(showcase: Store) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("no shared data beside the checkout: the demo holds synthetic data only")
    rows = dict(
        showcase.cursor()
        .execute("select source, count(*) from incidents where originator = 'PUBLIC' group by source")
        .fetchall()
    )
    assert rows.get("aiid", 0) > 1000
    assert (
        showcase.cursor().execute("select count(*) from eval_runs where institute = 'PUBLIC'").fetchone()[0]
        > 0
    )


def test_the_assessments_are_dated_on_the_demos_today_not_after_it(showcase: Store) -> None:
    """Every page says today is DEMO_END; an approval dated on the real build day would sit after it. The order of
    drafting, submission and sign-off is kept; the audit log keeps the real time of the build."""
    from analytics.demo.showcase import ASSESSMENT_TIMES

    con = showcase.cursor()
    days: set[object] = set()
    for table, col, _ in ASSESSMENT_TIMES:
        days |= {r[0] for r in con.execute(f"select distinct cast({col} as date) from {table}").fetchall()}
    assert days - {None} == {DEMO_END}
    rows = con.execute(
        "select created_at, approved_at from assessments where approved_at is not null"
    ).fetchall()
    assert len(rows) == 1 and rows[0][0] < rows[0][1]
