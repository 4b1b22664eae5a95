"""The one place in `analytics` that knows about Streamlit: the per-process store, the signed-in viewer, the
shared filters, and a result cache whose key names who is asking (the person, or for a records-only read the
audience of people with the same access) and the store's data version.

The data version is what every process that reads the store can see: for the embedded file, this process's own
write counters (no other process can write it); for a served store (THREAT_DB=quack:HOST:PORT, several app
replicas), the version row every write transaction bumps (migration 015), so no replica serves a cached result
older than another replica's committed write.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb
import streamlit as st

from analytics import periods
from analytics.access.audience import Audience, audience_of
from analytics.access.roles import Role
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.store import audit, backup, shared_cache
from analytics.store.database import Store, is_served, open_store

R = TypeVar("R")
P = ParamSpec("P")


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    opened = open_store(path, harden=True)
    if not is_served(path):
        # This process now holds the file; `python -m analytics backup` hands its requests to this thread
        # (a served store's backups run in the store server).
        backup.serve_backup_requests(opened)
    return opened


def store() -> Store:
    from analytics.store.database import db_path_from_env

    path = str(db_path_from_env())
    opened = _store(path)
    if opened.closed:  # closed behind the cache's back (a restore, or tests closing every store): open anew
        _store.clear()
        opened = _store(path)
    _shared_cache(os.environ.get("THREAT_CACHE_DIR", ""), path)  # a directory it may not use: said at once
    return opened


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor for this rerun; cursors are cheap and keep sessions from sharing transaction state."""
    return store().cursor()


def today() -> date:
    """Today in the signed-in viewer's institute time zone (UTC for JOINT staff and before sign-in), or
    THREAT_TODAY (ISO date) so demos and tests see a fixed 'now' (analytics.periods.today_for)."""
    v = st.session_state.get("viewer")
    institute = v.institute if isinstance(v, Viewer) else ""
    return periods.today_for(institute, pinned=os.environ.get("THREAT_TODAY"))


def today_note() -> str:
    """Which calendar day `today()` is, for the line under each page title ("Today: 6 Dec 2026 (Europe/London)",
    or fixed by THREAT_TODAY): the same inputs as `today()`, stated once here."""
    v = st.session_state.get("viewer")
    institute = v.institute if isinstance(v, Viewer) else ""
    return periods.today_note(today(), institute, pinned=bool(os.environ.get("THREAT_TODAY")))


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


def require_role(*roles: Role) -> Viewer:
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
    fn_key: str,
    reader: Viewer | Audience,
    store_key: tuple[str, int],
    args: tuple[Any, ...],
    kwargs: tuple[Any, ...],
    _viewer: Viewer,
) -> Any:
    """`reader` is the key (the person, or for a records-only read their audience); `_viewer`, the person who
    asked, is not part of it (Streamlit hashes no parameter whose name starts with "_") and computes the result
    the first time."""
    fn = _REGISTRY[fn_key]

    def compute() -> Any:
        result = fn(cursor(), _viewer, *args, **dict(kwargs))
        if isinstance(reader, Audience):
            _records_still_at(store_key[1])  # else it may hold rows of a newer version: never shared
        return result

    shared = _shared_cache(os.environ.get("THREAT_CACHE_DIR", ""), store_key[0])
    key = (
        shared_cache.key_for(shared_cache.code_version(), fn_key, reader, store_key, args, kwargs)
        if shared
        else None
    )
    if shared and key:  # computed once by this machine's replicas under this data version
        return shared.get_or_compute(key, compute)
    return compute()


@st.cache_resource(show_spinner=False)
def _shared_cache(directory: str, store_path: str) -> shared_cache.SharedResultCache | None:
    """The results shared by this machine's replicas (analytics/store/shared_cache.py), for a served store only:
    its data version is the version row every replica sees. An embedded file's version is this process's own
    counters, which start again at a restart, so results written before it could be read as current."""
    if not directory or not is_served(store_path):
        return None
    return shared_cache.SharedResultCache(directory)


_REGISTRY: dict[str, Callable[..., Any]] = {}


def reads_only_records(fn: Callable[..., Any]) -> bool:
    """Whether `fn` reads only the records (incidents, evaluations, ATLAS, mappings), so its cached results
    may outlive writes that change nothing else (assessment saves, saved views).

    Each module whose functions go through `query` declares `READS_ONLY_RECORDS: bool` itself, next to its
    SQL, and it is read here through the function's own module object: moving or renaming a module carries
    its declaration along, and a function moved into another module takes that module's. A module that
    declares nothing is treated as reading everything (results follow every write): never stale, only less
    cached; tests/analytics/test_session.py fails until it declares."""
    declared = getattr(sys.modules.get(fn.__module__), "READS_ONLY_RECORDS", False)
    return declared is True


# Script runs inside `one_data_version`, by thread: (the store and its own write counters when the version was
# read, the version). Only the thread that runs the script reads and writes its entry.
_run_versions: dict[int, dict[str, Any]] = {}


@contextlib.contextmanager
def one_data_version() -> Iterator[None]:
    """Read the store's data version once for the queries of this script run (app.py wraps the sidebar and the
    page in it) instead of once per cached query: for a served store each read is a round trip to the store
    server, six or seven per rerun (issue 21). A write this process makes during the run moves the store's own
    counters (Store.transaction), and the next query then reads the version again, so a run sees its own writes;
    another replica's write is seen from the next run on, as if it had come just after this one started."""
    ident = threading.get_ident()
    _run_versions[ident] = {}
    try:
        yield
    finally:
        _run_versions.pop(ident, None)


def _data_version(s: Store) -> tuple[int, int]:
    memo = _run_versions.get(threading.get_ident())
    if memo is None:
        return s.data_version()
    key = (id(s), s.generation, s.record_generation)
    if memo.get("key") != key:
        memo["key"], memo["version"] = key, s.data_version()
    version: tuple[int, int] = memo["version"]
    return version


def generation_for(fn: Callable[..., Any], s: Store) -> int:
    """The data version a cached result of `fn` is keyed by (`Store.data_version`: this process's counters for
    the embedded file, the shared version row for a served store; once per script run in `one_data_version`)."""
    return _generation(fn, _data_version(s))


def _generation(fn: Callable[..., Any], version: tuple[int, int]) -> int:
    generation, record_generation = version
    return record_generation if reads_only_records(fn) else generation


class _RecordsMoved(Exception):
    """A records write committed while a result for an audience was being computed: the result may hold rows of
    the newer version under the older version's key, so it is neither cached nor shared."""


def _records_still_at(record_version: int) -> None:
    """Raise _RecordsMoved unless the store's records are still at `record_version`, read afresh (not the run's
    memo): the embedded file's counters move with every write this process makes, a served store's version row
    with every replica's."""
    if store().data_version()[1] != record_version:
        raise _RecordsMoved


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _cached_reference(fn_key: str, store_key: tuple[str, int], args: tuple[Any, ...]) -> Any:
    return _REGISTRY[fn_key](cursor(), *args)


def reference(fn: Callable[..., R], *args: Any) -> R:
    """Run `fn(cursor, *args)` through a cache shared by every viewer: for public, unmarked reference data
    only (the ATLAS taxonomy's names, which the sidebar asks for on every rerun), whose module declares that it
    reads only the records. The key is (function, store path and records' version, args), so an import of a
    new ATLAS release is seen at once."""
    if not reads_only_records(fn):
        raise ValueError(f"{fn.__module__}.{fn.__qualname__}: only records-only reference reads are shared")
    key = f"{fn.__module__}.{fn.__qualname__}"
    _REGISTRY[key] = fn
    s = store()
    result: R = _cached_reference(key, (str(s.path), _data_version(s)[1]), args)
    return result


def query(
    fn: Callable[Concatenate[duckdb.DuckDBPyConnection, Viewer, P], R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run `fn(cursor, viewer, *args)` through the cache. The key is (function, who is asking, store path and
    write generation, args), so a committed write invalidates every result it could change (see
    `generation_for`). Who is asking is the person, except for a read of a records-only module, whose answer
    depends on the person only through the markings: there it is their audience (institute, role and the
    TLP:RED records naming them, `analytics.access.audience`), so colleagues with the same access asking the
    same question share one computation, and nobody is ever served a result computed for other access."""
    return _query_as(viewer(), fn, args, kwargs)


def later(
    fn: Callable[Concatenate[duckdb.DuckDBPyConnection, Viewer, P], R], *args: P.args, **kwargs: P.kwargs
) -> Callable[[], R]:
    """`query(fn, *args)` for the person signed in now, run when called: for what a download builds on click,
    outside the script (Streamlit runs it in a worker thread, with no session state), so those reads are cached
    and shared as the page's own are. The data version is read when it runs."""
    person = viewer()
    return lambda: _query_as(person, fn, args, kwargs)


def _query_as(person: Viewer, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    key = f"{fn.__module__}.{fn.__qualname__}"
    _REGISTRY[key] = fn
    s = store()
    version = _data_version(s)  # once: the audience and the result are keyed by the same version
    store_key = (str(s.path), _generation(fn, version))
    kw = tuple(sorted(kwargs.items()))
    if not reads_only_records(fn):
        result: R = _cached(key, person, store_key, args, kw, person)
        return result
    try:
        # Both the audience and the result check, once computed, that no records write committed meanwhile.
        shared: R = _cached(key, _audience(person, store_key), store_key, args, kw, person)
        return shared
    except _RecordsMoved:
        # A write landed while computing: answer this person from the store as it is now, uncached. Their next
        # script run reads the new version and is cached again.
        return fn(cursor(), person, *args, **kwargs)


@st.cache_data(ttl=600, max_entries=1024, show_spinner=False)
def _audience(person: Viewer, store_key: tuple[str, int]) -> Audience:
    """This person's audience under the records' version in `store_key` (a write naming them on a TLP:RED
    record moves that version, and so their audience is read again); not cached if the records moved while it
    was read."""
    found = audience_of(cursor(), person)
    _records_still_at(store_key[1])
    return found
