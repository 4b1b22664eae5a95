"""Audiences: who sees exactly the same records, so a cached read may be shared between them (issue 21)."""

from __future__ import annotations

from analytics.access import audience
from analytics.access.audience import audience_of
from analytics.access.markings import ORIGINATOR_COLUMN, visible_sql
from analytics.access.viewer import Viewer
from tests.conftest import StoreBuilder

PRIYA = Viewer("analyst@uk.example", "Priya Shah", "UK", "analyst")
COLLEAGUE = Viewer("colleague@uk.example", "A Colleague", "UK", "analyst")
UK_LEAD = Viewer("lead@uk.example", "Tom Hargreaves", "UK", "lead")
AU_ANALYST = Viewer("analyst@au.example", "Liam Nguyen", "AU", "analyst")


def _visible_ids(store: StoreBuilder, viewer: Viewer) -> set[str]:
    where, params = visible_sql(viewer)
    return {
        r[0] for r in store.cursor().execute(f"select id from incidents i where {where}", params).fetchall()
    }


def test_colleagues_with_the_same_access_are_one_audience_and_see_the_same_rows(store: StoreBuilder) -> None:
    store.incident(tlp="AMBER+STRICT", originator="UK")
    store.incident(tlp="RED", named_recipients=["lead@au.example"])
    store.incident(tlp="GREEN", releasable_to=["UK"])
    con = store.cursor()
    assert audience_of(con, PRIYA) == audience_of(con, COLLEAGUE)
    assert audience_of(con, PRIYA).red == ""
    assert _visible_ids(store, PRIYA) == _visible_ids(store, COLLEAGUE)  # what makes sharing safe


def test_institute_and_role_each_make_another_audience(store: StoreBuilder) -> None:
    con = store.cursor()
    assert audience_of(con, PRIYA) != audience_of(con, AU_ANALYST)
    assert audience_of(con, PRIYA) != audience_of(con, UK_LEAD)


def test_being_named_on_a_red_record_of_any_marked_table_makes_another_audience(store: StoreBuilder) -> None:
    con = store.cursor()
    store.incident(tlp="RED", named_recipients=["analyst@uk.example"])
    assert audience_of(con, PRIYA) != audience_of(con, COLLEAGUE)
    assert _visible_ids(store, PRIYA) != _visible_ids(store, COLLEAGUE)
    # a colleague named on the same incident only: same rows, one audience again
    named_both = store.incident(tlp="RED", named_recipients=["analyst@uk.example", "colleague@uk.example"])
    assert audience_of(con, PRIYA) != audience_of(con, COLLEAGUE)  # Priya is named on one more
    store.cursor().execute(
        "update incidents set named_recipients = ['analyst@uk.example', 'colleague@uk.example'] "
        "where tlp = 'RED' and id <> ?",
        [named_both],
    )
    assert audience_of(con, PRIYA) == audience_of(con, COLLEAGUE) != audience_of(con, UK_LEAD)
    # an evaluation run counts as much as an incident
    store.eval_run(tlp="RED", named_recipients=["colleague@uk.example"])
    assert audience_of(con, PRIYA) != audience_of(con, COLLEAGUE)


def test_the_red_records_naming_someone_are_listed_from_every_marked_table(store: StoreBuilder) -> None:
    inc = store.incident(tlp="RED", named_recipients=["analyst@uk.example"])
    run = store.eval_run(tlp="RED", named_recipients=["analyst@uk.example"])
    store.incident(tlp="AMBER", named_recipients=["analyst@uk.example"])  # naming matters only on RED
    upper = Viewer("Analyst@UK.example", "Priya Shah", "UK", "analyst")  # emails compare in lower case
    expected = [("eval_runs", run), ("incidents", inc)]
    assert audience.red_records_naming(store.cursor(), upper) == expected
    assert set(audience.RECORD_ID) == set(ORIGINATOR_COLUMN)  # a new marked table must be listed
