"""The sidebar's facets on real pages (issue 20): counts follow the other filters, severity reads in scale
order, lower-case vocabularies read in sentence case, and pages where the incident filters do nothing (Data,
Administration, assessments) do not draw them but keep them for the next page."""

from __future__ import annotations

from dataclasses import replace

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


def test_first_page_counts_the_options_once_and_categories_and_severities_ask_nothing_more(
    app_factory, demo_db, monkeypatch
) -> None:
    """With no filter chosen the facet counts are the options themselves: one read, not the same read twice
    (each is about 1.4 s of the store server's CPU at 1M incidents, issue 21). That read is split by category
    and severity (incidents.base.facet_rollup), so choosing them asks nothing more; choosing any other filter
    asks one read under it, again without the categories and severities."""
    import functools

    import streamlit as st

    calls: list[Filters] = []
    plain = incident_base.facet_rollup

    @functools.wraps(plain)
    def counted(con, viewer, today, f):
        calls.append(f)
        return plain(con, viewer, today, f)

    monkeypatch.setattr(incident_base, "facet_rollup", counted)
    st.cache_data.clear()  # another test's cached options for this store would hide the reads
    at = app_factory("analyst@uk.example")
    assert not at.exception
    assert calls == [Filters()]
    options = at.multiselect(key="flt_categories").options
    first, second = (o.rsplit(" (", 1)[0] for o in options[:2])
    at.multiselect(key="flt_categories").set_value([first]).run()
    at.multiselect(key="flt_categories").set_value([first, second]).run()
    at.multiselect(key="flt_severities").set_value([at.multiselect(key="flt_severities").options[0]]).run()
    assert not at.exception
    assert calls == [Filters()]
    # The counts shown are the ones under both chosen categories and the severity, as counted by another read.
    shown = {o.rsplit(" (", 1)[0]: _label_count(o) for o in at.multiselect(key="flt_sectors").options}
    chosen = Filters(categories=(first, second), severities=(5,))
    con = open_store(demo_db).cursor()
    for sector in ("finance", "healthcare"):
        f = replace(chosen, sectors=(sector,))
        assert (
            shown[sector.capitalize()] == incident_base.store_totals(con, UK_ANALYST, f, TODAY).data["total"]
        )
    at.multiselect(key="flt_sectors").set_value(["finance"]).run()  # the stored value, shown "Finance (n)"
    assert not at.exception
    assert calls == [Filters(), Filters(sectors=("finance",))]


def test_technique_and_tactic_names_are_read_once_for_every_rerun_and_viewer(
    app_factory, monkeypatch
) -> None:
    """The sidebar names ATLAS techniques and tactics on every rerun of every page: public reference data, read
    once per store version and shared (session.reference), not two statements per rerun (issue 21)."""
    import functools

    import streamlit as st

    from analytics.matrix import taxonomy

    calls: list[str] = []
    for name in ("technique_names", "tactic_names"):
        plain = getattr(taxonomy, name)

        def counted(con, plain=plain):
            calls.append(plain.__name__)
            return plain(con)

        monkeypatch.setattr(taxonomy, name, functools.wraps(plain)(counted))
    st.cache_data.clear()
    at = app_factory("analyst@uk.example")
    at.run()
    other = app_factory("analyst@au.example")
    assert not at.exception and not other.exception
    assert sorted(calls) == ["tactic_names", "technique_names"]
    assert at.multiselect(key="flt_techniques").options  # the names still reach the sidebar
