"""Writing incident_techniques with the incident's integer key (migration 016), in one place.

Why: the threat matrix and the technique / benchmark entity pages join an incident's techniques on an integer
key (`incident_key`) instead of the text id, which made the join several times cheaper at 1M incidents. DuckDB
has no triggers, so every writer of incident_techniques must give the key itself; these two statements take it
from the incident row, so no writer computes or copies a key. The text id stays the public identifier; the key
is internal and never leaves the store.

A technique row for an incident that does not exist gets a NULL key, which the NOT NULL constraint refuses: the
write fails loudly instead of leaving a technique no read could ever count.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def add_techniques_from(con: duckdb.DuckDBPyConnection, source_sql: str, params: object = None) -> None:
    """Set-based: `source_sql` is a query with columns (incident_id, technique_id) naming stored incidents; its
    distinct rows are inserted with their incidents' keys. `source_sql` is code, never stored or user text."""
    con.execute(
        "insert into incident_techniques (incident_key, incident_id, technique_id) "
        "select i.incident_key, s.incident_id, s.technique_id "
        f"from (select distinct incident_id, technique_id from ({source_sql})) s "
        "left join incidents i on i.id = s.incident_id",
        params,
    )
