"""Saved views: a named filter state on a page, used as evidence in assessments and as charts in briefings.

A view stores only the filter parameters, never data: whoever opens it sees the data their own markings allow.
Views are visible to their owner's institute (JOINT staff: their own), since a filter (a search phrase, say)
can itself be sensitive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.store import audit

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

# The pages whose figures follow the shared sidebar filters: a view saved elsewhere reopens on the overview.
FILTERED_PAGES: tuple[str, ...] = ("overview", "explorer", "evaluations", "matrix")


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    page: str
    filters: Filters
    owner: str


def save_view(con: duckdb.DuckDBPyConnection, viewer: Viewer, name: str, page: str, f: Filters) -> int:
    audit.require(con, viewer, *RECORD_READERS, action="save view")
    name = name.strip()
    if not name:
        raise ValueError("a saved view needs a name")
    page = page if page in FILTERED_PAGES else "overview"
    row = con.execute(
        "insert into saved_views (name, page, query, owner, institute) values (?, ?, ?, ?, ?) returning id",
        [name[:200], page, json.dumps(f.to_query_params()), viewer.email, viewer.institute],
    ).fetchone()
    assert row is not None
    audit.record(con, viewer.email, "save view", f"view:{row[0]}", {"name": name, "page": page})
    return int(row[0])


def _view(row: tuple[Any, ...]) -> SavedView:
    vid, name, page, query, owner = row
    return SavedView(int(vid), name, page, Filters.from_query_params(json.loads(query)), owner)


def list_views(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[SavedView]:
    rows = con.execute(
        "select id, name, page, query, owner from saved_views "
        "where (institute = ? and institute <> 'JOINT') or owner = ? order by created_at desc, id desc",
        [viewer.institute, viewer.email],
    ).fetchall()
    return [_view(r) for r in rows]


def get_view(con: duckdb.DuckDBPyConnection, viewer: Viewer, view_id: int) -> SavedView | None:
    """None when it does not exist or is not the viewer's to see (the two look the same)."""
    for v in list_views(con, viewer):
        if v.id == view_id:
            return v
    return None
