"""The served store for the deployment tests: a demo store built and served by `python -m analytics serve` in the
served environment (.venv-served, DuckDB 1.5.5 with Quack; `make served-env`), on a free loopback port.

The tests themselves run in the main environment (DuckDB 2.0.1, which cannot load Quack offline) and drive the
served environment's processes: the server, CLI commands and app replicas, each a real process.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.stack import SERVED_PYTHON
from tests.servers import HOST, ROOT, free_port

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Served:
    target: str
    env: dict[str, str]
    db: Path
    log: Path
    proc: subprocess.Popen[bytes]
    command: list[str]
    server_env: dict[str, str]

    def restart(self, *, kill: bool) -> None:
        """Stop the store server (SIGKILL, or SIGTERM with its checkpoint) and start it again on the same port."""
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(30)
        self.log = self.log.with_name(self.log.stem + "-again.log")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.server_env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT)  # fmt: skip
        wait_for_line(self.log, "serving", self.proc)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`python -m analytics ARGS` in the served environment, as a client of this server."""
        return subprocess.run(
            [str(SERVED_PYTHON), "-m", "analytics", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )


def served_python() -> Path:
    if not SERVED_PYTHON.exists():
        if os.environ.get("CI") or os.environ.get(
            "REQUIRE_BROWSER"
        ):  # the whole suite, as `make test` runs it
            pytest.fail(".venv-served is missing; `make test` builds it with `make served-env`")
        pytest.skip("the served environment is not built: make served-env")
    return SERVED_PYTHON


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"{text!r} did not appear in {log} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    python = served_python()
    work = tmp_path_factory.mktemp("served")
    secrets = work / "secrets.toml"
    secrets.write_text(f'[store]\ntoken = "{TOKEN}"\n')
    db = work / "store.duckdb"
    env = {k: v for k, v in os.environ.items() if k not in ("THREAT_DB", "THREAT_DEMO_MODE")}
    subprocess.run(
        [str(python), "-m", "analytics", "demo", "--db", str(db), "--incidents", "500", "--evals", "5",
         "--samples", "50"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    target = f"quack:{HOST}:{free_port()}"
    log = work / "serve.log"
    command = [
        str(python),
        "-m",
        "analytics",
        "serve",
        "--db",
        str(db),
        "--listen",
        target,
        "--secrets",
        str(secrets),
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for_line(log, "serving", proc)
        client_env = {
            **env,
            "THREAT_DB": target,
            "THREAT_SECRETS": str(secrets),
            "THREAT_TODAY": "2026-11-20",
        }
        served = Served(target, client_env, db, log, proc, command, env)
        yield served
    finally:
        last = served.proc if "served" in locals() else proc
        last.terminate()
        try:
            last.wait(20)
        except subprocess.TimeoutExpired:
            last.kill()
            last.wait(5)
