"""Demo mode in a real Chromium (issue 20): a persona survives a reload, and a demo server reached from another
machine's address answers with a refusal, never the persona list."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.browser.conftest import BUSY, Server, build_demo_db, sign_in, wait_idle
from tests.servers import ROOT, StreamlitServer, base_env, free_port


def _outside_address() -> str | None:
    """This machine's address on its network (not loopback), as another machine would reach it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_a_demo_persona_survives_a_reload(page: Any, server: Server) -> None:
    sign_in(page, server.url, "analyst@au.example")
    assert "persona=analyst%40au.example" in page.url or "persona=analyst@au.example" in page.url
    page.reload()
    page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=BUSY)
    wait_idle(page)
    assert page.get_by_test_id("stSidebar").get_by_text("Liam Nguyen").is_visible()
    assert page.get_by_role("button", name="analyst@uk.example", exact=False).count() == 0


def test_demo_mode_refuses_connections_from_another_machine(page: Any, tmp_path: Any) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    db = build_demo_db(tmp_path / "demo.duckdb", incidents=200)
    port = free_port()
    srv = StreamlitServer(
        ROOT / "asgi.py",
        env=base_env(db, demo=True),
        log=ROOT / "artifacts" / f"server-{port}.log",
        port=port,
        args=["--server.address", "0.0.0.0"],  # as `make run BIND_ADDRESS=0.0.0.0` would
    )
    srv.start(timeout=120)
    try:
        page.goto(f"http://{outside}:{port}/")
        page.get_by_text("Demo mode answers only on the machine it runs on").wait_for(timeout=BUSY)
        assert page.get_by_role("button", name="analyst@uk.example", exact=False).count() == 0
        page.goto(f"http://{outside}:{port}/?persona=admin@joint.example")
        page.get_by_text("Demo mode answers only on the machine it runs on").wait_for(timeout=BUSY)
        assert page.get_by_test_id("stSidebar").get_by_text("Sam Taylor").count() == 0
        page.goto(f"http://127.0.0.1:{port}/")  # the same server, from this machine
        page.get_by_role("button", name="analyst@uk.example", exact=False).wait_for(timeout=BUSY)
    finally:
        srv.stop()


def test_a_policymaker_following_an_analysts_link_is_told_why(page: Any, server: Server, shots: Any) -> None:
    page.goto(server.url + "/")  # a fresh server's very first request runs before app.py's navigation exists
    page.get_by_role("button", name="policy@au.example", exact=False).wait_for(timeout=BUSY)
    link = page.context.new_page()
    link.set_viewport_size({"width": 1400, "height": 1000})
    link.goto(server.url + "/explorer?cat=Jailbreak&q=leak")  # an analyst's link, followed before sign-in
    link.get_by_role("button", name="policy@au.example", exact=False).click(timeout=BUSY)
    note = link.get_by_text("The link you followed opens the Incident explorer page, which is for analysts")
    note.wait_for(timeout=BUSY)
    wait_idle(link)
    assert link.get_by_role("heading", name="Overview").first.is_visible()
    link.screenshot(path=str(shots / "narrowed-link-policy.png"))


def test_a_fresh_servers_first_request_to_a_deep_link_keeps_its_page(page: Any, tmp_path: Any) -> None:
    """The app as `make run` serves it (asgi.py), and the link is the first request the new server ever gets:
    after sign-in the person is on the linked page with its filters, not on the overview (asgi.py says why)."""
    db = build_demo_db(tmp_path / "fresh.duckdb", incidents=300)
    port = free_port()
    srv = StreamlitServer(
        ROOT / "asgi.py",
        env=base_env(db, demo=True),
        log=ROOT / "artifacts" / f"server-{port}.log",
        port=port,
    )
    srv.start(timeout=120)
    try:
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/explorer?cat=Jailbreak&sev=5")
        page.get_by_role("button", name="analyst@uk.example", exact=False).click(timeout=BUSY)
        page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=BUSY)
        main = page.get_by_test_id("stMain")
        main.get_by_role("heading", name="Incident explorer").first.wait_for(timeout=BUSY)
        wait_idle(page)
        assert "cat=Jailbreak" in page.url and "sev=5" in page.url
        assert "/explorer" in page.url
    finally:
        srv.stop()
