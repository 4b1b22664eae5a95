"""Start the real app the way production runs it: the repository's .streamlit/config.toml as is (XSRF on,
error details hidden), optional `[auth]` secrets from a file, and no demo mode unless asked for.

tests/browser/conftest.py's Server is for demo-mode page tests (it turns on demo mode and full error details);
the sign-in and hardening tests need the production configuration instead, hence this small launcher.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from analytics.store.database import Store

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_auth_secrets(
    path: Path, *, port: int, client_id: str, client_secret: str, metadata_url: str
) -> Path:
    """An `[auth]` secrets file for one OIDC provider; the cookie secret is fresh for every run."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{client_id}"\n'
        f'client_secret = "{client_secret}"\n'
        f'server_metadata_url = "{metadata_url}"\n'
    )
    return path


def add_users(db: Path, rows: list[tuple[str, str, str, str, bool]]) -> None:
    """Enrol extra users (email, name, institute, role, active) before a server takes the file's lock."""
    store = Store(db)
    with store.transaction() as tx:
        tx.executemany(
            "insert into users (email, name, institute, role, active) values (?, ?, ?, ?, ?)", rows
        )
    store.close()


class ProductionApp:
    """`streamlit run app.py` on a free loopback port with production settings."""

    def __init__(
        self,
        db: Path,
        *,
        secrets_file: Path | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if k != "THREAT_DEMO_MODE"}
        full_env.update({"THREAT_DB": str(db), "THREAT_TODAY": "2026-11-20", **(env or {})})
        args = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ]
        if secrets_file is not None:
            args += ["--secrets.files", str(secrets_file)]
        self.log = ROOT / "artifacts" / f"server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=full_env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.time() + 120  # a busy 2-core machine starts Streamlit slowly
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start; see {self.log}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
