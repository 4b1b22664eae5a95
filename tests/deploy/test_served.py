"""The served store: `python -m analytics serve` holds the file, the CLI and app replicas are Quack clients of it
(THREAT_DB=quack:HOST:PORT, token from the secrets file), and a write through one client is seen by every other,
cached results included (the version row, migration 015)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.deploy.conftest import SERVED_PYTHON, TOKEN, Served
from tests.servers import ROOT


def _version(served: Served) -> tuple[int, int]:
    out = subprocess.run(
        [str(SERVED_PYTHON), "-c",
         "from analytics.store.database import open_store; print(*open_store().data_version())"],
        cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    return int(out[0]), int(out[1])


def test_the_server_migrated_the_store_and_answers_the_cli(served: Served) -> None:
    listing = served.run("export-ceiling").stdout
    assert "UK: TLP:AMBER (default)" in listing
    assert "AU: TLP:AMBER (default)" in listing


def test_a_cli_write_through_the_server_is_seen_by_another_client_and_moves_the_version(
    served: Served,
) -> None:
    before = _version(served)
    served.run("export-ceiling", "--for", "UK", "--tlp", "GREEN")
    after = _version(served)
    assert after[0] == before[0] + 1  # one version row per write transaction, from another process
    assert "UK: TLP:GREEN set by cli" in served.run("export-ceiling").stdout  # a third process reads it


def test_a_replicas_cached_read_follows_a_write_from_another_process(served: Served) -> None:
    probe = subprocess.Popen(
        [str(SERVED_PYTHON), "-m", "tests.deploy.replica_probe"],
        cwd=ROOT, env=served.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert probe.stdin is not None and probe.stdout is not None
    try:
        probe.stdin.write("\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "TLP:AMBER"
        probe.stdin.write("\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "TLP:AMBER"  # cached, same version
        served.run("export-ceiling", "--for", "AU", "--tlp", "CLEAR")  # another process writes
        probe.stdin.write("\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "TLP:CLEAR"  # the cache key moved with the version row
    finally:
        probe.stdin.close()
        probe.wait(30)


def test_a_wrong_token_is_refused_in_one_line(served: Served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "secrets.toml"
    bad.write_text('[store]\ntoken = "not-the-token-0123456789"\n')
    result = subprocess.run(
        [str(SERVED_PYTHON), "-m", "analytics", "export-ceiling"],
        cwd=ROOT, env={**served.env, "THREAT_SECRETS": str(bad)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: the store server at {served.target} did not answer")
    assert len(result.stderr.strip().splitlines()) == 1


def test_serving_a_store_written_by_duckdb_2_is_refused_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The served environment's DuckDB 1.5.5 cannot read a 2.0.1 file: refused, named, untouched."""
    from analytics.store.database import Store

    db = tmp_path / "embedded.duckdb"
    Store(db).close()  # written by this (main) environment's DuckDB 2.0.1
    before = db.read_bytes()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[store]\ntoken = "{TOKEN}"\n')
    result = subprocess.run(
        [str(SERVED_PYTHON), "-m", "analytics", "serve", "--db", str(db), "--secrets", str(secrets)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {db} was written by a newer DuckDB than this environment's 1.5.5. It was left untouched; open "
        "it with the app's main environment (.venv), or build the served store with the served environment "
        "(.venv-served)."
    )
    assert db.read_bytes() == before


def test_a_backup_of_the_served_file_is_made_by_the_store_server(served: Served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The server holds the file, so `backup --db FILE` hands the request to it (as to a running app)."""
    result = served.run("backup", "--db", str(served.db), "--out", str(tmp_path), "--timeout", "120")
    assert "asking the process that holds it to make the backup" in result.stderr
    out = result.stdout
    manifest = json.loads(out.strip().splitlines()[-1])
    assert manifest["schema_version"] >= 15 and manifest["tables"]["incidents"] == 500
    assert manifest["tables"]["data_versions"] >= 1
    assert Path(manifest["path"]).exists()


def test_a_committed_write_survives_a_killed_store_server_and_a_replica_carries_on(served: Served) -> None:
    """SIGKILL of the store server loses no committed write (DuckDB replays its WAL on the next open), and a
    replica process that was reading before the restart reads again after it, the write included."""
    probe = subprocess.Popen(
        [str(SERVED_PYTHON), "-m", "tests.deploy.replica_probe"],
        cwd=ROOT, env=served.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert probe.stdin is not None and probe.stdout is not None
    try:
        served.run("export-ceiling", "--for", "AU", "--tlp", "GREEN")
        probe.stdin.write("\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "TLP:GREEN"
        served.restart(kill=True)
        assert "AU: TLP:GREEN set by cli" in served.run("export-ceiling").stdout
        served.run("export-ceiling", "--for", "AU", "--tlp", "AMBER")  # a write after the restart
        probe.stdin.write("\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "TLP:AMBER"
    finally:
        probe.stdin.close()
        probe.wait(30)


def test_replicas_on_one_machine_share_results_and_follow_a_write(served: Served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two replica processes with one THREAT_CACHE_DIR: what the first computed the second reads without
    computing it again (no entry is rewritten), and a write from a third process moves both to new results."""
    shared = tmp_path / "results"
    env = {**served.env, "THREAT_CACHE_DIR": str(shared)}

    def probe() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(SERVED_PYTHON), "-m", "tests.deploy.replica_probe"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def ask(p: subprocess.Popen[str]) -> str:
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write("\n")
        p.stdin.flush()
        return p.stdout.readline().strip()

    def entries() -> dict[str, int]:
        return {e.name: e.stat().st_mtime_ns for e in shared.glob("*.pickle")}

    first, second = probe(), probe()
    try:
        before = ask(first)
        written = entries()
        assert before.startswith("TLP:") and len(written) == 1
        assert ask(second) == before
        assert entries() == written  # read, not computed and written again
        after = "GREEN" if before == "TLP:CLEAR" else "CLEAR"
        served.run("export-ceiling", "--for", "AU", "--tlp", after)
        assert ask(second) == f"TLP:{after}"  # a new data version: a new key
        assert ask(first) == f"TLP:{after}"
        assert len(entries()) == 2
    finally:
        for p in (first, second):
            assert p.stdin is not None
            p.stdin.close()
            p.wait(30)
