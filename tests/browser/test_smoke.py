"""Sign in as each kind of persona in Chromium, visit every page they may use, save screenshots."""

from __future__ import annotations

import pytest

from analytics.access import pages as access
from tests.browser.conftest import BUSY, rerun, sign_in, wait_idle

PERSONAS = ["analyst@uk.example", "policy@au.example", "admin@joint.example"]


@pytest.mark.parametrize("email", PERSONAS)
def test_every_page_renders_for_persona(page, server, shots, email: str) -> None:
    sign_in(page, server.url, email)
    role = {
        "analyst@uk.example": "analyst",
        "policy@au.example": "policymaker",
        "admin@joint.example": "admin",
    }[email]
    for spec in access.pages_for(role):
        if len(access.pages_for(role)) > 1:  # Streamlit shows no navigation for a single page
            with rerun(page):
                page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True).click()
        main = page.get_by_test_id("stMain")
        main.get_by_text("TLP:").first.wait_for(timeout=BUSY)
        assert page.get_by_test_id("stException").count() == 0
        page.screenshot(
            path=str(
                shots
                / f"{spec.title.lower().replace(' ', '-')}-{email.split('@')[0]}-{email.split('@')[1][:2]}.png"
            )
        )
    # pages outside the role are not in the navigation
    nav = page.get_by_test_id("stSidebarNav")
    titles = nav.inner_text() if nav.count() else ""

    for spec in access.PAGES:
        if role not in spec.roles:
            assert spec.title not in titles


def test_unknown_persona_is_not_a_thing_in_the_browser(page, server) -> None:
    page.goto(server.url)
    page.get_by_text("Demo mode").wait_for(timeout=BUSY)
    # The warning is drawn before the persona buttons of the same run: wait for the button itself (on a busy
    # machine the run can still be sending it when the page first reads idle).
    persona = page.get_by_role("button", name="analyst@uk.example", exact=False)
    persona.wait_for(timeout=BUSY)
    wait_idle(page)
    assert persona.count() == 1
    assert page.get_by_test_id("stMetricValue").count() == 0


def test_a_link_followed_before_sign_in_opens_its_page_and_filters_after(page, server) -> None:
    # (The very first request a fresh server gets runs a page file without app.py: see analytics/session.py.)
    page.goto(server.url)
    page.get_by_text("Demo mode").wait_for(timeout=BUSY)
    page.goto(server.url + "/explorer?cat=Jailbreak&sev=5")
    page.get_by_text("Demo mode").wait_for(timeout=BUSY)
    assert page.get_by_test_id("stMetricValue").count() == 0  # nothing of the page before sign-in
    page.get_by_role("button", name="analyst@uk.example", exact=False).click()
    page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=BUSY)
    wait_idle(page)
    page.get_by_role("heading", name="Incident explorer").wait_for(timeout=BUSY)
    sidebar = page.get_by_test_id("stSidebar")
    category = sidebar.get_by_test_id("stMultiSelect").filter(has_text="Category")
    assert "Jailbreak" in category.inner_text()
    assert "/explorer" in page.url and "cat=Jailbreak" in page.url and "sev=5" in page.url


def test_a_link_to_a_page_outside_the_role_lands_on_the_overview(page, server) -> None:
    page.goto(server.url + "/explorer?cat=Jailbreak")
    page.get_by_role("button", name="policy@uk.example", exact=False).click()
    page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=BUSY)
    wait_idle(page)
    page.get_by_role("heading", name="Overview").wait_for(timeout=BUSY)
    assert page.get_by_test_id("stException").count() == 0
    assert "Incident explorer" not in page.get_by_test_id("stSidebar").inner_text()
