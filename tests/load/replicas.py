"""Many analysts at once over app replicas: `python -m tests.load.replicas` (or `make load-replicas`).

The served deployment as real processes (tests/deploy/stack.py): one store server (`python -m analytics serve`,
DuckDB 1.5.5 with Quack), N app replicas in the served environment, Debian's nginx in front with
deploy/nginx/replicas.conf. For each N in `--replicas` (1 first, the baseline), `--sessions` protocol-level
sessions (tests/load/protocol.py, one websocket each, each with its own proxy cookie) each: sign in as a demo
persona, open the Incident explorer, change the category filter `--changes` times with `--think` seconds
(+-50%) between, and export the trend chart as a marked PNG. p50/p95 per sign-in, filter change and export,
and each as a ratio against one replica in the same run, go to `--out` (JSON) and stdout.

All sessions run in this process, on the same 2-core machine as the replicas, nginx and the store server, so
the load generator's own CPU is part of what is measured (it is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from analytics import vocab
from analytics.accounts import identity
from tests.deploy.stack import SERVED_PYTHON, nginx_in_front, replicas_running
from tests.load.protocol import ProtocolSession
from tests.load.run import pause
from tests.servers import HOST, ROOT, free_port

PERSONAS = [u[0] for u in identity.DEMO_USERS if u[3] in ("analyst", "lead", "admin")]
KINDS = ("sign_in", "filter_change", "export")


def _stats(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    xs = sorted(xs)
    return {
        "n": len(xs),
        "p50": round(statistics.median(xs), 3),
        "p95": round(xs[min(len(xs) - 1, int(0.95 * len(xs)))], 3),
        "max": round(xs[-1], 3),
    }


def _session(
    index: int, url: str, changes: int, think: float, out: list[tuple[str, float]], problems: list[str]
) -> None:
    email = PERSONAS[index % len(PERSONAS)]
    try:
        s = ProtocolSession(url, cookie=f"threat_session={uuid.uuid4().hex}")
        s.start()
        t = time.perf_counter()
        s.click(f"persona_{email}")
        s.switch_page("Incident explorer")
        out.append(("sign_in", time.perf_counter() - t))
        cats = list(vocab.CATEGORIES)
        k = (index * 3) % len(cats)
        order = cats[k:] + cats[:k]
        for step in range(changes):
            time.sleep(pause(think, index, step))
            widget = s.widget("multiselect", "flt_categories")
            wanted = [o for o in widget.options if o.split(" (")[0] in order[: 1 + step % len(order)]]
            run = s.select("flt_categories", wanted)
            if s.problems():
                problems.append(f"session {index}: {s.problems()[0]}")
            out.append(("filter_change", run.seconds))
        time.sleep(pause(think, index, changes))
        t = time.perf_counter()
        png = s.download("trend_0__export_png")
        if not png.startswith(b"\x89PNG"):
            problems.append(f"session {index}: export is not a PNG")
        out.append(("export", time.perf_counter() - t))
        s.close()
    except Exception as e:  # a failed session is a result, reported, not a crash of the run
        problems.append(f"session {index} ({email}): {type(e).__name__}: {e}")


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_config(n: int, env: dict[str, str], work: Path, a: argparse.Namespace) -> dict[str, Any]:
    with (
        replicas_running(n, env, work / f"r{n}") as replicas,
        nginx_in_front(replicas, work / f"r{n}" / "nginx") as url,
    ):
        # One warm-up session per replica, so kaleido's start and the first imports are not what is measured.
        warm: list[tuple[str, float]] = []
        for i in range(n * 2):
            _session(i, url, 1, 0, warm, [])
        pids = [r.pid for r in replicas]
        cpu0, self0 = _cpu(pids), time.process_time()
        out: list[tuple[str, float]] = []
        problems: list[str] = []
        t0 = time.perf_counter()
        threads = [
            threading.Thread(target=_session, args=(i, url, a.changes, a.think, out, problems), daemon=True)
            for i in range(a.sessions)
        ]
        for i, th in enumerate(threads):
            th.start()
            time.sleep(a.ramp / max(1, a.sessions) * (1 if i else 0))
        for th in threads:
            th.join(1800)
        return {
            "replicas": n,
            # The machine is shared: its 1-minute load average at the end says how contended the run was.
            "load_average_end": round(os.getloadavg()[0], 1),
            "duration_s": round(time.perf_counter() - t0, 1),
            "replicas_cpu_s": round(_cpu(pids) - cpu0, 1),
            "load_generator_cpu_s": round(time.process_time() - self0, 1),
            **{kind: _stats([s for k, s in out if k == kind]) for kind in KINDS},
            "problems": problems,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.load.replicas", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--incidents", type=int, default=1_000_000)
    p.add_argument("--replicas", default="1,2,4")
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--changes", type=int, default=10)
    p.add_argument("--think", type=float, default=5.0)
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which the sessions start")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/threat-load-replicas"))
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "load-replicas.json")
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    db = a.workdir / f"served-{a.incidents}.duckdb"
    secrets = a.workdir / "secrets.toml"
    secrets.write_text(f'[store]\ntoken = "{uuid.uuid4().hex}"\n')
    base = {k: v for k, v in os.environ.items() if k not in ("THREAT_DB", "THREAT_DEMO_MODE")}
    if not db.exists():
        subprocess.run([str(SERVED_PYTHON), "-m", "analytics", "demo", "--db", str(db), "--incidents",
                        str(a.incidents)], cwd=ROOT, env=base, check=True)  # fmt: skip
    target = f"quack:{HOST}:{free_port()}"
    server = subprocess.Popen(
        [str(SERVED_PYTHON), "-m", "analytics", "serve", "--db", str(db), "--listen", target, "--secrets", str(secrets)],
        cwd=ROOT, env=base, stdout=(a.workdir / "serve.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    results: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 120
        while "serving" not in (a.workdir / "serve.log").read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((a.workdir / "serve.log").read_text())
            time.sleep(0.2)
        env = {**base, "THREAT_DB": target, "THREAT_SECRETS": str(secrets), "THREAT_DEMO_MODE": "1",
               "THREAT_TODAY": "2026-11-20"}  # fmt: skip
        for n in [int(x) for x in a.replicas.split(",")]:
            r = run_config(n, env, a.workdir, a)
            r["store_server_cpu_s"] = round(_cpu([server.pid]), 1)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "problems"}), flush=True)
    finally:
        server.terminate()
        server.wait(30)
    base_r = results[0]
    for r in results:
        r["ratio_vs_first"] = {
            kind: {q: round(r[kind][q] / base_r[kind][q], 2) for q in ("p50", "p95") if base_r[kind].get(q)}
            for kind in KINDS
            if r[kind].get("n")
        }
    report = {"incidents": a.incidents, "sessions": a.sessions, "changes": a.changes, "think_s": a.think,
              "cores": os.cpu_count(), "configs": results}  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    for r in results:
        print(f"{r['replicas']} replicas: " + "; ".join(
            f"{k} p50 {r[k].get('p50')} s p95 {r[k].get('p95')} s (x{r['ratio_vs_first'].get(k, {}).get('p95')})"
            for k in KINDS) + f"; problems {len(r['problems'])}")  # fmt: skip
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
