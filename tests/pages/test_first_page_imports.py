"""The first page after sign-in must not import scipy.stats: on a fresh server that import alone cost the first
overview 1.4 s of CPU (issue 20: first page after sign-in ≤ 2 s on a cold server). The overview's statistics use
scipy.special's closed forms instead; this runs the real sign-in and overview in a fresh interpreter and looks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
at.button(key="persona_policy@uk.example").click()
at.run()
assert not at.exception, [e.value for e in at.exception]
assert at.metric, "the overview's figures were not drawn"
print("scipy.stats" in sys.modules)
"""


def test_signing_in_to_the_overview_does_not_load_scipy_stats(demo_db: Path) -> None:
    env = {**os.environ, "THREAT_DB": str(demo_db), "THREAT_DEMO_MODE": "1", "THREAT_TODAY": "2026-11-20"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
