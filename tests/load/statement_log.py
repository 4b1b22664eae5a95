"""What the store server spends, statement by statement, for one analyst's clicks (issue 21):
`.venv-served/bin/python -m tests.load.statement_log --db SERVED_STORE` (a DuckDB 1.5.5 store; it is copied).

The served deployment's bottleneck is the store server's CPU (issue 21), and a page's cost there is the sum of the
statements its rerun sends. This starts a store server on a copy of a served store, one app replica whose
`QuackCursor.execute` is wrapped (`install`, run inside the replica before Streamlit starts) so that every
statement is logged with who sent it (the first frame in analytics/ outside the store and session modules), its
wall time and the server's CPU meanwhile (the sum of every server thread's run time, /proc/PID/task/*/schedstat,
in nanoseconds), and then drives that replica with protocol-level sessions (tests/load/protocol.py) as the load
test does: each persona signs in, opens the Incident explorer and changes the category filter. One session runs
at a time, so the server's CPU during a statement is that statement's.

The report (JSON, and a table on stdout) gives, per phase (sign-in, explorer, filter change, export), the server CPU, the
replica's own CPU and the wall time of each rerun, and the statements by total server CPU.
Optionally (`--profile`) each rerun of the replica runs under cProfile, and the top functions by own time over
the filter changes are reported (what the replica's Python spends per rerun).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVED_PYTHON = ROOT / ".venv-served" / "bin" / "python"
_SKIP = ("analytics/store/", "analytics/session.py")


def task_ns(pid: int) -> int:
    """CPU time (ns) every thread of `pid` has run so far."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def process_ms(pid: int) -> float:
    """CPU time (ms) `pid` has used so far, threads that have ended included (a Streamlit replica runs each
    script run in a thread of its own, gone from /proc/PID/task once the run is over); 10 ms resolution."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _caller() -> tuple[str, str]:
    """(the analytics function that sent the statement, the page or app line that led to it)."""
    sender, page = "", ""
    for frame in reversed(traceback.extract_stack()[:-2]):
        rel = frame.filename.removeprefix(str(ROOT) + "/")
        if rel == frame.filename:
            continue
        if not sender and rel.startswith("analytics/") and not rel.startswith(_SKIP):
            sender = f"{rel.removesuffix('.py').replace('/', '.')}.{frame.name}"
        if rel.startswith(("pages/", "app.py")):
            page = f"{rel}:{frame.lineno} {frame.name}"
            break
    if not sender:  # sent by the session or store module itself (the data version, the schema version)
        for frame in reversed(traceback.extract_stack()[:-2]):
            rel = frame.filename.removeprefix(str(ROOT) + "/")
            if rel.startswith("analytics/"):
                sender = f"{rel.removesuffix('.py').replace('/', '.')}.{frame.name}"
                break
    return sender, page


def install(log: Path, server_pid: int, profile: bool, statements: bool = True) -> None:
    """In the replica: log every statement sent to the store server (unless not `statements`: the replica's
    own CPU is then measured without the log's reads of /proc), and (with `profile`) run every script run under
    cProfile, its stats dumped per run into log's folder."""
    from analytics.store import served

    if not statements:
        return _profile(log, profile)

    lock = threading.Lock()
    out = log.open("a", buffering=1)
    plain_execute = served.QuackCursor.execute

    def logged(call: Any, text: str, suffix: str = "") -> Any:
        sender, page = _caller()
        t0, c0 = time.time(), task_ns(server_pid)
        try:
            return call()
        finally:
            c1, t1 = task_ns(server_pid), time.time()
            line = {
                "t0": t0,
                "t1": t1,
                "wall_ms": (t1 - t0) * 1e3,
                "server_ms": (c1 - c0) / 1e6,
                "sender": sender + suffix,
                "page": page,
                "sql": " ".join(text.split())[:300],
            }
            with lock:
                out.write(json.dumps(line) + "\n")

    def execute(self: Any, sql: str, parameters: Any = None) -> Any:
        return logged(lambda: plain_execute(self, sql, parameters), sql)

    served.QuackCursor.execute = execute  # type: ignore[method-assign]
    plain_run = served.QuackTransaction._run

    def run(self: Any, text: str) -> None:  # a transaction's reads, guards and its commit text
        logged(lambda: plain_run(self, text), text, " (transaction)")

    served.QuackTransaction._run = run  # type: ignore[method-assign]
    _profile(log, profile)


def _profile(log: Path, profile: bool) -> None:
    """Each script run's own CPU (its thread's, `time.thread_time`) goes to `log.parent/script-runs.jsonl`, so
    the replica's CPU splits into the script run and the rest (the event loop: protobuf, the websocket); with
    `profile`, each run under cProfile too."""
    import cProfile

    from streamlit.runtime.scriptrunner import script_runner

    plain_script = script_runner.ScriptRunner._run_script
    runs = (log.parent / "script-runs.jsonl").open("a", buffering=1)

    def run_script(self: Any, rerun_data: Any) -> Any:
        prof = cProfile.Profile() if profile else None
        t0, c0 = time.time(), time.thread_time()
        if prof is not None:
            prof.enable()
        try:
            return plain_script(self, rerun_data)
        finally:
            if prof is not None:
                prof.disable()
                prof.dump_stats(str(log.parent / f"run-{time.time():.6f}.prof"))
            runs.write(json.dumps({"t0": t0, "script_cpu_ms": (time.thread_time() - c0) * 1e3}) + "\n")

    script_runner.ScriptRunner._run_script = run_script  # type: ignore[method-assign]


def boot(argv: list[str]) -> None:
    """The replica's entry: `install` the log, then `streamlit run asgi.py` on the given port."""
    log, server_pid, profile, port = Path(argv[0]), int(argv[1]), argv[2] == "1", argv[3]
    install(log, server_pid, profile, statements=argv[4] == "1")
    from streamlit.web import cli

    sys.argv = [
        "streamlit",
        "run",
        "asgi.py",
        "--server.headless",
        "true",
        "--server.port",
        port,
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    cli.main()


def _replica(
    env: dict[str, str], log: Path, server_pid: int, port: int, profile: bool, out: Path, statements: bool
) -> Any:
    code = "import sys; sys.path.insert(0, sys.argv[1]); from tests.load import statement_log as s; s.boot(sys.argv[2:])"
    args = [
        str(ROOT),
        str(log),
        str(server_pid),
        "1" if profile else "0",
        str(port),
        "1" if statements else "0",
    ]
    return subprocess.Popen(
        [str(SERVED_PYTHON), "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_health(url: str, proc: Any, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the replica exited")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the replica did not start")


def drive(
    url: str, log: Path, server_pid: int, replica_pid: int, personas: list[str], changes: int
) -> list[dict]:
    """Each persona: sign in (landing page), open the explorer, change the category filter `changes` times,
    export the trend chart as a PNG."""
    from analytics import vocab
    from tests.load.protocol import ProtocolSession

    phases: list[dict] = []

    def timed(name: str, persona: str, fn: Any) -> Any:
        s0, r0, t0 = process_ms(server_pid), process_ms(replica_pid), time.time()
        result = fn()
        t1 = time.time()
        time.sleep(0.3)  # let the replica's after-run work (preload, cache writes) land in this phase
        phases.append(
            {
                "phase": name,
                "persona": persona,
                "t0": t0,
                "t1": time.time(),
                "wall_s": t1 - t0,
                "server_ms": process_ms(server_pid) - s0,
                "replica_ms": process_ms(replica_pid) - r0,
            }
        )
        return result

    cats = list(vocab.CATEGORIES)
    for index, email in enumerate(personas):
        s = ProtocolSession(url, cookie=f"threat_session={uuid.uuid4().hex}")
        s.start()
        timed("sign_in", email, lambda: s.click(f"persona_{email}"))  # noqa: B023
        timed("open_explorer", email, lambda: s.switch_page("Incident explorer"))  # noqa: B023
        k = (index * 3) % len(cats)
        order = cats[k:] + cats[:k]
        for step in range(changes):
            widget = s.widget("multiselect", "flt_categories")
            wanted = [o for o in widget.options if o.split(" (")[0] in order[: 1 + step % len(order)]]
            run = timed("filter_change", email, lambda: s.select("flt_categories", wanted))  # noqa: B023
            if s.problems():
                raise SystemExit(f"{email}: {s.problems()}")
            assert run.status == "FINISHED_SUCCESSFULLY", run.status
        # The trend chart as a marked PNG, as the load test's sessions end (built on click, outside the script).
        png = timed("export", email, lambda: s.download("trend_0__export_png"))  # noqa: B023
        assert png.startswith(b"\x89PNG"), png[:8]
        s.close()
    return phases


PHASES = ("sign_in", "open_explorer", "filter_change", "export")


def summarise(phases: list[dict], statements: list[dict]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name in PHASES:
        mine = [p for p in phases if p["phase"] == name]
        stmts = [s for s in statements if any(p["t0"] <= s["t0"] <= p["t1"] for p in mine)]
        by: dict[str, list[dict]] = collections.defaultdict(list)
        for s in stmts:
            by[s["sender"]].append(s)
        report[name] = {
            "reruns": len(mine),
            "server_ms_median": round(statistics.median(p["server_ms"] for p in mine)),
            "replica_ms_median": round(statistics.median(p["replica_ms"] for p in mine)),
            "wall_s_median": round(statistics.median(p["wall_s"] for p in mine), 3),
            "script_run_ms_median": round(statistics.median(p.get("script_ms", 0.0) for p in mine)),
            "statements_per_rerun": round(len(stmts) / max(1, len(mine)), 1),
            "per_rerun": [
                {
                    k: round(p[k], 3) if isinstance(p[k], float) else p[k]
                    for k in ("persona", "server_ms", "replica_ms", "wall_s")
                }
                for p in mine
            ],
            "statements": sorted(
                (
                    {
                        "sender": k,
                        "count": len(v),
                        "server_ms_total": round(sum(s["server_ms"] for s in v)),
                        "server_ms_per_rerun": round(sum(s["server_ms"] for s in v) / max(1, len(mine)), 1),
                        "wall_ms_median": round(statistics.median(s["wall_ms"] for s in v), 1),
                        "page": v[0]["page"],
                        "sql": v[0]["sql"][:160],
                    }
                    for k, v in by.items()
                ),
                key=lambda r: -r["server_ms_total"],
            ),
        }
    return report


def _profile_top(folder: Path, phases: list[dict], top: int = 25) -> list[str]:
    import io
    import pstats

    runs = [
        p
        for p in folder.glob("run-*.prof")
        if any(
            ph["phase"] == "filter_change" and ph["t0"] - 1 <= float(p.stem[4:]) <= ph["t1"] + 1
            for ph in phases
        )
    ]
    if not runs:
        return []
    stats = pstats.Stats(str(runs[0]))
    for r in runs[1:]:
        stats.add(str(r))
    lines: list[str] = []
    for sort in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats.stream = buf  # type: ignore[attr-defined]
        stats.sort_stats(sort).print_stats(top)
        lines += [f"== {len(runs)} filter-change runs, by {sort} ==", *buf.getvalue().splitlines()]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.load.statement_log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--db", type=Path, required=True, help="a served store (DuckDB 1.5.5); copied, never written"
    )
    p.add_argument("--workdir", type=Path, default=Path("/tmp/threat-statement-log"))
    p.add_argument("--changes", type=int, default=6)
    p.add_argument("--personas", default="analyst@uk.example,lead@au.example,admin@joint.example")
    p.add_argument("--profile", action="store_true", help="cProfile every rerun of the replica")
    p.add_argument(
        "--no-statements", action="store_true", help="no statement log: the replica's own CPU as it is"
    )
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "statement-log.json")
    a = p.parse_args(argv)
    from tests.deploy.stack import start_store_server
    from tests.servers import HOST, free_port

    shutil.rmtree(a.workdir, ignore_errors=True)
    a.workdir.mkdir(parents=True)
    db = a.workdir / "store.duckdb"
    shutil.copyfile(a.db, db)
    secrets = a.workdir / "secrets.toml"
    secrets.write_text(f'[store]\ntoken = "{uuid.uuid4().hex}"\n')
    base = {k: v for k, v in os.environ.items() if k not in ("THREAT_DB", "THREAT_DEMO_MODE")}
    server, target = start_store_server(db, secrets, a.workdir / "serve.log", base)
    replica = None
    log = a.workdir / "statements.jsonl"
    try:
        env = {
            **base,
            "THREAT_DB": target,
            "THREAT_SECRETS": str(secrets),
            "THREAT_DEMO_MODE": "1",
            "THREAT_TODAY": "2026-11-20",
        }
        port = free_port()
        replica = _replica(
            env, log, server.pid, port, a.profile, a.workdir / "replica.log", not a.no_statements
        )
        url = f"http://{HOST}:{port}"
        _wait_health(url, replica)
        time.sleep(3)  # the preload's imports (asgi.py) finish before anything is measured
        load_before = os.getloadavg()[0]
        phases = drive(url, log, server.pid, replica.pid, a.personas.split(","), a.changes)
        load_after = os.getloadavg()[0]
    finally:
        if replica is not None:
            replica.terminate()
            replica.wait(30)
        server.terminate()
        server.wait(60)
    statements = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    script_runs = a.workdir / "script-runs.jsonl"
    for line in script_runs.read_text().splitlines() if script_runs.exists() else []:
        run = json.loads(line)
        for ph in phases:
            if ph["t0"] <= run["t0"] <= ph["t1"]:
                ph["script_ms"] = ph.get("script_ms", 0.0) + run["script_cpu_ms"]
    report = {
        "db": str(a.db),
        "load_average_before": load_before,
        "load_average_after": load_after,
        **summarise(phases, statements),
    }
    if a.profile:
        report["profile"] = _profile_top(a.workdir, phases)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"load average {load_before:.2f} before, {load_after:.2f} after")
    for name in PHASES:
        r = report[name]
        print(
            f"\n## {name}: {r['reruns']} reruns; median server {r['server_ms_median']} ms, replica "
            f"{r['replica_ms_median']} ms (script runs {r['script_run_ms_median']} ms), wall {r['wall_s_median']} s; {r['statements_per_rerun']} statements"
        )
        for s in r["statements"][:15]:
            print(
                f"  {s['server_ms_per_rerun']:8.1f} ms/rerun  x{s['count']:<3} {s['wall_ms_median']:7.1f} ms wall  "
                f"{s['sender']}  <- {s['page']}"
            )
    for line in report.get("profile", [])[:80]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
