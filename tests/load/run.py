"""Many analysts at once: `python -m tests.load` (or `make load`) drives concurrent sessions against ONE server.

What it does, in order:
1. Builds (or reuses) a demo store and computes, with its own SQL, what each persona must see (the per-category
   counts the sidebar shows, and the overview's incident total for any set of categories).
2. Cold start: launches Chromium first, then starts the server and times Popen -> /_stcore/health -> a signed-in
   first page with its chart drawn.
3. The load: `--sessions` sessions in total, `--browser-sessions` of them as Playwright contexts in one Chromium
   (real rendering; timed from the click to the redrawn chart) and the rest at the Streamlit protocol level
   (tests/load/protocol.py: a real websocket session each; timed from the rerun request to the end of the run,
   without rendering). Each signs in as one of the seven demo personas, opens one of its pages and changes the
   category filter `--changes` times (adding a category each time, in a per-session order).
   Every answer is checked: no exception or st.error, the sidebar names this persona, the category counts are
   exactly this persona's, and on the overview the incident total is exactly this persona's total for the
   selected categories; anything else is a leak between sessions or a wrong answer.
4. Writes during the load (`--writes`): backups handed to the running app (checkpoint, copy, audit write),
   late sign-ins (audit writes) and, when the app processes its inbox, a CSV import handed over through it.
   A probe session reruns its page every 250 ms throughout, so a write that blocks readers shows up as a slow
   probe run inside the write's time window.
5. Reports p50/p95/max per kind, the probe's behaviour during writes, server peak RSS, and writes a JSON file.

Nothing here is part of `make test` except the small smoke run in tests/test_loadtest_smoke.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from analytics import vocab
from analytics.access.pages import PAGES
from analytics.accounts import identity
from analytics.bench.chromium import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS
from tests.load.protocol import ProtocolError, ProtocolSession
from tests.load.server import ROOT, AppServer, build_store

TODAY = date(2026, 11, 20)
PERSONAS = [(email, name, inst, role) for email, name, inst, role in identity.DEMO_USERS]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--disable-dev-shm-usage"]  # many browsers: /dev/shm is small
_LABEL = re.compile(r"^(?P<value>.+) \((?P<count>[\d,]+)\)$")


@dataclass
class LoadConfig:
    incidents: int = 1_000_000
    db: Path | None = None
    sessions: int = 20
    browser_sessions: int = 4
    changes: int = 10
    think: float = 0.0  # seconds an analyst looks at the result before the next change (jittered +-50%)
    writes: bool = True
    write_interval: float = 4.0
    cold_start: bool = True
    workdir: Path = Path("/tmp/threat-load")
    out: Path | None = None
    server_env: dict[str, str] = field(default_factory=dict)
    expected: dict[str, dict[str, int]] | None = None  # per persona; computed from the store when None
    app_root: Path = ROOT  # the app under test (another checkout for an A/B run of a candidate fix)


@dataclass
class Interaction:
    session: int
    kind: str  # "protocol" | "browser" | "probe"
    persona: str
    page: str
    step: int
    start: float
    seconds: float
    problem: str = ""


@dataclass
class WriteEvent:
    kind: str  # "backup" | "sign-in" | "inbox-import"
    start: float
    seconds: float
    ok: bool
    detail: str = ""


# -- what each persona must see (independent SQL, not the app's functions) ------------------------------------


def expected_counts(db: Path) -> dict[str, dict[str, int]]:
    """Visible incidents per category for each persona, straight from the markings rules in DOMAIN.md."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out: dict[str, dict[str, int]] = {}
        for email, _name, inst, _role in PERSONAS:
            rel = ["AU", "UK"] if inst == "JOINT" else [inst]
            rows = con.execute(
                "select category, count(*) from incidents where list_has_all(releasable_to, ?::varchar[]) "
                "and (tlp <> 'RED' or list_contains(named_recipients, ?)) "
                "and (tlp <> 'AMBER+STRICT' or originator = ?) group by 1",
                [rel, email, inst],
            ).fetchall()
            out[email] = {str(c): int(n) for c, n in rows}
        return out
    finally:
        con.close()


def parse_options(labels: list[str]) -> dict[str, int]:
    out = {}
    for label in labels:
        m = _LABEL.match(label)
        if not m:
            raise ValueError(f"unexpected option label {label!r}")
        out[m["value"]] = int(m["count"].replace(",", ""))
    return out


def pause(think: float, session: int, step: int) -> float:
    """A reproducible think time between 0.5x and 1.5x `think`."""
    return think * (0.5 + ((session * 7919 + step * 104729) % 1000) / 1000)


def category_order(session: int) -> list[str]:
    cats = list(vocab.CATEGORIES)
    k = (session * 3) % len(cats)
    return cats[k:] + cats[:k]


# -- protocol-level sessions ----------------------------------------------------------------------------------


def _check(
    session: ProtocolSession, persona: tuple[str, str, str, str], expected: dict[str, int], picked: list[str]
) -> str:
    problems = session.problems()
    if problems:
        return "; ".join(problems)[:300]
    email, name, _inst, _role = persona
    if not any(name in body for body in session.markdown()):
        return f"sidebar does not name {name}"
    try:
        options = parse_options(list(session.widget("multiselect", "flt_categories").options))
    except (ProtocolError, ValueError) as e:
        return str(e)
    # The app ingests the handed-over CSV (IMPORT_ROWS shared GREEN Jailbreak incidents) at some rerun during
    # the load: a reader must see exactly the store before it or exactly the store after it, never a mix.
    after = {**expected, IMPORT_CATEGORY: expected.get(IMPORT_CATEGORY, 0) + IMPORT_ROWS}
    states = [expected, after]
    if options not in [{k: v for k, v in state.items() if v} for state in states]:
        return f"category counts differ from {email}'s: {options} != {expected}"
    state = states[0] if options == {k: v for k, v in expected.items() if v} else states[1]
    incidents = session.metrics().get("Incidents")
    if incidents is not None and session.page_name == "Overview":
        shown = int(incidents.replace(",", ""))
        want = [sum(st.get(c, 0) for c in picked) if picked else sum(st.values()) for st in (state, *states)]
        if shown != want[0]:
            if shown in want[1:]:
                # This persona's own figures, but the sidebar and the page read the store on either side of
                # the import's commit within one rerun: no leak, a snapshot inconsistency (see the report).
                return f"{MIXED}: overview shows {incidents}, the sidebar's counts are from the other state"
            return f"overview shows {incidents} incidents, {email} may see {want[0]:,} for {picked}"
    return ""


MIXED = "mixed snapshot"
FILTERED_PAGE_TITLES = frozenset(p.title for p in PAGES if p.incident_filters)


class ProtocolWorker(threading.Thread):
    def __init__(
        self,
        index: int,
        url: str,
        persona: tuple[str, str, str, str],
        expected: dict[str, int],
        changes: int,
        log: list[Interaction],
        t0: float,
        think: float = 0.0,
    ) -> None:
        super().__init__(name=f"protocol-{index}", daemon=True)
        self.index, self.url, self.persona, self.expected = index, url, persona, expected
        self.changes, self.log, self.t0, self.think = changes, log, t0, think

    def record(self, page: str, step: int, start: float, seconds: float, problem: str) -> None:
        self.log.append(
            Interaction(
                self.index, "protocol", self.persona[0], page, step, start - self.t0, seconds, problem
            )
        )

    def run(self) -> None:
        page = "?"
        try:
            s = ProtocolSession(self.url)
            s.start()
            s.click(f"persona_{self.persona[0]}")
            # pages that draw the incident filters this session changes (analytics.access.pages says which)
            names = [p.name for p in s.pages if p.name in FILTERED_PAGE_TITLES] or ["Overview"]
            page = names[self.index % len(names)]
            if page != s.page_name:
                s.switch_page(page)
            picked: list[str] = []
            order = [c for c in category_order(self.index) if self.expected.get(c)]
            for step in range(self.changes):
                label_of = {
                    parse_options([o]).popitem()[0]: o
                    for o in s.widget("multiselect", "flt_categories").options
                }
                picked = order[: step + 1] if step < len(order) else order[: (step % len(order)) + 1]
                time.sleep(pause(self.think, self.index, step))
                start = time.perf_counter()
                run = s.select("flt_categories", [label_of[c] for c in picked])
                self.record(page, step, start, run.seconds, _check(s, self.persona, self.expected, picked))
            s.close()
        except Exception as e:  # a failed session is a result, not a crash of the whole test
            self.record(page, -1, time.perf_counter(), 0.0, f"{type(e).__name__}: {e}"[:300])


class Probe(threading.Thread):
    """Reruns one page (no change) every 250 ms: a write that blocks readers shows up here."""

    def __init__(self, url: str, log: list[Interaction], t0: float, stop: threading.Event) -> None:
        super().__init__(name="probe", daemon=True)
        self.url, self.log, self.t0, self.stop_event = url, log, t0, stop

    def run(self) -> None:
        try:
            s = ProtocolSession(self.url)
            s.start()
            s.click("persona_analyst@uk.example")
            while not self.stop_event.is_set():
                start = time.perf_counter()
                r = s.rerun()
                problems = "; ".join(s.problems())
                self.log.append(
                    Interaction(
                        -1,
                        "probe",
                        "analyst@uk.example",
                        s.page_name,
                        0,
                        start - self.t0,
                        r.seconds,
                        problems,
                    )
                )
                time.sleep(0.25)
            s.close()
        except Exception as e:
            self.log.append(
                Interaction(
                    -1,
                    "probe",
                    "analyst@uk.example",
                    "?",
                    -1,
                    time.perf_counter() - self.t0,
                    0.0,
                    f"{type(e).__name__}: {e}"[:300],
                )
            )


class Writer(threading.Thread):
    """Writes through the running app while the readers work: assessment saves, sign-ins, a backup, an inbox
    import."""

    def __init__(
        self, server: AppServer, cfg: LoadConfig, events: list[WriteEvent], t0: float, stop: threading.Event
    ) -> None:
        super().__init__(name="writer", daemon=True)
        self.server, self.cfg, self.events, self.t0, self.stop_event = server, cfg, events, t0, stop

    def timed(self, kind: str, fn: Any) -> None:
        start = time.perf_counter()
        try:
            detail = str(fn())
            ok = True
        except Exception as e:
            detail, ok = f"{type(e).__name__}: {e}"[:300], False
        self.events.append(WriteEvent(kind, start - self.t0, time.perf_counter() - start, ok, detail))

    def backup(self) -> str:
        from analytics.store import backup

        r = backup.request_backup(
            self.server.db, self.cfg.workdir / "backups", actor="loadtest", timeout_s=120
        )
        Path(r.path).unlink(missing_ok=True)  # only the write matters here, not the file
        Path(r.manifest).unlink(missing_ok=True)
        return f"{r.bytes / 1e6:.0f} MB in {r.seconds:.2f} s"

    def sign_in(self) -> str:
        s = ProtocolSession(self.server.url)
        s.start()
        s.click("persona_lead@au.example")
        s.close()
        return "lead@au.example signed in"

    def assessment_save(self) -> str:
        """An analyst opens a new assessment and saves a draft, through the page (a data write)."""
        s = ProtocolSession(self.server.url)
        try:
            s.start()
            s.click("persona_analyst@uk.example")
            s.switch_page("Assessments")
            s.click("as_new")
            title = f"Load-test draft {uuid.uuid4().hex[:6]}"
            s.type_text("ed_title", title)
            s.click("ed_save")
            if s.problems():
                raise RuntimeError("; ".join(s.problems())[:200])
            if not any("Saved" in m for m in s.markdown() + [a.body for a in s.of_type("alert")]):
                raise RuntimeError("no confirmation of the save on the page")
            return f"saved “{title}”"
        finally:
            s.close()

    def run(self) -> None:
        k = 0
        while not self.stop_event.wait(self.cfg.write_interval):
            # Every interval a write through the app: an assessment draft saved (data) or someone signing in
            # (an audit entry); once, a backup of the whole store while everyone works.
            if k == 1:
                self.timed("backup", self.backup)
            elif k % 2 == 0:
                self.timed("assessment save", self.assessment_save)
            else:
                self.timed("sign-in", self.sign_in)
            k += 1


IMPORT_ROWS = 2000
IMPORT_CATEGORY = "Jailbreak"


def hand_over_import(db: Path, workdir: Path, rows: int = IMPORT_ROWS) -> Path | None:
    """A CSV of new incidents handed to the app's inbox, if this build has one."""
    try:
        from analytics.ingest import inbox
    except ImportError:
        return None
    csv = workdir / "load-import.csv"
    run = uuid.uuid4().hex[:8]  # new records each run (a repeated file is refused as duplicates, rightly)
    lines = ["title,occurred_on,category,severity,sectors,countries"]
    for k in range(rows):
        lines.append(
            f"Load-test import {run} {k},2026-11-{1 + k % 19:02d},{IMPORT_CATEGORY},{1 + k % 5},finance,GB"
        )
    csv.write_text("\n".join(lines) + "\n")
    return inbox.hand_over(
        db, csv, kind="csv", actor="loadtest", institute="UK", tlp="GREEN", releasable=["UK", "AU"]
    )


# -- Chromium sessions ----------------------------------------------------------------------------------------

_SIG = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .main-svg')];
  const running = !!document.querySelector('[data-testid="stStatusWidget"]');
  return (running ? 'R' : '') + charts.map(e => e.innerHTML.length + ':' + e.textContent).join('|');
}"""


async def _browser_session(
    browser: Any,
    index: int,
    url: str,
    persona: tuple[str, str, str, str],
    expected: dict[str, int],
    changes: int,
    log: list[Interaction],
    t0: float,
    think: float = 0.0,
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    email = persona[0]
    try:
        await page.goto(url, timeout=120_000)
        await page.get_by_role("button", name=email, exact=False).click(timeout=120_000)
        await page.get_by_test_id("stSidebar").get_by_text("Sign out").wait_for(timeout=120_000)
        await page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=120_000)
        await page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
        )
        order = [c for c in category_order(index) if expected.get(c)]
        for step in range(min(changes, len(order))):
            await asyncio.sleep(pause(think, index, step))
            before = await page.evaluate(_SIG)
            box = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Category")
            await box.locator("input").click()
            await box.locator("input").fill(order[step])
            option = page.get_by_role("option").filter(has_text=order[step]).first
            await option.wait_for(timeout=60_000)
            start = time.perf_counter()
            await page.keyboard.press("Enter")
            problem = ""
            try:
                await page.wait_for_function(
                    f"(before) => {{ const s = ({_SIG})(); return !s.startsWith('R') && s !== before && s !== 'R' + before; }}",
                    arg=before,
                    timeout=60_000,
                    polling=20,
                )
            except Exception as e:
                problem = f"chart not redrawn: {type(e).__name__}"
            seconds = time.perf_counter() - start
            await page.keyboard.press("Escape")
            if await page.get_by_test_id("stException").count():
                problem = "exception on page"
            label = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^\s*Incidents\s*$"))
            metric = page.get_by_test_id("stMetric").filter(has=label).get_by_test_id("stMetricValue")
            if not problem:
                # The chart can redraw before the run is over: read the figures once it is.
                await page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
                )
            if not problem and await metric.count():
                picked = order[: step + 1]
                # Before or after the inbox import of IMPORT_ROWS incidents of IMPORT_CATEGORY, never anything else.
                after = {**expected, IMPORT_CATEGORY: expected.get(IMPORT_CATEGORY, 0) + IMPORT_ROWS}
                wants = {sum(state.get(c, 0) for c in picked) for state in (expected, after)}
                shown = (await metric.inner_text()).strip()
                if int(shown.replace(",", "")) not in wants:
                    problem = f"overview shows {shown}, {email} may see {' or '.join(f'{w:,}' for w in sorted(wants))}"
            log.append(Interaction(index, "browser", email, "Overview", step, start - t0, seconds, problem))
    except Exception as e:
        log.append(
            Interaction(
                index,
                "browser",
                email,
                "Overview",
                -1,
                time.perf_counter() - t0,
                0.0,
                f"{type(e).__name__}: {e}"[:300],
            )
        )
    finally:
        await context.close()


def run_browsers(
    url: str,
    workers: list[tuple[int, tuple[str, str, str, str]]],
    expected: dict[str, dict[str, int]],
    changes: int,
    log: list[Interaction],
    t0: float,
    think: float = 0.0,
) -> None:
    from playwright.async_api import async_playwright

    async def main() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            await asyncio.gather(
                *(
                    _browser_session(browser, i, url, persona, expected[persona[0]], changes, log, t0, think)
                    for i, persona in workers
                )
            )
            await browser.close()

    asyncio.run(main())


async def _cold_start(server: AppServer, email: str) -> dict[str, float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
        await page.goto("about:blank")
        server.start()
        t_ready = time.perf_counter()
        await page.goto(server.url)
        button = page.get_by_role("button", name=email, exact=False)
        await button.wait_for(timeout=120_000)
        t_sign_in_page = time.perf_counter()
        await button.click()
        await page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=120_000)
        await page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
        )
        t_chart = time.perf_counter()
        await browser.close()
    return {
        "server_ready_s": round(t_ready - server.started_at, 3),
        "sign_in_page_s": round(t_sign_in_page - server.started_at, 3),
        "first_page_with_chart_s": round(t_chart - server.started_at, 3),
        "after_sign_in_click_s": round(t_chart - t_sign_in_page, 3),
    }


# -- the whole run --------------------------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "n": len(values),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(p95, 3),
        "max_s": round(ordered[-1], 3),
    }


def run_load(cfg: LoadConfig, server: AppServer | None = None) -> dict[str, Any]:
    """Run the load. With `server` (already started over cfg.db), use it and leave it running."""
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    db = server.db if server else (cfg.db or cfg.workdir / f"load-{cfg.incidents}.duckdb")
    if cfg.db is None and not db.exists():
        t = time.perf_counter()
        build_store(db, cfg.incidents, samples=min(10 * cfg.incidents, 10_000_000))
        print(f"# built {db} ({cfg.incidents:,} incidents) in {time.perf_counter() - t:.1f} s", flush=True)
    expected = cfg.expected or expected_counts(db)
    report: dict[str, Any] = {
        "store": str(db),
        "incidents": sum(expected["admin@joint.example"].values()) if server else duckdb_count(db),
        "sessions": cfg.sessions,
        "browser_sessions": cfg.browser_sessions,
        "protocol_sessions": cfg.sessions - cfg.browser_sessions,
        "changes_per_session": cfg.changes,
        "think_s": cfg.think,
    }
    owned = server is None
    server = server or AppServer(
        db, env=cfg.server_env, log=cfg.workdir / "server.log", app_root=cfg.app_root
    )
    browsers_ok = Path(CHROMIUM).exists()
    try:
        if owned and cfg.cold_start and browsers_ok:
            report["cold_start"] = asyncio.run(_cold_start(server, "analyst@uk.example"))
            print(f"# cold start: {report['cold_start']}", flush=True)
        elif owned:
            server.start()
        log: list[Interaction] = []
        events: list[WriteEvent] = []
        stop = threading.Event()
        cpu0, machine0 = server.cpu_seconds(), _machine_cpu_seconds()
        t0 = time.perf_counter()
        inbox_manifest = hand_over_import(db, cfg.workdir) if cfg.writes else None
        probe = Probe(server.url, log, t0, stop)
        probe.start()
        writer = Writer(server, cfg, events, t0, stop) if cfg.writes else None
        if writer:
            writer.start()
        n_browser = cfg.browser_sessions if browsers_ok else 0
        personas = [PERSONAS[i % len(PERSONAS)] for i in range(cfg.sessions)]
        workers = [
            ProtocolWorker(
                i, server.url, personas[i], expected[personas[i][0]], cfg.changes, log, t0, think=cfg.think
            )
            for i in range(n_browser, cfg.sessions)
        ]
        for w in workers:
            w.start()
        browser_thread = None
        if n_browser:
            browser_thread = threading.Thread(
                target=run_browsers,
                args=(
                    server.url,
                    [(i, personas[i]) for i in range(n_browser)],
                    expected,
                    cfg.changes,
                    log,
                    t0,
                    cfg.think,
                ),
                daemon=True,
            )
            browser_thread.start()
        for w in workers:
            w.join()
        if browser_thread:
            browser_thread.join()
        stop.set()
        probe.join(30)
        if writer:
            writer.join(180)
        report["duration_s"] = round(time.perf_counter() - t0, 1)
        # On one 2-core machine the load generator (Chromium, this process) competes with the server for CPU.
        report["server_cpu_s"] = round(server.cpu_seconds() - cpu0, 1)
        report["machine_cpu_s"] = round(_machine_cpu_seconds() - machine0, 1)
        report["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
        report["server_rss_end_mb"] = round(server.rss_mb(), 1)
        if inbox_manifest is not None:
            report["inbox_import"] = inbox_outcome(inbox_manifest)
    finally:
        if owned:
            server.stop()
    report.update(summarise(log, events))
    if cfg.out:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(
            json.dumps(
                {**report, "interactions": [asdict(i) for i in log], "writes": [asdict(e) for e in events]},
                indent=1,
            )
            + "\n"
        )
    return report


def _machine_cpu_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for k, v in enumerate(fields) if k not in (3, 4))  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def duckdb_count(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("select count(*) from incidents").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def inbox_outcome(manifest: Path) -> str:
    folder = manifest.parent
    stem = manifest.name.split(".")[0]
    for sub in ("done", "refused"):
        if list((folder / sub).glob(f"{stem}*")):
            return sub
    return "not processed (the running app did not pick it up)"


def summarise(log: list[Interaction], events: list[WriteEvent]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("protocol", "browser", "probe"):
        ok = [i.seconds for i in log if i.kind == kind and i.step >= 0 and not i.problem]
        out[kind] = _stats(ok)
    readers = [i.seconds for i in log if i.kind in ("protocol", "browser") and i.step >= 0 and not i.problem]
    out["all_readers"] = _stats(readers)
    out["problems"] = [asdict(i) for i in log if i.problem]
    out["problem_kinds"] = {
        "mixed_snapshot": sum(1 for i in log if i.problem.startswith(MIXED)),
        "other": sum(1 for i in log if i.problem and not i.problem.startswith(MIXED)),
    }
    windows = [(e.start, e.start + e.seconds) for e in events]
    during = [i.seconds for i in log if i.kind == "probe" and any(a <= i.start <= b for a, b in windows)]
    outside = [i.seconds for i in log if i.kind == "probe" and not any(a <= i.start <= b for a, b in windows)]
    out["probe_during_writes"] = _stats(during)
    out["probe_outside_writes"] = _stats(outside)
    out["writes"] = {
        kind: {
            "n": sum(1 for e in events if e.kind == kind),
            "failed": [e.detail for e in events if e.kind == kind and not e.ok],
            **_stats([e.seconds for e in events if e.kind == kind and e.ok]),
        }
        for kind in sorted({e.kind for e in events})
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--incidents", type=int, default=1_000_000)
    p.add_argument("--db", type=Path, help="use this store instead of building one")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--browser-sessions", type=int, default=4)
    p.add_argument("--changes", type=int, default=10)
    p.add_argument("--think", type=float, default=0.0, help="seconds between a session's changes (+-50%%)")
    p.add_argument("--write-interval", type=float, default=4.0)
    p.add_argument("--app-root", type=Path, default=ROOT, help="run the app from another checkout (A/B runs)")
    p.add_argument("--no-writes", action="store_true")
    p.add_argument("--no-cold-start", action="store_true")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/threat-load"))
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "load.json")
    a = p.parse_args(argv)
    cfg = LoadConfig(
        incidents=a.incidents,
        db=a.db,
        sessions=a.sessions,
        browser_sessions=a.browser_sessions,
        changes=a.changes,
        think=a.think,
        write_interval=a.write_interval,
        app_root=a.app_root,
        writes=not a.no_writes,
        cold_start=not a.no_cold_start,
        workdir=a.workdir,
        out=a.out,
    )
    report = run_load(cfg)
    brief = {k: v for k, v in report.items() if k != "problems"}
    print(json.dumps(brief, indent=1))
    for prob in report["problems"][:20]:
        print(
            f"PROBLEM {prob['kind']} session {prob['session']} ({prob['persona']}, {prob['page']}): {prob['problem']}"
        )
    failed_writes = sum(len(w["failed"]) for w in report["writes"].values())
    return 1 if report["problems"] or failed_writes else 0


if __name__ == "__main__":
    sys.exit(main())
