"""Deployment hardening (issue 22, finding 13): what a careless start of the server must not give away.

- `make run` listens on the loopback interface unless the operator names another address (BIND_ADDRESS);
- demo mode (password-less personas, an administrator among them) runs only on a store built as a demo store,
  never on a real one someone pointed THREAT_DB at;
- a browser sign-in (`st.user`) counts only when OIDC is configured: in demo, unconfigured or misconfigured
  mode it signs nobody in;
- every response forbids framing by another site (Content-Security-Policy frame-ancestors, X-Frame-Options),
  checked on a real server started the way `make run` starts it.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.accounts import identity
from analytics.demo.generator import build_demo
from analytics.store.database import Store, open_store
from tests.analytics.accounts.test_identity import FULL_AUTH
from tests.conftest import ROOT, StoreBuilder
from tests.servers import StreamlitServer, base_env

DEMO_ON = {"THREAT_DEMO_MODE": "1"}


def _make_n(*args: str) -> str:
    done = subprocess.run(
        ["make", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ
    )
    joined = done.stdout.replace("\\\n", " ")  # the recipe's continuation lines, as the shell reads them
    return " ".join(next(line for line in joined.splitlines() if "streamlit run" in line).split())


# -- make run binds the loopback interface ----------------------------------------------------------------------


def test_make_run_listens_on_loopback_by_default() -> None:
    line = _make_n()
    assert "--server.address 127.0.0.1" in line, line


def test_make_run_address_is_a_documented_variable() -> None:
    assert "--server.address 0.0.0.0" in _make_n("BIND_ADDRESS=0.0.0.0")
    makefile = (ROOT / "Makefile").read_text()
    assert "BIND_ADDRESS ?= 127.0.0.1" in makefile
    assert "BIND_ADDRESS" in (ROOT / "README.md").read_text() or "BIND_ADDRESS" in makefile.split("run:")[0]


# -- demo mode only on a demo store -------------------------------------------------------------------------------


@pytest.fixture
def real_store(store: StoreBuilder) -> Store:
    """A store with real-looking records and the demo personas enrolled, but not built by the demo generator:
    what an operator gets by pointing THREAT_DB at production data."""
    store.incident(title="A real UK incident", tlp="AMBER", releasable_to=["UK"])
    return store.store


def test_demo_mode_refuses_a_store_that_is_not_a_demo_store(real_store: Store) -> None:
    con = real_store.cursor()
    assert not identity.is_demo_store(con)
    assert identity.auth_mode(None, DEMO_ON, con) == "misconfigured"
    problem = identity.configuration_problem(None, DEMO_ON, con)
    assert "not a demo store" in problem and "python -m analytics demo" in problem
    # the persona picked on the demo screen signs nobody in
    assert identity.signed_in_email("misconfigured", {}, "admin@joint.example") == ""


def test_demo_mode_without_a_store_to_check_is_refused() -> None:
    assert identity.auth_mode(None, DEMO_ON) == "misconfigured"


def test_a_demo_store_stays_one_after_real_data_is_imported(tmp_path: Path) -> None:
    s = open_store(tmp_path / "demo.duckdb")
    build_demo(s, incidents=50)
    assert identity.is_demo_store(s.cursor())
    assert identity.auth_mode(None, DEMO_ON, s.cursor()) == "demo"
    atlas = ROOT.parent / "shared" / "data" / "atlas" / "ATLAS.yaml"
    if atlas.exists():  # what `make run` does after building the demo
        from analytics.ingest.atlas import import_atlas

        import_atlas(s, atlas, actor="cli")
    with s.transaction() as tx:
        tx.execute(
            "insert into incidents (id, title, occurred_on, originator, source, category, severity, tlp, "
            "releasable_to) values ('REAL-1', 'imported', date '2026-01-01', 'UK', 'institute', "
            "'Jailbreak', 3, 'GREEN', ['AU', 'UK'])"
        )
    assert identity.auth_mode(None, DEMO_ON, s.cursor()) == "demo"


def test_users_only_demo_store_is_a_demo_store(tmp_path: Path) -> None:
    s = open_store(tmp_path / "users.duckdb")
    build_demo(s, incidents=0)
    assert identity.is_demo_store(s.cursor())


def test_demo_mode_on_a_real_store_offers_no_personas(
    real_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(real_store.path))
    monkeypatch.setenv("THREAT_DEMO_MODE", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["demo_email"] = "admin@joint.example"  # as if picked before the switch
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Sign-in is misconfigured; ask the operator to check the server log."
    ]
    assert not [b for b in at.button if "@" in b.label]
    assert "viewer" not in at.session_state


# -- st.user counts only in OIDC mode -------------------------------------------------------------------------------

LOGGED_IN = {"is_logged_in": True, "email": "admin@joint.example"}


@pytest.mark.parametrize("mode", ["unconfigured", "demo", "misconfigured"])
def test_a_browser_sign_in_counts_only_in_oidc_mode(mode: Any) -> None:
    assert identity.signed_in_email(mode, LOGGED_IN, None) == ""
    assert identity.signed_in_email("oidc", LOGGED_IN, None) == "admin@joint.example"


def test_unconfigured_app_ignores_a_logged_in_user(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(demo_db))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.implied_oidc = False  # type: ignore[attr-defined]  # see tests/conftest.py: no [auth] section at all
    at.user = {"is_logged_in": True, "email": "admin@joint.example"}
    at.run()
    assert not at.exception
    assert "Sign-in is not configured" in at.error[0].value
    assert "viewer" not in at.session_state
    assert not at.metric


def test_oidc_app_still_signs_in_a_logged_in_user(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Positive control for the test above: the same user with [auth] configured gets in."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(demo_db))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = FULL_AUTH
    at.user = {"is_logged_in": True, "email": "admin@joint.example"}
    at.run()
    assert not at.exception
    assert at.session_state["viewer"].email == "admin@joint.example"


# -- no framing by another site -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server, started with the entry point and address `make run` uses."""
    from analytics.demo.generator import build_demo_in_subprocess

    db = build_demo_in_subprocess(tmp_path_factory.mktemp("frame") / "frame.duckdb", 50)
    entry = _make_n().split("streamlit run ", 1)[1].split()[0]
    server = StreamlitServer(
        entry,
        env=base_env(db, demo=True, today=None),
        log=tmp_path_factory.mktemp("frame-log") / "server.log",
    )
    try:
        server.start(timeout=60)
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/", "/explorer", "/_stcore/health", "/favicon.png"])
def test_every_response_forbids_framing(served: str, path: str) -> None:
    try:
        r = urllib.request.urlopen(served + path, timeout=10)
        headers = r.headers
    except urllib.error.HTTPError as e:  # a 404 must carry the headers too
        headers = e.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (path, dict(headers))
    assert headers.get("X-Frame-Options") == "DENY", (path, dict(headers))
