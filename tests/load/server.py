"""A real Streamlit server on a free port over a given store, for load tests and hand-over tests.

The server is a separate process (DuckDB lets one process hold the store), so every store it needs is built
beforehand by another process (`build_store`). Its memory is read from /proc: VmHWM is the peak resident set of
the whole server process (Python, Streamlit, DuckDB's buffer pool), which is what the RSS target is about.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from analytics.demo.generator import build_demo_in_subprocess
from tests.servers import StreamlitServer, base_env, free_port

ROOT = Path(__file__).resolve().parents[2]


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
        self.env = {**base_env(db, demo=True), **(env or {})}
        self.started_at = 0.0
        self.ready_after = 0.0
        self.server = StreamlitServer(
            self.app_root / "app.py", env=self.env, log=self.log, port=self.port, cwd=self.app_root
        )

    def start(self, timeout: float = 60.0) -> AppServer:
        self.started_at = time.perf_counter()
        # a fine poll: the cold-start time is a measured result
        self.ready_after = self.server.start(timeout=timeout, poll=0.05)
        return self

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.server.proc

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
        self.server.stop(wait=15)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
