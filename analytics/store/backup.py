"""Backups and restores of the store, safe while the dashboard is running.

DuckDB lets one process hold the store file, so a second process (this CLI) can neither read a consistent
snapshot nor ask DuckDB for one while the dashboard runs; and the dashboard's own connection is hardened
(`enable_external_access = false`, configuration locked), so `EXPORT DATABASE` or `COPY ... TO` from inside it
are refused. What remains, and what this module does, is a byte copy of the store file taken by the process
that holds it, right after a checkpoint:

1. `CHECKPOINT` folds the write-ahead log into the file. DuckDB refuses it while another write transaction is
   open, so it is retried until a deadline.
2. The file is copied, through the descriptor the store module keeps for the open store (`store.held_fd`),
   never by opening the store's path: on Linux closing any descriptor of the file would drop DuckDB's lock and
   let a second process write the store (see analytics/store/database.py). DuckDB writes new data only into blocks the
   current database header does not reference,
   and switches headers (two slots, each with an iteration counter) only when a checkpoint completes. The
   counters are read before and after the copy: unchanged means the copy is exactly the checkpointed database
   (concurrent commits went to the WAL or to unreferenced blocks); changed means a checkpoint completed while
   copying, so the copy is thrown away and taken again. (Checked under concurrent writers and automatic
   checkpoints: every accepted copy opened, passed its block checksums and kept a cross-table invariant.)
3. The copy is opened in a separate, small, read-only DuckDB instance and every table is scanned (DuckDB checks
   block checksums as it reads); row counts, the schema version and the file's SHA-256 go into a manifest
   `<backup>.json` beside it. Commits after the checkpoint are not in the backup: it is the store as of then.

How a backup reaches the process that holds the store: `python -m analytics backup` first tries to open the
store itself (nobody holds it: it backs up directly). If the store is locked, it drops a request file into a
private folder beside the store (`.<store name>.backup-requests/`, mode 0700) and waits for the answer; the
dashboard runs `serve_backup_requests` on a background thread from the moment it opens the store, and answers
within about a second. Only request files owned by the dashboard's own user are honoured.

Restore is offline: it verifies the backup, refuses to replace an existing store (or a stray WAL) unless
forced, refuses a store that any process holds (and holds it itself while replacing it, `store.exclusive`),
never deletes the file it replaces (it is moved to `<store>.replaced-<time>`), and writes the new file under a
temporary name, with its audit entry already in it, before an atomic rename.

Backups are readable by their owner only: files 0600, folders this module creates 0700.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from analytics.store import audit
from analytics.store.database import (
    Store,
    StoreError,
    StoreLocked,
    duckdb_config,
    exclusive,
    held_fd,
    held_here,
    hold_file,
    load_migrations,
    release_file,
)

MANIFEST_FORMAT = 1
# DuckDB keeps two database headers at these offsets; the 8 bytes after each header's checksum are the
# checkpoint iteration counter (storage format of DuckDB 1.x/2.x).
_HEADER_OFFSETS = (4096, 8192)
_COPY_ATTEMPTS = 5
_REQUEST_POLL_S = 1.0


class BackupError(StoreError):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: str
    manifest: str
    sha256: str
    bytes: int
    schema_version: int
    tables: dict[str, int]
    seconds: float
    created_at: str
    source: str
    attempts: int = 1
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestoreResult:
    path: str
    source: str
    schema_version: int
    tables: dict[str, int]
    replaced: str | None  # where the previous store (if any) was moved


# -- the copy itself -----------------------------------------------------------------------------------------


def _not_held_here(path: Path) -> Path:
    """Every path this module opens by name goes through here: opening (and closing) a file this process holds
    as its store would drop the store's lock (analytics/store/database.py), so such a path is refused."""
    if held_here(path):
        raise BackupError(
            f"{path} is the store this process has open; it is read only through the open store"
        )
    return path


def _store_fd(db_path: Path) -> int:
    fd = held_fd(db_path)
    if fd is None:
        raise BackupError(f"{db_path} is not open in this process; open it as a store before backing it up")
    return fd


def _header_iterations(fd: int, name: Path) -> tuple[int, int]:
    head = os.pread(fd, _HEADER_OFFSETS[-1] + 16, 0)
    if len(head) < _HEADER_OFFSETS[-1] + 16 or head[8:12] != b"DUCK":
        raise BackupError(f"{name} does not look like a DuckDB file")
    first, second = (struct.unpack_from("<Q", head, off + 8)[0] for off in _HEADER_OFFSETS)
    return int(first), int(second)


def _checkpoint(con: duckdb.DuckDBPyConnection, deadline: float) -> None:
    delay = 0.02
    while True:
        try:
            con.execute("checkpoint")
            return
        except duckdb.TransactionException as e:
            # "Cannot CHECKPOINT: there are other write transactions active": wait for them, never abort them.
            if time.monotonic() > deadline:
                raise BackupError(
                    "the store was never quiet long enough to checkpoint (a long write, such as a large "
                    "import, is running); try again when it has finished"
                ) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with _not_held_here(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _private_file(dst: Path) -> int:
    """A new file only its owner can read (0600 whatever the umask), opened for writing."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _private_dir(path: Path) -> None:
    """Create `path` (and missing parents) so that the folders created here are 0700; an existing folder is
    left as its owner set it."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for p in missing:
        with contextlib.suppress(OSError):
            os.chmod(p, 0o700)  # mkdir's mode is filtered by the umask; chmod is not


def _copy_file(src: Path, dst: Path) -> None:
    fout = _private_file(dst)
    try:
        with _not_held_here(src).open("rb") as fin:
            while chunk := fin.read(4 << 20):
                os.write(fout, chunk)
        os.fsync(fout)
    finally:
        os.close(fout)


def _copy_from_fd(fd: int, dst: Path) -> None:
    """Copy the open store's bytes through its held descriptor (pread: no file position shared with anyone)."""
    fout = _private_file(dst)
    try:
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(4 << 20, size - offset), offset)
            if not chunk:
                break
            os.write(fout, chunk)
            offset += len(chunk)
        os.fsync(fout)
    finally:
        os.close(fout)


def inspect_store_file(path: Path) -> tuple[int, dict[str, int]]:
    """Schema version and row count of every table, reading every row (DuckDB verifies block checksums as it
    reads), in a small read-only instance of its own. Raises BackupError if it is not a readable store. Never a
    file this process holds as its store (a second instance would take, then on closing drop, its lock)."""
    _not_held_here(path)
    try:
        db = duckdb.connect(
            str(path),
            read_only=True,
            config={"autoinstall_known_extensions": False, "memory_limit": "256MB", "threads": 1},
        )
    except duckdb.Error as e:
        raise BackupError(f"{path} cannot be opened as a DuckDB store ({_first_line(e)})") from None
    try:
        names = [
            str(r[0])
            for r in db.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
            ).fetchall()
        ]
        if "schema_version" not in names:
            raise BackupError(f"{path} is a DuckDB file but not a threat-dashboard store (no schema_version)")
        row = db.execute("select coalesce(max(version), 0) from schema_version").fetchone()
        version = int(row[0]) if row else 0
        tables: dict[str, int] = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'  # a name from the catalog, quoted all the same
            # Hashing whole rows makes DuckDB read (and checksum) every column block, not just the row counts.
            counted = db.execute(f"select count(*), bit_xor(hash(t)) from {quoted} t").fetchone()
            tables[name] = int(counted[0]) if counted else 0
        return version, tables
    except duckdb.Error as e:
        raise BackupError(f"{path} failed verification ({_first_line(e)})") from None
    finally:
        db.close()


def _backup_name(source: Path, out_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = out_dir / f"{source.stem}-{stamp}.duckdb"
    k = 2
    while candidate.exists() or Path(str(candidate) + ".part").exists():
        candidate = out_dir / f"{source.stem}-{stamp}-{k}.duckdb"
        k += 1
    return candidate


def backup_connection(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    out_dir: Path,
    *,
    deadline_s: float = 120.0,
    target: Path | None = None,
) -> BackupResult:
    """Checkpoint through `con` (a connection to the database at `db_path`, in the process that holds it),
    copy the file through the descriptor the store module holds for it, verify the copy and write its manifest
    into `target` (default: a new name in `out_dir`). Does not write to the store."""
    t0 = time.monotonic()
    deadline = t0 + deadline_s
    fd = _store_fd(db_path)
    out_dir = out_dir.resolve()
    _private_dir(out_dir)
    target = target or _backup_name(db_path, out_dir)
    partial = Path(str(target) + ".part")
    attempts = 0
    try:
        while True:
            attempts += 1
            _checkpoint(con, deadline)
            before = _header_iterations(fd, db_path)
            _copy_from_fd(fd, partial)
            after = _header_iterations(fd, db_path)
            if before == after:
                break
            if attempts >= _COPY_ATTEMPTS or time.monotonic() > deadline:
                raise BackupError(
                    f"the store kept checkpointing while being copied ({attempts} attempts); try again when "
                    "it is less busy"
                )
        version, tables = inspect_store_file(partial)
        digest = _sha256(partial)
        size = partial.stat().st_size
        os.replace(partial, target)
        _fsync_dir(out_dir)
    finally:
        partial.unlink(missing_ok=True)
    result = BackupResult(
        path=str(target),
        manifest=str(target) + ".json",
        sha256=digest,
        bytes=size,
        schema_version=version,
        tables=tables,
        seconds=round(time.monotonic() - t0, 3),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=str(db_path.resolve()),
        attempts=attempts,
    )
    manifest = {"format": MANIFEST_FORMAT, "file": target.name, **result.to_json()}
    tmp = Path(result.manifest + ".part")
    fd = _private_file(tmp)
    try:
        os.write(fd, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, result.manifest)
    return result


# -- entry points --------------------------------------------------------------------------------------------


def _target(db_path: Path, out_dir: Path | str) -> tuple[Path, Path]:
    out = Path(out_dir).resolve()
    _private_dir(out)
    return out, _backup_name(db_path, out)


# Why the audit entry comes first (both entry points): it is committed before the copy starts, so a copy of the
# store never exists without its entry (a crash or a kill mid-backup leaves at worst an entry naming a file that
# was never finished). It also lands in the backup itself: the checkpoint that precedes the copy includes it.


def backup_store(store: Store, out_dir: Path | str, *, actor: str) -> BackupResult:
    """Back up an open store from inside the process that holds it (the dashboard, a test, the CLI) and
    record the backup in the audit log (first)."""
    if str(store.path) == ":memory:":
        raise BackupError("an in-memory store has no file to back up")
    # Store.__init__ leaves the last migration check's result pending on its own connection; a pending result
    # holds a snapshot from before any later commit, and DuckDB then refuses every checkpoint. Replacing it
    # with a finished statement releases that snapshot (the app's harden() does the same at start-up).
    store.db.execute("select 1").fetchall()
    out, target = _target(store.path, out_dir)
    with store.transaction(changes_records=False) as tx:  # first: see "Why the audit entry comes first"
        audit.record(tx, actor, "backup", target.name, {"status": "started"})
    con = store.cursor()
    try:
        return backup_connection(con, store.path, out, target=target)
    finally:
        con.close()


def backup_offline(db_path: Path | str, out_dir: Path | str, *, actor: str) -> BackupResult:
    """Back up a store no process holds. Raises StoreLocked if one does (then use `request_backup`). The store
    is opened as it is (no migrations: a backup taken before an upgrade must be the old store)."""
    path = Path(db_path)
    if not path.exists():
        raise BackupError(f"no store at {path}")
    if held_here(path):
        raise BackupError(f"{path} is the store this process has open; back it up with backup_store")
    try:
        db = duckdb.connect(str(path), config=duckdb_config())
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise StoreLocked(f"{path} is held by another process") from None
        raise BackupError(f"{path} cannot be opened ({_first_line(e)})") from None
    except duckdb.Error as e:
        raise BackupError(f"{path} cannot be opened ({_first_line(e)})") from None
    key = hold_file(path)  # the copy reads through this descriptor, never by reopening the path
    try:
        out, target = _target(path, out_dir)
        db.execute("begin transaction")  # first: see "Why the audit entry comes first"
        audit.record(db, actor, "backup", target.name, {"status": "started"})
        db.execute("commit")
        return backup_connection(db.cursor(), path, out, target=target)
    finally:
        db.close()
        release_file(key)  # after DuckDB has closed the file


# -- hand-over to the running dashboard ----------------------------------------------------------------------


def requests_dir(db_path: Path | str) -> Path:
    p = Path(db_path).resolve()
    return p.parent / f".{p.name}.backup-requests"


def request_backup(
    db_path: Path | str, out_dir: Path | str, *, actor: str, timeout_s: float = 600.0
) -> BackupResult:
    """Ask the process that holds `db_path` to back it up into `out_dir`, and wait for its answer."""
    folder = requests_dir(db_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    rid = uuid.uuid4().hex
    request = folder / f"{rid}.request.json"
    result_file = folder / f"{rid}.result.json"
    tmp = folder / f"{rid}.tmp"
    tmp.write_text(
        json.dumps(
            {
                "out": str(Path(out_dir).resolve()),
                "actor": actor,
                "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    )
    os.replace(tmp, request)  # appears whole or not at all
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result_file.exists():
            answer = json.loads(result_file.read_text())
            result_file.unlink(missing_ok=True)
            if not answer.get("ok"):
                raise BackupError(f"the dashboard could not make the backup: {answer.get('error')}")
            return BackupResult(**answer["result"])
        time.sleep(0.2)
    # Withdraw the request if nobody picked it up, so a dashboard started later does not act on a stale one.
    withdrawn = True
    try:
        request.unlink()
    except FileNotFoundError:
        withdrawn = False
    if withdrawn:
        raise BackupError(
            f"{db_path} is held by another process that did not answer the backup request within "
            f"{timeout_s:.0f} s. If that is the dashboard, it has not opened the store yet (open it in a browser "
            "once) or predates the backup service; otherwise stop the other process and run the backup again."
        )
    raise BackupError(
        f"the dashboard took the request but has not finished within {timeout_s:.0f} s; "
        f"the backup will appear in {out_dir} when it does"
    )


def _answer_request(store: Store, request: Path) -> None:
    claimed = request.with_suffix(".claimed")
    try:
        os.replace(request, claimed)  # claim it: only one server thread acts on a request
    except FileNotFoundError:
        return
    rid = request.name.split(".")[0]
    answer: dict[str, Any]
    try:
        if claimed.stat().st_uid != os.getuid():
            raise BackupError("request file not owned by the dashboard's user; ignored")
        body = json.loads(claimed.read_text())
        out = Path(str(body["out"]))
        if not out.is_absolute():
            raise BackupError("the backup folder must be an absolute path")
        result = backup_store(store, out, actor=str(body.get("actor") or "cli"))
        answer = {"ok": True, "result": result.to_json()}
    except Exception as e:  # the answer must always be written, or the CLI waits for nothing
        answer = {"ok": False, "error": str(e)}
    tmp = request.parent / f"{rid}.result.tmp"
    tmp.write_text(json.dumps(answer))
    os.replace(tmp, request.parent / f"{rid}.result.json")
    claimed.unlink(missing_ok=True)


_SERVING: set[int] = set()
_SERVING_LOCK = threading.Lock()


def serve_backup_requests(store: Store, *, poll_s: float = _REQUEST_POLL_S) -> threading.Thread | None:
    """Answer backup requests for `store` on a daemon thread for as long as the store is open (idempotent)."""
    if str(store.path) == ":memory:":
        return None
    with _SERVING_LOCK:
        if id(store) in _SERVING:
            return None
        _SERVING.add(id(store))
    folder = requests_dir(store.path)

    def loop() -> None:
        try:
            while True:
                time.sleep(poll_s)
                if not _is_open(store):
                    return  # the store was closed: nothing left to serve
                if not folder.is_dir():
                    continue
                for request in sorted(folder.glob("*.request.json")):
                    _answer_request(store, request)
        finally:
            with _SERVING_LOCK:
                _SERVING.discard(id(store))

    thread = threading.Thread(target=loop, name=f"backup-requests:{store.path.name}", daemon=True)
    thread.start()
    return thread


def _is_open(store: Store) -> bool:
    try:
        store.cursor().close()
        return True
    except duckdb.Error:
        return False


# -- restore -------------------------------------------------------------------------------------------------


def _aside_suffix(path: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix, k = stamp, 2
    while any(Path(f"{p}.replaced-{suffix}").exists() for p in (path, Path(f"{path}.wal"))):
        suffix, k = f"{stamp}-{k}", k + 1
    return suffix


def set_aside(path: Path, suffix: str | None = None) -> str | None:
    """Move `path` and its WAL to `<name>.replaced-<time>` beside it, never deleting them; returns where `path`
    went (None if it did not exist). The caller holds `store.exclusive(path)`."""
    suffix = suffix or _aside_suffix(path)
    replaced: str | None = None
    for p in (path, Path(f"{path}.wal")):
        if p.exists():
            aside = Path(f"{p}.replaced-{suffix}")
            os.replace(p, aside)
            if p == path:
                replaced = str(aside)
    return replaced


def restore(backup: Path | str, db_path: Path | str, *, actor: str, force: bool = False) -> RestoreResult:
    """Put a verified backup in place at `db_path`. Offline only: refuses a store any process holds."""
    src = Path(backup)
    target = Path(db_path)
    if not src.is_file():
        raise BackupError(f"no backup file at {src}")
    manifest_path = Path(str(src) + ".json")
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if _sha256(src) != manifest.get("sha256"):
            raise BackupError(
                f"{src} does not match the SHA-256 in its manifest; it is damaged or was altered"
            )
    version, tables = inspect_store_file(src)
    known = load_migrations()[-1].version
    if version > known:
        raise BackupError(
            f"{src} has schema version {version}, newer than this app ({known}); restore it with a newer app"
        )
    wal = Path(str(target) + ".wal")
    if (target.exists() or wal.exists()) and not force:
        raise BackupError(
            f"{target} already exists; leaving it untouched. Use --force to replace it (the current file is "
            "kept beside it as .replaced-<time>)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.restore-{uuid.uuid4().hex[:8]}"
    replaced: str | None = None
    try:
        _copy_file(src, partial)
        try:
            # Held for the whole replacement: no process can open the old file meanwhile (refused if one has).
            with exclusive(target, purpose="restoring over it"):
                suffix = _aside_suffix(target)
                replaced = f"{target}.replaced-{suffix}" if target.exists() else None
                # The audit entry goes into the new file before anything is moved, so the restored store
                # always says where it came from, and a failure here leaves the old store where it was.
                db = duckdb.connect(str(partial), config=duckdb_config())
                try:
                    db.execute("begin transaction")
                    audit.record(
                        db, actor, "restore", src.name, {"schema_version": version, "replaced": replaced}
                    )
                    db.execute("commit")
                    db.execute("checkpoint")
                finally:
                    db.close()
                set_aside(target, suffix)
                os.replace(partial, target)
                _fsync_dir(target.parent)
        except StoreLocked as e:
            raise BackupError(str(e)) from None
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return RestoreResult(str(target), str(src), version, tables, replaced)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
