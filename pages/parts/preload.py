"""What the pages need beyond the sign-in screen, imported in background threads so that nobody waits for it.

In two steps, because on a cold server the click can land the instant the sign-in screen is drawn (issue 20:
first page after sign-in ≤ 2 s on a cold server):

- FIRST_PAGE, what every role's landing page (the Overview, with the sidebar) imports: pandas, Plotly's graph
  objects, SciPy's special functions and the modules of that page; about 1.5 s of CPU on a quiet machine. The
  server entry point (asgi.py) starts it as the server starts, before anyone connects; app.py starts it too
  (a no-op when done) for `streamlit run app.py`. A person who clicks at once finds part of it done, and the
  rest is work their page needs anyway (an import in progress in this thread is waited for, not repeated).
- LATER, what only the other pages or a click on an export need (plotly.express, the explorer, kaleido's client,
  Pillow). It starts only once a signed-in page has been drawn (`after_first_page`, called by app.py): started
  with the server it held the GIL while the first page ran and made the click-at-once case 0.9 s slower.

The sign-in screen itself imports neither. tests/pages/test_first_page_imports.py holds both lists to this
split: the first page imports nothing from LATER's heavy libraries, and FIRST_PAGE covers what the first page
needs from them.
"""

from __future__ import annotations

import importlib
import threading

FIRST_PAGE: tuple[str, ...] = (
    "pandas",  # about 1 s of CPU with numpy and pyarrow: first, so that a quick click finds the most done
    "analytics.incidents.base",
    "analytics.incidents.charts",  # Plotly's graph objects and SciPy's special functions
    "analytics.incidents.overview",
    "analytics.incidents.grids",
    "analytics.assessments.reads",
    "analytics.ingest.inbox",
    "analytics.matrix.taxonomy",
    "analytics.watchlists",
    "analytics.export.chart_image",  # the names and sizes of every chart's export popover (no renderer)
    "analytics.export.briefing.builder",  # "Page to slide" (its figures are built on click)
    "pages.ui",
    "pages.parts.sidebar",
    "pages.parts.watchlist",
    "pages.parts.currency",
)

LATER: tuple[str, ...] = (
    "plotly.express",
    "analytics.incidents.explorer",
    "analytics.matrix.charts",
    "kaleido",  # the export's renderer client (its browser starts on the first export)
    "PIL.ImageDraw",
)

_first_page = threading.Event()
_later = threading.Event()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)
    if modules is FIRST_PAGE:
        _first_figure()


def _first_figure() -> None:
    """Plotly loads each trace type's and layout part's classes, and its JSON and offline helpers, on first use,
    and pyarrow its pandas bridge on the first table: a small bar figure serialised and a one-row frame converted
    here load them before the first page draws its own (about 0.04 s)."""
    import pandas as pd
    import plotly.graph_objects as go
    import pyarrow as pa

    fig = go.Figure(go.Bar(x=[1], y=[1], marker={"color": "#1d3b6f"}))
    fig.update_layout(title={"text": "-"}, legend={"x": 0}, margin={"l": 0}, font={"size": 13})
    fig.update_xaxes(title={"text": "-"}).update_yaxes(title={"text": "-"})
    fig.to_json()
    pa.Table.from_pandas(pd.DataFrame({"n": [1]}))


def _start(flag: threading.Event, modules: tuple[str, ...], name: str) -> None:
    if flag.is_set():
        return
    flag.set()
    threading.Thread(target=_import_all, args=(modules,), name=name, daemon=True).start()


def start() -> None:
    """Import FIRST_PAGE in a daemon thread, once per process."""
    _start(_first_page, FIRST_PAGE, "preload-first-page")


def after_first_page() -> None:
    """Import LATER in a daemon thread, once per process: call once a signed-in page has been drawn."""
    _start(_later, LATER, "preload-later")
