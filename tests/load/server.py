"""A real Streamlit server on a free port over a given store, for load tests and hand-over tests.

The server is a separate process (DuckDB lets one process hold the store), so every store it needs is built
beforehand by another process (`build_store`). Its memory is read from /proc: VmHWM is the peak resident set of
the whole server process (Python, Streamlit, DuckDB's buffer pool), which is what the RSS target is about.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from analytics.demo.generator import build_demo_in_subprocess

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(path: Path, incidents: int, *, samples: int | None = None, seed: int = 11) -> Path:
    """A demo store built by a separate process (so this one never holds the file)."""
    return build_demo_in_subprocess(path, incidents, samples=samples or None, seed=seed)


def proc_status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class AppServer:
    def __init__(
        self, db: Path, *, env: dict[str, str] | None = None, log: Path | None = None, app_root: Path = ROOT
    ) -> None:
        self.db = db
        self.app_root = app_root  # another checkout of the app, for A/B runs of a candidate fix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or ROOT / "artifacts" / f"load-server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "THREAT_DB": str(db),
            "THREAT_DEMO_MODE": "1",
            "THREAT_TODAY": "2026-11-20",
            **(env or {}),
        }
        self.started_at = 0.0
        self.ready_after = 0.0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> AppServer:
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(self.app_root / "app.py"),
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=self.app_root,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        self.ready_after = time.perf_counter() - self.started_at
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"streamlit did not start within {timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def peak_rss_mb(self) -> float:
        return proc_status_mb(self.pid, "VmHWM")

    def rss_mb(self) -> float:
        return proc_status_mb(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
