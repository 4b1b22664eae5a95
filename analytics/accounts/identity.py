"""Sign-in modes and the mapping from a signed-in identity to an enrolled, active user.

Production signs people in with OIDC (`st.login`, configured by the `[auth]` secrets section). The identity
provider proves who someone is; this module decides whether they may use the product: their email must be
enrolled in `users` and active, and it is looked up again on every rerun, so disabling someone takes effect on
their next interaction. Demo mode (personas to pick from, no password) must be switched on explicitly with
THREAT_DEMO_MODE=1 and is refused when OIDC is configured, so a production deployment can never fall back to it;
it is refused too on any store the demo generator did not build (a `demo_store` row in `store_meta`), so
pointing a demo server at real data never hands out password-less access to it. A browser sign-in (`st.user`)
counts only in OIDC mode: in every other mode nobody configured an identity provider to vouch for it.

Everything here is plain Python over a DuckDB connection, so app.py stays a thin shell and tests need no server.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Literal

import duckdb

from analytics.access.viewer import Viewer
from analytics.store import audit
from analytics.store.database import Store

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
DEMO_EMAILS: frozenset[str] = frozenset(u[0] for u in DEMO_USERS)

# The single (default) provider this product supports; named providers ([auth.<name>]) are not used.
REQUIRED_AUTH_KEYS: tuple[str, ...] = (
    "redirect_uri",
    "cookie_secret",
    "client_id",
    "client_secret",
    "server_metadata_url",
)
MIN_COOKIE_SECRET_CHARS = 32


def demo_requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("THREAT_DEMO_MODE", "").strip().lower() in ("1", "true", "yes", "on")


DEMO_MARKER = "demo_store"


def mark_demo_store(con: duckdb.DuckDBPyConnection) -> None:
    """Record that this store was built by the demo generator (`python -m analytics demo` calls this in the
    transaction that builds it). Nothing else writes this row."""
    con.execute(
        "insert into store_meta (key, value) values (?, ?) on conflict do nothing",
        [DEMO_MARKER, "built by python -m analytics demo"],
    )


def is_demo_store(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the demo generator built this store. Real data imported into it later (ATLAS, Epoch, a CSV)
    leaves it a demo store: the personas and their access were there from the start, by the operator's choice."""
    row = con.execute("select count(*) from store_meta where key = ?", [DEMO_MARKER]).fetchone()
    return bool(row and row[0])


def auth_mode(
    secrets: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> AuthMode:
    """Which sign-in this deployment uses. Any `[auth]` section at all counts as OIDC being configured, so demo
    mode cannot be switched on beside a half-written OIDC configuration either. Demo mode needs `con`, the
    store it would serve, and that store must be a demo store; without one to check it is refused."""
    oidc = bool(secrets and secrets.get("auth"))
    demo = demo_requested(env)
    if oidc and (demo or configuration_problem(secrets, env)):
        return "misconfigured"
    if oidc:
        return "oidc"
    if demo:
        return "demo" if con is not None and is_demo_store(con) else "misconfigured"
    return "unconfigured"


def configuration_problem(
    secrets: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> str:
    """What is wrong with the sign-in configuration, in words for an operator ('' when nothing is).
    Names settings, never their values."""
    auth = (secrets or {}).get("auth") or {}
    if not auth:
        if demo_requested(env) and (con is None or not is_demo_store(con)):
            return (
                "Demo mode (THREAT_DEMO_MODE) signs people in without a password, so it runs only on a demo "
                "store, and THREAT_DB is not a demo store. Build one with `python -m analytics demo --db PATH` "
                "and point THREAT_DB at it, or unset THREAT_DEMO_MODE and configure [auth]."
            )
        return ""
    if demo_requested(env):
        return (
            "Demo mode (THREAT_DEMO_MODE) cannot be on while OIDC sign-in is configured. Unset one of them."
        )
    missing = [k for k in REQUIRED_AUTH_KEYS if not str(auth.get(k) or "").strip()]
    if missing:
        return f"The [auth] secrets section is missing {', '.join(missing)}."
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        return "auth.redirect_uri must be the app's address ending in /oauth2callback."
    if len(str(auth["cookie_secret"])) < MIN_COOKIE_SECRET_CHARS:
        return f"auth.cookie_secret must be a random value of at least {MIN_COOKIE_SECRET_CHARS} characters."
    return ""


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def claimed_email(user: Mapping[str, Any]) -> str:
    """The identity an OIDC sign-in claims, as the key to look up in `users` ('' when not signed in).

    An identity provider that says the address is unverified, or gives none, yields a value that can never
    match an enrolled user (but is still recorded in the audit log of the refusal)."""
    if not user.get("is_logged_in"):
        return ""
    email = normalise_email(str(user.get("email") or ""))
    if not email:
        return f"no-email:{user.get('sub') or 'unknown'}"
    if user.get("email_verified") is False:
        return f"unverified:{email}"
    return email


def signed_in_email(mode: AuthMode, user: Mapping[str, Any], demo_email: str | None) -> str:
    """Who this session claims to be: in OIDC mode the identity the provider vouched for (`st.user`), in demo
    mode the persona picked on the demo screen, in any other mode nobody. Each counts only in its own mode: a
    persona left in session state means nothing outside demo mode, and a logged-in `st.user` nothing outside
    OIDC mode (no provider this deployment trusts stands behind it)."""
    if mode == "oidc":
        return claimed_email(user)
    if mode == "demo" and normalise_email(demo_email) in DEMO_EMAILS:
        return normalise_email(demo_email)
    return ""


# The URL parameter that keeps a demo persona across a browser reload (demo mode only; see remembered_persona).
PERSONA_PARAM = "persona"


def remembered_persona(mode: AuthMode, value: str | None) -> str | None:
    """The demo persona a reloaded page names in its address (`?persona=analyst@uk.example`), or None.

    Only in demo mode and only one of DEMO_EMAILS: a reload in demo mode keeps its persona, and the parameter
    counts for nothing anywhere else. This gives nobody more than the demo's persona screen does already (pick
    any persona, no password), and demo mode runs only on a demo store and answers only on this machine
    (`demo_client_refused`)."""
    email = normalise_email(value)
    return email if mode == "demo" and email in DEMO_EMAILS else None


def demo_client_refused(mode: AuthMode, client_ip: str | None) -> bool:
    """Whether to refuse this connection: demo mode (password-less personas) answers only connections from this
    machine. `client_ip` is the websocket peer as Streamlit reports it (`st.context.ip_address`: None for
    loopback); a proxy on this machine passing X-Forwarded-For yields the forwarded, outside address, so it is
    refused too. Outside demo mode nothing is refused here (OIDC decides)."""
    return mode == "demo" and client_ip is not None and not _is_loopback(client_ip)


def _is_loopback(client_ip: str) -> bool:
    """127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (`::ffff:127.0.0.1`, how a server listening on all
    interfaces sees an IPv4 loopback peer); anything that does not parse as an address is not loopback."""
    text = client_ip.strip().lower()
    if text == "localhost":
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def viewer_for_email(con: duckdb.DuckDBPyConnection, email: str | None) -> Viewer | None:
    """The enrolled, active user with this email, or None (unknown and disabled look the same)."""
    if not email:
        return None
    row = con.execute(
        "select email, name, institute, role from users where email = ? and active",
        [normalise_email(email)],
    ).fetchone()
    return Viewer(*row) if row else None


def record_sign_in(store: Store, viewer: Viewer, mode: AuthMode) -> None:
    """Once per session, when someone enrolled and active starts using the product."""
    audit.append(store, viewer.email, "sign-in", "", {"mode": mode, "role": viewer.role})


def record_refused_sign_in(store: Store, email: str, mode: AuthMode) -> None:
    """Someone proved an identity that is not enrolled, or is disabled. The two are not told apart on screen;
    the audit log says which, for the administrators."""
    with store.transaction(changes_data=False) as tx:
        row = tx.execute("select active from users where email = ?", [normalise_email(email)]).fetchone()
        reason = "not enrolled" if row is None else "disabled"
        audit.record(
            tx, normalise_email(email) or "unknown", "sign-in refused", "", {"mode": mode, "reason": reason}
        )


def enrol_demo_users(con: duckdb.DuckDBPyConnection) -> None:
    con.executemany(
        "insert into users (email, name, institute, role) values (?, ?, ?, ?) on conflict do nothing",
        [list(u) for u in DEMO_USERS],
    )
