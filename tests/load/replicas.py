"""Many analysts at once over app replicas: `python -m tests.load.replicas` (or `make load-replicas`).

The served deployment as real processes (tests/deploy/stack.py): one store server (`python -m analytics serve`,
DuckDB 1.5.5 with Quack), app replicas in the served environment, Debian's nginx in front with
deploy/nginx/replicas.conf. Each configuration (N replicas x S sessions, from `--replicas` and `--sessions`) runs
`--sessions` protocol-level sessions (tests/load/protocol.py, one websocket each, each with its own proxy cookie)
that each: sign in as a demo persona, open the Incident explorer, change the category filter (or `--facet`)
`--changes` times with `--think` seconds (+-50%) between, and export the trend chart as a marked PNG.

The machine is shared, so one run of one configuration says little. Every configuration's replicas and nginx
are started once and kept running (idle replicas cost no CPU), and `--rounds` rounds each run every
configuration once, in a rotated order, so a change in the machine's load falls on all of them alike. Each
round records the 1-minute load average before it and sampled during it, and the CPU the rest of the machine
used meanwhile (all CPU minus the store server's, the replicas', nginx's and this process's). The report gives,
per configuration, the median over rounds of p50/p95 per sign-in, filter change and export, and each as a ratio
against the first configuration (one replica) in the same run: the median of the per-round ratios.

All sessions run in this process, on the same 2-core machine as the replicas, nginx and the store server, so
the load generator's own CPU is part of what is measured (it is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from analytics import vocab
from analytics.accounts import identity
from tests.deploy.stack import SERVED_PYTHON, nginx_in_front, replicas_running, start_store_server
from tests.load.protocol import ProtocolSession
from tests.load.run import _machine_cpu_seconds, pause
from tests.servers import ROOT

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
    index: int,
    url: str,
    changes: int,
    think: float,
    out: list[tuple[str, float]],
    problems: list[str],
    round_: int = 0,
    new_questions: bool = False,
    facet: str = "categories",
) -> None:
    """One analyst: sign in, open the explorer, choose `changes` sets of values of one sidebar filter
    (`facet`: categories unless told), export. The sets depend on the session's index and the round: each
    round asks questions no earlier round asked (for up to 5 rounds), so a later round is not served from the
    result cache the earlier ones filled."""
    email = PERSONAS[index % len(PERSONAS)]
    try:
        s = ProtocolSession(url, cookie=f"threat_session={uuid.uuid4().hex}")
        s.start()
        t = time.perf_counter()
        s.click(f"persona_{email}")
        s.switch_page("Incident explorer")
        out.append(("sign_in", time.perf_counter() - t))
        cats = list(vocab.CATEGORIES)
        # Sessions i and i+10 share a persona and an order (four sessions of one person ask the same questions
        # in a 40-session run); with `new_questions` each session's pair is its own, for up to 50 sessions.
        k = (
            (index // len(PERSONAS) + round_) % len(cats)
            if new_questions
            else (index * 3 + round_) % len(cats)
        )
        order = cats[k:] + cats[:k]
        key = f"flt_{facet}"
        for step in range(changes):
            time.sleep(pause(think, index, step))
            widget = s.widget("multiselect", key)
            if facet == "categories":
                wanted = [o for o in widget.options if o.split(" (")[0] in order[: 1 + step % len(order)]]
            else:
                # The options in the sidebar's order, rotated as the categories are: a filter's own counts do
                # not move when only it changes (each facet is counted under the other filters), so the labels
                # chosen at one step are still offered at the next.
                labels = list(widget.options)
                turned = labels[k % len(labels) :] + labels[: k % len(labels)]
                wanted = turned[: 1 + step % len(turned)]
            run = s.select(key, wanted)
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
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _descendants(pid: int) -> list[int]:
    """Processes started by `pid` (nginx's workers, kaleido's Chromium under a replica), so their CPU counts as
    the deployment's, not as the rest of the machine's."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in children:
            out += [child, *_descendants(child)]
    return out


@contextmanager
def load_sampled(every: float = 2.0) -> Iterator[list[float]]:
    """The 1-minute load average every `every` seconds while the block runs."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            samples.append(os.getloadavg()[0])

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield samples
    finally:
        stop.set()
        t.join(5)


class Config:
    """N replicas behind their own nginx, started once and kept for every round."""

    def __init__(self, replicas: int, sessions: int, url: str, pids: list[int]) -> None:
        self.replicas, self.sessions, self.url, self.pids = replicas, sessions, url, pids
        self.rounds: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return f"{self.replicas} replica{'s' if self.replicas > 1 else ''}, {self.sessions} sessions"

    def warm(self) -> None:
        # Two warm-up sessions per replica, so kaleido's start and the first imports are not what is measured.
        for i in range(self.replicas * 2):
            _session(i, self.url, 1, 0, [], [], round_=-1)

    def run_round(self, a: argparse.Namespace, ours: list[int], round_: int) -> dict[str, Any]:
        load_before = os.getloadavg()[0]
        server0 = _cpu(ours[:1])  # the store server comes first
        cpu0, self0, machine0 = _cpu(ours), time.process_time(), _machine_cpu_seconds()
        tree = [*self.pids, *[d for pid in self.pids for d in _descendants(pid)]]
        replicas0 = _cpu(tree)
        out: list[tuple[str, float]] = []
        problems: list[str] = []
        t0 = time.perf_counter()
        with load_sampled() as during:
            threads = [
                threading.Thread(target=_session, args=(i, self.url, a.changes, a.think, out, problems, round_, a.new_questions, a.facet), daemon=True)
                for i in range(self.sessions)
            ]  # fmt: skip
            for i, th in enumerate(threads):
                th.start()
                time.sleep(a.ramp / max(1, self.sessions) * (1 if i else 0))
            for th in threads:
                th.join(1800)
        duration = time.perf_counter() - t0
        machine = _machine_cpu_seconds() - machine0
        ours_cpu = _cpu(ours) - cpu0 + (time.process_time() - self0)
        server_cpu = _cpu(ours[:1]) - server0
        return {
            "load_average_before": round(load_before, 2),
            "load_average_during": {
                "median": round(statistics.median(during), 2) if during else None,
                "max": round(max(during), 2) if during else None,
            },
            "duration_s": round(duration, 1),
            "replicas_cpu_s": round(_cpu(tree) - replicas0, 1),  # with nginx and kaleido's Chromium
            "store_server_cpu_s": round(server_cpu, 1),
            "load_generator_cpu_s": round(time.process_time() - self0, 1),
            # What the rest of the machine (other people's work) took of its cores meanwhile.
            "others_cpu_s": round(machine - ours_cpu, 1),
            "others_cores": round((machine - ours_cpu) / duration, 2),
            **{kind: _stats([s for k, s in out if k == kind]) for kind in KINDS},
            "problems": problems,
        }


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def summarise(configs: list[Config]) -> list[dict[str, Any]]:
    """Per configuration: medians over rounds, and the median of per-round ratios against the first config."""
    base = configs[0]
    out = []
    for c in configs:
        summary: dict[str, Any] = {"replicas": c.replicas, "sessions": c.sessions, "rounds": c.rounds}
        for kind in KINDS:
            summary[kind] = {
                q: _median([r[kind][q] for r in c.rounds if r[kind].get(q) is not None])
                for q in ("p50", "p95")
            }
            summary[kind]["p95_per_round"] = [r[kind].get("p95") for r in c.rounds]
        summary["ratio_vs_first"] = {
            kind: {
                q: _median([
                    r[kind][q] / b[kind][q] for r, b in zip(c.rounds, base.rounds, strict=False)
                    if r[kind].get(q) and b[kind].get(q)
                ])
                for q in ("p50", "p95")
            }
            for kind in KINDS
        }  # fmt: skip
        summary["load_average_before"] = [r["load_average_before"] for r in c.rounds]
        summary["load_average_during_median"] = [r["load_average_during"]["median"] for r in c.rounds]
        summary["others_cores"] = [r["others_cores"] for r in c.rounds]
        summary["problems"] = sum(len(r["problems"]) for r in c.rounds)
        out.append(summary)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.load.replicas", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--incidents", type=int, default=1_000_000)
    p.add_argument(
        "--replicas", default="1,2,4", help="replica counts; the first is the baseline of the ratios"
    )
    p.add_argument("--sessions", default="40", help="session counts (each runs with every replica count)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--changes", type=int, default=10)
    p.add_argument("--think", type=float, default=5.0)
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which the sessions start")
    p.add_argument(
        "--new-questions",
        action="store_true",
        help="no two sessions ask the same question (each its own persona and category order; up to 50 sessions; "
        "use with --rounds 1 and one --sessions count, as later rounds and configurations repeat earlier ones)",
    )
    p.add_argument(
        "--facet",
        choices=("categories", "severities", "sectors"),
        default="categories",
        help="the sidebar filter each session changes: the sidebar's counts under any choice of categories come "
        "from one cached read (incidents.base.facet_rollup); another filter asks the store server at each change",
    )
    p.add_argument(
        "--no-shared-cache",
        action="store_true",
        help="replicas keep only their own result caches (no THREAT_CACHE_DIR)",
    )
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
    server, target = start_store_server(db, secrets, a.workdir / "serve.log", base)
    shapes = [(int(n), int(s)) for s in a.sessions.split(",") for n in a.replicas.split(",")]
    configs: list[Config] = []
    try:
        env = {**base, "THREAT_DB": target, "THREAT_SECRETS": str(secrets), "THREAT_DEMO_MODE": "1",
               "THREAT_TODAY": "2026-11-20"}  # fmt: skip
        with ExitStack() as stack:
            started: dict[int, tuple[str, list[int]]] = {}
            for n, s in shapes:
                if n not in started:
                    work = a.workdir / f"r{n}"
                    # The replicas of one configuration share results (THREAT_CACHE_DIR), as deployed; each
                    # configuration has its own directory, so none reads what another computed.
                    shutil.rmtree(work / "results", ignore_errors=True)  # nothing from an earlier run
                    shared = {} if a.no_shared_cache else {"THREAT_CACHE_DIR": str(work / "results")}
                    replicas = stack.enter_context(replicas_running(n, {**env, **shared}, work))
                    url = stack.enter_context(nginx_in_front(replicas, work / "nginx"))
                    nginx_pid = (
                        int((work / "nginx" / "nginx.pid").read_text())
                        if (work / "nginx" / "nginx.pid").exists()
                        else 0
                    )
                    started[n] = (url, [r.pid for r in replicas] + ([nginx_pid] if nginx_pid else []))
                url, pids = started[n]
                configs.append(Config(n, s, url, pids))
            for c in {c.replicas: c for c in configs}.values():
                c.warm()
            for k in range(a.rounds):
                # Rotate the order each round: the machine's load drifts, and no configuration always goes first.
                order = configs[k % len(configs) :] + configs[: k % len(configs)]
                for c in order:
                    ours = [server.pid, *c.pids, *[d for pid in c.pids for d in _descendants(pid)]]
                    r = c.run_round(a, ours, k)
                    r["round"] = k + 1
                    c.rounds.append(r)
                    brief = {kk: v for kk, v in r.items() if kk != "problems"}
                    print(json.dumps({"config": c.name, **brief, "problems": len(r["problems"])}), flush=True)
    finally:
        server.terminate()
        server.wait(30)
    summary = summarise(configs)
    report = {"incidents": a.incidents, "changes": a.changes, "think_s": a.think, "rounds": a.rounds,
              "shared_cache": not a.no_shared_cache, "new_questions": a.new_questions, "facet": a.facet,
              "cores": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "configs": summary}  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    for r in summary:
        print(f"{r['replicas']} replicas x {r['sessions']} sessions (median of {len(r['rounds'])} rounds): " + "; ".join(
            f"{k} p50 {r[k]['p50']} s p95 {r[k]['p95']} s (x{r['ratio_vs_first'][k]['p95']})" for k in KINDS)
            + f"; load average before {r['load_average_before']}, during {r['load_average_during_median']};"
            f" others' cores {r['others_cores']}; problems {r['problems']}")  # fmt: skip
    return 1 if any(r["problems"] for r in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
