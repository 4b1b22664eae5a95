"""Hardening in a real Chromium: script payloads stored in incident text never run on any page, and in the
production configuration an error shows no details (no traceback, no paths) while the server log keeps them."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from analytics.access import pages as access
from analytics.store.database import Store
from tests.browser.apps import ProductionApp
from tests.browser.conftest import Server, build_demo_db, sign_in, wait_idle
from tests.servers import ROOT, StreamlitServer, base_env, free_port

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
        wait_idle(page)  # waits only on visible charts, so charts in closed tabs do not hold it
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


# -- clickjacking: no other page may frame the app ----------------------------------------------------------------


class FramedApp(StreamlitServer):
    """The app as `make run` serves it: `streamlit run asgi.py` (app.py behind the security-headers middleware),
    in demo mode with a pinned today; started on construction, stopped with stop()."""

    def __init__(self, db: Path) -> None:
        port = free_port()
        super().__init__(
            "asgi.py", env=base_env(db, demo=True), log=ROOT / "artifacts" / f"server-{port}.log", port=port
        )
        self.start(timeout=60)


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Another site: a static server on another loopback port (another origin). Chromium refuses loopback
    frames in pages of no or public origin whatever the headers, so the framing page must be served from here."""
    root = tmp_path_factory.mktemp("attacker")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=srv.serve_forever, name="attacker", daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _framed_shows_personas(page: Any, attacker: tuple[Path, str], url: str, wait_ms: float) -> bool:
    """Open a page of another origin that frames `url`, and say whether the app drew inside the frame."""
    root, base = attacker
    (root / "index.html").write_text(f'<iframe id="victim" src="{url}/" width="1200" height="900"></iframe>')
    page.goto(base + "/index.html")
    button = page.frame_locator("#victim").get_by_role("button", name="analyst@uk.example", exact=False)
    try:
        button.first.wait_for(timeout=wait_ms)
    except PlaywrightTimeout:
        return False
    return True


def test_another_site_cannot_frame_the_app(
    page: Any, attacker: tuple[Path, str], tmp_path: Path, shots: Path
) -> None:
    db = build_demo_db(tmp_path / "frame.duckdb", incidents=50)
    app = FramedApp(db)
    try:
        assert not _framed_shows_personas(page, attacker, app.url, 10_000)
        # Chromium replaced the refused document with its error page
        assert [f.url for f in page.frames[1:]] == ["chrome-error://chromewebdata/"]
        page.screenshot(path=str(shots / "hardening-frame-refused.png"))
        # the same app opened directly works: sign in and reach the overview through asgi.py
        sign_in(page, app.url, "policy@uk.example")
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=30_000)
    finally:
        app.stop()


def test_framing_control_plain_app_py_has_no_protection(
    page: Any, attacker: tuple[Path, str], server: Server
) -> None:
    """Control: `streamlit run app.py` (no headers) renders inside a frame, so the test above can see a frame
    that loads; production and `make run` use asgi.py."""
    assert _framed_shows_personas(page, attacker, server.url, 30_000)
    assert [f.url for f in page.frames[1:]] == [server.url + "/"]


def test_policymaker_link_search_is_ignored_in_the_browser(page: Any, server: Server, shots: Path) -> None:
    sign_in(page, server.url, "policy@uk.example", path="overview?q=zz-no-record-has-this-zz")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("were ignored", exact=False).wait_for(timeout=30_000)
    assert page.get_by_label("Search title and summary").count() == 0
    assert page.get_by_test_id("stMetricValue").nth(3).inner_text() != "0"
    page.screenshot(path=str(shots / "hardening-policymaker-search-ignored.png"))
