"""The process's chart drawer: one kaleido browser, kept open, whose page stays loaded between charts.

Why not `kaleido.start_sync_server`, which the exports used before: kaleido 1.x reloads its page after every
chart, so Chromium parses plotly.js (4.6 MB) again each time. Measured on this 2-core machine (docs/benchmarks.md,
"Chart drawing"): a trend chart at the slide preset cost Chromium 0.21 CPU-s with the reload and 0.06 without.
In a burst of colleagues' exports a replica's one browser is the queue every export waits in (issue 21).

Why keeping the page is safe: kaleido's page draws each figure with plotly.js's `Plotly.toImage`, which builds
the chart in a fresh element and purges it, so an image does not depend on the charts drawn before it.
tests/analytics/export/test_chart_drawer.py draws a sequence of different charts both ways and compares the
bytes. The page is still reloaded every `RELOAD_EVERY` charts, so whatever plotly.js caches between charts is
bounded, and a browser that failed a chart (an error or a timeout) is closed and a new one started for the next.

The one kaleido hook this relies on, `Kaleido._return_kaleido_tab` (called after every chart), is private: the
same test fails if a kaleido upgrade stops calling it, rather than the exports silently slowing down again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from typing import Any

import kaleido

# Charts a tab draws before its page is reloaded anyway (a reload costs about 0.15 CPU-s).
RELOAD_EVERY = 50
# Seconds one chart may take before the browser is given up (kaleido's own default is 90).
TIMEOUT_S = 90


class _PageKeepingKaleido(kaleido.Kaleido):
    """kaleido's browser, reloading a tab's page every `reload_every` charts instead of after each."""

    def __init__(self, reload_every: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reload_every = reload_every
        self.drawn_since_reload = 0
        self.reloads = 0

    async def _return_kaleido_tab(self, tab: Any) -> None:
        self.drawn_since_reload += 1
        if self.drawn_since_reload < self.reload_every:
            await self.tabs_ready.put(tab)
            return
        self.drawn_since_reload = 0
        self.reloads += 1
        await super()._return_kaleido_tab(tab)  # reloads the page, then puts the tab back


class ChartDrawer:
    """Draws plotly figure specs with one browser, one chart at a time, from any thread.

    The browser lives in an event loop on a thread of its own; callers wait for their chart. It starts on the
    first chart (a few seconds) and is closed when the process exits."""

    def __init__(self, reload_every: int = RELOAD_EVERY) -> None:
        self.reload_every = reload_every
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._browser: _PageKeepingKaleido | None = None

    @property
    def reloads(self) -> int:
        """How often the running browser's page was reloaded (0 when none runs)."""
        return self._browser.reloads if self._browser else 0

    def draw(self, spec: dict[str, Any], opts: dict[str, Any]) -> bytes:
        """The figure `spec` drawn with kaleido's `opts` (format, width, height, scale)."""
        with self._lock:
            loop, browser = self._started()
            future = asyncio.run_coroutine_threadsafe(browser.calc_fig(spec, opts=opts), loop)
            try:
                data = future.result(TIMEOUT_S + 5)
            except BaseException:
                # A browser that failed a chart is not trusted with the next one.
                self._stop()
                raise
        return data if isinstance(data, bytes) else str(data).encode()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _started(self) -> tuple[asyncio.AbstractEventLoop, _PageKeepingKaleido]:
        if self._loop is None or self._browser is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="chart-drawer", daemon=True)
            thread.start()

            async def start() -> _PageKeepingKaleido:
                # mathjax=False: no CDN fetch; our charts use no LaTeX. Chromium is Debian's (never
                # kaleido.get_chrome, which downloads).
                browser = _PageKeepingKaleido(self.reload_every, timeout=TIMEOUT_S, mathjax=False)
                await browser.open()
                return browser

            try:
                browser = asyncio.run_coroutine_threadsafe(start(), loop).result(120)
            except BaseException:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(30)
                raise
            self._loop, self._thread, self._browser = loop, thread, browser
        return self._loop, self._browser

    def _stop(self) -> None:
        loop, thread, browser = self._loop, self._thread, self._browser
        self._loop = self._thread = self._browser = None
        if loop is None:
            return
        if browser is not None:
            # A browser that will not close is not waited for: the next chart starts a new one.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(browser.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(30)


DRAWER = ChartDrawer()
atexit.register(DRAWER.close)
