"""Sign in as each kind of persona in Chromium, visit every page they may use, save screenshots."""

from __future__ import annotations

import pytest

from analytics import access
from tests.browser.conftest import sign_in, wait_idle

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
            page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True).click()
            wait_idle(page)
        main = page.get_by_test_id("stMain")
        main.get_by_text("TLP:").first.wait_for(timeout=30_000)
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
    page.get_by_text("Demo mode").wait_for()
    assert page.get_by_role("button", name="analyst@uk.example", exact=False).count() == 1
    assert page.get_by_test_id("stMetricValue").count() == 0
