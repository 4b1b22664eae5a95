"""How every headless Chromium of this project is started (the cold-start bench, the browser tests, the load
test): one list, so a flag that steadies timings or avoids background traffic holds for all of them alike."""

from __future__ import annotations

# No GPU, no QUIC, no first-run, sync, update or background network traffic: nothing but the page under test.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
