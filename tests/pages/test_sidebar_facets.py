"""The sidebar's facets on real pages (issue 20): counts follow the other filters, severity reads in scale
order, lower-case vocabularies read in sentence case, and pages where the incident filters do nothing (Data,
Administration, assessments) do not draw them but keep them for the next page."""

from __future__ import annotations

from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.store.database import open_store
from tests.conftest import TODAY, UK_ANALYST


def _label_count(label: str) -> int:
    return int(label.rsplit("(", 1)[1].rstrip(")").replace(",", ""))


def test_sector_counts_follow_the_chosen_category(app_factory, demo_db) -> None:
    at = app_factory("analyst@uk.example", query={"cat": "Jailbreak"})
    sector = at.multiselect(key="flt_sectors")
    shown = {opt.rsplit(" (", 1)[0]: _label_count(opt) for opt in sector.options}
    # counted by another read (the store totals) under both filters
    both = Filters(categories=("Jailbreak",), sectors=("finance",))
    finance = incident_base.store_totals(open_store(demo_db).cursor(), UK_ANALYST, both, TODAY).data["total"]
    everything = incident_base.store_totals(open_store(demo_db).cursor(), UK_ANALYST, Filters(), TODAY)
    assert 0 < finance < everything.data["total"]
    assert shown["Finance"] == finance  # sentence case on screen, stored "finance"
    severity = at.multiselect(key="flt_severities").options
    assert [o.split(" ", 1)[0] for o in severity] == ["5", "4", "3", "2", "1"]


def test_filterless_pages_draw_no_incident_filters_and_keep_them(app_factory) -> None:
    at = app_factory("admin@joint.example", query={"cat": "Jailbreak"})
    assert at.multiselect(key="flt_categories").value == ["Jailbreak"]
    at.switch_page("pages/admin.py").run()
    assert not at.exception
    assert not [m for m in at.sidebar.multiselect if m.key == "flt_categories"]
    assert any("do not apply to this page" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/data.py").run()
    assert not [m for m in at.sidebar.multiselect if m.key == "flt_categories"]
    at.switch_page("pages/entity.py").run()  # entity pages count every visible record, whatever the filters
    assert not at.exception
    assert not [m for m in at.sidebar.multiselect if m.key == "flt_categories"]
    at.switch_page("pages/explorer.py").run()
    assert at.multiselect(key="flt_categories").value == ["Jailbreak"]
