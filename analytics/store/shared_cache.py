"""Query results shared by the app replicas on one machine, so a view one replica has computed is not computed
again by the others (THREAT_CACHE_DIR; issue 21).

Why: each replica keeps its own in-memory result cache (`session.query`), and nginx sends each analyst to one
replica. With N replicas the same question (the same persona's landing page, the same filter) was computed up
to N times by the store server, which is what runs out first: more replicas made every analyst wait longer
(docs/deployment.md). Here a result one replica computed is written once to a directory all replicas on the
machine read, under a key that holds everything the result depends on: the function, the viewer, the store and
its data version (the version row every replica sees, bumped by every write, so no replica reads a result
older than another's write), and the arguments.

What may be shared is narrow on purpose:
- Keys are built only from plain values (strings, numbers, dates, tuples, and frozen dataclasses of them, such
  as Viewer and Filters) whose text form names them exactly; a call with any other argument is not shared
  (`key_for` returns None) rather than risk two different calls reading one entry.
- Entries are pickles, read back only from a directory this process's user owns and nobody else may write
  (mode 0700, checked when it is opened): a file there is as trusted as the code itself.
- Entries older than `ttl_s` are not read and are removed as new ones are written; writes are atomic (a
  temporary file renamed into place), so a reader never sees half an entry.
- One replica computes a key at a time (`get_or_compute`); the others wait for its result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import hashlib
import os
import pickle
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from analytics.store.database import StoreError

MISS: Final = object()  # what `get` returns when there is no fresh entry

_PLAIN_SCALARS = (str, int, float, bool, type(None), dt.date, dt.datetime)


class SharedCacheError(StoreError):
    """The cache directory cannot be trusted or used; the message names it and says why. A StoreError, so the
    app shows it in words where it shows a store it cannot open (app.py), before anyone signs in."""


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_plain(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        return bool(params and params.frozen) and all(
            _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        )
    return False


def key_for(*parts: Any) -> str | None:
    """A file name for a call made of these parts, or None if any part is not a plain value (see above).
    repr() of plain values is exact (strings quoted, dates and dataclasses field by field, in order)."""
    if not all(_plain(p) for p in parts):
        return None
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class SharedResultCache:
    """One directory of pickled results, shared by the replicas on a machine."""

    PRUNE_EVERY = 200  # writes between sweeps of expired entries

    def __init__(self, directory: Path | str, ttl_s: float = 600.0) -> None:
        self.directory = Path(directory)
        self.ttl_s = ttl_s
        self._writes = 0
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
        except OSError as e:
            raise SharedCacheError(f"THREAT_CACHE_DIR {self.directory}: cannot be used ({e.strerror})") from e
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise SharedCacheError(
                f"THREAT_CACHE_DIR {self.directory}: must belong to this user and be closed to everyone else "
                f"(mode 0700; it is {stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid}): other users could "
                "plant results there"
            )

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pickle"

    def get(self, key: str) -> Any:
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > self.ttl_s:
                return MISS
            with path.open("rb") as f:
                return pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            return MISS  # none yet, or removed meanwhile: compute it

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
        """The entry for `key`, or `compute()`'s result, written for the others. Only one replica computes a
        key at a time (a lock file per key): the others wait for it and read its result. Without this, replicas
        asked the same question at the same moment (a busy morning) all asked the store server, and the more
        replicas, the more it had to answer: 4 replicas used 2.3x the store server's CPU of one."""
        found = self.get(key)
        if found is not MISS:
            return found
        fd = os.open(self.directory / f"{key}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if the holder dies
            found = self.get(key)  # computed while this one waited
            if found is not MISS:
                return found
            value = compute()
            self.put(key, value)
            return value
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def put(self, key: str, value: Any) -> None:
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a result that cannot be pickled stays in this replica's own cache only
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self._path(key))
        except OSError:
            Path(tmp).unlink(missing_ok=True)  # a full disk costs this entry, not the page
            return
        self._writes += 1
        if self._writes % self.PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> int:
        """Remove expired entries, their lock files and temporary files a killed replica left; how many were
        removed. (A lock file removed while a replica holds it costs at most one computation twice.)"""
        removed = 0
        cutoff = time.time() - self.ttl_s
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue  # another replica removed it first
        return removed


_code_version: str | None = None


def code_version() -> str:
    """A digest of the `analytics` package's source, part of every key: during a rolling upgrade, replicas
    running different code never read each other's results (their shapes may differ)."""
    global _code_version
    if _code_version is None:
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent.parent
        for source in sorted(package.rglob("*.py")):
            digest.update(str(source.relative_to(package)).encode())
            digest.update(source.read_bytes())
        _code_version = digest.hexdigest()[:16]
    return _code_version
