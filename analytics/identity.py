"""Sign-in modes and the mapping from a signed-in email to an enrolled user.

Production signs people in with OIDC (`st.login`); their email must be enrolled in `users` and active. Demo mode
(personas to pick from, no password) must be switched on explicitly with THREAT_DEMO_MODE=1 and is refused when
OIDC is configured, so a production deployment can never fall back to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import duckdb

from analytics.viewer import Viewer

AuthMode = Literal["oidc", "demo", "unconfigured", "misconfigured"]

DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # email, name, institute, role
    ("analyst@uk.example", "Priya Shah", "UK", "analyst"),
    ("lead@uk.example", "Tom Hargreaves", "UK", "lead"),
    ("policy@uk.example", "Eleanor Webb", "UK", "policymaker"),
    ("analyst@au.example", "Liam Nguyen", "AU", "analyst"),
    ("lead@au.example", "Grace O'Connor", "AU", "lead"),
    ("policy@au.example", "Mitchell Clarke", "AU", "policymaker"),
    ("admin@joint.example", "Sam Taylor", "JOINT", "admin"),
)


def auth_mode(secrets: Mapping[str, Any] | None, env: Mapping[str, str] | None = None) -> AuthMode:
    env = os.environ if env is None else env
    oidc = bool(secrets and secrets.get("auth"))
    demo = env.get("THREAT_DEMO_MODE", "").strip().lower() in ("1", "true", "yes", "on")
    if oidc and demo:
        return "misconfigured"
    if oidc:
        return "oidc"
    if demo:
        return "demo"
    return "unconfigured"


def viewer_for_email(con: duckdb.DuckDBPyConnection, email: str | None) -> Viewer | None:
    """The enrolled, active user with this email, or None (unknown and disabled look the same)."""
    if not email:
        return None
    row = con.execute(
        "select email, name, institute, role from users where email = ? and active",
        [email.strip().lower()],
    ).fetchone()
    return Viewer(*row) if row else None


def enrol_demo_users(con: duckdb.DuckDBPyConnection) -> None:
    con.executemany(
        "insert into users (email, name, institute, role) values (?, ?, ?, ?) on conflict do nothing",
        [list(u) for u in DEMO_USERS],
    )
