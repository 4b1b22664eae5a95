"""The served deployment as real processes, for the deployment tests and `make load`: the store server
(`python -m analytics serve`), N app replicas in the served environment, and Debian's nginx in front of them
with deploy/nginx/replicas.conf."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from deploy.nginx.render import render
from tests.servers import HOST, ROOT, StreamlitServer, free_port

SERVED_PYTHON = ROOT / ".venv-served" / "bin" / "python"


class ServedReplica(StreamlitServer):
    """`streamlit run asgi.py` in the served environment (the replicas' DuckDB must load Quack)."""

    def command(self) -> list[str]:
        return [str(SERVED_PYTHON), *super().command()[1:]]

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_store_server(
    db: Path, secrets: Path, log: Path, env: dict[str, str], timeout: float = 180
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m analytics serve` for `db` on a free loopback port, in the served environment, for the load
    tools; returns once it says it is serving: its process and the `quack:HOST:PORT` its clients name. If it
    exits or does not serve within `timeout`, it is stopped and its log is the error."""
    target = f"quack:{HOST}:{free_port()}"
    command = [str(SERVED_PYTHON), "-m", "analytics", "serve", "--db", str(db), "--listen", target,
               "--secrets", str(secrets)]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while "serving" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(log.read_text(errors="replace"))
        time.sleep(0.2)
    return proc, target


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def get(url: str, cookie: str = "") -> tuple[str, str]:
    """(the replica that answered, the proxy's session cookie as `threat_session=…`) of a GET through the proxy.
    X-Replica lists every replica nginx tried ("dead, live" after a failure); the last one answered."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        cookies = [c.split(";")[0] for c in r.headers.get_all("Set-Cookie") or []]
        session = next(c for c in cookies if c.startswith("threat_session="))
        return r.headers["X-Replica"].split(", ")[-1], session


@contextmanager
def nginx_in_front(replicas: Sequence[StreamlitServer], work: Path) -> Iterator[str]:
    """nginx on a free loopback port in front of these replicas; yields its URL."""
    nginx = nginx_binary()
    assert nginx is not None, "nginx is not installed (make nginx)"
    listen = f"{HOST}:{free_port()}"
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(render([f"{HOST}:{r.port}" for r in replicas], listen=listen, prefix=work))
    proc = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=(work / "nginx.out").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://{listen}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(url + "/_stcore/health")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((work / "nginx.out").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def replicas_running(
    n: int, env: dict[str, str], work: Path, timeout: float = 180
) -> Iterator[list[ServedReplica]]:
    started: list[ServedReplica] = []
    try:
        for i in range(n):
            r = ServedReplica(ROOT / "asgi.py", env=env, log=work / f"replica-{i}.log")
            started.append(r)
            r.start(timeout=timeout)
        yield started
    finally:
        for r in started:
            r.stop()
