"""Hardening in a real Chromium: script payloads stored in incident text never run on any page, and in the
production configuration an error shows no details (no traceback, no paths) while the server log keeps them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics import access
from analytics.store import Store
from tests.browser.apps import ProductionApp
from tests.browser.conftest import Server, build_demo_db, sign_in, wait_idle

PAYLOADS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "[click me](javascript:window.__xss=3)",
    '<a href="javascript:window.__xss=4">link</a>',
    '<svg onload="window.__xss=5"></svg>',
    '<a href="https://phish.example/login">official link</a>',
)


def _plant(db: Path) -> None:
    store = Store(db)
    with store.transaction() as tx:
        for k, p in enumerate(PAYLOADS):
            tx.execute(
                "insert into incidents (id, title, summary, occurred_on, reported_on, originator, source, category, "
                "severity, actor_type, sectors, countries, affected_system, developer, status, tlp, releasable_to) "
                "values (?, ?, ?, date '2026-11-10', date '2026-11-11', 'UK', 'institute', ?, 4, ?, ['finance'], "
                "['GB'], ?, ?, 'new', 'GREEN', ['AU', 'UK'])",
                [
                    f"XSS-{k}",
                    f"Payload {p}",
                    f"Summary {p}",
                    f"Category {p}",
                    f"Actor {p}",
                    f"System {p}",
                    f"Dev {p}",
                ],
            )
    store.close()


def _count(page: Any, selector: str) -> int:
    # `*|href` matches href in any namespace: Plotly writes SVG links as xlink:href.
    return int(page.evaluate("(sel) => document.querySelectorAll(sel).length", selector))


@pytest.fixture(scope="module")
def payload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = build_demo_db(tmp_path_factory.mktemp("xss") / "xss.duckdb", incidents=200)
    _plant(db)
    server = Server(db)
    yield server
    server.stop()


def _visit_every_analyst_page(page: Any, server: Server, check: Callable[[Any, str], None]) -> None:
    sign_in(page, server.url, "analyst@uk.example")
    # search for the payload rows so every page works on them
    page.get_by_label("Search title and summary").fill("payload")
    page.keyboard.press("Enter")
    wait_idle(page)
    for spec in access.pages_for("analyst"):
        page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True).click()
        page.get_by_test_id("stMain").get_by_text("TLP:").first.wait_for(timeout=30_000)
        # not wait_idle: some pages keep charts in hidden tabs, which it would wait on forever
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        page.wait_for_timeout(1500)
        check(page, spec.title)


def test_stored_payloads_never_run_on_any_page(page: Any, payload_server: Server, shots: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def inert(page: Any, where: str) -> None:
        assert page.evaluate("() => window.__xss === undefined"), f"a payload ran on {where}"
        assert _count(page, 'a[*|href^="javascript:"]') == 0, where
        assert _count(page, 'img[src="x"]') == 0, where
        assert _count(page, "svg[onload]") == 0, where
        if where == "Incident explorer":
            page.screenshot(path=str(shots / "hardening-payloads-explorer.png"))

    _visit_every_analyst_page(page, payload_server, inert)
    assert dialogs == []


def test_stored_text_never_becomes_a_link_in_a_chart(page: Any, payload_server: Server) -> None:
    found: list[str] = []

    def no_links(page: Any, where: str) -> None:
        if _count(page, 'a[*|href*="phish.example"]'):
            found.append(where)

    _visit_every_analyst_page(page, payload_server, no_links)
    assert found == []


def test_production_errors_show_no_details(page: Any, tmp_path: Path, shots: Path) -> None:
    db = build_demo_db(tmp_path / "err.duckdb", incidents=50)
    # A broken setting makes app.py raise after sign-in: a stand-in for any unexpected error.
    app = ProductionApp(db, env={"THREAT_DEMO_MODE": "1", "THREAT_TODAY": "not-a-date"})
    try:
        page.goto(app.url)
        page.get_by_role("button", name="analyst@uk.example", exact=False).click()
        page.get_by_text("This app has encountered an error").wait_for(timeout=30_000)
        wait_idle(page)
        page.screenshot(path=str(shots / "hardening-production-error.png"))
        body = page.inner_text("body")
        for detail in ("Traceback", "fromisoformat", "not-a-date", "ValueError", "/work/", ".py", "line "):
            assert detail not in body, detail
    finally:
        app.stop()
    log = app.log.read_text()
    assert "Traceback" in log and "not-a-date" in log  # the operator still has the details
