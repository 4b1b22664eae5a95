"""What the pages need beyond the sign-in screen (pandas, plotly, SciPy's special functions and the feature
modules: about 2 s of CPU on a fresh server, much more on a busy one), imported in a background thread.

The server entry point (asgi.py) starts it as the server starts, before anyone connects, so a person who signs
in at once does not wait for these imports on their first page (issue 20: first page after sign-in ≤ 2 s on a
cold server); app.py starts it too (once per process, a no-op when done), for `streamlit run app.py`. The
sign-in screen itself never imports them.
"""

from __future__ import annotations

import importlib
import threading

AFTER_SIGN_IN: tuple[str, ...] = (
    "analytics.ingest.inbox",
    "analytics.incidents.base",
    "analytics.incidents.explorer",
    "analytics.incidents.overview",
    "analytics.matrix.taxonomy",
    "analytics.assessments.reads",
    "analytics.watchlists",
    "analytics.export.chart_image",  # every chart's export buttons (kaleido's client, not its browser)
    "analytics.export.briefing.builder",  # "Page to slide"
    "pages.ui",
    "pages.parts.sidebar",
    "pages.parts.watchlist",
    "pages.parts.currency",
    "plotly.express",
)

_started = threading.Event()


def start() -> None:
    """Import AFTER_SIGN_IN in a daemon thread, once per process."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(
        target=lambda: [importlib.import_module(m) for m in AFTER_SIGN_IN], name="preload", daemon=True
    ).start()
