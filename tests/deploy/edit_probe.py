"""One replica's assessment edit, driven from a test: a client process of the store server that saves a version of
an assessment through the app's own `save_version`, optionally pausing just before the edit's first write (after
its reads) until a line arrives on stdin, so a test can let another replica save in between.

It runs in the served environment (.venv-served) as its own process; the pause wraps the store's transaction
cursor and changes nothing it sends (tests/deploy/test_served_writes.py).

Usage: python -m tests.deploy.edit_probe create TITLE EMAIL | save AID EXPECTED TEXT EMAIL [--pause]
       | threshold BENCHMARK VALUE EMAIL [--pause]   (as the Evaluations page sets one)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from analytics.access.viewer import Viewer
from analytics.assessments.model import AssessmentDraft
from analytics.assessments.workflow import create_assessment, save_version
from analytics.evals.queries import set_threshold
from analytics.store.database import open_store

_READS = ("select", "with", "from")


class _PauseBeforeFirstWrite:
    """Forwards every call to the transaction's cursor; the first statement that is not a read waits for stdin."""

    paused = False  # once per process: the app's own retry after a refusal reads again, unpaused

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, parameters: Any = None) -> Any:
        if not _PauseBeforeFirstWrite.paused and not sql.lstrip().lower().startswith(_READS):
            _PauseBeforeFirstWrite.paused = True
            print("paused", flush=True)
            sys.stdin.readline()
        self._con.execute(sql, parameters)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main() -> None:
    store = open_store()
    if sys.argv[1] == "create":
        viewer = Viewer(sys.argv[3], "Analyst", "UK", "analyst")
        print(create_assessment(store, viewer, AssessmentDraft(title=sys.argv[2])), flush=True)
        return
    if "--pause" in sys.argv:
        plain = store.transaction

        @contextmanager
        def paused(**kw: bool) -> Iterator[Any]:
            with plain(**kw) as con:
                yield _PauseBeforeFirstWrite(con)

        store.transaction = paused  # type: ignore[method-assign]
    if sys.argv[1] == "threshold":
        viewer = Viewer(sys.argv[4], "Analyst", "UK", "analyst")
        try:
            with store.transaction() as tx:  # pages/evaluations.py: _threshold_section
                set_threshold(tx, viewer, sys.argv[2], float(sys.argv[3]))
        except ValueError as e:  # WriteConflict included: the page shows it as a warning
            print(f"refused: {type(e).__name__}: {e}", flush=True)
            return
        print("saved", flush=True)
        return
    aid, expected, text, email = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    viewer = Viewer(email, "Analyst", "UK", "analyst")
    try:
        version = save_version(store, viewer, aid, AssessmentDraft(title="edited", bluf=text), expected)
    except ValueError as e:  # EditConflict and WriteConflict: what the page shows
        print(f"refused: {type(e).__name__}: {e}", flush=True)
        return
    print(f"saved {version}", flush=True)


if __name__ == "__main__":
    main()
