"""Benchmark harness: `python -m analytics bench [--sizes 100000,1000000,10000000] [--json FILE]`.

For each store size it builds a synthetic store (the demo generator: N incidents and up to 10M eval samples),
then, for every registered case (each page's main interaction, imports, exports):

- the product's own code path, median of N runs after a warm-up (server-side recompute: queries + figures);
- peak RSS of this process while doing so, and the memory the case itself needed (peak minus resident before);
- the raw time of the case's heaviest single SQL statement (the floor: ratio_vs_raw = ours / raw);
- a naive version that loads the table into pandas and filters there, measured in the same run, with its own
  memory (ratio_vs_pandas = pandas time / ours; mem_ratio_vs_pandas = pandas memory / ours);
- for cases with a page, the AppTest page run: app.py signed in as the bench persona, switched to the page,
  median of reruns after filter changes. analytics never imports Streamlit (import-linter), and DuckDB lets
  one process hold the store, so this runs in a subprocess (analytics/bench/page_runs.py) after the store is closed.

Cases register themselves with `@case(...)` in analytics/bench/<feature>_case.py (listed in _load_cases). The names in
STABLE_NAMES are what dashboards and CI read; `--json FILE` writes, per case and size, exactly
{"name", "size", "median_ms", "peak_rss_mb", "ratio_vs_pandas", "ratio_vs_raw"} (null where a ratio does not
apply); `--details FILE` writes every measurement, `--markdown FILE` a report with the machine described.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from analytics.access.viewer import Viewer
from analytics.demo import generator as demo
from analytics.store.database import Store, duckdb_config

BENCH_VIEWER = Viewer("analyst@uk.example", "Bench Analyst", "UK", "analyst")
BENCH_TODAY = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[2]  # the repository: analytics/bench/harness.py -> ../..

# The record names other tools rely on; each page's main interaction plus the import and export paths.
STABLE_NAMES: tuple[str, ...] = (
    "overview.recompute",
    "explorer.recompute",
    "evaluations.compare",
    "matrix.recompute",
    "import.csv_100k",
    "export.chart_png",
)
JSON_KEYS: tuple[str, ...] = ("name", "size", "median_ms", "peak_rss_mb", "ratio_vs_pandas", "ratio_vs_raw")

# The page whose AppTest run goes with a case, unless the case names one itself.
DEFAULT_PAGES: dict[str, str] = {
    "overview.recompute": "pages/overview.py",
    "explorer.recompute": "pages/explorer.py",
    "evaluations.compare": "pages/evaluations.py",
    "matrix.recompute": "pages/matrix.py",
}

# Targets from the issues, in ms, by case and store size (incidents). Checked in the markdown report.
TARGET_MS: dict[str, dict[int, float]] = {
    "overview.recompute": {1_000_000: 250, 10_000_000: 1500},
    "explorer.recompute": {1_000_000: 250, 10_000_000: 1500},
    "evaluations.compare": {1_000_000: 500, 10_000_000: 500},  # 10M eval samples in both stores
    "evaluations.sample_list": {1_000_000: 500, 10_000_000: 500},  # a 10,000-sample run among 10M samples
    "evaluations.sample_open": {1_000_000: 200, 10_000_000: 200},
    "matrix.recompute": {1_000_000: 300, 10_000_000: 1500},
    "sidebar.facets": {
        1_000_000: 250,
        10_000_000: 1500,
    },  # part of every filter change, as explorer.recompute
    "import.csv_100k": {size: 5000 for size in (100_000, 1_000_000, 10_000_000)},
    "export.chart_png": {size: 500 for size in (100_000, 1_000_000, 10_000_000)},
    # Issue 20: first page after sign-in ≤ 2 s on a cold server, the click landing as the sign-in screen appears
    # (the case's own 5,000-incident store whatever the size).
    "app.cold_start": {size: 2000 for size in (1_000, 10_000, 100_000, 1_000_000, 10_000_000)},
}
PAGE_CASES = ("overview.recompute", "explorer.recompute", "evaluations.compare", "matrix.recompute")


@dataclass
class BenchContext:
    store: Store
    size: int
    viewer: Viewer = BENCH_VIEWER
    today: date = BENCH_TODAY
    workdir: Path = Path(tempfile.gettempdir())


@dataclass(frozen=True)
class BenchCase:
    name: str
    run: Callable[[BenchContext], Any]
    pandas: Callable[[BenchContext], Any] | None = None
    raw: Callable[[BenchContext], Any] | None = None
    runs: int | None = None  # override for slow cases
    page: str | None = None  # page file for the AppTest page run (default: DEFAULT_PAGES)


CASES: dict[str, BenchCase] = {}


def case(
    name: str,
    *,
    pandas: Callable[[BenchContext], Any] | None = None,
    raw: Callable[[BenchContext], Any] | None = None,
    runs: int | None = None,
    page: str | None = None,
) -> Callable[[Callable[[BenchContext], Any]], Callable[[BenchContext], Any]]:
    def register(fn: Callable[[BenchContext], Any]) -> Callable[[BenchContext], Any]:
        CASES[name] = BenchCase(name, fn, pandas, raw, runs, page or DEFAULT_PAGES.get(name))
        return fn

    return register


# -- measuring -----------------------------------------------------------------------------------------------


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    return _status_mb("VmRSS") or 0.0


@dataclass(frozen=True)
class Timed:
    """What a case returns when the wait a person has is only part of its run: the cold start's click to first
    page, not the server start and the browser launch around it. `median_ms` takes this instead of the call's."""

    seconds: float


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm-up: first-run effects (imports, plan caches) are not what a user waits for twice
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
        times.append((out.seconds if isinstance(out, Timed) else elapsed) * 1000)
    return statistics.median(times)


@dataclass(frozen=True)
class Measured:
    median_ms: float
    peak_rss_mb: float  # of the whole process during the runs
    mem_mb: float  # peak minus resident memory just before: what the case itself needed


def measure(fn: Callable[[], Any], runs: int) -> Measured:
    gc.collect()
    before = rss_mb()
    _reset_peak()
    ms = median_ms(fn, runs)
    peak = peak_rss_mb()
    return Measured(ms, peak, max(peak - before, 0.0))


def _load_cases() -> None:
    # Named, not globbed: a case module that moves or is renamed fails here loudly instead of silently
    # dropping out of the benchmark. Imported late because each case module imports this one.
    from analytics.bench import (  # noqa: F401
        briefings_case,
        cold_start_case,
        evals_case,
        exchange_case,
        explorer_case,
        matrix_case,
        store_case,
    )


BUILD_MEMORY_LIMIT = "8GB"  # for generating the store only; the cases run under the store's own limit


def build_store(size: int, workdir: Path, *, samples: int | None = None, reuse: bool = False) -> Store:
    """A demo store of `size` incidents (and min(10 x size, 10M) eval samples unless given).

    The generator inserts everything in one transaction, which needs more than the app's 1 GB at 10M incidents,
    so it runs in a subprocess with BUILD_MEMORY_LIMIT; the store is then opened here with the app's settings."""
    path = workdir / f"bench-{size}.duckdb"
    if reuse and path.exists():
        store = Store(path)
        row = store.cursor().execute("select count(*) from incidents").fetchone()
        if row and row[0] == size:
            return store
        store.close()
    # Scores only (no sample text): drawing prompts and transcripts for 10M samples takes most of an hour here,
    # and the sample drill-down cases add the 10,000-sample run with text they read (evals_case).
    demo.build_demo_in_subprocess(
        path,
        size,
        samples=samples or min(10 * size, 10_000_000),
        seed=11,
        memory_limit=BUILD_MEMORY_LIMIT,
        sample_text=False,
    )
    return Store(path)


def page_runs(db: Path, pages: list[str], runs: int) -> dict[str, Any]:
    """AppTest runs of these pages over `db`, in a subprocess (see the module docstring)."""
    script = Path(__file__).with_name("page_runs.py")
    if not script.exists():
        return {"_error": "analytics/bench/page_runs.py is not present in this checkout"}
    cmd = [sys.executable, "-m", "analytics.bench.page_runs", "--db", str(db), "--runs", str(runs)]
    for p in pages:
        cmd += ["--page", p]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"_error": f"page runs failed: {tail[0]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# The naive pandas versions load whole tables into memory: at 10M incidents the explorer's took more than 20 GB
# and was killed by the kernel on the 23 GB project machine. Above this size they are not run (ratio: null).
PANDAS_MAX_SIZE = 1_000_000


def run_case(
    c: BenchCase, ctx: BenchContext, runs: int, *, pandas_max_size: int = PANDAS_MAX_SIZE
) -> dict[str, Any]:
    n = c.runs or runs
    ours = measure(functools.partial(c.run, ctx), n)
    naive = c.pandas if ctx.size <= pandas_max_size else None
    pandas = measure(functools.partial(naive, ctx), max(3, n // 2)) if naive else None
    raw_ms = median_ms(functools.partial(c.raw, ctx), n) if c.raw else None
    return {
        "name": c.name,
        "size": ctx.size,
        "median_ms": round(ours.median_ms, 2),
        "peak_rss_mb": round(ours.peak_rss_mb, 1),
        "ratio_vs_pandas": _ratio(pandas.median_ms, ours.median_ms) if pandas else None,
        "ratio_vs_raw": _ratio(ours.median_ms, raw_ms),
        "runs": n,
        "mem_mb": round(ours.mem_mb, 1),
        "raw_ms": round(raw_ms, 2) if raw_ms is not None else None,
        "pandas_ms": round(pandas.median_ms, 2) if pandas else None,
        "pandas_mem_mb": round(pandas.mem_mb, 1) if pandas else None,
        "mem_ratio_vs_pandas": _ratio(pandas.mem_mb, max(ours.mem_mb, 1.0)) if pandas else None,
        "page": c.page,
        "page_run_ms": None,
        "page_first_ms": None,
    }


def run(
    sizes: list[int],
    *,
    json_path: str | None = None,
    runs: int = 7,
    markdown: str | None = None,
    details: str | None = None,
    only: list[str] | None = None,
    pages: bool = True,
    page_runs_n: int = 5,
    store_dir: str | None = None,
    pandas_max_size: int = PANDAS_MAX_SIZE,
    merge: bool = False,
) -> int:
    """Run the benchmark; returns a process exit code. `only` takes case-name patterns (fnmatch)."""
    _load_cases()
    chosen = [c for c in CASES.values() if not only or any(fnmatch.fnmatch(c.name, p) for p in only)]
    if not chosen:
        raise ValueError(f"no benchmark case matches {only}; known: {', '.join(sorted(CASES))}")
    machine = describe_machine()
    records: list[dict[str, Any]] = []
    app_process: dict[int, dict[str, Any]] = {}
    if merge and details and Path(details).exists():
        # Keep the figures of the sizes not run this time (a 10M run alone takes most of an hour).
        earlier = json.loads(Path(details).read_text())
        records = [r for r in earlier.get("records", []) if r["size"] not in sizes]
        app_process = {int(k): v for k, v in earlier.get("app_process", {}).items() if int(k) not in sizes}
    with tempfile.TemporaryDirectory(prefix="threat-bench-") as tmp:
        stores = Path(store_dir) if store_dir else Path(tmp)
        stores.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            t0 = time.perf_counter()
            try:
                store = build_store(size, stores, reuse=store_dir is not None)
            except (RuntimeError, duckdb.Error) as e:
                print(f"# {e}", flush=True)
                continue
            print(f"# store of {size:,} incidents ready in {time.perf_counter() - t0:.1f} s", flush=True)
            workdir = Path(tmp) / f"work-{size}"
            workdir.mkdir(exist_ok=True)
            ctx = BenchContext(store, size, workdir=workdir)
            size_records = []
            for c in chosen:
                try:
                    rec = run_case(c, ctx, runs, pandas_max_size=pandas_max_size)
                except Exception as e:  # one broken case must not hide the others' figures
                    print(f"# {c.name} at {size:,} failed: {type(e).__name__}: {e}", flush=True)
                    continue
                size_records.append(rec)
                print(json.dumps({k: rec[k] for k in JSON_KEYS}), flush=True)
            db_path = store.path
            store.close()
            wanted = sorted({r["page"] for r in size_records if r["page"] and (ROOT / r["page"]).exists()})
            if pages and wanted:
                measured = page_runs(db_path, wanted, page_runs_n)
                app_process[size] = {
                    "peak_rss_mb": measured.get("_process", {}).get("peak_rss_mb"),
                    **{k: v for k, v in measured.items() if k.startswith("_") and k != "_process"},
                }
                for rec in size_records:
                    got = measured.get(rec["page"] or "")
                    if isinstance(got, dict):
                        rec["page_run_ms"] = got.get("median_ms")
                        rec["page_first_ms"] = got.get("first_ms")
                        rec["page_problems"] = got.get("problems", [])
                print(f"# page runs at {size:,}: {json.dumps(measured)}", flush=True)
            records.extend(size_records)
            # Written after every size, so a long run that fails later keeps what it measured.
            _write_outputs(records, machine, app_process, json_path, details, markdown)
    return 0


def _write_outputs(
    records: list[dict[str, Any]],
    machine: dict[str, Any],
    app_process: dict[int, dict[str, Any]],
    json_path: str | None,
    details: str | None,
    markdown: str | None,
) -> None:
    machine["finished_load_avg"] = load_avg()
    if json_path:
        Path(json_path).write_text(
            json.dumps([{k: r[k] for k in JSON_KEYS} for r in records], indent=2) + "\n"
        )
    if details:
        Path(details).write_text(
            json.dumps({"machine": machine, "app_process": app_process, "records": records}, indent=2) + "\n"
        )
    if markdown:
        write_markdown(Path(markdown), markdown_report(records, machine, app_process))


BEGIN_MARK = (
    "<!-- bench:begin (generated by `python -m analytics bench`; edits between the marks are lost) -->"
)
END_MARK = "<!-- bench:end -->"


def write_markdown(path: Path, report: str) -> None:
    """Write the report; into a document that has the marks, only between them (the prose around stays)."""
    text = path.read_text() if path.exists() else ""
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        path.write_text(f"{head}{BEGIN_MARK}\n{report}{END_MARK}{tail}")
    else:
        path.write_text(report)


# -- reporting -----------------------------------------------------------------------------------------------


def load_avg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def describe_machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    import duckdb

    cpu = "unknown"
    mem_gb = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    for name in ("pandas", "pyarrow", "plotly", "streamlit"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[name] = version(name)
    cfg = duckdb_config()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "duckdb_memory_limit": cfg["memory_limit"],
        "duckdb_threads": cfg["threads"],
        "started_load_avg": load_avg(),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.1f}" if v >= 100 else f"{v:,.2f}"
    return str(v)


def target_verdict(r: dict[str, Any]) -> str:
    """The targets of the issues that apply to this record: ✓ met, ✗ missed."""
    bits = []
    limit = TARGET_MS.get(r["name"], {}).get(r["size"])
    if limit is not None:
        bits.append(f"{'✓' if r['median_ms'] <= limit else '✗'} ≤{limit:,.0f} ms")
    if r["name"] in PAGE_CASES and r["size"] == 1_000_000:
        if r["ratio_vs_raw"] is not None:
            bits.append(f"{'✓' if r['ratio_vs_raw'] <= 3 else '✗'} ≤3× raw")
        if r["ratio_vs_pandas"] is not None:
            bits.append(f"{'✓' if r['ratio_vs_pandas'] >= 5 else '✗'} ≥5× faster than pandas")
        if r.get("mem_ratio_vs_pandas") is not None:
            bits.append(f"{'✓' if r['mem_ratio_vs_pandas'] >= 5 else '✗'} ≥5× less memory")
    return "; ".join(bits) or "–"


def markdown_table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| case | incidents | median ms | raw query ms | ours ÷ raw | pandas ms | pandas ÷ ours | case MB | "
        "pandas MB | peak RSS MB | page run ms (first) | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        page = "–"
        if r.get("page_run_ms") is not None:
            page = f"{_fmt(r['page_run_ms'])} ({_fmt(r.get('page_first_ms'))})"
        lines.append(
            f"| {r['name']} | {r['size']:,} | {_fmt(r['median_ms'])} | {_fmt(r.get('raw_ms'))} | "
            f"{_fmt(r['ratio_vs_raw'])} | {_fmt(r.get('pandas_ms'))} | {_fmt(r['ratio_vs_pandas'])} | "
            f"{_fmt(r.get('mem_mb'))} | {_fmt(r.get('pandas_mem_mb'))} | {_fmt(r['peak_rss_mb'])} | {page} | "
            f"{target_verdict(r)} |"
        )
    return "\n".join(lines) + "\n"


def markdown_report(
    records: list[dict[str, Any]],
    machine: dict[str, Any],
    app_process: dict[int, dict[str, Any]] | None = None,
) -> str:
    v = machine.get("versions", {})
    head = [
        f"Measured {machine.get('date')} on {machine.get('nproc')} cores ({machine.get('cpu')}), "
        f"{machine.get('memory_gb')} GB RAM, {machine.get('os')}; Python {v.get('python')}, DuckDB {v.get('duckdb')}, "
        f"pandas {v.get('pandas')}, pyarrow {v.get('pyarrow')}, plotly {v.get('plotly')}, "
        f"Streamlit {v.get('streamlit')}. DuckDB memory_limit {machine.get('duckdb_memory_limit')}, "
        f"threads {machine.get('duckdb_threads')}. Load average at start {machine.get('started_load_avg')}, "
        f"at end {machine.get('finished_load_avg')}.",
        "",
    ]
    if app_process:
        sizes = ", ".join(f"{s:,}: {p.get('peak_rss_mb')} MB" for s, p in sorted(app_process.items()))
        head += [f"Peak RSS of the AppTest process that ran the pages, by store size: {sizes}.", ""]
    return "\n".join(head) + markdown_table(records)
