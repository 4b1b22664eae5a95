"""A deferred download's file survives other sessions' script runs (pages/parts/downloads.py): on a busy server
the browser's fetch came after two sweeps and got a 404."""

from __future__ import annotations

import subprocess
import sys

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from pages.parts import downloads
from tests.servers import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_built_download_outlives_other_runs_sweeps_then_goes(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(downloads, "_clock", clock)
    monkeypatch.setattr(downloads, "GRACE_S", 60.0)
    downloads.keep_built_downloads()
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    placeholder = manager.add_deferred(lambda: b"%PNG export", "image/png", "coords", "chart.png")
    url = manager.execute_deferred(placeholder)
    stored = url.rsplit("/", 1)[-1]

    manager.remove_orphaned_files()  # two other sessions finish a run before the browser fetches the file
    manager.remove_orphaned_files()
    assert manager.read_file(stored.split(".")[0]) is not None, "the export was swept before its fetch"

    clock.now += 61  # after the grace the file is swept as Streamlit sweeps any file no session refers to
    manager.remove_orphaned_files()
    manager.remove_orphaned_files()
    assert manager.read_file(stored.split(".")[0]) is None
    assert not downloads._built  # nothing accumulates


def test_the_server_entry_point_installs_it() -> None:
    # In a fresh interpreter: this process may have installed it already (the test above).
    code = (
        "import asgi; from streamlit.runtime.media_file_manager import MediaFileManager as M; "
        "print(getattr(M, '_threat_keeps_built_downloads', False))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
