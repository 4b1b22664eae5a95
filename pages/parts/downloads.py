"""Deferred downloads (chart exports, page slides, briefings) that a busy server does not lose.

Why: Streamlit 1.67 stores the file a deferred download button builds (`data=` a callable, built on click) without
tying it to any session, and every script run of *any* session sweeps files no session refers to: the first
sweep marks such a file, the next deletes it. The browser fetches the file right after it is told its URL, but
on a server with many sessions two other runs can finish in between, and the analyst's export is a 404
(3 of 40 exports in one `make load-replicas` run; tests/pages/test_downloads.py shows it with two sweeps).

So a file built for a deferred download is left out of the sweep for `GRACE_S` seconds after it is built, then
swept as before (nothing accumulates). The two MediaFileManager methods wrapped here are Streamlit internals:
the version is locked (uv.lock), and the test fails if a new version changes them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from streamlit.runtime.media_file_manager import MediaFileManager

GRACE_S = 120.0  # far longer than a fetch takes even on a loaded server; a stored export is small

_clock: Callable[[], float] = time.monotonic  # looked up at each call, so a test can set the time
_built: dict[str, float] = {}  # file id -> when its deferred callable built it (monotonic seconds)
_lock = threading.Lock()  # taken inside MediaFileManager's own lock, never around it


def keep_built_downloads() -> None:
    """Install, once per process: files built by deferred downloads survive sweeps for GRACE_S seconds."""
    if getattr(MediaFileManager, "_threat_keeps_built_downloads", False):
        return
    execute_deferred = MediaFileManager.execute_deferred
    inactive_file_ids = MediaFileManager._get_inactive_file_ids

    def execute_and_keep(self: MediaFileManager, file_id: str) -> str:
        url = execute_deferred(self, file_id)
        built = os.path.splitext(url.rsplit("/", 1)[-1])[
            0
        ]  # ".../media/<id><extension>", as get_url writes it
        with _lock:
            _built[built] = _clock()
        return url

    def inactive_but_not_just_built(self: MediaFileManager) -> set[str]:
        ids: set[str] = inactive_file_ids(self)
        now = _clock()
        with _lock:
            for built, at in list(_built.items()):
                if now - at > GRACE_S:
                    del _built[built]
            return ids - _built.keys()

    patched: Any = MediaFileManager
    patched.execute_deferred = execute_and_keep
    patched._get_inactive_file_ids = inactive_but_not_just_built
    patched._threat_keeps_built_downloads = True
