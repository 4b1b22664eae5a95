"""Each incident's ATLAS tactics, kept at write time (migration 018, analytics/store/incident_keys.py): every way
techniques or ATLAS's technique -> tactic links change keeps them equal to what they are derived from, and the
sidebar's tactic counts and tactic filter read them (issue 21)."""

from __future__ import annotations

from pathlib import Path

from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.ingest.atlas import import_atlas
from analytics.store import incident_keys
from analytics.store.database import Store
from tests.conftest import SHARED_DATA, TODAY, UK_ANALYST, StoreBuilder, store_before, tactics_out_of_step

LINKS = [
    ("AML.T0051", "AML.TA0005"),
    ("AML.T0054", "AML.TA0005"),
    ("AML.T0054", "AML.TA0007"),
    ("AML.T0020", "AML.TA0003"),
]


def _links(store: StoreBuilder, pairs: list[tuple[str, str]]) -> None:
    with store.store.transaction() as con:
        con.executemany("insert into atlas_technique_tactics values (?, ?)", pairs)


def _kept(store: StoreBuilder, incident_id: str) -> list[str]:
    return [
        r[0]
        for r in store.cursor()
        .execute(
            "select t.tactic_id from incident_tactics t join incidents i using (incident_key) where i.id = ? "
            "order by 1",
            [incident_id],
        )
        .fetchall()
    ]


def test_writers_keep_each_incidents_tactics(store: StoreBuilder) -> None:
    _links(store, LINKS)
    both = store.incident(techniques=["AML.T0051", "AML.T0054"])  # TA0005 once, and TA0007
    sub = store.incident(techniques=["AML.T0051.000"])  # a sub-technique: its parent's tactics
    none = store.incident(techniques=["AML.T9999"])  # an id ATLAS does not link to any tactic
    assert _kept(store, both) == ["AML.TA0005", "AML.TA0007"]
    assert _kept(store, sub) == ["AML.TA0005"]
    assert _kept(store, none) == []
    with store.store.transaction() as con:
        incident_keys.remove_techniques(con, [both])  # an edit that drops every technique
        incident_keys.add_techniques(con, both, ["AML.T0020"])
        con.execute("create temp table src as select ? as incident_id, 'AML.T0054' as technique_id", [sub])
        incident_keys.add_techniques_from(con, "select incident_id, technique_id from src")  # set-based
    assert _kept(store, both) == ["AML.TA0003"]
    assert _kept(store, sub) == ["AML.TA0005", "AML.TA0007"]
    with store.store.transaction() as con:
        incident_keys.remove_techniques(con, [sub])
        con.execute("delete from incidents where id = ?", [sub])
    assert store.cursor().execute("select count(*) from incident_tactics").fetchone() == (1,)
    assert tactics_out_of_step(store.cursor()) == []


def test_the_tactic_facet_and_filter_read_the_kept_tactics(store: StoreBuilder) -> None:
    _links(store, LINKS)
    a = store.incident(techniques=["AML.T0051", "AML.T0054"])
    b = store.incident(techniques=["AML.T0051.000"])
    store.incident(techniques=["AML.T0020"])
    opts = incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY)
    assert opts["tactics"] == [("AML.TA0005", 2), ("AML.TA0003", 1), ("AML.TA0007", 1)]
    where, params = Filters(tactics=("AML.TA0005",)).sql_where(UK_ANALYST, TODAY)
    got = {
        r[0] for r in store.cursor().execute(f"select id from incidents i where {where}", params).fetchall()
    }
    assert got == {a, b}
    # the kept rows are what is read: with them removed behind the writer's back, nothing counts
    store.cursor().execute("delete from incident_tactics")
    assert incident_base.filter_options(store.cursor(), UK_ANALYST, TODAY)["tactics"] == []
    with store.store.transaction() as con:
        incident_keys.rebuild_tactics(con)


def test_an_atlas_import_re_derives_every_incidents_tactics(store: StoreBuilder) -> None:
    """ATLAS links a technique to tactics; an incident stored before the import follows the release."""
    cited = store.incident(techniques=["AML.T0051.000"])  # stored while no links exist
    assert _kept(store, cited) == []
    import_atlas(store.store, SHARED_DATA / "atlas" / "ATLAS.yaml")
    expected = [
        r[0]
        for r in store.cursor()
        .execute(
            "select distinct tactic_id from atlas_technique_tactics "
            "where technique_id in ('AML.T0051.000', 'AML.T0051') order by 1"
        )
        .fetchall()
    ]
    assert expected  # the published release links prompt injection to at least one tactic
    assert _kept(store, cited) == expected


def test_migration_018_derives_the_tactics_of_a_store_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old = store_before(path, 18)
    old.executemany("insert into atlas_technique_tactics values (?, ?)", LINKS)
    for n, techniques in enumerate([["AML.T0051", "AML.T0054"], ["AML.T0051.001"], []]):
        old.execute(
            "insert into incidents (id, title, occurred_on, originator, source, category, severity, status, tlp, "
            "releasable_to) values (?, 't', date '2026-06-01', 'UK', 'institute', 'Jailbreak', 3, 'new', "
            "'GREEN', ['UK', 'AU'])",
            [f"OLD-{n}"],
        )
        for t in techniques:
            old.execute(
                "insert into incident_techniques select incident_key, id, ? from incidents where id = ?",
                [t, f"OLD-{n}"],
            )
    old.close()
    s = Store(path)
    con = s.cursor()
    rows = con.execute(
        "select i.id, t.tactic_id from incident_tactics t join incidents i using (incident_key) order by 1, 2"
    ).fetchall()
    assert rows == [("OLD-0", "AML.TA0005"), ("OLD-0", "AML.TA0007"), ("OLD-1", "AML.TA0005")]
    assert tactics_out_of_step(con) == []
    s.close()


def test_only_incident_keys_writes_techniques_or_tactics() -> None:
    """One place keeps incident_tactics in step: every other module changes techniques through it (the demo
    generator bulk-inserts techniques, then re-derives the tactics whole through it)."""
    import re

    from tests.conftest import ROOT

    writes = re.compile(r"\b(insert\s+into|delete\s+from|update)\s+incident_(techniques|tactics)\b", re.I)
    found = {
        str(p.relative_to(ROOT)) for p in (ROOT / "analytics").rglob("*.py") if writes.search(p.read_text())
    }
    assert found == {"analytics/store/incident_keys.py", "analytics/demo/generator.py"}
    assert "incident_keys.rebuild_tactics(con)" in (ROOT / "analytics/demo/generator.py").read_text()
