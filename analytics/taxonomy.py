"""ATLAS taxonomy lookups (public, unmarked reference data)."""

from __future__ import annotations

import duckdb


def technique_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select id, name from atlas_techniques order by id").fetchall())


def tactic_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select id, name from atlas_tactics order by ordinal").fetchall())
