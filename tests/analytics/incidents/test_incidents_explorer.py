"""The explorer's questions (analytics.incidents.explorer) on a small store with known rows: exact figures per
filter and per persona, table sorting and paging, the incident detail and exports. The known rows are seeded
here for the other incident tests too (`seed_known_incidents`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from analytics.access.markings import Marking
from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from analytics.incidents import overview as incident_overview
from analytics.links import queries as links
from tests.conftest import ADMIN, AU_ANALYST, TODAY, UK_ANALYST, UK_LEAD

ATLAS_TACTICS = [("AML.TA0005", "Execution", 5), ("AML.TA0007", "Defense Evasion", 8)]
ATLAS_TECHNIQUES = [
    ("AML.T0051", "LLM Prompt Injection", None),
    ("AML.T0054", "LLM Jailbreak", None),
    ("AML.T0020", "Poison Training Data", None),
]
ATLAS_TECHNIQUE_TACTICS = [("AML.T0051", "AML.TA0005"), ("AML.T0054", "AML.TA0007")]
LAST_90 = Filters(preset="90d")


def seed_known_incidents(store: Any) -> None:
    """Today is 2026-11-20. "Last 90 days" is 2026-08-23..2026-11-20, the previous period 2026-05-25..08-22.

    The UK analyst sees T-0001..T-0003 in the last 90 days and T-0004, T-0005 before; T-0006 is AU
    AMBER+STRICT (AU only), T-0007 TLP:RED for the UK lead only, T-0008 is old and carries formula-like text.
    """
    with store.store.transaction() as con:
        con.executemany("insert into atlas_tactics (id, name, ordinal) values (?, ?, ?)", ATLAS_TACTICS)
        con.executemany(
            "insert into atlas_techniques (id, name, parent_id) values (?, ?, ?)", ATLAS_TECHNIQUES
        )
        con.executemany("insert into atlas_technique_tactics values (?, ?)", ATLAS_TECHNIQUE_TACTICS)
    store.incident(
        title="Prompt injection hijacked the Aurora payments assistant",
        originator="UK",
        category="Prompt injection",
        severity=3,
        actor_type="criminal",
        sectors=["finance"],
        countries=["GB"],
        occurred_on=date(2026, 10, 5),
        tlp="GREEN",
        affected_system="Aurora-1.0",
        developer="Northwind AI",
        techniques=["AML.T0051"],
        status="triaged",
    )
    store.incident(
        title="Indirect injection through a retrieved web page",
        originator="AU",
        category="Prompt injection",
        severity=4,
        actor_type="criminal",
        sectors=["finance", "retail"],
        countries=["AU"],
        occurred_on=date(2026, 10, 10),
        tlp="GREEN",
        affected_system="Aurora-1.0",
        developer="Northwind AI",
        techniques=["AML.T0051", "AML.T0054"],
        status="new",
    )
    store.incident(
        title="Jailbreak of a tutoring chatbot",
        originator="UK",
        category="Jailbreak",
        severity=5,
        actor_type="researcher",
        sectors=["education"],
        countries=["GB", "US"],
        occurred_on=date(2026, 11, 2),
        tlp="AMBER",
        affected_system="Nimbus-2.1",
        developer="Tasman AI",
        techniques=["AML.T0054"],
        status="investigating",
    )
    store.incident(
        title="Jailbreak prompts traded on a forum",
        originator="AU",
        category="Jailbreak",
        severity=2,
        actor_type="hacktivist",
        sectors=["technology"],
        countries=["AU"],
        occurred_on=date(2026, 6, 15),
        tlp="CLEAR",
        affected_system="Nimbus-2.1",
        developer="Tasman AI",
        status="closed",
    )
    store.incident(
        title="Poisoned training data in a defence model",
        originator="UK",
        category="Data poisoning",
        severity=4,
        actor_type="state-sponsored",
        sectors=["defence"],
        occurred_on=date(2026, 7, 1),
        tlp="GREEN",
        affected_system="Lumen-2.2",
        developer="Kestrel Systems",
        techniques=["AML.T0020"],
        status="confirmed",
    )
    store.incident(
        title="SECRET-AU deepfake call defrauded a bank",
        originator="AU",
        category="Deepfake fraud",
        severity=4,
        actor_type="criminal",
        sectors=["finance", "government"],
        countries=["AU"],
        occurred_on=date(2026, 9, 15),
        tlp="AMBER+STRICT",
        releasable_to=["AU"],
        affected_system="Aurora-1.0",
        techniques=["AML.T0051"],
    )
    store.incident(
        title="SECRET-RED model weights stolen",
        originator="UK",
        category="Model theft",
        severity=5,
        actor_type="state-sponsored",
        sectors=["energy"],
        occurred_on=date(2026, 10, 20),
        tlp="RED",
        releasable_to=["UK"],
        named_recipients=["lead@uk.example"],
        affected_system="Aurora-1.0",
        techniques=["AML.T0054"],
    )
    store.incident(
        title='=HYPERLINK("http://evil.example","click")',
        summary="@SUM(1+1) planted in a partner feed",
        originator="UK",
        category="Prompt injection",
        severity=1,
        actor_type="insider",
        sectors=["healthcare"],
        occurred_on=date(2025, 1, 10),
        tlp="GREEN",
        affected_system="-cmd",
        developer="+in-house",
    )
    store.eval_run(model="Aurora-1.0", benchmark="Cybench", institute="UK", tlp="GREEN", score=0.42)
    store.eval_run(
        model="Aurora-1.0",
        benchmark="Prompt injection suite",
        institute="AU",
        tlp="AMBER+STRICT",
        releasable_to=["AU"],
        score=0.7,
    )
    store.eval_run(model="Nimbus-2.1", benchmark="Cybench", institute="UK", tlp="GREEN", score=0.6)


@pytest.fixture
def known(store):
    seed_known_incidents(store)
    return store


def summary(known, viewer=UK_ANALYST, f=LAST_90, grain="month", dimension="category"):
    return incident_explorer.explorer_summary(known.cursor(), viewer, f, TODAY, grain, dimension)


def records(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in df.itertuples(index=False)]


# -- headline figures, trend and breakdowns ------------------------------------------------------------------


def test_last_90_days_for_the_uk_analyst(known) -> None:
    d = summary(known)
    assert d.headline == incident_explorer.Headline(
        incidents=3,
        high_share=2 / 3,
        sectors=3,
        prev_incidents=2,
        prev_high_share=1 / 2,
        prev_sectors=2,
    )
    assert [p.date() for p in d.totals["period"]] == [date(2026, m, 1) for m in (8, 9, 10, 11)]
    assert d.totals["n"].tolist() == [0, 0, 2, 1]
    assert d.totals["high"].tolist() == [0, 0, 1, 1]
    # August starts before the range (23rd), November is not over.
    assert d.totals["partial"].tolist() == [True, False, False, True]
    assert records(d.trend) == [
        (pd.Timestamp(2026, 10, 1), "Prompt injection", 2),
        (pd.Timestamp(2026, 11, 1), "Jailbreak", 1),
    ]
    assert records(d.by_originator) == [
        ("Jailbreak", "UK", "institute", 1),
        ("Prompt injection", "AU", "institute", 1),
        ("Prompt injection", "UK", "institute", 1),
    ]
    assert records(d.heatmap) == [
        ("Jailbreak", "education", 1),
        ("Prompt injection", "finance", 2),
        ("Prompt injection", "retail", 1),
    ]
    assert records(d.actors) == [("criminal", 2), ("researcher", 1)]
    assert records(d.severities) == [(3, 1), (4, 1), (5, 1)]
    assert records(d.systems) == [("Aurora-1.0", 2), ("Nimbus-2.1", 1)]
    assert records(d.developers) == [("Northwind AI", 2), ("Tasman AI", 1)]
    assert d.marking == Marking("AMBER", ("AU", "UK"), 3, ("institute",))
    # The trend's baseline reaches back six months before August and covers the previous period too.
    assert d.baseline_marking.tlp == "AMBER" and d.baseline_marking.rows == 5


@pytest.mark.parametrize(
    ("changed", "now", "before"),
    [
        ({"categories": ("Jailbreak",)}, 1, 1),
        ({"originators": ("AU",)}, 1, 1),
        ({"sectors": ("finance",)}, 2, 0),
        ({"severities": (4, 5)}, 2, 1),
        ({"actor_types": ("criminal",)}, 2, 0),
        ({"tlps": ("AMBER",)}, 1, 0),
        ({"statuses": ("new",)}, 1, 0),
        ({"countries": ("US",)}, 1, 0),
        ({"techniques": ("AML.T0054",)}, 2, 0),
        ({"tactics": ("AML.TA0007",)}, 2, 0),
        ({"text": "INJECTION"}, 2, 0),
        ({"text": "SECRET"}, 0, 0),  # only invisible rows say it
    ],
)
def test_each_filter_changes_the_figures(known, changed: dict[str, Any], now: int, before: int) -> None:
    d = summary(known, f=Filters(preset="90d", **changed))
    assert (d.headline.incidents, d.headline.prev_incidents) == (now, before)
    assert int(d.totals["n"].sum()) == now
    assert int(d.trend["n"].sum()) == now
    assert int(d.by_originator["n"].sum()) == now
    page = incident_explorer.incident_page(
        known.cursor(), UK_ANALYST, Filters(preset="90d", **changed), TODAY
    )
    assert len(page.data) == now


def test_filters_pick_exact_rows_in_table_and_charts(known) -> None:
    f = Filters(preset="90d", severities=(4, 5))
    d = summary(known, f=f)
    assert records(d.trend) == [
        (pd.Timestamp(2026, 10, 1), "Prompt injection", 1),
        (pd.Timestamp(2026, 11, 1), "Jailbreak", 1),
    ]
    assert records(d.heatmap) == [
        ("Jailbreak", "education", 1),
        ("Prompt injection", "finance", 1),
        ("Prompt injection", "retail", 1),
    ]
    assert d.headline.high_share == 1.0 and d.headline.prev_high_share == 1.0
    page = incident_explorer.incident_page(known.cursor(), UK_ANALYST, f, TODAY)
    assert page.data["id"].tolist() == ["T-0003", "T-0002"]


def test_split_by_sector_counts_an_incident_in_each_sector(known) -> None:
    d = summary(known, dimension="sector")
    assert records(d.trend) == [
        (pd.Timestamp(2026, 10, 1), "finance", 2),
        (pd.Timestamp(2026, 10, 1), "retail", 1),
        (pd.Timestamp(2026, 11, 1), "education", 1),
    ]
    for dim, first in [("originator", "AU"), ("severity", "3"), ("actor", "criminal")]:
        assert summary(known, dimension=dim).trend.iloc[0]["value"] == first


def test_weeks_and_quarters(known) -> None:
    weekly = summary(known, grain="week")
    assert weekly.totals["period"].iloc[0] == pd.Timestamp(2026, 8, 17)  # the Monday of 23 Aug
    assert int(weekly.totals["n"].sum()) == 3
    assert records(weekly.trend) == [
        (pd.Timestamp(2026, 10, 5), "Prompt injection", 2),  # Monday 5 and Saturday 10 October
        (pd.Timestamp(2026, 11, 2), "Jailbreak", 1),
    ]
    assert weekly.totals["partial"].iloc[0] and weekly.totals["partial"].iloc[-1]
    assert not weekly.totals["partial"].iloc[1:-1].any()
    quarterly = summary(known, grain="quarter")
    assert [p.date() for p in quarterly.totals["period"]] == [date(2026, 7, 1), date(2026, 10, 1)]
    assert quarterly.totals["n"].tolist() == [0, 3]


def test_all_time_has_no_previous_period(known) -> None:
    d = summary(known, f=Filters())
    assert d.headline.incidents == 6
    assert d.headline.prev_incidents is None and d.headline.prev_sectors is None
    assert d.totals["period"].iloc[0] == pd.Timestamp(2025, 1, 1)
    assert d.totals["period"].iloc[-1] == pd.Timestamp(2026, 11, 1)
    assert len(d.totals) == 23


def test_each_persona_counts_only_what_it_may_see(known) -> None:
    au = summary(known, viewer=AU_ANALYST)
    assert au.headline.incidents == 4 and au.headline.sectors == 4  # + T-0006 (finance, government)
    assert au.marking.tlp == "AMBER+STRICT" and au.marking.releasable_to == ("AU",)
    lead = summary(known, viewer=UK_LEAD)
    assert lead.headline.incidents == 4
    assert lead.marking.tlp == "RED" and lead.marking.releasable_to == ("UK",)
    assert ("Model theft", "energy", 1) in records(lead.heatmap)
    assert "Model theft" not in set(summary(known).heatmap["category"])
    joint = summary(known, viewer=ADMIN)  # JOINT staff: only rows released to both, never STRICT or RED
    assert joint.headline.incidents == 3 and joint.marking.tlp == "AMBER"


def test_unknown_grain_or_dimension_is_refused(known) -> None:
    with pytest.raises(ValueError):
        summary(known, grain="day; drop table incidents")
    with pytest.raises(ValueError):
        summary(known, dimension="title")


# -- anomaly flags ------------------------------------------------------------------------------------------


def test_a_planted_spike_is_flagged_and_steady_counts_are_not(store) -> None:
    for month in range(1, 12):
        for k in range(10):  # a steady background: never flagged
            store.incident(category="Jailbreak", occurred_on=date(2026, month, 1 + k))
        n_agentic = 15 if month == 9 else 3
        for k in range(n_agentic):
            store.incident(category="Agentic system misuse", occurred_on=date(2026, month, 2 + k))
    d = incident_explorer.explorer_summary(
        store.cursor(), UK_ANALYST, Filters(preset="12m"), TODAY, "month", "category"
    )
    assert records(d.anomalies[["series", "period", "count", "expected", "ratio"]]) == [
        ("Agentic system misuse", pd.Timestamp(2026, 9, 1), 15, 3.0, 5.0)
    ]
    assert d.anomalies["p_value"].iloc[0] < 1e-5
    ov = incident_overview.overview_summary(store.cursor(), UK_ANALYST, Filters(), TODAY)
    assert records(ov.anomalies[["series", "period", "count"]]) == [
        ("Agentic system misuse", pd.Timestamp(2026, 9, 1), 15)
    ]


# -- the table ----------------------------------------------------------------------------------------------


def test_table_sorts_in_sql_and_pages_without_gaps(known) -> None:
    con = known.cursor()
    everything = Filters()
    by_date = incident_explorer.incident_page(con, UK_ANALYST, everything, TODAY, "Date", True, 1, 25)
    assert by_date.data["id"].tolist() == ["T-0003", "T-0002", "T-0001", "T-0005", "T-0004", "T-0008"]
    assert by_date.marking.tlp == "AMBER"
    by_severity = incident_explorer.incident_page(
        con, UK_ANALYST, everything, TODAY, "Severity", False, 1, 25
    )
    # ties (T-0002 and T-0005 both 4) are broken by id, so paging is stable
    assert by_severity.data["id"].tolist() == ["T-0008", "T-0004", "T-0001", "T-0002", "T-0005", "T-0003"]
    pages = [
        incident_explorer.incident_page(con, UK_ANALYST, everything, TODAY, "Date", True, p, 2)
        .data["id"]
        .tolist()
        for p in (1, 2, 3, 4)
    ]
    assert pages == [["T-0003", "T-0002"], ["T-0001", "T-0005"], ["T-0004", "T-0008"], []]
    last = incident_explorer.incident_page(con, UK_ANALYST, everything, TODAY, "Date", True, 3, 2)
    assert last.marking.tlp == "CLEAR" or last.marking.tlp == "GREEN"
    assert incident_explorer.page_count(6, 2) == 3 and incident_explorer.page_count(0, 50) == 1
    by_tlp = incident_explorer.incident_page(con, UK_ANALYST, everything, TODAY, "TLP", True, 1, 1)
    assert by_tlp.data["id"].tolist() == ["T-0003"]


def test_table_sort_is_allow_listed(known) -> None:
    with pytest.raises(ValueError):
        incident_explorer.incident_page(
            known.cursor(), UK_ANALYST, Filters(), TODAY, "i.id; drop table incidents"
        )
    with pytest.raises(ValueError):
        incident_explorer.incident_page(known.cursor(), UK_ANALYST, Filters(), TODAY, "Date", True, 1, 10_000)


# -- the detail ---------------------------------------------------------------------------------------------


def test_detail_has_every_field_techniques_related_and_evaluations(known) -> None:
    d = incident_explorer.incident_detail(known.cursor(), UK_ANALYST, "T-0002")
    assert d is not None
    assert d.record["title"] == "Indirect injection through a retrieved web page"
    assert list(d.record["sectors"]) == ["finance", "retail"]
    assert {"tlp", "releasable_to", "named_recipients", "source_reliability", "credibility"} <= set(d.record)
    assert d.marking == Marking("GREEN", ("AU", "UK"), 1, ("institute",))
    assert records(d.techniques) == [
        ("AML.T0051", "LLM Prompt Injection", "Execution"),
        ("AML.T0054", "LLM Jailbreak", "Defense Evasion"),
    ]
    # T-0001 shares a technique and the system; T-0003 shares a technique. T-0006/T-0007 are invisible.
    assert d.related.data["id"].tolist() == ["T-0001", "T-0003"]
    assert d.related.data["shared_techniques"].tolist() == [1, 1]
    assert d.related.data["same_system"].tolist() == [True, False]
    assert d.related.marking.tlp == "AMBER"
    evs = links.evaluations_for_incident(known.cursor(), UK_ANALYST, "T-0002").data
    assert evs[evs["link"] == "model"]["benchmark"].tolist() == ["Cybench"]
    au = incident_explorer.incident_detail(known.cursor(), AU_ANALYST, "T-0002")
    assert au is not None
    au_evs = links.evaluations_for_incident(known.cursor(), AU_ANALYST, "T-0002")
    assert sorted(au_evs.data[au_evs.data["link"] == "model"]["benchmark"]) == [
        "Cybench",
        "Prompt injection suite",
    ]
    assert au_evs.marking.tlp == "AMBER+STRICT"
    assert au.related.data["id"].tolist() == ["T-0001", "T-0006", "T-0003"]


def test_an_invisible_incident_is_the_same_as_a_missing_one(known) -> None:
    con = known.cursor()
    assert incident_explorer.incident_detail(con, UK_ANALYST, "T-0006") is None  # AU eyes only
    assert incident_explorer.incident_detail(con, UK_ANALYST, "T-0007") is None  # RED, not named
    assert incident_explorer.incident_detail(con, UK_ANALYST, "T-9999") is None  # does not exist
    assert incident_explorer.incident_detail(con, UK_ANALYST, "' or 1=1 --") is None
    assert incident_explorer.incident_detail(con, UK_LEAD, "T-0007") is not None


# -- export and options -------------------------------------------------------------------------------------


def test_export_holds_only_visible_rows_in_table_order(known) -> None:
    out = incident_explorer.incidents_for_export(known.cursor(), UK_ANALYST, Filters(), TODAY)
    assert out.data["id"].tolist() == ["T-0003", "T-0002", "T-0001", "T-0005", "T-0004", "T-0008"]
    assert "named_recipients" not in out.data.columns
    assert out.marking.tlp == "AMBER"
    capped = incident_explorer.incidents_for_export(
        known.cursor(), UK_ANALYST, Filters(), TODAY, "Date", False, 2
    )
    assert capped.data["id"].tolist() == ["T-0008", "T-0004"]
    assert capped.marking.tlp == "GREEN"


# -- source as a dimension (issue 15): public records are nobody's reporting ------------------------------------

DISINFO, CYBER, JAILBREAK, UNMAPPED = (
    "Disinformation campaign",
    "AI-enabled cyber intrusion",
    "Jailbreak",
    "Unmapped",
)


@pytest.fixture
def sourced(store):
    """UK: 4 disinformation, 1 cyber; AU: 1 disinformation, 3 cyber, 1 jailbreak; AIID (public): 6 unmapped,
    4 cyber. Institute reporting alone: disinformation +60 pts (UK 80% vs AU 20%) leads, cyber −40, jailbreak
    −20. Counting AIID as UK would instead lead with "Unmapped +40" and shrink cyber to −27."""
    day = date(2026, 10, 5)
    for originator, source, category, n in (
        ("UK", "institute", DISINFO, 4),
        ("UK", "institute", CYBER, 1),
        ("AU", "institute", DISINFO, 1),
        ("AU", "institute", CYBER, 3),
        ("AU", "institute", JAILBREAK, 1),
        ("PUBLIC", "aiid", UNMAPPED, 6),
        ("PUBLIC", "aiid", CYBER, 4),
    ):
        for _ in range(n):
            store.incident(
                originator=originator, source=source, category=category, occurred_on=day, tlp="CLEAR"
            )
    return store


def test_uk_au_differences_count_institute_reporting_only(sourced) -> None:
    from analytics.incidents import charts as incident_charts

    d = summary(sourced, f=Filters())
    diff = incident_charts.originator_differences(d.by_originator)
    rows = [(r.category, r.uk, r.au, round(r.difference * 100, 1)) for r in diff.itertuples()]
    assert rows == [(DISINFO, 4, 1, 60.0), (CYBER, 1, 3, -40.0), (JAILBREAK, 0, 1, -20.0)]
    # public records are their own rows, named by source, never UK or AU
    public = d.by_originator[d.by_originator["originator"] == "PUBLIC"]
    assert sorted(zip(public["category"], public["source"], public["n"], strict=True)) == [
        (CYBER, "aiid", 4),
        (UNMAPPED, "aiid", 6),
    ]
    assert set(d.by_originator.loc[d.by_originator["originator"] != "PUBLIC", "source"]) == {"institute"}


def test_the_originator_chart_draws_public_data_as_its_own_series(sourced) -> None:
    from analytics.incidents import charts as incident_charts

    fig = incident_charts.originator_chart(summary(sourced, f=Filters()).by_originator)
    # drawn bottom-up (UK's bar on top of each group), listed reversed: the legend reads UK, AU, public
    assert [t.name for t in fig.data][::-1] == [
        "UK (5 incidents)",
        "AU (5 incidents)",
        "Public — AI Incident Database (10 incidents)",
    ]
    assert fig.layout.legend.traceorder == "reversed"
    public = fig.data[0]
    # a click on the public bar narrows to that source, not to an institute
    assert list(public.customdata[list(public.y).index(UNMAPPED)]) == [
        "categories",
        UNMAPPED,
        "sources",
        "aiid",
    ]


@pytest.mark.parametrize(
    ("sources", "incidents", "by_originator"),
    [
        ((), 20, {"UK": 5, "AU": 5, "PUBLIC": 10}),
        (("institute",), 10, {"UK": 5, "AU": 5}),
        (("aiid",), 10, {"PUBLIC": 10}),
    ],
)
def test_the_source_filter_narrows_every_figure(sourced, sources, incidents, by_originator) -> None:
    d = summary(sourced, f=Filters(sources=sources))
    assert d.headline.incidents == incidents
    assert int(d.totals["n"].sum()) == incidents
    assert int(d.trend["n"].sum()) == incidents
    assert int(d.severities["n"].sum()) == incidents
    assert d.by_originator.groupby("originator")["n"].sum().to_dict() == by_originator
    assert d.marking.rows == incidents


def test_the_trend_can_be_split_by_source(sourced) -> None:
    d = summary(sourced, f=Filters(), dimension="source")
    assert d.trend.groupby("value")["n"].sum().to_dict() == {"institute": 10, "aiid": 10}


def test_the_overview_split_by_institute_draws_public_sources_apart() -> None:
    from analytics.incidents import charts as incident_charts

    df = pd.DataFrame(
        {
            "originator": ["AU", "PUBLIC", "UK", "PUBLIC"],
            "source": ["institute", "aiid", "institute", "atlas"],
            "category": [CYBER, UNMAPPED, DISINFO, CYBER],
            "incidents": [3, 6, 4, 2],
        }
    )
    fig = incident_charts.category_by_originator_chart(df)
    by_name = {t.name: dict(zip(t.y, t.x, strict=True)) for t in fig.data}
    assert by_name["Reported by UK"][DISINFO] == 4 and by_name["Reported by UK"][UNMAPPED] == 0
    assert by_name["Reported by AU"][CYBER] == 3
    assert by_name["Public — AI Incident Database"][UNMAPPED] == 6
    assert by_name["Public — MITRE ATLAS"][CYBER] == 2
    # without source names, public records are still one series of their own, never UK or AU
    fig = incident_charts.category_by_originator_chart(df.drop(columns="source"))
    assert [t.name for t in fig.data] == ["Public sources", "Reported by AU", "Reported by UK"]
