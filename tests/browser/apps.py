"""Start the real app the way production runs it: the repository's .streamlit/config.toml as is (XSRF on,
error details hidden), optional `[auth]` secrets from a file, and no demo mode unless asked for.

tests/browser/conftest.py's Server is for demo-mode page tests (it turns on demo mode and full error details);
the sign-in and hardening tests need the production configuration instead, hence this small launcher.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from analytics.store.database import Store
from tests.servers import StreamlitServer, base_env, free_port

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["ProductionApp", "add_users", "free_port", "write_auth_secrets"]


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
        self.log = ROOT / "artifacts" / f"server-{self.port}.log"
        args = ["--secrets.files", str(secrets_file)] if secrets_file is not None else []
        self.server = StreamlitServer(
            ROOT / "app.py",
            env={**base_env(db, demo=False), **(env or {})},
            log=self.log,
            port=self.port,
            args=args,
        )
        self.server.start(timeout=120)  # a busy 2-core machine starts Streamlit slowly

    def stop(self) -> None:
        self.server.stop()
