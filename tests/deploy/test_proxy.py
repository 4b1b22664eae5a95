"""Two app replicas behind nginx (deploy/nginx/replicas.conf, Debian's nginx), both clients of one served store:
sticky sessions by cookie, the websocket upgraded through the proxy, a write through one replica's store seen by
the other, and a replica killed with SIGKILL costs only its own sessions."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import SERVED_PYTHON, Served
from tests.load.protocol import ProtocolSession
from tests.servers import HOST, ROOT, StreamlitServer, free_port

CONF = ROOT / "deploy" / "nginx" / "replicas.conf"


class ServedReplica(StreamlitServer):
    """`streamlit run asgi.py` in the served environment (the replicas' DuckDB must load Quack)."""

    def command(self) -> list[str]:
        return [str(SERVED_PYTHON), *super().command()[1:]]


@dataclass
class Proxy:
    url: str
    replicas: dict[str, ServedReplica]


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI: nginx is missing; `make test` installs it with `make nginx`")
        pytest.skip("nginx is not installed: make nginx (apt-get install nginx-light)")
    return found


def _get(url: str, cookie: str = "") -> tuple[str, str]:
    """(X-Replica, Set-Cookie) of a GET through the proxy."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers["X-Replica"], r.headers["Set-Cookie"]


@pytest.fixture(scope="module")
def proxy(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = _nginx()
    work = tmp_path_factory.mktemp("proxy")
    env = {**served.env, "THREAT_DEMO_MODE": "1"}
    replicas = {
        name: ServedReplica(ROOT / "asgi.py", env=env, log=work / f"{name}.log")
        for name in ("replica_a", "replica_b")
    }
    listen = f"{HOST}:{free_port()}"
    conf = CONF.read_text()
    for key, value in {
        "@PREFIX@": str(work),
        "@LISTEN@": listen,
        "@REPLICA_A@": f"{HOST}:{replicas['replica_a'].port}",
        "@REPLICA_B@": f"{HOST}:{replicas['replica_b'].port}",
    }.items():
        conf = conf.replace(key, value)
    (work / "nginx.conf").write_text(conf)
    proc = None
    try:
        for r in replicas.values():
            r.start(timeout=120)
        proc = subprocess.Popen(
            [nginx, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
            stdout=(work / "nginx.out").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://{listen}"
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(url + "/_stcore/health")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        (work / "nginx.out").read_text() + (work / "error.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield Proxy(url, replicas)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        for r in replicas.values():
            r.stop()


def _signed_in(url: str, replica: str, email: str = "analyst@uk.example") -> ProtocolSession:
    s = ProtocolSession(url, cookie=f"threat_replica={replica}")
    s.start()
    s.click(f"persona_{email}")
    assert "Incident explorer" in [p.name for p in s.pages]  # signed in: the analyst's navigation
    return s


def test_new_visitors_are_spread_and_a_cookie_keeps_them_on_their_replica(proxy: Proxy) -> None:
    seen = {_get(proxy.url + "/_stcore/health")[0] for _ in range(24)}
    assert seen == {"replica_a", "replica_b"}
    replica, cookie = _get(proxy.url + "/")
    assert cookie.startswith(f"threat_replica={replica};")
    assert {_get(proxy.url + "/", f"threat_replica={replica}")[0] for _ in range(8)} == {replica}
    assert _get(proxy.url + "/", "threat_replica=127.0.0.1:22")[0] in (
        "replica_a",
        "replica_b",
    )  # forged: ignored


def test_sessions_run_over_the_websocket_through_the_proxy_on_both_replicas(proxy: Proxy) -> None:
    for replica in ("replica_a", "replica_b"):
        s = _signed_in(proxy.url, replica)
        run = s.switch_page("Incident explorer")
        assert run.status == "FINISHED_SUCCESSFULLY"
        assert not [e for e in s.elements.values() if e.WhichOneof("type") == "exception"]
        s.close()


def test_killing_one_replica_costs_only_its_own_sessions(proxy: Proxy) -> None:
    on_a = _signed_in(proxy.url, "replica_a")
    on_b = _signed_in(proxy.url, "replica_b")
    os.kill(proxy.replicas["replica_a"].pid, signal.SIGKILL)
    proxy.replicas["replica_a"].proc.wait(10)  # type: ignore[union-attr]
    with pytest.raises(Exception):  # noqa: B017 - the socket closes under it (websockets' or our own error)
        on_a.switch_page("Incident explorer")
    run = on_b.switch_page("Incident explorer")  # the other replica's session goes on, signed in
    assert run.status == "FINISHED_SUCCESSFULLY"
    assert "Incident explorer" in [p.name for p in on_b.pages]
    again = _signed_in(
        proxy.url, "replica_a"
    )  # the dead replica's people land on its backup and sign in again
    assert again.switch_page("Incident explorer").status == "FINISHED_SUCCESSFULLY"
    on_b.close()
    again.close()
