"""The DuckDB store: one file, one database instance per process, versioned migrations, transactions.

DuckDB lets one process hold a database file read-write; every other process (read-only too) is refused while
it does. So the store is opened once per process (`open_store`), threads and Streamlit sessions each take their
own cursor, and every failure to open is turned into a `StoreError` whose message says what to do: a raw lock
or corruption traceback is never shown to a person, and nothing is ever overwritten on a failed open.

The lock discipline. DuckDB's lock is a POSIX `fcntl` lock, and POSIX drops *every* lock a process holds on a
file as soon as the process closes *any* descriptor of that file: a backup that opened and closed the store
path, a header read with a fresh `open()`, a second DuckDB instance probing the file, each silently turned the
dashboard's store into a file anyone could write, and writes were lost. So, in this module only:

- every Store on a file registers it in `_HELD` (keyed by device and inode, so another name of the same file
  counts) together with one read-only descriptor opened after DuckDB's and closed only after the last Store of
  that file is closed. Whatever must read the bytes of an open store (the backup) reads them through
  `held_fd(path)`, never by opening the path;
- `held_here(path)` says whether this process holds the file: nothing may open such a path (readers check it
  and refuse), and a Store under another name of a held file is refused (a second DuckDB instance in the same
  process would take the lock again, then drop it when closed);
- `exclusive(path)` is the only way to replace or delete a store file: it refuses a file held here, then takes a
  write lock of its own (refused if any other process holds the file, read-only too) for as long as the caller
  needs it, so a dashboard cannot open the file half-way through.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "threats.duckdb"
APP_ID = "threat-dashboard"
DATA_VERSION_MIGRATION = 15
# One row per committed write that changes what cached results read (migration 015); ids from a sequence, so
# concurrent writers never conflict here.
BUMP_VERSION_SQL = "insert into data_versions values (nextval('data_version_seq'), ?, current_timestamp)"
# Only the newest row and the newest row that changed records are ever read (the cache key); every older row is
# history nobody reads, so opening the store drops them instead of letting the table gain a row per write forever.
# Deleting old rows never conflicts with writers adding new ones.
PRUNE_VERSIONS_SQL = (
    "delete from data_versions where version not in (select coalesce(max(version), 0) from data_versions "
    "union all select coalesce(max(version) filter (where records_changed), 0) from data_versions)"
)


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message is meant for a person."""


class StoreUnavailable(StoreError):
    """The store server (the served mode) did not answer: stopped, restarting or unreachable. The page says so in
    words instead of Streamlit's redacted error; a save that was on its way may or may not have committed."""

    def __init__(self, target: str) -> None:
        super().__init__(
            f"The store server ({target}) did not answer. If you were saving, check whether it was saved before "
            "trying again; if this goes on, tell your administrator."
        )


class StoreLocked(StoreError):
    pass


class StoreCorrupt(StoreError):
    pass


class StoreTooNew(StoreError):
    pass


class WriteConflict(duckdb.TransactionException, ValueError):
    """Someone else changed the same rows in a transaction that overlapped this one, and committed first (DuckDB's
    optimistic concurrency: no update is lost, the later writer is refused). A ValueError, so pages show it as
    they show other refused input; still a TransactionException, so code that handles races itself catches it."""

    def __init__(self) -> None:
        super().__init__(
            "Someone else changed the same records at the same moment; nothing was saved. Try again."
        )


def _is_conflict(e: duckdb.TransactionException) -> bool:
    return "conflict" in str(e).lower()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    out = []
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.fullmatch(r"(\d{3})_([a-z0-9_]+)\.sql", f.name)
        if not m:
            raise RuntimeError(f"migration file name {f.name!r} must look like 001_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), f.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions) or versions[:1] != [1]:
        raise RuntimeError(f"migrations must start at 001 and be numbered uniquely, found {versions}")
    return out


def db_path_from_env() -> Path:
    return Path(os.environ.get("THREAT_DB") or DEFAULT_DB)


def is_served(target: Path | str) -> bool:
    """Whether THREAT_DB / --db names a store server (`quack:HOST:PORT`) rather than a file."""
    return str(target).startswith("quack:")


# -- the lock discipline (see the module docstring) --------------------------------------------------------


@dataclass
class _Hold:
    fd: int  # read-only, opened after DuckDB's own; closing it drops the process's lock, so only at the end
    name: str  # the absolute path the Stores use (DuckDB shares one instance per path string)
    count: int  # open Stores of this file


_HELD: dict[tuple[int, int], _Hold] = {}
_HELD_LOCK = threading.Lock()


def _file_key(path: Path | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # stat opens nothing, so it never drops a lock
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def held_here(path: Path | str) -> bool:
    """Whether this process holds the file at `path` (under any name) as an open store."""
    key = _file_key(path)
    with _HELD_LOCK:
        return key is not None and key in _HELD


def held_fd(path: Path | str) -> int | None:
    """The descriptor through which this process reads the open store at `path` (never to be closed), or None."""
    key = _file_key(path)
    with _HELD_LOCK:
        hold = _HELD.get(key) if key is not None else None
        return hold.fd if hold is not None else None


def hold_file(path: Path) -> tuple[int, int] | None:
    """Register a file this process has just opened with DuckDB (Store does; so does an offline backup's raw
    connection). Pair with `release_file(key)` after DuckDB has closed it."""
    name = os.path.abspath(path)
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    key = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
    with _HELD_LOCK:
        hold = _HELD.get(key)
        if hold is None:
            _HELD[key] = _Hold(fd, name, 1)
            return key
        hold.count += 1
    # Another Store of this process already holds the file, so this second descriptor cannot be closed
    # without dropping that Store's lock. It is kept, unused, for the life of the process (rare: the same
    # file opened twice through `Store(...)` instead of `open_store`).
    return key


def release_file(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _HELD_LOCK:
        hold = _HELD.get(key)
        if hold is None:
            return
        hold.count -= 1
        if hold.count > 0:
            return
        del _HELD[key]
    os.close(
        hold.fd
    )  # the last Store of the file is closed (its DuckDB instance first): nothing left to drop


@contextmanager
def exclusive(path: Path | str, *, purpose: str) -> Iterator[None]:
    """Hold `path` exclusively (no DuckDB in any process can open it meanwhile) to replace or delete it.

    Refuses with a one-line StoreLocked if this process or any other holds it (read-only too). `purpose` ends
    the message ("restoring over it", "replacing it with a demo store")."""
    p = Path(path)
    if held_here(p):
        raise StoreLocked(f"{p} is the store this process has open; close it before {purpose}")
    try:
        fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield
        return
    except OSError as e:
        raise StoreError(f"{p} cannot be opened to check that nobody uses it ({e.strerror})") from None
    try:
        try:
            # The same kind of lock DuckDB takes: refused while any process holds the file, read-only too.
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreLocked(
                f"{p} is in use by a running process (the dashboard or a command); stop it before {purpose}"
            ) from None
        yield
    finally:
        os.close(fd)  # safe: this process holds no store on this file (checked above), only this lock


def duckdb_config() -> dict[str, str | bool | int | float | list[str]]:
    """The settings every DuckDB connection to a store file opens with (the app's, a backup's, the benchmark's):
    one place, because DuckDB refuses to open one file twice with different settings."""
    return {
        # A stray extension autoload must fail at once rather than try the network.
        "autoinstall_known_extensions": False,
        # Deliberate bounds so a 10M-row store stays inside the server's memory budget on a 2-core machine.
        "memory_limit": os.environ.get("THREAT_DB_MEMORY_LIMIT", "1GB"),
        "threads": int(os.environ.get("THREAT_DB_THREADS", "2")),
    }


class Store:
    """An open store. Use `cursor()` per thread or session and `transaction()` for every write."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.generation = 0  # bumped after every committed write in this process; part of cache keys
        # Bumped only by writes that may change the records (incidents, evaluations, ATLAS, mappings, users):
        # results computed from the records alone stay cached across assessment saves and saved views.
        self.record_generation = 0
        self.hardened = False
        self.closed = False
        self._lock = threading.Lock()
        self._hold: tuple[int, int] | None = None
        self._versioned = False  # set once migration 015 (data_versions) is in place
        in_memory = str(path) == ":memory:"
        if not read_only and not in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if not in_memory:
            key = _file_key(self.path)
            with _HELD_LOCK:
                other = _HELD.get(key) if key is not None else None
            if other is not None and other.name != os.path.abspath(self.path):
                raise StoreLocked(
                    f"{self.path} is already open in this process as {other.name}; open it under that name"
                )
        if read_only and not self.path.exists():
            raise StoreError(
                f"No store at {self.path}. Build one with `python -m analytics demo --db {self.path}`."
            )
        try:
            self.db = duckdb.connect(str(self.path), read_only=read_only, config=duckdb_config())
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" in msg.lower():
                raise StoreLocked(
                    f"The store {self.path} is in use by another process (DuckDB allows one writer). "
                    "Stop the dashboard or the other command and try again, or hand the file to the running "
                    "dashboard with `python -m analytics import ... --inbox`."
                ) from None
            if "newer version of duckdb" in msg.lower():
                # The served store runs DuckDB 1.5.5 (docs/deployment.md); files written by 2.0 are unreadable there.
                raise StoreTooNew(
                    f"{self.path} was written by a newer DuckDB than this environment's {duckdb.__version__}. "
                    "It was left untouched; open it with the app's main environment (.venv), or build the "
                    "served store with the served environment (.venv-served)."
                ) from None
            raise StoreCorrupt(
                f"{self.path} is not a readable DuckDB store ({_first_line(msg)}). It was left untouched; "
                "point THREAT_DB at another path or move this file away."
            ) from None
        except duckdb.Error as e:
            raise StoreCorrupt(
                f"{self.path} could not be opened as a DuckDB store ({_first_line(str(e))}). It was left untouched."
            ) from None
        if not in_memory:
            self._hold = hold_file(self.path)
        try:
            self._migrate()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.db.close()
            release_file(self._hold)
            self._hold = None
            raise
        self._versioned = self.schema_version() >= DATA_VERSION_MIGRATION
        if self._versioned and not self.read_only:
            self.db.execute(PRUNE_VERSIONS_SQL)

    # -- schema ---------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        row = self.db.execute(
            "select count(*) from information_schema.tables where table_name = 'schema_version'"
        ).fetchone()
        if not row or row[0] == 0:
            return 0
        v = self.db.execute("select coalesce(max(version), 0) from schema_version").fetchone()
        return int(v[0]) if v else 0

    def _migrate(self) -> None:
        migrations = load_migrations()
        known = migrations[-1].version
        tables = self.db.execute(
            "select count(*) from information_schema.tables where table_schema = 'main'"
        ).fetchone()
        current = self.schema_version()
        if current == 0 and tables and tables[0] > 0:
            self.db.close()
            raise StoreCorrupt(
                f"{self.path} is a DuckDB file but not a threat-dashboard store (it has tables but no "
                "schema_version). It was left untouched; point THREAT_DB at another path."
            )
        if current > known:
            self.db.close()
            raise StoreTooNew(
                f"{self.path} has schema version {current}, newer than this app understands ({known}). "
                "Upgrade the app (git pull && make install); the file was left untouched."
            )
        if current == known:
            return
        if self.read_only:
            self.db.close()
            raise StoreError(f"{self.path} needs migrations {current + 1}..{known}; open it read-write once.")
        for m in migrations:
            if m.version <= current:
                continue
            with self.transaction() as cur:
                cur.execute(m.sql)
                cur.execute(
                    "insert into schema_version (version, name, applied_at) values (?, ?, current_timestamp)",
                    [m.version, m.name],
                )

    # -- access ---------------------------------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for this thread/session, sharing the one database instance."""
        return self.db.cursor()

    @contextmanager
    def transaction(
        self, *, changes_data: bool = True, changes_records: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing writes: commit on success, roll back on any exception. A commit moves `generation`
        on (cached results are keyed by it) unless `changes_data` is False: a transaction that only appends to
        the audit log (a sign-in, an export) changes nothing a cached result reads. `changes_records=False`
        (assessments, saved views) leaves `record_generation` alone."""
        cur = self.db.cursor()
        cur.execute("begin transaction")
        try:
            yield cur
        except BaseException as e:
            cur.execute("rollback")
            cur.close()
            if isinstance(e, duckdb.TransactionException) and _is_conflict(e):
                raise WriteConflict() from e
            raise
        try:
            if changes_data and self._versioned:
                # The version row every replica reads for its cache key (migration 015): in the same
                # transaction, so it is visible exactly when the write is.
                cur.execute(BUMP_VERSION_SQL, [changes_records])
            cur.execute("commit")
        except duckdb.TransactionException as e:
            cur.close()
            if _is_conflict(e):
                raise WriteConflict() from e
            raise
        cur.close()
        if changes_data:
            with self._lock:
                self.generation += 1
                if changes_records:
                    self.record_generation += 1

    def data_version(self) -> tuple[int, int]:
        """(generation, record_generation) for cache keys. This process is the only one that can hold the
        file, so its own counters see every write; a served store (analytics/store/served.py) reads the
        version row instead."""
        with self._lock:
            return self.generation, self.record_generation

    def harden(self) -> None:
        """Once the app has opened the store: no file access, ATTACH, COPY or setting changes from SQL."""
        self.db.execute("set enable_external_access = false")
        self.db.execute("set lock_configuration = true")
        self.hardened = True

    def close(self) -> None:
        self.db.close()
        self.closed = True
        # After DuckDB's instance is closed, never before: closing this descriptor drops the process's lock.
        release_file(self._hold)
        self._hold = None


def _first_line(msg: str) -> str:
    return msg.strip().splitlines()[0] if msg.strip() else "unknown error"


_OPEN: dict[str, Store] = {}
_OPEN_LOCK = threading.Lock()


def open_store(path: Path | str | None = None, *, harden: bool = False) -> Store:
    """The process-wide Store for `path` (default: THREAT_DB). Opening the same file twice reuses it."""
    p = Path(path) if path is not None else db_path_from_env()
    if is_served(path if path is not None else p):
        from analytics.store.served import ServedStore

        key = str(path if path is not None else p)
    else:
        key = str(p.resolve()) if str(p) != ":memory:" else ":memory:"
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None:
            store = ServedStore(key) if is_served(key) else Store(p)
            _OPEN[key] = store
        if harden and not store.hardened:
            store.harden()
        return store


def close_all() -> None:
    with _OPEN_LOCK:
        for s in _OPEN.values():
            with contextlib.suppress(duckdb.Error):
                s.close()
        _OPEN.clear()
