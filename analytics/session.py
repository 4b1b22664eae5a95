"""The one place in `analytics` that knows about Streamlit: the per-process store, the signed-in viewer, the
shared filters, and a result cache whose key always includes the viewer and the store's write generation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.store import audit, backup
from analytics.store.database import Store, open_store

R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    opened = open_store(path, harden=True)
    # This process now holds the file; `python -m analytics backup` hands its requests to this thread.
    backup.serve_backup_requests(opened)
    return opened


def store() -> Store:
    from analytics.store.database import db_path_from_env

    path = str(db_path_from_env())
    opened = _store(path)
    if opened.closed:  # closed behind the cache's back (a restore, or tests closing every store): open anew
        _store.clear()
        opened = _store(path)
    return opened


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor for this rerun; cursors are cheap and keep sessions from sharing transaction state."""
    return store().cursor()


def today() -> date:
    """Today, or THREAT_TODAY (ISO date) so demos and tests see a fixed 'now'."""
    pinned = os.environ.get("THREAT_TODAY")
    return date.fromisoformat(pinned) if pinned else date.today()


def viewer() -> Viewer:
    v = st.session_state.get("viewer")
    if not isinstance(v, Viewer):
        # Reached only when Streamlit ran a page file without app.py: a fresh server's first request to a deep
        # link runs in its old 'pages/ directory' mode until app.py has called st.navigation once. Send the
        # person through app.py (sign-in, navigation) instead of showing a bare page, keeping the link's filters.
        with contextlib.suppress(st.errors.StreamlitAPIException):
            st.switch_page("app.py", query_params={k: st.query_params.get_all(k) for k in st.query_params})
        st.error("You are not signed in.")
        st.stop()
    return v


def require_role(*roles: str) -> Viewer:
    """Stop the page unless the signed-in person has one of these roles; refusals are audited."""
    v = viewer()
    if v.role not in roles:
        with store().transaction() as con:
            audit.record(con, v.email, "refused", st.session_state.get("page_path", "page"), {"role": v.role})
        st.error("Your role does not give access to this page.")
        st.stop()
    return v


def filters() -> Filters:
    f = st.session_state.get("filters")
    return f if isinstance(f, Filters) else Filters()


@st.cache_data(ttl=600, max_entries=512, show_spinner=False)
def _cached(
    fn_key: str, viewer: Viewer, store_key: tuple[str, int], args: tuple[Any, ...], kwargs: tuple[Any, ...]
) -> Any:
    fn = _REGISTRY[fn_key]
    return fn(cursor(), viewer, *args, **dict(kwargs))


_REGISTRY: dict[str, Callable[..., Any]] = {}


# Modules whose queries read only the records (incidents, evaluations, ATLAS, mappings): their results stay
# cached across writes that change nothing else (assessment saves, saved views). A module added here must not
# read assessments, saved views or the audit log.
RECORD_MODULES: frozenset[str] = frozenset(
    {
        "analytics.incidents.queries",
        "analytics.evals.queries",
        "analytics.matrix.queries",
        "analytics.links.queries",
        "analytics.matrix.taxonomy",
    }
)


def generation_for(fn: Callable[..., Any], s: Store) -> int:
    """The write generation a cached result of `fn` is keyed by."""
    return s.record_generation if fn.__module__ in RECORD_MODULES else s.generation


def query(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run `fn(cursor, viewer, *args)` through the cache. The key is (function, viewer, store path and write
    generation, args), so two people never share a result and a committed write invalidates every result it
    could change (see `generation_for`)."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    _REGISTRY[key] = fn
    s = store()
    result: R = _cached(
        key, viewer(), (str(s.path), generation_for(fn, s)), args, tuple(sorted(kwargs.items()))
    )
    return result
