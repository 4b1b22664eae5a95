"""Sign-in modes, the identity an OIDC sign-in claims, and what the app does with them (through AppTest).

The real OIDC round trip in Chromium is in tests/browser/test_oidc.py; here the same rules are checked without a
server: which configurations are accepted, that demo mode can never be on beside OIDC, that a persona left in
session state counts for nothing outside demo mode, and that disabling or re-roling someone takes effect at their
next interaction because the app reads the user again on every rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.accounts import identity, users
from tests.conftest import ADMIN, ROOT, StoreBuilder

FULL_AUTH: dict[str, str] = {
    "redirect_uri": "https://threats.example/oauth2callback",
    "cookie_secret": "c" * 40,
    "client_id": "dashboard",
    "client_secret": "s3cr3t-value-never-shown",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}
DEMO_ON = {"THREAT_DEMO_MODE": "1"}


@pytest.mark.parametrize(
    ("auth", "env", "mode"),
    [
        (None, {}, "unconfigured"),
        (None, {"THREAT_DEMO_MODE": "0"}, "unconfigured"),
        (None, {"THREAT_DEMO_MODE": ""}, "unconfigured"),
        (None, DEMO_ON, "demo"),
        (None, {"THREAT_DEMO_MODE": "true"}, "demo"),
        (FULL_AUTH, {}, "oidc"),
        (FULL_AUTH, DEMO_ON, "misconfigured"),
        ({**FULL_AUTH, "client_secret": ""}, {}, "misconfigured"),
        ({k: v for k, v in FULL_AUTH.items() if k != "server_metadata_url"}, {}, "misconfigured"),
        ({**FULL_AUTH, "cookie_secret": "short"}, {}, "misconfigured"),
        ({**FULL_AUTH, "redirect_uri": "https://threats.example/"}, {}, "misconfigured"),
        ({"redirect_uri": "x"}, DEMO_ON, "misconfigured"),  # half-written OIDC still rules demo out
    ],
)
def test_auth_mode(auth: dict[str, str] | None, env: dict[str, str], mode: str, demo_store: Any) -> None:
    """Over a demo store; demo mode over any other store is refused (tests/security/test_deployment_hardening.py)."""
    secrets = {"auth": auth} if auth else {}
    assert identity.auth_mode(secrets, env, demo_store.cursor()) == mode


def test_configuration_problem_names_settings_never_values() -> None:
    assert identity.configuration_problem({"auth": FULL_AUTH}, {}) == ""
    msg = identity.configuration_problem({"auth": {**FULL_AUTH, "client_id": ""}}, {})
    assert msg == "The [auth] secrets section is missing client_id."
    both = identity.configuration_problem({"auth": FULL_AUTH}, DEMO_ON)
    assert "THREAT_DEMO_MODE" in both
    for m in (
        msg,
        both,
        identity.configuration_problem({"auth": {**FULL_AUTH, "cookie_secret": "short"}}, {}),
    ):
        assert FULL_AUTH["client_secret"] not in m and "short" not in m.split("must")[0]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({}, ""),
        ({"is_logged_in": False, "email": "analyst@uk.example"}, ""),
        ({"is_logged_in": True, "email": " Analyst@UK.example "}, "analyst@uk.example"),
        ({"is_logged_in": True, "email": "analyst@uk.example", "email_verified": True}, "analyst@uk.example"),
        (
            {"is_logged_in": True, "email": "analyst@uk.example", "email_verified": False},
            "unverified:analyst@uk.example",
        ),
        ({"is_logged_in": True, "sub": "abc123"}, "no-email:abc123"),
    ],
)
def test_claimed_email(user: dict[str, Any], expected: str) -> None:
    assert identity.claimed_email(user) == expected


def test_a_persona_in_session_state_counts_only_in_demo_mode() -> None:
    assert identity.signed_in_email("demo", {}, "analyst@au.example") == "analyst@au.example"
    assert identity.signed_in_email("oidc", {}, "analyst@au.example") == ""
    assert identity.signed_in_email("unconfigured", {}, "analyst@au.example") == ""
    assert identity.signed_in_email("misconfigured", {}, "analyst@au.example") == ""
    # only the listed personas, even in demo mode
    assert identity.signed_in_email("demo", {}, "someone@uk.example") == ""
    # an OIDC identity wins over a persona, and nothing counts when misconfigured
    oidc_user = {"is_logged_in": True, "email": "lead@uk.example"}
    assert identity.signed_in_email("oidc", oidc_user, "admin@joint.example") == "lead@uk.example"
    assert identity.signed_in_email("misconfigured", oidc_user, None) == ""


def test_viewer_for_email_is_case_blind_and_ignores_disabled_users(store: StoreBuilder) -> None:
    con = store.cursor()
    v = identity.viewer_for_email(con, "ANALYST@uk.example ")
    assert v is not None and (v.email, v.institute, v.role) == ("analyst@uk.example", "UK", "analyst")
    assert identity.viewer_for_email(con, "") is None
    assert identity.viewer_for_email(con, "stranger@uk.example") is None
    users.set_active(store.store, ADMIN, "analyst@uk.example", False)
    assert identity.viewer_for_email(con, "analyst@uk.example") is None


def test_refused_sign_ins_are_audited_with_the_reason(store: StoreBuilder) -> None:
    users.set_active(store.store, ADMIN, "lead@au.example", False)
    identity.record_refused_sign_in(store.store, "Stranger@AU.example", "oidc")
    identity.record_refused_sign_in(store.store, "lead@au.example", "oidc")
    rows = (
        store.cursor()
        .execute(
            "select email, detail from audit_log where action = 'sign-in refused' order by id",
        )
        .fetchall()
    )
    assert rows == [
        ("stranger@au.example", '{"mode": "oidc", "reason": "not enrolled"}'),
        ("lead@au.example", '{"mode": "oidc", "reason": "disabled"}'),
    ]


# -- the app, end to end through AppTest ----------------------------------------------------------------------
# AppTest resets Streamlit's "pages/ directory" mode before every run, so without this fixture a second
# `at.run()` re-runs the current page file alone, without app.py (see docs/access-model.md). The fixture keeps
# AppTest in st.navigation mode, as the real server is once app.py has called st.navigation: every rerun runs
# app.py first, which is what these tests are about.


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _next_interaction(at: Any) -> None:
    at.run()


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, *, demo: bool, auth: dict[str, str] | None) -> Any:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(db))
    if demo:
        monkeypatch.setenv("THREAT_DEMO_MODE", "1")
    else:
        monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if auth:
        at.secrets["auth"] = auth
    return at


def _shows_data(at: Any) -> bool:
    return bool(
        at.metric or at.get("plotly_chart") or at.dataframe or any("TLP:" in m.value for m in at.markdown)
    )


def test_demo_mode_beside_oidc_refuses_everyone(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(demo_db, monkeypatch, demo=True, auth=FULL_AUTH)
    at.run()
    assert [e.value for e in at.error] == [
        "Sign-in is misconfigured; ask the operator to check the server log."
    ]
    assert not [b for b in at.button if "@" in b.label]  # no personas
    # not even a valid OIDC session gets in while the configuration is wrong
    at = _app(demo_db, monkeypatch, demo=True, auth=FULL_AUTH)
    at.user = {"is_logged_in": True, "email": "analyst@uk.example"}
    at.run()
    assert not at.exception
    assert not _shows_data(at)
    assert "viewer" not in at.session_state


def test_oidc_mode_offers_sign_in_and_ignores_a_planted_persona(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(demo_db, monkeypatch, demo=False, auth=FULL_AUTH)
    at.session_state["demo_email"] = "admin@joint.example"
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not _shows_data(at)


def test_oidc_user_signs_in_once_per_session(store: StoreBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    store.incident()
    at = _app(store.store.path, monkeypatch, demo=False, auth=FULL_AUTH)
    at.user = {"is_logged_in": True, "email": "Lead@AU.example", "email_verified": True}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Grace O" in m.value for m in at.sidebar.markdown)
    _next_interaction(at)
    _next_interaction(at)
    rows = store.cursor().execute("select email, action, detail from audit_log").fetchall()
    assert rows == [("lead@au.example", "sign-in", '{"mode": "oidc", "role": "lead"}')]


def test_disabled_user_loses_access_at_next_interaction(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.incident()
    at = _app(store.store.path, monkeypatch, demo=False, auth=FULL_AUTH)
    at.user = {"is_logged_in": True, "email": "analyst@uk.example"}
    at.run()
    assert at.session_state["viewer"].email == "analyst@uk.example"
    assert _shows_data(at)

    users.set_active(store.store, ADMIN, "analyst@uk.example", False)
    _next_interaction(at)
    assert not at.exception
    assert [t.value for t in at.title] == ["Not enrolled"]
    assert not _shows_data(at)
    assert "viewer" not in at.session_state
    _next_interaction(at)  # refused once per session in the log, not once per rerun
    assert store.cursor().execute(
        "select count(*) from audit_log where action = 'sign-in refused' and email = 'analyst@uk.example'"
    ).fetchone() == (1,)

    users.set_active(store.store, ADMIN, "analyst@uk.example", True)
    _next_interaction(at)
    assert at.session_state["viewer"].email == "analyst@uk.example"


def test_role_change_takes_effect_at_next_interaction(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.incident()
    at = _app(store.store.path, monkeypatch, demo=False, auth=FULL_AUTH)
    at.user = {"is_logged_in": True, "email": "analyst@au.example"}
    at.run()
    assert at.session_state["viewer"].role == "analyst"
    users.change_role(store.store, ADMIN, "analyst@au.example", "policymaker")
    _next_interaction(at)
    assert at.session_state["viewer"].role == "policymaker"
    assert any("AU · policymaker" in m.value for m in at.sidebar.markdown)
