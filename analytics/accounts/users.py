"""The user directory: who may sign in, from which institute, in which role. Administrators only.

Every change runs in one transaction with its audit entry, after two checks: the viewer's role (refusals are
audited too), and the acting administrator's own row read again inside the transaction, so an administrator
disabled or demoted a moment ago cannot act on a stale session. Nobody changes their own role or institute or
disables themselves: an administrator's access is changed by another administrator, never by themselves.
An institute is fixed at enrolment; someone who moves institute is disabled and enrolled again, so what they
saw under one institute's clearance is never carried into the other's.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from analytics.access.roles import ADMINS, ROLES
from analytics.access.viewer import VIEWER_INSTITUTES, AccessDenied, Viewer
from analytics.store import audit
from analytics.store.database import Store

_EMAIL = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+")


class UserRefused(ValueError):
    """A user change that breaks a rule (bad email, unknown role, a change to oneself); safe to show."""


def list_users(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    """Admins only: every enrolled user, active ones first."""
    viewer.require(*ADMINS)
    return con.execute(
        "select email, name, institute, role, active, created_at from users "
        "order by active desc, institute, role, email"
    ).df()


def _require_admin(store: Store, viewer: Viewer, action: str, email: str) -> None:
    """The viewer's role, then their row as it is now: both refusals are audited."""
    obj = f"user:{email.strip().lower()}"
    audit.require(store, viewer, *ADMINS, action=action, obj=obj)
    with store.transaction() as tx:
        if not _is_active_admin(tx, viewer):
            audit.record(
                tx, viewer.email, "refused", obj, {"action": action, "reason": "not an active admin"}
            )
            withdrawn = True
        else:
            withdrawn = False
    if withdrawn:
        raise AccessDenied("your administrator access has been withdrawn")


def _is_active_admin(tx: duckdb.DuckDBPyConnection, viewer: Viewer) -> bool:
    row = tx.execute("select role, active from users where email = ?", [viewer.email]).fetchone()
    return row is not None and row[0] in ADMINS and bool(row[1])


def _check_actor(tx: duckdb.DuckDBPyConnection, viewer: Viewer) -> None:
    """Again inside the change's own transaction, so nothing slips between the check and the write."""
    if not _is_active_admin(tx, viewer):
        raise AccessDenied("your administrator access has been withdrawn")


def _target(tx: duckdb.DuckDBPyConnection, email: str) -> tuple[str, str, str, bool]:
    row = tx.execute(
        "select email, institute, role, active from users where email = ?", [email.strip().lower()]
    ).fetchone()
    if row is None:
        raise UserRefused(f"no enrolled user {email.strip().lower()!r}")
    return str(row[0]), str(row[1]), str(row[2]), bool(row[3])


def _not_self(viewer: Viewer, email: str, what: str) -> None:
    if email.strip().lower() == viewer.email.lower():
        raise UserRefused(f"you cannot {what} yourself; ask another administrator")


def enrol(store: Store, viewer: Viewer, *, email: str, name: str, institute: str, role: str) -> None:
    """Add a user who may then sign in with this email."""
    _require_admin(store, viewer, "enrol user", email)
    email = email.strip().lower()
    name = " ".join(name.split())
    if not _EMAIL.fullmatch(email):
        raise UserRefused(f"{email!r} is not an email address")
    if not name or len(name) > 120:
        raise UserRefused("a name of 1 to 120 characters is required")
    if institute not in VIEWER_INSTITUTES:
        raise UserRefused(f"institute must be one of {', '.join(VIEWER_INSTITUTES)}")
    if role not in ROLES:
        raise UserRefused(f"role must be one of {', '.join(ROLES)}")
    _not_self(viewer, email, "enrol")
    with store.transaction() as tx:
        _check_actor(tx, viewer)
        if tx.execute("select 1 from users where email = ?", [email]).fetchone():
            raise UserRefused(f"{email} is already enrolled")
        tx.execute(
            "insert into users (email, name, institute, role) values (?, ?, ?, ?)",
            [email, name, institute, role],
        )
        audit.record(tx, viewer.email, "enrol user", f"user:{email}", {"institute": institute, "role": role})


def set_active(store: Store, viewer: Viewer, email: str, active: bool) -> None:
    """Disable (or enable again) a user. A disabled user is refused at their next interaction."""
    action = "enable user" if active else "disable user"
    _require_admin(store, viewer, action, email)
    _not_self(viewer, email, "disable or enable")
    with store.transaction() as tx:
        _check_actor(tx, viewer)
        target, _, _, was = _target(tx, email)
        if was == active:
            raise UserRefused(f"{target} is already {'active' if active else 'disabled'}")
        tx.execute("update users set active = ? where email = ?", [active, target])
        audit.record(tx, viewer.email, action, f"user:{target}", None)


def change_role(store: Store, viewer: Viewer, email: str, role: str) -> None:
    """Give another user a different role; takes effect on their next interaction."""
    _require_admin(store, viewer, "change role", email)
    if role not in ROLES:
        raise UserRefused(f"role must be one of {', '.join(ROLES)}")
    _not_self(viewer, email, "change the role of")
    with store.transaction() as tx:
        _check_actor(tx, viewer)
        target, _, old, _ = _target(tx, email)
        if old == role:
            raise UserRefused(f"{target} is already {role}")
        tx.execute("update users set role = ? where email = ?", [role, target])
        audit.record(tx, viewer.email, "change role", f"user:{target}", {"from": old, "to": role})
