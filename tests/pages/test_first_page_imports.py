"""What the first page after sign-in imports, and what the preload does for it (issue 20: first page after sign-in
≤ 2 s on a cold server, the click landing the instant the sign-in screen is drawn).

Each import a landing page makes is CPU a person waits for on a fresh server, and anything the preload imports
beyond that page holds the GIL while the page runs. So: signing in to each role's landing page (the Overview,
with the sidebar) imports none of the heavy libraries only other pages or an export click need (scipy.stats cost
1.4 s, plotly.express, kaleido and Pillow 0.3 s together); the preload's first step imports none of them either;
and it covers what the page does need from the big libraries, so the page finds them loaded. Each check runs the
real sign-in in a fresh interpreter, since a module imported once stays imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Off the first page: statistics for other pages, chart export renderers, office formats, exchange formats, evals.
OFF_FIRST_PAGE = (
    "scipy.stats",
    "plotly.express",
    "kaleido",
    "PIL.Image",  # Pillow's drawing (plotly itself reads only the package's version, PIL._version)
    "PIL.ImageDraw",
    "pptx",
    "docx",
    "statsmodels",
    "stix2",
    "inspect_ai",
)
# Libraries whose import is most of the first page's CPU: the preload's first step must leave none of them to it.
BIG_LIBRARIES = ("pandas", "numpy", "pyarrow", "scipy", "plotly")

SCRIPT = """
import json, sys
from pages.parts import preload
preload._later.set()  # the second step starts after a page is drawn; here it must not run at all
if sys.argv[1] == "preloaded":
    preload._import_all(preload.FIRST_PAGE)  # as the server's preload thread would, finished before the click
else:
    preload._first_page.set()
after_preload = set(sys.modules)
from streamlit.testing.v1 import AppTest
new_on_click = set()
for persona in ("policy@uk.example", "analyst@au.example"):
    at = AppTest.from_file("app.py", default_timeout=120)
    at.run()
    before = set(sys.modules)
    at.button(key="persona_" + persona).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.metric, "the overview's figures were not drawn for " + persona
    new_on_click |= set(sys.modules) - before
print(json.dumps({"after_preload": sorted(after_preload), "new_on_click": sorted(new_on_click),
                  "all": sorted(sys.modules)}))
"""


def _sign_in_twice(demo_db: Path, mode: str) -> dict[str, list[str]]:
    env = {**os.environ, "THREAT_DB": str(demo_db), "THREAT_DEMO_MODE": "1", "THREAT_TODAY": "2026-11-20"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _under(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def test_signing_in_to_each_landing_page_loads_no_library_only_other_pages_need(demo_db: Path) -> None:
    loaded = _sign_in_twice(demo_db, "bare")["all"]
    assert _under(loaded, OFF_FIRST_PAGE) == []
    assert "scipy.special" in loaded  # the overview's statistics: the check looks where the imports are


def test_the_preload_covers_the_first_page_and_imports_nothing_beyond_it(demo_db: Path) -> None:
    seen = _sign_in_twice(demo_db, "preloaded")
    assert _under(seen["after_preload"], OFF_FIRST_PAGE) == []
    assert _under(seen["new_on_click"], BIG_LIBRARIES) == []
    assert "pandas" in seen["after_preload"]
