"""A small, fast version of the load test (tests/load): 4 protocol-level sessions x 3 filter changes against one
real server on a small store, with backups and sign-ins written during the load. The full run (20 sessions, 1M
incidents, Chromium contexts) is `make load`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.demo.generator import build_demo
from analytics.store.database import Store
from tests.load import run
from tests.load.server import AppServer


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("load") / "load.duckdb"
    s = Store(path)
    build_demo(s, incidents=2000, seed=5)
    s.close()
    return path


@pytest.fixture(scope="module")
def expected(small_db: Path) -> dict[str, dict[str, int]]:
    return run.expected_counts(small_db)  # before the server holds the file


@pytest.fixture(scope="module")
def server(
    small_db: Path, expected: dict[str, dict[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    with AppServer(small_db, log=tmp_path_factory.mktemp("load-log") / "server.log") as s:
        yield s


def test_four_sessions_three_changes_no_errors_no_leaks(
    server: AppServer, expected: dict[str, dict[str, int]], tmp_path: Path
) -> None:
    cfg = run.LoadConfig(
        db=server.db,
        expected=expected,
        sessions=4,
        browser_sessions=0,
        changes=3,
        writes=True,
        write_interval=1.0,
        cold_start=False,
        workdir=tmp_path,
        out=tmp_path / "load.json",
    )
    report = run.run_load(cfg, server)
    assert [p["problem"] for p in report["problems"]] == []
    assert report["protocol"]["n"] == 12  # every change of every session answered, and answered right
    assert report["all_readers"]["p95_s"] > 0
    assert report["probe"]["n"] > 0
    assert report["writes"], "writes happened during the load"
    assert all(w["failed"] == [] for w in report["writes"].values())
    assert report["server_peak_rss_mb"] > 0
    assert (tmp_path / "load.json").exists()


def test_the_checks_catch_another_personas_numbers(
    server: AppServer, expected: dict[str, dict[str, int]]
) -> None:
    """A session shown the AU analyst's numbers while signed in as the UK analyst must be flagged."""
    uk, au = "analyst@uk.example", "analyst@au.example"
    assert expected[uk] != expected[au]
    persona = next(p for p in run.PERSONAS if p[0] == uk)
    log: list[run.Interaction] = []
    honest = run.ProtocolWorker(0, server.url, persona, expected[uk], 1, log, time.perf_counter())
    wrong = run.ProtocolWorker(1, server.url, persona, expected[au], 1, log, time.perf_counter())
    for w in (honest, wrong):
        w.start()
    for w in (honest, wrong):
        w.join()
    by_session = {i.session: i for i in log}
    assert by_session[0].problem == ""
    assert "category counts differ" in by_session[1].problem


def test_percentiles_and_write_windows_are_computed_from_the_log() -> None:
    log = [run.Interaction(0, "protocol", "a", "Overview", k, float(k), 0.1 * (k + 1)) for k in range(20)]
    log += [
        run.Interaction(-1, "probe", "a", "Overview", 0, t, s)
        for t, s in ((1.5, 0.2), (5.0, 1.4), (9.0, 0.3))
    ]
    events = [run.WriteEvent("backup", 4.5, 1.0, True), run.WriteEvent("sign-in", 8.0, 0.2, False, "boom")]
    out = run.summarise(log, events)
    assert out["protocol"] == {"n": 20, "p50_s": 1.05, "p95_s": 1.9, "max_s": 2.0}
    assert out["probe_during_writes"]["n"] == 1 and out["probe_during_writes"]["max_s"] == 1.4
    assert out["probe_outside_writes"]["n"] == 2
    assert out["writes"]["sign-in"]["failed"] == ["boom"]
