"""Real Chromium (Debian's, never a downloaded build) against a real Streamlit server on a free port.

The server gets its own demo store built in a subprocess, because DuckDB lets only one process hold a file.
Without Chromium these tests skip, unless REQUIRE_BROWSER=1 (as in CI), where they fail instead.

Waiting: a browser test waits on conditions the page exposes, never on time (CI runs on a busy 2-core machine, where
a page can take many seconds longer than on an idle one). `wait_idle` waits until Streamlit's run is over (the app
root's `data-test-script-state` is `notRunning`, no element left stale) and every visible chart is drawn; `rerun`
wraps an action that makes a run (a click on a widget, a page link, a stateful tab) and waits for the server's
"script finished" message of that run before `wait_idle`, because right after a click the page is still idle from
the run before. (The running indicator, stStatusWidget, shows only after a run has lasted 500 ms: its absence
proves nothing.) Every wait has the generous BUSY timeout; an idle machine never waits for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from analytics.bench.chromium import CHROMIUM_ARGS
from analytics.demo.generator import build_demo_in_subprocess
from tests.servers import StreamlitServer, base_env, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "screenshots"
BUSY = 120_000  # ms: the timeout of every wait; a condition that holds ends the wait at once


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}: apt-get install -y chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {"executable_path": CHROMIUM, "args": list(CHROMIUM_ARGS), "headless": True}


@pytest.fixture
def page(context: Any) -> Any:
    """pytest-playwright's page, followed (see `track`) so `rerun` can see the server's messages."""
    return track(context.new_page())


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": {"width": 1400, "height": 1800}, "accept_downloads": True}


class Server:
    """The demo-mode app for page tests, with full error details so a failing page shows its traceback."""

    def __init__(self, db: Path, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.port = free_port()
        self.log = ROOT / "artifacts" / f"server-{self.port}.log"
        self.server = StreamlitServer(
            ROOT / "app.py",
            env={**base_env(db, demo=True), **(env or {})},
            log=self.log,
            port=self.port,
            args=["--client.showErrorDetails", "full"],
        )
        self.url = self.server.url
        self.server.start(timeout=120)  # a busy 2-core machine starts Streamlit slowly

    def stop(self) -> None:
        self.server.stop()


def build_demo_db(path: Path, incidents: int = 3000) -> Path:
    return build_demo_in_subprocess(path, incidents)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = build_demo_db(tmp_path_factory.mktemp("browser") / "browser.duckdb")
    s = Server(db)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def shots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def sign_in(page: Any, base_url: str, email: str, path: str = "") -> None:
    """Open the app in demo mode and pick the persona with this email."""
    track(page)
    page.goto(base_url + "/" + path)
    page.get_by_role("button", name=email, exact=False).click(timeout=BUSY)
    page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=BUSY)
    wait_idle(page)


IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
    if (document.querySelector('[data-stale="true"]')) return false;
    // charts in a closed tab are never drawn: only the visible ones must be
    return Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
        .filter(c => c.checkVisibility())
        .every(c => c.querySelector('.main-svg'));
}"""


def wait_idle(page: Any, timeout: float = BUSY) -> None:
    """Wait until every run the page asked for is over, no element is stale and every visible chart is drawn.

    On a tracked page "asked for" is exact: a rerun request the browser sent with no "script finished" after it
    means a run is still to come, however idle the page looks now. Right after an action the request may not be
    seen yet: wrap an action that makes a run in `rerun` instead; wait_idle is for settling after navigation or
    after an action that may or may not make a run (an expander, a plain tab), followed by a wait on what it shows."""
    tracker = _TRACKERS.get(id(page))
    if tracker is not None and tracker.pending():
        with tracker.sockets[-1].expect_event("framereceived", predicate=_run_finished, timeout=timeout):
            pass
    page.wait_for_function(IDLE, timeout=timeout)


OPEN_AND_STILL = (
    """(el) => el.querySelector('details').open && el.getAnimations({subtree: true}).length === 0"""
)


def open_expander(page: Any, expander: Any, timeout: float = BUSY) -> None:
    """Open a closed expander and wait until it has finished opening. A click while its content still slides in
    lands where the content was a frame earlier, so on a busy machine a button inside was clicked without effect."""
    details = expander.locator("details").first
    if details.get_attribute("open") is None:
        expander.locator("summary").first.click()
    details.wait_for(state="visible", timeout=timeout)
    page.wait_for_function(OPEN_AND_STILL, arg=expander.first.element_handle(), timeout=timeout)


class _Tracker:
    """A page's websockets (newest last) and, in the order seen, the last rerun request sent and run finished."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.seen = 0
        self.last_request = 0
        self.last_finished = 0

    def pending(self) -> bool:
        return bool(self.sockets) and self.last_request > self.last_finished

    def follow(self, ws: Any) -> None:
        self.sockets.append(ws)
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload: Any) -> None:
        self.seen += 1
        if isinstance(payload, bytes) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            self.last_request = self.seen

    def _received(self, payload: Any) -> None:
        self.seen += 1
        if _run_finished(payload):
            self.last_finished = self.seen


_TRACKERS: dict[int, _Tracker] = {}  # id(page) -> its tracker


def track(page: Any) -> Any:
    """Follow the page's websockets (call before its first goto): `rerun` and `wait_idle` read what they carry."""
    if id(page) not in _TRACKERS:
        _TRACKERS[id(page)] = tracker = _Tracker()
        page.on("websocket", lambda ws: tracker.follow(ws))
        page.on("close", lambda _: _TRACKERS.pop(id(page), None))
    return page


def _run_finished(payload: Any) -> bool:
    if not isinstance(payload, bytes):
        return False
    msg = ForwardMsg.FromString(payload)
    return (
        msg.WhichOneof("type") == "script_finished"
        and msg.script_finished != ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
    )


@contextmanager
def rerun(page: Any, timeout: float = BUSY) -> Iterator[None]:
    """Around an action that makes Streamlit run the script: wait for the server to finish that run, then for the
    page to settle (`wait_idle`). Without this, a wait right after a click sees the previous run's idle page."""
    tracker = _TRACKERS.get(id(page))
    if tracker is None or not tracker.sockets:
        raise RuntimeError("rerun(page): the page is not tracked; call track(page) before its first goto")
    with tracker.sockets[-1].expect_event("framereceived", predicate=_run_finished, timeout=timeout):
        yield
    wait_idle(page, timeout)
