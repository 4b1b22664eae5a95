"""One app replica's cache, driven from a test: reads the partner ceilings through `session.query` (the result cache
the pages use) each time a line arrives on stdin, and prints the AU ceiling it got.

It runs in the served environment (.venv-served) as its own process, like a replica behind the proxy: the test
writes through another process in between and checks this one's cached read follows (tests/deploy/test_served.py).
"""

from __future__ import annotations

import sys

import streamlit as st

from analytics import session
from analytics.access.viewer import Viewer
from analytics.accounts import identity
from analytics.export import partners


def main() -> None:
    admin = next(u for u in identity.DEMO_USERS if u[0] == "admin@joint.example")
    st.session_state["viewer"] = Viewer(*admin)
    for _line in sys.stdin:
        rows = session.query(partners.ceiling_overview)
        au = next(r for r in rows if r["partner"] == "AU")
        print(au["ceiling"], flush=True)


if __name__ == "__main__":
    main()
