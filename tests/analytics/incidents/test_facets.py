"""Faceted filter counts (issue 20, item 4): each filter's options count the rows matching every OTHER filter,
as the AI Incident Database's Discover does, under the viewer's markings; orders are natural where the values
have one (severity, TLP, status), and never hide a value the person has chosen."""

from __future__ import annotations

from analytics.filters import Filters, controlled_value, value_label
from analytics.incidents import base as incident_base
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY


def _seed(store) -> None:
    store.incident(category="Jailbreak", sectors=["finance"], severity=5)
    store.incident(category="Jailbreak", sectors=["finance", "healthcare"], severity=2)
    store.incident(category="Jailbreak", sectors=["healthcare"], severity=4)
    store.incident(category="Prompt injection", sectors=["technology"], severity=3)
    store.incident(category="Prompt injection", sectors=["technology"], severity=1)
    store.incident(category="Prompt injection", sectors=["technology"], severity=3)
    # invisible to UK: AU's AMBER+STRICT jailbreak in technology
    store.incident(
        category="Jailbreak", sectors=["technology"], originator="AU", tlp="AMBER+STRICT", severity=3
    )


def test_sector_counts_follow_the_chosen_category(store) -> None:
    _seed(store)
    jailbreak = Filters(categories=("Jailbreak",))
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY, jailbreak)
    assert opts["sectors"] == [("finance", 2), ("healthcare", 2)]  # no technology: none within Jailbreak
    # the chosen facet itself still offers every category, counted under the other filters
    assert dict(opts["categories"]) == {"Jailbreak": 3, "Prompt injection": 3}
    # the AU partner's strict record counts for AU only
    au = incident_base.filter_options(store.cursor(), AU_ANALYST, TODAY, jailbreak)
    assert dict(au["sectors"]) == {"finance": 2, "healthcare": 2, "technology": 1}


def test_two_facets_narrow_each_other(store) -> None:
    _seed(store)
    f = Filters(categories=("Jailbreak",), sectors=("healthcare",))
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY, f)
    assert dict(opts["categories"]) == {"Jailbreak": 2}
    assert dict(opts["sectors"]) == {"finance": 2, "healthcare": 2}
    assert [v for v, _ in opts["severities"]] == [4, 2]


def test_severities_in_scale_order_not_by_count(store) -> None:
    _seed(store)
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY)
    assert opts["severities"] == [(5, 1), (4, 1), (3, 2), (2, 1), (1, 1)]


def test_policymaker_facets_ignore_search_text(store) -> None:
    _seed(store)
    opts = incident_base.filter_options(store.cursor(), UK_POLICY, TODAY, Filters(text="nothing matches"))
    assert sum(n for _, n in opts["categories"]) == 6


def test_display_labels_are_sentence_case_without_changing_values() -> None:
    assert value_label("sectors", "critical infrastructure") == "Critical infrastructure"
    assert value_label("actor_types", "state-sponsored") == "State-sponsored"
    assert value_label("categories", "AI-enabled cyber intrusion") == "AI-enabled cyber intrusion"
    assert value_label("statuses", "new") == "New"
    assert value_label("countries", "GB") == "GB"


def test_charts_show_sentence_case_and_click_with_the_stored_value() -> None:
    import pandas as pd

    from analytics.incidents import charts as incident_charts

    heat = pd.DataFrame(
        {
            "category": ["Jailbreak", "Jailbreak"],
            "sector": ["critical infrastructure", "finance"],
            "n": [3, 1],
        }
    )
    fig = incident_charts.heatmap_chart(heat)
    assert list(fig.data[0].x) == ["Critical infrastructure", "Finance"]
    assert list(fig.data[0].customdata[0]) == [
        "categories",
        "Jailbreak",
        "sectors",
        "critical infrastructure",
    ]
    actors = incident_charts.bars_chart(
        pd.DataFrame({"actor_type": ["state-sponsored"], "n": [2]}), "actor_type", "actor_types"
    )
    assert list(actors.data[0].y) == ["State-sponsored"]
    assert list(actors.data[0].customdata[0]) == ["actor_types", "state-sponsored"]


def _facets_one_query_each(con, viewer, f: Filters) -> dict[str, dict[object, int]]:
    """The facet counts the plain way, one query per facet under every filter but its own: the oracle for
    `filter_options`, which reads the table once per distinct WHERE clause."""
    out: dict[str, dict[object, int]] = {}
    for name, expr in incident_base.OPTION_COLUMNS.items():
        where, p = f.without(name).sql_where(viewer, TODAY)
        rows = con.execute(
            f"select v, count(*) from (select {expr} as v from incidents i where {where}) "
            "where v is not null group by v",
            p,
        ).fetchall()
        out[name] = {(int(v) if name == "severities" else v): n for v, n in rows}
    where, p = f.without("techniques").sql_where(viewer, TODAY)
    out["techniques"] = dict(
        con.execute(
            "select it.technique_id, count(*) from incident_techniques it "
            f"where it.incident_id in (select i.id from incidents i where {where}) group by 1",
            p,
        ).fetchall()
    )
    where, p = f.without("tactics").sql_where(viewer, TODAY)
    out["tactics"] = dict(
        con.execute(
            "select tt.tactic_id, count(distinct it.incident_id) from incident_techniques it "
            "join atlas_technique_tactics tt on tt.technique_id = it.technique_id "
            "or tt.technique_id = left(it.technique_id, 9) "
            f"where it.incident_id in (select i.id from incidents i where {where}) group by 1",
            p,
        ).fetchall()
    )
    return out


def test_facet_counts_equal_one_query_per_facet_for_every_kind_of_filter(demo_store) -> None:
    from tests.conftest import AU_LEAD

    con = demo_store.cursor()
    top_tech, top_tactic, cat, sector = con.execute(
        "select (select technique_id from incident_techniques group by 1 order by count(*) desc, 1 limit 1), "
        "(select tactic_id from atlas_technique_tactics order by 1 limit 1), "
        "(select category from incidents group by 1 order by count(*) desc, 1 limit 1), "
        "(select s from (select unnest(sectors) s from incidents) group by 1 order by count(*) desc, 1 limit 1)"
    ).fetchone()
    cat2 = con.execute(
        "select category from incidents where category <> $c group by 1 order by count(*) desc, 1 limit 1",
        {"c": cat},
    ).fetchone()[0]
    cases = [
        Filters(),
        Filters(categories=(cat,)),
        Filters(categories=(cat, cat2)),  # summed from the rollup's rows of two categories
        Filters(categories=(cat2, "Not a category")),  # a value no incident has adds nothing
        Filters(categories=(cat, cat2), severities=(5,), preset="365d"),
        Filters(severities=(1, 4)),
        Filters(severities=(3,), sectors=(sector,), text="model"),
        Filters(categories=(cat,), sectors=(sector,), severities=(4, 5)),
        Filters(techniques=(top_tech[:9],)),  # a parent matches its sub-techniques
        Filters(tactics=(top_tactic,), categories=(cat,)),
        Filters(techniques=(top_tech,), tactics=(top_tactic,), tlps=("AMBER",), preset="365d"),
        Filters(text="model"),
    ]
    for viewer in (UK_ANALYST, AU_LEAD, UK_POLICY):
        for f in cases:
            got = incident_base.filter_options(con, viewer, TODAY, f)
            want = _facets_one_query_each(con, viewer, f.for_viewer(viewer))
            if not viewer.can_see_records:
                want = {k: {v: n for v, n in d.items() if controlled_value(k, v)} for k, d in want.items()}
            assert {k: dict(v) for k, v in got.items()} == want, (viewer.email, f)
            # The rollup asked with the categories and severities gives the same counts as the one asked without
            # them (the cached one).
            with_categories = incident_base.facet_rollup(con, viewer, TODAY, f)
            assert incident_base.facet_counts(with_categories, viewer, f) == got, (viewer.email, f)
            # Each case matches rows, so the comparison above is not between two empty answers.
            assert sum(n for _, n in got["categories"]) > 0 or f.text, (viewer.email, f)


def test_ties_are_ordered_by_value_and_counts_add_across_categories(store) -> None:
    """Most first, ties by value, as the single statement ordered them before the split by category; a sector
    of incidents in two chosen categories counts them both, once each."""
    _seed(store)
    store.incident(category="Data poisoning", sectors=["finance"], severity=2)
    both = Filters(categories=("Jailbreak", "Data poisoning"))
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY, both)
    assert opts["sectors"] == [("finance", 3), ("healthcare", 2)]
    assert opts["categories"] == [("Jailbreak", 3), ("Prompt injection", 3), ("Data poisoning", 1)]
    # and across severities: a category's count sums the chosen severities, each incident once
    severe = Filters(severities=(2, 3))
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY, severe)
    assert opts["categories"] == [("Prompt injection", 2), ("Data poisoning", 1), ("Jailbreak", 1)]
    assert opts["severities"] == [(5, 1), (4, 1), (3, 2), (2, 2), (1, 1)]  # its own filter does not narrow it
