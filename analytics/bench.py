"""Benchmark harness: `python -m analytics bench [--sizes 100000,1000000] [--json FILE]`.

For each store size it builds a synthetic store (the demo generator), then times every registered case: the
product's own code path (median of N runs), the same question answered by loading the table into pandas
(the naive baseline), and the heaviest single SQL query of the case (the raw floor), all in the same run, so
ratios are comparable across machines. Peak RSS is the process high-water mark during the case (reset per case
through /proc/self/clear_refs where Linux allows it).

Cases register themselves with `@case(...)`; a feature adds its page's main interaction in its own module and
imports it in `_load_cases`. Record names are stable: `overview.recompute`, `explorer.recompute`, ...
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from analytics.store import Store
from analytics.viewer import Viewer

BENCH_VIEWER = Viewer("analyst@uk.example", "Bench Analyst", "UK", "analyst")
BENCH_TODAY = date(2026, 11, 20)


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


CASES: dict[str, BenchCase] = {}


def case(
    name: str,
    *,
    pandas: Callable[[BenchContext], Any] | None = None,
    raw: Callable[[BenchContext], Any] | None = None,
    runs: int | None = None,
) -> Callable[[Callable[[BenchContext], Any]], Callable[[BenchContext], Any]]:
    def register(fn: Callable[[BenchContext], Any]) -> Callable[[BenchContext], Any]:
        CASES[name] = BenchCase(name, fn, pandas, raw, runs)
        return fn

    return register


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm-up: first-run effects (imports, plan caches) are not what a user waits for twice
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _load_cases() -> None:
    import importlib

    # Each feature keeps its cases in analytics/bench_<feature>.py.
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        importlib.import_module(f"analytics.{path.stem}")


def build_store(size: int, workdir: Path) -> Store:
    from analytics.demo import build_demo

    path = workdir / f"bench-{size}.duckdb"
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    store = Store(path)
    build_demo(store, incidents=size, samples=min(10 * size, 10_000_000), seed=11)
    store.db.execute("checkpoint")
    return store


def run(sizes: list[int], *, json_path: str | None = None, runs: int = 7, markdown: str | None = None) -> int:
    _load_cases()
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="threat-bench-") as tmp:
        for size in sizes:
            t0 = time.perf_counter()
            store = build_store(size, Path(tmp))
            print(f"# store of {size:,} incidents built in {time.perf_counter() - t0:.1f} s", flush=True)
            ctx = BenchContext(store, size, workdir=Path(tmp))
            for c in CASES.values():
                n = c.runs or runs
                _reset_peak()
                ms = median_ms(functools.partial(c.run, ctx), n)
                rss = peak_rss_mb()
                pandas_ms = median_ms(functools.partial(c.pandas, ctx), max(3, n // 2)) if c.pandas else None
                raw_ms = median_ms(functools.partial(c.raw, ctx), n) if c.raw else None
                rec = {
                    "name": c.name,
                    "size": size,
                    "median_ms": round(ms, 2),
                    "peak_rss_mb": round(rss, 1),
                    "ratio_vs_pandas": round(pandas_ms / ms, 2) if pandas_ms else None,
                    "ratio_vs_raw": round(ms / raw_ms, 2) if raw_ms else None,
                }
                records.append(rec)
                print(json.dumps(rec), flush=True)
            store.close()
    if json_path:
        Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    if markdown:
        Path(markdown).write_text(markdown_table(records))
    return 0


def markdown_table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| case | incidents | median ms | peak RSS MB | pandas ÷ ours | ours ÷ raw query |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['name']} | {r['size']:,} | {r['median_ms']} | {r['peak_rss_mb']} | "
            f"{r['ratio_vs_pandas'] if r['ratio_vs_pandas'] is not None else '–'} | "
            f"{r['ratio_vs_raw'] if r['ratio_vs_raw'] is not None else '–'} |"
        )
    return "\n".join(lines) + "\n"
