"""The append-only audit log. Nothing in the product updates or deletes its rows."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from analytics.viewer import Viewer


def record(
    con: duckdb.DuckDBPyConnection, email: str, action: str, obj: str = "", detail: Any = None
) -> None:
    """Append one entry. Call inside the same transaction as the change it records, where there is one."""
    text = (
        detail
        if isinstance(detail, str) or detail is None
        else json.dumps(detail, default=str, sort_keys=True)
    )
    con.execute(
        "insert into audit_log (email, action, object, detail) values (?, ?, ?, ?)",
        [email, action, obj, text],
    )


def search(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    *,
    email: str = "",
    action: str = "",
    text: str = "",
    limit: int = 500,
) -> pd.DataFrame:
    """Admins only: newest first, every value bound."""
    viewer.require("admin")
    where = ["true"]
    params: list[Any] = []
    if email:
        where.append("email = ?")
        params.append(email.strip().lower())
    if action:
        where.append("action = ?")
        params.append(action)
    if text:
        where.append("(contains(lower(coalesce(object, '')), ?) or contains(lower(coalesce(detail, '')), ?))")
        params += [text.lower(), text.lower()]
    params.append(int(limit))
    clause = " and ".join(where)
    sql = f'select id, "at", email, action, object, detail from audit_log where {clause} order by id desc limit ?'
    return con.execute(sql, params).df()
