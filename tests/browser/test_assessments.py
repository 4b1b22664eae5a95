"""A joint assessment from first draft to dual approval in Chromium, with a fresh browser context per persona:
a UK analyst drafts and submits, the UK lead and the AU lead sign off, an AU policymaker reads the brief."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import BUSY, rerun, sign_in, wait_idle

TITLE = "Agentic AI misuse against banks, 2027"


def _persona(browser: Any, server: Any, email: str, height: int = 1800) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": height})
    page = context.new_page()
    sign_in(page, server.url, email)
    return context, page


def _fill(page: Any, label: str, text: str) -> None:
    box = page.get_by_test_id("stMain").get_by_label(label, exact=True).first
    box.fill(text)
    with rerun(page):
        box.press("Tab")  # Streamlit commits text on blur


def _pick(page: Any, label: str, option: str | re.Pattern[str]) -> None:
    page.get_by_test_id("stMain").get_by_label(label, exact=True).first.click()
    with rerun(page):
        page.get_by_role("option", name=option).first.click()


def _go(page: Any, title: str) -> None:
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def test_draft_to_dual_approval_with_two_nations(browser, server, shots) -> None:
    # 1. UK analyst drafts, with the checker reacting as they write
    ctx, page = _persona(browser, server, "analyst@uk.example", height=3000)
    _go(page, "Assessments")
    main = page.get_by_test_id("stMain")
    with rerun(page):
        main.get_by_role("button", name="New assessment").click()
    _fill(page, "Title", TITLE)
    _fill(page, "Question this assessment answers", "Will agentic AI misuse against banks rise in 2027?")
    _fill(
        page,
        "Bottom line up front",
        "Agentic AI misuse against UK and Australian banks is likely to rise through 2027.",
    )
    _fill(page, "Judgement", "Criminal groups could adopt agent kits against banks.")
    main.get_by_text("“could”, which carries no probability").first.wait_for(timeout=BUSY)
    _fill(page, "Judgement", "Criminal groups will adopt off-the-shelf agent kits against banks in 2027.")
    _pick(page, "Probability (PHIA yardstick)", "likely (55–75%)")
    with rerun(page):
        main.get_by_test_id("stButtonGroup").get_by_text("moderate", exact=True).click()
    _fill(
        page,
        "Reasoning",
        "Both institutes recorded more agent-driven fraud against banks in each of the last four quarters.",
    )
    main.get_by_text("Find evidence").first.click()
    _fill(page, "Search titles, models, benchmarks or an id", "agent")
    _pick(page, "Evidence", re.compile(r"TLP:(GREEN|CLEAR) · AU and UK"))
    page.keyboard.press("Escape")
    wait_idle(page)
    _fill(page, "Assumptions (one per line)", "Reporting rates by banks stay level")
    _fill(page, "Alternative views (one per line)", "The rise reflects better detection, not more attacks")
    _fill(
        page,
        "Indicators that would change these judgements (one per line)",
        "Bank-reported agent fraud falls",
    )
    main.get_by_text("No problems found.").wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "assessment-editor-analyst-uk.png"))
    with rerun(page):
        main.get_by_role("button", name="Save and submit for review").click()
    main.get_by_text("submitted A-").wait_for(timeout=BUSY)
    url = page.url
    assert "a=" in url
    aid = re.search(r"a=(\d+)", url).group(1)
    ctx.close()

    # 2. UK lead signs off
    ctx, page = _persona(browser, server, "lead@uk.example", height=2200)
    _go(page, "Assessments")
    main = page.get_by_test_id("stMain")
    _pick(page, "Open an assessment", f"A-{aid} · {TITLE}")
    main.get_by_role("heading", name=TITLE).wait_for(timeout=BUSY)
    with rerun(page):
        main.get_by_role("button", name="Sign off this version").click()
    main.get_by_text("Status now: In review").wait_for(timeout=BUSY)
    main.get_by_text("UK lead signed").first.wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "assessment-review-lead-uk.png"))
    ctx.close()

    # 3. AU lead signs off: approved
    ctx, page = _persona(browser, server, "lead@au.example")
    _go(page, "Assessments")
    main = page.get_by_test_id("stMain")
    _pick(page, "Open an assessment", f"A-{aid} · {TITLE}")
    with rerun(page):
        main.get_by_role("button", name="Sign off this version").click()
    main.get_by_text("Status now: Approved").wait_for(timeout=BUSY)
    assert page.get_by_test_id("stException").count() == 0
    ctx.close()

    # 4. An AU policymaker reads the approved brief
    ctx, page = _persona(browser, server, "policy@au.example", height=2200)
    _go(page, "Approved assessments")
    main = page.get_by_test_id("stMain")
    main.get_by_role("heading", name=TITLE).wait_for(timeout=BUSY)
    main.get_by_text("likely · 55–75%").first.wait_for(timeout=BUSY)
    main.get_by_text("Approved", exact=False).first.wait_for(timeout=BUSY)
    assert main.get_by_text("Sign off this version").count() == 0
    page.screenshot(path=str(shots / "assessment-brief-policy-au.png"))
    ctx.close()
