"""AppTest page runs for the benchmark: `python -m analytics.bench.page_runs --db STORE --page pages/x.py ...`.

The benchmark (analytics/bench/harness.py) cannot import Streamlit (analytics stays Streamlit-free, enforced by
import-linter) and cannot share the store file with another process, so it closes its store and runs this in a
subprocess. One process for all pages, as in a server: the first run of a page pays for its imports and is
reported apart; the page run is the median of `--runs` more, each the page's run after a switch to it with a
filter no earlier run of this session computed (so it misses the result cache, as a filter change does). Prints one JSON object: {page: {"first_ms", "median_ms", "runs", "problems"}, "_process":
{"peak_rss_mb"}}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# A complete [auth] section, so the seeded `st.user` counts (OIDC mode); AppTest never contacts the provider.
_OIDC = {
    "redirect_uri": "https://threats.example/oauth2callback",
    "cookie_secret": "b" * 40,
    "client_id": "bench",
    "client_secret": "bench-only-secret",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _problems(at: Any) -> list[str]:
    out = [f"exception: {e.message}"[:200] for e in at.exception]
    out += [f"error: {e.value}"[:200] for e in at.error]
    return out


def measure(db: Path, pages: list[str], runs: int, email: str, timeout: float) -> dict[str, Any]:
    os.environ["THREAT_DB"] = str(db)
    os.environ.setdefault("THREAT_TODAY", "2026-11-20")
    from streamlit.testing.v1 import AppTest

    from analytics.filters import Filters

    results: dict[str, Any] = {}
    categories = _categories(AppTest, email, timeout)
    for page in pages:
        times, problems = [], []
        for k in range(runs + 1):
            # A fresh session per run (its sign-in is a write, so nothing cached survives), its first run on
            # the default page with one category from the URL, then the switch to the page, timed, with another
            # category. Within one AppTest, runs after the first skip the sidebar of this app (the real server
            # does not; see tests/load/protocol.py), so the new filters are put where the pages read them; the
            # check below fails if a future Streamlit reruns the sidebar and overrides them.
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
            at.user = {"is_logged_in": True, "email": email}
            at.secrets["auth"] = dict(_OIDC)  # the app trusts st.user only in OIDC mode
            at.query_params["cat"] = categories[(k + 1) % len(categories)]
            at.run()
            wanted = categories[k % len(categories)]
            at.session_state["filters"] = Filters(categories=(wanted,))
            t = time.perf_counter()
            at.switch_page(page).run()
            times.append((time.perf_counter() - t) * 1000)
            problems += _problems(at)
            applied = at.session_state["filters"].categories if "filters" in at.session_state else None
            if applied != (wanted,):
                problems.append(f"filter not applied: {applied!r}")
        results[page] = {
            "first_ms": round(times[0], 1),
            "median_ms": round(statistics.median(times[1:]), 1) if runs else None,
            "runs": runs,
            "problems": sorted(set(problems))[:5],
        }
    results["_process"] = {"peak_rss_mb": round(_peak_rss_mb(), 1)}
    return results


def _categories(app_test: Any, email: str, timeout: float) -> list[str]:
    at = app_test.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.user = {"is_logged_in": True, "email": email}
    at.secrets["auth"] = dict(_OIDC)  # the app trusts st.user only in OIDC mode
    at.run()
    return [_option_value(o) for o in at.multiselect(key="flt_categories").options]


def _option_value(label: str) -> str:
    """AppTest's multiselect takes option values; `.options` are the formatted labels ("Jailbreak (1,234)")."""
    return label.rsplit(" (", 1)[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analytics.bench.page_runs")
    p.add_argument("--db", required=True, type=Path)
    p.add_argument("--page", action="append", required=True, help="page file, e.g. pages/overview.py")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--email", default="analyst@uk.example")
    p.add_argument("--timeout", type=float, default=300)
    a = p.parse_args(argv)
    print(json.dumps(measure(a.db, a.page, a.runs, a.email, a.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
