"""Writing incident_techniques with the incident's integer key (migration 016), and each incident's ATLAS tactics
(migration 018), in one place.

Why: the threat matrix and the technique / benchmark entity pages join an incident's techniques on an integer
key (`incident_key`) instead of the text id, which made the join several times cheaper at 1M incidents. DuckDB
has no triggers, so every writer of incident_techniques must give the key itself; these two statements take it
from the incident row, so no writer computes or copies a key. The text id stays the public identifier; the key
is internal and never leaves the store.

A technique row for an incident that does not exist gets a NULL key, which the NOT NULL constraint refuses: the
write fails loudly instead of leaving a technique no read could ever count.

incident_tactics holds, per incident, the tactics its techniques fall under (a sub-technique under its own and
its parent's), so the sidebar's tactic counts and tactic filter read them instead of deriving them from every
technique row at every filter change (an incident counts once per tactic however many of its techniques map to
it: a distinct count over the technique rows; at 1M incidents the facet counts took 653 ms with it and 459 ms
without, and the tactic filter 568 against 315 ms, docs/store-server-costs.md; issue 21). It is derived
data, so it is written only here, from incident_techniques and atlas_technique_tactics: for the incidents whose
techniques a writer changed, and whole when ATLAS's technique -> tactic links change. Rows of a deleted incident
are removed with its techniques; keys are never reused, so a row left behind could never be read by a read that
joins incidents, which every read does. tests/conftest.py checks, after every test that used a store, that the
table equals what it is derived from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

# Per incident: the key is read from the incident row written just before (or kept from before an update).
_ONE_SQL = (
    "insert into incident_techniques (incident_key, incident_id, technique_id) "
    "select (select i.incident_key from incidents i where i.id = $id), $id, t "
    "from (select distinct unnest($techniques::varchar[]) as t)"
)


def add_techniques(con: duckdb.DuckDBPyConnection, incident_id: str, techniques: Iterable[str]) -> None:
    """Record that the (already stored) incident `incident_id` cites `techniques`."""
    ts = [str(t) for t in techniques]
    if ts:
        con.execute(_ONE_SQL, {"id": incident_id, "techniques": ts})
    _refresh_tactics(con, "select i.incident_key from incidents i where i.id = $id", {"id": incident_id})


def add_techniques_from(con: duckdb.DuckDBPyConnection, source_sql: str, params: object = None) -> None:
    """Set-based: `source_sql` is a query with columns (incident_id, technique_id) naming stored incidents; its
    distinct rows are inserted with their incidents' keys. `source_sql` is code, never stored or user text; it is
    run more than once (the tactics of the incidents it names are re-derived), so its parameters are named."""
    con.execute(
        "insert into incident_techniques (incident_key, incident_id, technique_id) "
        "select i.incident_key, s.incident_id, s.technique_id "
        f"from (select distinct incident_id, technique_id from ({source_sql})) s "
        "left join incidents i on i.id = s.incident_id",
        params,
    )
    _refresh_tactics(
        con,
        f"select i.incident_key from incidents i where i.id in (select incident_id from ({source_sql}))",
        params,
    )


def remove_techniques(con: duckdb.DuckDBPyConnection, incident_ids: Sequence[str]) -> None:
    """Forget every technique (and so every tactic) of these incidents; call it before deleting the incident
    rows themselves, while their keys can still be found."""
    ids = [str(i) for i in incident_ids]
    con.execute(
        "delete from incident_tactics where incident_key in "
        "(select i.incident_key from incidents i where list_contains($ids::varchar[], i.id))",
        {"ids": ids},
    )
    con.execute(
        "delete from incident_techniques where list_contains($ids::varchar[], incident_id)", {"ids": ids}
    )


# The tactics of the incidents the `{where}` clause keeps (none: every incident): two equality joins (own id, then parent id), which
# DuckDB hashes, united, rather than one join on an OR, which it cannot (1.8 s against 0.5 s at 1M incidents).
_TACTICS_OF = (
    "insert into incident_tactics (incident_key, tactic_id) "
    "select it.incident_key, tt.tactic_id from incident_techniques it "
    "join atlas_technique_tactics tt on tt.technique_id = it.technique_id {where} "
    "union "
    "select it.incident_key, tt.tactic_id from incident_techniques it "
    "join atlas_technique_tactics tt on tt.technique_id = left(it.technique_id, 9) {where}"
)


def _refresh_tactics(con: duckdb.DuckDBPyConnection, keys_sql: str, params: object = None) -> None:
    """Re-derive incident_tactics for the incidents whose keys `keys_sql` (code, never stored or user text)
    selects."""
    con.execute(f"delete from incident_tactics where incident_key in ({keys_sql})", params)
    con.execute(_TACTICS_OF.format(where=f"where it.incident_key in ({keys_sql})"), params)


def rebuild_tactics(con: duckdb.DuckDBPyConnection) -> None:
    """Re-derive incident_tactics whole: after ATLAS's technique -> tactic links change (an import of a
    release), or a bulk load of techniques (the demo generator). About a second at 1M incidents."""
    con.execute("delete from incident_tactics")
    con.execute(_TACTICS_OF.format(where=""))
