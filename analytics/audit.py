"""The append-only audit log: who did what, when. Nothing in the product updates or deletes its rows.

Entries are written in the same transaction as the change they record (so a rolled-back change leaves no entry
and a committed one always has one). They name people, actions, object ids, field names and markings, never
record content (titles, summaries): administrators read the log, and they are not cleared for every record.

Actions in use: sign-in, sign-in refused, refused (a page or action outside one's role), import, undo import,
export, edit, approve, marking change, threshold edit, mapping edit, save view, enrol user, disable user,
enable user, change role. The admin page offers whatever actions the log holds.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from analytics.markings import Marking
from analytics.store import Store
from analytics.viewer import AccessDenied, Viewer

if TYPE_CHECKING:  # the sign-in screen imports this module and should not wait ~1 s for pandas
    import pandas as pd

# The log and the user directory are operational records of the joint service: both institutes' administrators
# may read them, nobody outside. They hold no record content, so no record marking reaches them.
AUDIT_MARKING = Marking("AMBER", ("AU", "UK"))

MAX_ROWS = 5000


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


def append(store: Store, email: str, action: str, obj: str = "", detail: Any = None) -> None:
    """One entry that records no change of its own (a sign-in, an export, a refusal), in its own transaction.
    Cached results stay valid: none of them reads the log (the admin page's search reads it uncached)."""
    with store.transaction(changes_data=False) as tx:
        record(tx, email, action, obj, detail)


def require(
    target: Store | duckdb.DuckDBPyConnection, viewer: Viewer, *roles: str, action: str, obj: str = ""
) -> None:
    """`viewer.require(*roles)`, and when that refuses, an audit entry of the attempt. Write functions in
    `analytics` call this first, with their store or their connection."""
    try:
        viewer.require(*roles)
    except AccessDenied:
        refused(target, viewer, action, obj)
        raise


def refused(target: Store | duckdb.DuckDBPyConnection, viewer: Viewer, action: str, obj: str = "") -> None:
    """Record a refused attempt in a transaction of its own: the caller's transaction, if any, is rolled back
    by the refusal, and the entry must outlive it."""
    detail = {"action": action, "role": viewer.role}
    if isinstance(target, Store):
        append(target, viewer.email, "refused", obj, detail)
        return
    own = target.cursor()  # a new connection to the same database, outside the caller's transaction
    try:
        record(own, viewer.email, "refused", obj, detail)
    finally:
        own.close()


def search(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    *,
    email: str = "",
    action: str = "",
    text: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Admins only: entries matching every given criterion, newest first. `email` and `text` match parts,
    case-insensitively; dates are inclusive days. Every value is bound."""
    viewer.require("admin")
    where = ["true"]
    params: list[Any] = []
    if email.strip():
        where.append("contains(lower(email), ?)")
        params.append(email.strip().lower())
    if action:
        where.append("action = ?")
        params.append(action)
    if text.strip():
        where.append("(contains(lower(coalesce(object, '')), ?) or contains(lower(coalesce(detail, '')), ?))")
        params += [text.strip().lower(), text.strip().lower()]
    if date_from:
        where.append('"at" >= ?')
        params.append(date_from)
    if date_to:
        where.append('"at" < ?')
        params.append(date_to + timedelta(days=1))
    params.append(max(1, min(int(limit), MAX_ROWS)))
    clause = " and ".join(where)
    sql = (
        f'select id, "at", email, action, object, detail from audit_log where {clause} '
        "order by id desc limit ?"
    )
    return con.execute(sql, params).df()


def actions(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[str]:
    """Admins only: the actions the log holds, for the search form."""
    viewer.require("admin")
    return [str(r[0]) for r in con.execute("select distinct action from audit_log order by 1").fetchall()]
