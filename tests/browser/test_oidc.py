"""The real OIDC sign-in in Chromium: the app in its production configuration (no demo mode, XSRF on, error
details hidden) signs people in through a loopback OIDC provider (tests/oidc_provider.py).

Proves: an enrolled user arrives as themselves (code flow with PKCE, RS256 id_token checked against the JWKS);
an unknown, a disabled or an unverified email gets the "Not enrolled" page and no data; nothing of the app is
listed or reachable before sign-in, even as the very first request to a fresh server; a user disabled by an
administrator loses access at their next interaction, and the administrator finds all of it in the audit log;
and demo mode cannot be switched on beside OIDC.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from analytics.store.database import Store
from tests.browser.apps import ProductionApp, add_users, free_port, write_auth_secrets
from tests.browser.conftest import BUSY, build_demo_db, track, wait_idle
from tests.oidc_provider import OIDCProvider


class OIDCDeployment:
    def __init__(self, app: ProductionApp, provider: OIDCProvider, db: Path) -> None:
        self.app = app
        self.db = db
        self.provider = provider
        self.url = app.url


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCDeployment]:
    tmp = tmp_path_factory.mktemp("oidc")
    db = build_demo_db(tmp / "oidc.duckdb", incidents=1500)
    add_users(db, [("former@au.example", "Former Analyst", "AU", "analyst", False)])
    port = free_port()
    provider = OIDCProvider(redirect_uris=[f"http://127.0.0.1:{port}/oauth2callback"]).start()
    secrets_file = write_auth_secrets(
        tmp / "secrets.toml",
        port=port,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        metadata_url=provider.metadata_url,
    )
    app = ProductionApp(db, secrets_file=secrets_file, port=port)
    yield OIDCDeployment(app, provider, db)
    app.stop()
    provider.stop()


def oidc_sign_in(page: Any, d: OIDCDeployment, email: str) -> None:
    """Press Sign in, type the email into the provider's form, come back to the app."""
    page.goto(d.url + "/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(d.provider.issuer + "/authorize**", timeout=BUSY)
    page.fill("input[name=login_email]", email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(d.url + "/**", timeout=BUSY)
    page.get_by_text("Sign out").first.wait_for(timeout=BUSY)
    wait_idle(page)


def fill(page: Any, label: str, value: str) -> None:
    """Fill a text input once the rerun has settled (while it runs, the old tab panel can linger beside the new)."""
    field = page.get_by_label(label)
    expect(field).to_have_count(1, timeout=BUSY)
    field.fill(value)


def assert_no_data(page: Any) -> None:
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert page.get_by_test_id("stMetricValue").count() == 0
    assert page.get_by_test_id("stPlotlyChart").count() == 0
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert "TLP:" not in page.inner_text("body")


def test_first_request_to_a_deep_link_shows_only_the_sign_in(page: Any, deployment: OIDCDeployment) -> None:
    # Runs first in this module, so it is the fresh server's very first page load.
    page.goto(f"{deployment.url}/explorer")
    page.get_by_text("not signed in").or_(page.get_by_role("button", name="Sign in")).wait_for(timeout=BUSY)
    wait_idle(page)
    assert "TLP:" not in page.inner_text("body")  # no data either way: the page's own check stopped it
    assert page.get_by_test_id("stSidebarNav").count() == 0, "page files listed before sign-in"


def test_deep_links_before_sign_in_show_only_the_sign_in(page: Any, deployment: OIDCDeployment) -> None:
    page.goto(deployment.url + "/")
    page.get_by_role("button", name="Sign in").wait_for(timeout=BUSY)
    wait_idle(page)
    for path in ("explorer", "admin", "overview", "assessments", ""):
        page.goto(f"{deployment.url}/{path}")
        page.get_by_role("button", name="Sign in").wait_for(timeout=BUSY)
        wait_idle(page)
        assert_no_data(page)
        assert page.get_by_role("button", name="analyst@uk.example", exact=False).count() == 0  # no demo


def test_enrolled_user_signs_in_through_the_provider(
    page: Any, deployment: OIDCDeployment, shots: Path
) -> None:
    before = len(deployment.provider.token_requests)
    oidc_sign_in(page, deployment, "analyst@au.example")
    sidebar = page.get_by_test_id("stSidebar")
    assert "Liam Nguyen" in sidebar.inner_text()
    assert "AU · analyst" in sidebar.inner_text()
    page.get_by_test_id("stMain").get_by_text("TLP:").first.wait_for(timeout=BUSY)
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=BUSY)  # the overview's figures are drawn
    page.screenshot(path=str(shots / "oidc-signed-in-analyst-au.png"))
    # The app used the authorization code flow with PKCE and authenticated itself to the token endpoint.
    token_request = deployment.provider.token_requests[before]
    assert token_request["grant_type"] == "authorization_code"
    assert len(token_request["code_verifier"]) >= 43


@pytest.mark.parametrize(
    ("email", "case"),
    [("stranger@au.example", "not-enrolled"), ("former@au.example", "disabled")],
)
def test_refused_sign_in_shows_not_enrolled_and_no_data(
    page: Any, deployment: OIDCDeployment, shots: Path, email: str, case: str
) -> None:
    oidc_sign_in(page, deployment, email)
    page.get_by_role("heading", name="Not enrolled").wait_for(timeout=BUSY)
    wait_idle(page)
    assert_no_data(page)
    assert email in page.inner_text("body")
    page.screenshot(path=str(shots / f"oidc-refused-{case}.png"))
    # Signing out ends the provider session too and comes back to the sign-in screen.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=BUSY)
    assert ("GET", "/logout") in deployment.provider.requests


def test_unverified_email_is_refused(page: Any, deployment: OIDCDeployment) -> None:
    deployment.provider.extra_claims["policy@uk.example"] = {"email_verified": False}
    try:
        oidc_sign_in(page, deployment, "policy@uk.example")
        page.get_by_role("heading", name="Not enrolled").wait_for(timeout=BUSY)
        wait_idle(page)
        assert_no_data(page)
    finally:
        deployment.provider.extra_claims.clear()


def test_disabled_user_loses_access_at_next_interaction(
    browser: Any, deployment: OIDCDeployment, shots: Path
) -> None:
    viewport = {"width": 1400, "height": 1400}
    lead = track(browser.new_context(viewport=viewport).new_page())
    admin = track(browser.new_context(viewport=viewport).new_page())
    try:
        oidc_sign_in(lead, deployment, "lead@uk.example")
        assert "Tom Hargreaves" in lead.get_by_test_id("stSidebar").inner_text()

        oidc_sign_in(admin, deployment, "admin@joint.example")
        admin.get_by_test_id("stSidebarNav").get_by_text("Administration", exact=True).click()
        wait_idle(admin)
        admin.get_by_role("tab", name="Users").click()
        admin.get_by_test_id("stSelectbox").filter(has_text="User").first.click()
        admin.get_by_role("option", name="lead@uk.example").click()
        wait_idle(admin)
        admin.screenshot(path=str(shots / "admin-users.png"))
        admin.get_by_role("button", name="Disable").click()
        admin.get_by_text("Disabled lead@uk.example.").wait_for(timeout=BUSY)

        # The lead's next interaction (any rerun) finds them disabled.
        lead.get_by_role("button", name="Reset filters").click()
        lead.get_by_role("heading", name="Not enrolled").wait_for(timeout=BUSY)
        wait_idle(lead)
        assert_no_data(lead)

        # The administrator finds the change, and the refused attempt, in the audit log.
        admin.get_by_role("tab", name="Audit log").click()
        fill(admin, "Object or detail contains", "user:lead@uk.example")
        admin.get_by_role("button", name="Search the log").click()
        wait_idle(admin)
        # the disabling only: the search's own entry records which criteria were used, never their text
        admin.get_by_text("1 entry, newest first").wait_for(timeout=BUSY)
        fill(admin, "Object or detail contains", "")
        fill(admin, "Person (email contains)", "lead@uk.example")
        admin.get_by_role("button", name="Search the log").click()
        wait_idle(admin)
        admin.screenshot(path=str(shots / "admin-audit-log.png"))
        admin.get_by_text("2 entries, newest first").wait_for(timeout=BUSY)  # the sign-in, then the refusal
    finally:
        lead.context.close()
        admin.context.close()


def test_demo_mode_cannot_be_on_beside_oidc(page: Any, tmp_path: Path, deployment: OIDCDeployment) -> None:
    db = build_demo_db(tmp_path / "both.duckdb", incidents=50)
    port = free_port()
    secrets_file = write_auth_secrets(
        tmp_path / "secrets.toml",
        port=port,
        client_id="x",
        client_secret=secrets.token_urlsafe(16),  # never a literal: see test_no_secrets_in_tracked_files
        metadata_url=deployment.provider.metadata_url,
    )
    app = ProductionApp(db, secrets_file=secrets_file, port=port, env={"THREAT_DEMO_MODE": "1"})
    try:
        page.goto(app.url)
        page.get_by_text("Sign-in is misconfigured").wait_for(timeout=BUSY)
        assert page.get_by_role("button", name="analyst@uk.example", exact=False).count() == 0
        assert page.get_by_role("button", name="Sign in").count() == 0
        assert_no_data(page)
    finally:
        app.stop()
    assert "Demo mode (THREAT_DEMO_MODE) cannot be on" in app.log.read_text()


def test_audit_log_holds_each_sign_in_and_refusal(page: Any, deployment: OIDCDeployment) -> None:
    # Last in this module: stop the server to read its store (DuckDB lets one process hold the file).
    # `page` is unused but keeps this test in the same browser-parametrised group as the others: without it
    # pytest moves it away from them in a full run, tearing down and rebuilding the module's deployment.
    deployment.app.stop()
    store = Store(deployment.db, read_only=True)
    rows = (
        store.cursor()
        .execute(
            "select email, action, object, json_extract_string(detail, '$.reason') from audit_log "
            "where action in ('sign-in', 'sign-in refused', 'disable user') order by id"
        )
        .fetchall()
    )
    store.close()
    expected = [
        ("analyst@au.example", "sign-in", "", None),
        ("stranger@au.example", "sign-in refused", "", "not enrolled"),
        ("former@au.example", "sign-in refused", "", "disabled"),
        ("unverified:policy@uk.example", "sign-in refused", "", "not enrolled"),
        ("lead@uk.example", "sign-in", "", None),
        ("admin@joint.example", "sign-in", "", None),
        ("admin@joint.example", "disable user", "user:lead@uk.example", None),
        ("lead@uk.example", "sign-in refused", "", "disabled"),
    ]
    # in this order; other tests of the module may add entries between them, and a browser that reconnects
    # starts a new session, which may log the same refusal again
    remaining = iter(rows)
    assert all(any(r == e for r in remaining) for e in expected), rows
