"""The server entry point (`streamlit run asgi.py`, as `make run` and docs/deployment.md start it): app.py
wrapped in Streamlit's ASGI app, for what app.py cannot do itself, the HTTP response headers.

Every HTTP response forbids framing by any other page (Content-Security-Policy `frame-ancestors 'none'`, and
X-Frame-Options DENY for older browsers): a page of another site that framed the dashboard could trick a
signed-in analyst into clicks (clickjacking). The app uses no iframes of its own (no components, no st.html),
so nothing legitimate is framed. The reverse proxy sets the same headers (docs/deployment.md); sent here too,
they hold wherever the app is served. `streamlit run app.py` still works for development, without them.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit.runtime.pages_manager import PagesManager

from pages.parts import downloads, preload

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering, websockets untouched): adds SECURITY_HEADERS to every
    HTTP response, pages, static files, health checks and errors alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


# app.py always navigates with st.navigation. Because a directory named `pages` sits beside it, Streamlit 1.67
# starts a fresh process in its old "pages/ directory" mode until app.py has once called st.navigation, so the
# very first request a new server gets for a deep link (/explorer?cat=…) ran the page file without app.py: no
# sign-in screen of ours, and the link's page was lost after sign-in. st.navigation sets exactly this flag on its
# first call; setting it before the first session makes every request, the first included, go through app.py.
PagesManager.uses_pages_directory = False

# An export's file is not swept before the browser fetches it (pages/parts/downloads.py).
downloads.keep_built_downloads()

# The first page's heavy imports start with the server, before anyone connects (pages/parts/preload.py).
preload.start()

app = st.App(Path(__file__).resolve().parent / "app.py", middleware=[Middleware(SecurityHeaders)])
