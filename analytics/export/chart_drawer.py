"""The process's chart drawer: one kaleido browser, kept open, whose page stays loaded between charts.

Why not `kaleido.start_sync_server`, which the exports used before: kaleido 1.x reloads its page after every
chart, so Chromium parses plotly.js (4.6 MB) again each time. Measured on this 2-core machine (docs/benchmarks.md,
"Chart drawing"): a trend chart at the slide preset cost Chromium 0.21 CPU-s with the reload and 0.06 without.
In a burst of colleagues' exports a replica's one browser is the queue every export waits in (issue 21).

Why keeping the page is safe: kaleido's page draws each figure with plotly.js's `Plotly.toImage`, which builds
the chart in a fresh element and purges it; what plotly.js keeps between charts is its text-measuring cache.
tests/analytics/export/test_chart_drawer.py draws a sequence of different charts both ways: the PNGs are the same
bytes, the SVGs the same in canonical XML (the cache changes the order plotly sets some attributes in) once
plotly's random ids are numbered. The page is still reloaded every `RELOAD_EVERY` charts, so whatever plotly.js
caches between charts is bounded. A browser that failed a chart (an error or a timeout), died, or will not close
is killed with its process group, and a new one is started for the next chart.

The one kaleido hook this relies on, `Kaleido._return_kaleido_tab` (called after every chart), is private: the
same test fails if a kaleido upgrade stops calling it, rather than the exports silently slowing down again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import subprocess
import threading
from typing import Any

import kaleido

# Charts a tab draws before its page is reloaded anyway (a reload costs about 0.15 CPU-s).
RELOAD_EVERY = 50
# Seconds one chart may take before the browser is given up (kaleido's own default is 90), a browser may take to
# start, and to close before it is killed.
TIMEOUT_S = 90
START_TIMEOUT_S = 120
CLOSE_TIMEOUT_S = 15


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
        await super()._return_kaleido_tab(tab)  # reloads the page, then puts the tab back
        self.drawn_since_reload = 0
        self.reloads += 1

    def kill(self) -> None:
        """End the browser's processes now (its own process group), whatever state its pipes are in."""
        process = getattr(self, "subprocess", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

    @property
    def alive(self) -> bool:
        process = getattr(self, "subprocess", None)
        return process is not None and process.poll() is None


class ChartDrawer:
    """Draws plotly figure specs with one browser, one chart at a time, from any thread.

    The browser lives in an event loop on a thread of its own; callers wait for their chart. It starts on the
    first chart (a few seconds), is replaced when it has died or failed a chart, and is closed when the process
    exits."""

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
                # A browser that failed a chart (an error, a timeout) is not trusted with the next one.
                future.cancel()
                self._stop()
                raise
        return data if isinstance(data, bytes) else str(data).encode()

    def close(self) -> None:
        """Close the browser. At exit a chart still being drawn is not waited for beyond a few seconds: its
        browser is killed instead."""
        if self._lock.acquire(timeout=5):
            try:
                self._stop()
            finally:
                self._lock.release()
        elif (browser := self._browser) is not None:
            browser.kill()

    def _started(self) -> tuple[asyncio.AbstractEventLoop, _PageKeepingKaleido]:
        if self._loop is not None and self._browser is not None and self._browser.alive:
            return self._loop, self._browser
        self._stop()  # a browser that died (Chromium crashed or was killed) is closed with its loop
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run, args=(loop,), name="chart-drawer", daemon=True)
        thread.start()
        made: list[_PageKeepingKaleido] = []

        async def start() -> _PageKeepingKaleido:
            # mathjax=False: no CDN fetch; our charts use no LaTeX. Chromium is Debian's (never
            # kaleido.get_chrome, which downloads).
            browser = _PageKeepingKaleido(self.reload_every, timeout=TIMEOUT_S, mathjax=False)
            made.append(browser)
            await browser.open()
            return browser

        future = asyncio.run_coroutine_threadsafe(start(), loop)
        try:
            browser = future.result(START_TIMEOUT_S)
        except BaseException:
            future.cancel()
            _end(loop, thread, made[0] if made else None)
            raise
        self._loop, self._thread, self._browser = loop, thread, browser
        return loop, browser

    def _stop(self) -> None:
        loop, thread, browser = self._loop, self._thread, self._browser
        self._loop = self._thread = self._browser = None
        if loop is not None and thread is not None:
            _end(loop, thread, browser)


def _run(loop: asyncio.AbstractEventLoop) -> None:
    """The drawer's thread: its loop until stopped, then whatever is left in it cancelled and the loop closed."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
        loop.close()


def _end(
    loop: asyncio.AbstractEventLoop, thread: threading.Thread, browser: _PageKeepingKaleido | None
) -> None:
    """Close `browser` (killed if it does not close within CLOSE_TIMEOUT_S), stop its loop, wait for its thread."""
    if browser is not None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(browser.close(), loop).result(CLOSE_TIMEOUT_S)
        browser.kill()  # nothing to do when it closed; otherwise no Chromium outlives its drawer
    loop.call_soon_threadsafe(loop.stop)
    thread.join(CLOSE_TIMEOUT_S)


DRAWER = ChartDrawer()
atexit.register(DRAWER.close)
