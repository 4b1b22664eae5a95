"""Real Streamlit servers for the tests that need one: a free loopback port, `streamlit run`, and a wait on
`/_stcore/health`.

Load tests, browser tests (demo and production configurations) and the deployment-hardening test each start the
app; they differ only in the entry file, the environment, extra command-line settings and how long a busy
2-core machine may take. Those differences are arguments here; the launching, the health poll and the shutdown
are written once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only: no test server is ever reachable from elsewhere


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def base_env(db: Path, *, demo: bool, today: str | None = "2026-11-20") -> dict[str, str]:
    """This process's environment with the store, demo mode on or off, and (unless None) a pinned today."""
    env = {k: v for k, v in os.environ.items() if k != "THREAT_DEMO_MODE"}
    env["THREAT_DB"] = str(db)
    if demo:
        env["THREAT_DEMO_MODE"] = "1"
    if today is not None:
        env["THREAT_TODAY"] = today
    return env


class StreamlitServer:
    """`streamlit run ENTRY` headless on a free loopback port (or `port`), its output in `log`."""

    def __init__(
        self,
        entry: Path | str,
        *,
        env: dict[str, str],
        log: Path,
        port: int | None = None,
        cwd: Path = ROOT,
        args: Sequence[str] = (),
    ) -> None:
        self.entry = str(entry)
        self.env = env
        self.log = log
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.cwd = cwd
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.entry,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            HOST,
            "--browser.gatherUsageStats",
            "false",
            *self.args,
        ]

    def start(self, *, timeout: float, poll: float = 0.3) -> float:
        """Launch and wait until /_stcore/health answers `ok`; return the seconds that took. A server that exits
        or does not answer within `timeout` is stopped and reported (RuntimeError naming the log)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command(), cwd=self.cwd, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        return time.perf_counter() - started
            except OSError:
                time.sleep(poll)
        self.stop()
        raise RuntimeError(f"streamlit did not start within {timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, wait: float = 10.0) -> None:
        """Terminate, then kill if it has not ended after `wait` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
