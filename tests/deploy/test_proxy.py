"""Two app replicas behind nginx (deploy/nginx/replicas.conf, Debian's nginx), both clients of one served store:
sticky sessions by cookie, the websocket upgraded through the proxy, and a replica killed with SIGKILL costs only
its own sessions."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.deploy.conftest import Served
from tests.deploy.stack import ServedReplica, get, nginx_binary, nginx_in_front, replicas_running
from tests.load.protocol import ProtocolSession
from tests.servers import HOST


@dataclass
class Proxy:
    url: str
    replicas: dict[str, ServedReplica]  # by the address nginx names in X-Replica


@pytest.fixture(scope="module")
def proxy(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    if nginx_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("CI: nginx is missing; `make test` installs it with `make nginx`")
        pytest.skip("nginx is not installed: make nginx (apt-get install nginx-light)")
    work = tmp_path_factory.mktemp("proxy")
    env = {**served.env, "THREAT_DEMO_MODE": "1"}
    with replicas_running(2, env, work) as replicas, nginx_in_front(replicas, work / "nginx") as url:
        yield Proxy(url, {f"{HOST}:{r.port}": r for r in replicas})


def _signed_in(url: str, cookie: str, email: str = "analyst@uk.example") -> ProtocolSession:
    s = ProtocolSession(url, cookie=cookie)
    s.start()
    s.click(f"persona_{email}")
    assert "Incident explorer" in [p.name for p in s.pages]  # signed in: the analyst's navigation
    return s


def _cookie_for(proxy: Proxy, replica: str) -> str:
    """A session cookie nginx hashes to `replica` (new visitors get random ones until one lands there)."""
    for _ in range(200):
        answered, cookie = get(proxy.url + "/_stcore/health")
        if answered == replica:
            return cookie
    raise AssertionError(f"no new visitor was sent to {replica} in 200 tries")


def test_new_visitors_are_spread_and_a_cookie_keeps_them_on_their_replica(proxy: Proxy) -> None:
    seen = {get(proxy.url + "/_stcore/health")[0] for _ in range(24)}
    assert seen == set(proxy.replicas)
    replica, cookie = get(proxy.url + "/")
    assert {get(proxy.url + "/", cookie)[0] for _ in range(12)} == {replica}
    assert get(proxy.url + "/", cookie)[1] == cookie  # the same cookie comes back


def test_sessions_run_over_the_websocket_through_the_proxy_on_both_replicas(proxy: Proxy) -> None:
    for replica in proxy.replicas:
        s = _signed_in(proxy.url, _cookie_for(proxy, replica))
        run = s.switch_page("Incident explorer")
        assert run.status == "FINISHED_SUCCESSFULLY"
        assert not [e for e in s.elements.values() if e.WhichOneof("type") == "exception"]
        s.close()


def test_killing_one_replica_costs_only_its_own_sessions(proxy: Proxy) -> None:
    a, b = sorted(proxy.replicas)
    cookie_a, cookie_b = _cookie_for(proxy, a), _cookie_for(proxy, b)
    on_a, on_b = _signed_in(proxy.url, cookie_a), _signed_in(proxy.url, cookie_b)
    victim = proxy.replicas[a]
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait(10)  # type: ignore[union-attr]
    with pytest.raises(Exception):  # noqa: B017 - the socket closes under it (websockets' or our own error)
        on_a.switch_page("Incident explorer")
    run = on_b.switch_page("Incident explorer")  # the other replica's session goes on, signed in
    assert run.status == "FINISHED_SUCCESSFULLY"
    assert "Incident explorer" in [p.name for p in on_b.pages]
    assert get(proxy.url + "/", cookie_b)[0] == b  # its people stay where they are
    assert get(proxy.url + "/", cookie_a)[0] == b  # the dead replica's people move on, and sign in again
    again = _signed_in(proxy.url, cookie_a)
    assert again.switch_page("Incident explorer").status == "FINISHED_SUCCESSFULLY"
    on_b.close()
    again.close()
