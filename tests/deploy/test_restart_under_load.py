"""The store server stopped (SIGTERM, and SIGKILL) and started again while analysts write through an app
replica: no write the app acknowledged is lost, a session that acts during the outage gets an answer (an
error on its page) within seconds rather than hanging, and the same session writes again after the restart.

The writers are protocol-level sessions (tests/load/protocol.py) on one replica in the served environment, each
saving views from the sidebar in a loop ("Saved views": a name, "Save view"). A save is acknowledged when its
rerun shows the toast naming it; afterwards every acknowledged name must be in the store, read by a fresh
client after the restart. The test fails if the server's WAL is removed while it is down (tried: the saves
acknowledged since the last checkpoint are missing), which is what a server that acknowledged before it made
a write durable would look like.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.deploy.conftest import SERVED_PYTHON, Served
from tests.deploy.stack import ServedReplica, replicas_running
from tests.load.protocol import ProtocolSession
from tests.servers import ROOT

WRITERS = 4
OUTAGE_S = 3.0
# Longest a rerun may take during the outage: the replica must answer with an error, not wait for the server.
NO_HANG_S = 15.0


@dataclass
class Outcome:
    at: float  # time.monotonic() when the save was sent
    seconds: float
    name: str  # "" for a rerun that only redraws the page after a failed one
    acknowledged: bool
    error: str = ""


class Writer(threading.Thread):
    def __init__(self, url: str, email: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.email, self.stop_event = url, email, stop
        self.outcomes: list[Outcome] = []
        self.fatal = ""

    def run(self) -> None:
        try:
            s = ProtocolSession(self.url, timeout=NO_HANG_S * 2)
            s.start()
            s.click(f"persona_{self.email}")
            while not self.stop_event.is_set():
                self.outcomes.append(self.save(s))
                time.sleep(0.2)
            s.close()
        except Exception as e:  # a hung or broken session is the finding: reported by the test
            self.fatal = f"{type(e).__name__}: {e}"

    def save(self, s: ProtocolSession) -> Outcome:
        """One save from the sidebar; its outcome as the page showed it."""
        name = f"restart {uuid.uuid4().hex[:10]}"
        at = time.monotonic()
        if not s.of_type("text_input"):  # the last rerun failed before drawing the sidebar: draw it again
            s.rerun()
            return Outcome(at, time.monotonic() - at, "", False, "; ".join(s.problems()))
        s.type_text("sv_name", name)
        if not s.problems():
            s.click("sv_save")
        acknowledged = any(name in t.body for t in s.of_type("toast"))
        return Outcome(at, time.monotonic() - at, name, acknowledged, "; ".join(s.problems()))


def failed(writers: list[Writer]) -> bool:
    return any(w.fatal or not w.is_alive() for w in writers)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.2)


def stored_view_names(served: Served) -> set[str]:
    out = subprocess.run(
        [str(SERVED_PYTHON), "-c",
         "from analytics.store.database import open_store\n"
         "for (n,) in open_store().cursor().execute('select name from saved_views').fetchall(): print(n)"],
        cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return set(out.splitlines())


@pytest.fixture(scope="module")
def replica(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedReplica]:
    env = {**served.env, "THREAT_DEMO_MODE": "1"}
    with replicas_running(1, env, tmp_path_factory.mktemp("replica")) as replicas:
        yield replicas[0]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_acknowledged_write_is_lost_when_the_store_server_restarts_under_load(
    served: Served, replica: ServedReplica, how: signal.Signals
) -> None:
    stop = threading.Event()
    emails = ["analyst@uk.example", "analyst@au.example", "lead@uk.example", "lead@au.example"]
    writers = [Writer(replica.url, emails[i % len(emails)], stop) for i in range(WRITERS)]
    for w in writers:
        w.start()
    # Conditions, not sleeps: on a busy machine a save takes from 0.5 s to several seconds.
    wait_until(
        lambda: all(any(o.acknowledged for o in w.outcomes) for w in writers) or failed(writers),
        "writes under way",
    )
    served.proc.send_signal(how)
    served.proc.wait(60)
    down_at = time.monotonic()
    # The writers keep clicking against a server that is gone, until each has been told it failed.
    wait_until(
        lambda: all(any(o.at >= down_at and o.error for o in w.outcomes) for w in writers) or failed(writers),
        "error on every session's page",
    )
    time.sleep(OUTAGE_S)
    # The outage ends when the new server process starts: a page run that ended before then met no server. One
    # that ended between then and `up_at` (when the server's log says it serves) may have met the new server
    # already, so it counts as neither: a page run takes 0.1 s once its reads are cached.
    restart_at = time.monotonic()
    served.restart(kill=True)  # the process is gone already: this starts it again on the same port
    up_at = time.monotonic()
    wait_until(
        lambda: (
            all(any(o.acknowledged and o.at > up_at for o in w.outcomes) for w in writers) or failed(writers)
        ),
        "every session writing again after the restart",
    )
    stop.set()
    for w in writers:
        w.join(NO_HANG_S * 3)

    assert [w.fatal for w in writers if w.fatal or w.is_alive()] == []
    outcomes = [o for w in writers for o in w.outcomes]
    acknowledged = {o.name for o in outcomes if o.acknowledged}
    missing = acknowledged - stored_view_names(served)
    assert missing == set(), f"{len(missing)} acknowledged saves are not in the store after the restart"

    # Whatever a session did while the server was gone, its page said in words that the store server did not
    # answer (StoreUnavailable, not Streamlit's redacted exception), quickly; nothing was acknowledged.
    during = [o for o in outcomes if down_at <= o.at and o.at + o.seconds < restart_at]
    assert len(during) >= WRITERS, "the sessions did not act while the store server was down"
    assert [o for o in during if o.acknowledged or not o.error] == []
    assert [o.error for o in during if "store server" not in o.error or "exception:" in o.error] == []
    assert max(o.seconds for o in outcomes if o.at >= down_at) < NO_HANG_S
    for w in writers:  # every session, not only new ones, writes again once the server is back
        assert any(o.acknowledged and o.at > up_at for o in w.outcomes), w.email
