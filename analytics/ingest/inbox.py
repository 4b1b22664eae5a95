"""Hand-over of CLI imports to a running dashboard, through an inbox folder next to the store.

DuckDB lets one process hold the store file. While the dashboard runs it holds `data/threats.duckdb`, so
`python -m analytics import ...` cannot open it. Rather than fail with a lock error, or make the app juggle
short-lived connections, the CLI checks the file it was given (so a bad file is refused at once, with reasons),
then drops it into `<store folder>/inbox/` with a small JSON manifest (kind, actor, institute, TLP,
releasability). The dashboard calls `process_inbox(store)` on each rerun: it claims each ready manifest, runs the
same importer in its own process (one transaction: all or nothing), moves the files to `inbox/done/` or
`inbox/refused/` with a result file, and logs the outcome in `inbox_log` and the audit log, where the Data page
shows it.

Files are written under a temporary name and renamed, and the manifest is written last, so the app never sees a
half-copied file. A claim is an atomic rename; a claim left behind by a process that died is taken up again after
CLAIM_TIMEOUT (the import itself is all or nothing, and a repeat is refused as duplicates or "no change").

The inbox is a local folder with the same trust as the store file: whoever may write there may import, as whoever
may run the CLI may. The manifest's actor is recorded as given, marked "via inbox". Everything the inbox writes is
its owner's only (files 0600, the folders it creates 0700).

An outcome belongs to the person who handed the file over (the manifest's actor, the CLI's `--actor`) and to
nobody else: a refusal quotes the file (names, cell values, markings), so it is never shown to whoever happens to
load the next page. `_finish` leaves each outcome in that person's own mailbox folder (`inbox/outcomes/<digest of
the email>/`); `outcomes_for(store_path, viewer)` hands a person their own, once. The inbox log and the list of
waiting files show each person their own hand-overs; an administrator also sees that others' exist (who, when,
what kind, the outcome) but not their file names or messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics.access.markings import normalise_tlp, parse_releasable
from analytics.access.roles import ADMINS, RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.ingest import (
    IMPORT_OPTIONS,
    IMPORTERS,
    ImportRefused,
    available_importers,
    clean_options,
    importer_options,
)
from analytics.store import audit
from analytics.store.database import Store, StoreError

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

MANIFEST_SUFFIX = ".manifest.json"
CLAIM_SUFFIX = ".processing"
CLAIM_TIMEOUT = 15 * 60  # seconds after which a claim by a dead process is taken up again
_PROCESSING = threading.Lock()  # one sweep at a time per process (Streamlit runs sessions in threads)


@dataclass(frozen=True)
class Manifest:
    kind: str
    file: str  # '<stamp>/<name>': the data file inside the inbox
    original_name: str
    actor: str
    institute: str | None
    tlp: str | None
    releasable: list[str] | None
    submitted_at: str
    options: dict[str, Any]


@dataclass(frozen=True)
class InboxResult:
    file: str
    kind: str
    actor: str
    outcome: str  # 'imported' | 'refused'
    message: str
    batch_id: str | None = None

    def describe(self) -> str:
        verb = "Imported" if self.outcome == "imported" else "Refused"
        return f"{verb} {self.file} ({self.kind}, handed over by {self.actor}): {self.message}"


def inbox_dir(store_path: Path | str) -> Path:
    return Path(store_path).resolve().parent / "inbox"


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "file"
    return base[:120]


def _private_dir(path: Path) -> Path:
    """A folder of the inbox, created 0700 (chmod: mkdir's mode is filtered by the umask)."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` under a temporary name, 0600 from the start, then rename it into place."""
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def _copy_private(src: Path, dst: Path) -> None:
    """Copy a folder handed over: folders 0700, files 0600 (copytree would keep the source's modes)."""
    _private_dir(dst)
    for item in sorted(src.iterdir()):
        if item.is_symlink():
            continue  # a link could point anywhere on this machine; only real files are handed over
        if item.is_dir():
            _copy_private(item, dst / item.name)
        elif item.is_file():
            _write_atomic(dst / item.name, item.read_bytes())


def hand_over(
    store_path: Path | str,
    source: Path | str,
    *,
    kind: str,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: list[str] | tuple[str, ...] | None,
    options: dict[str, Any] | None = None,
) -> Path:
    """Copy `source` into the inbox with its manifest (written last). Returns the manifest path."""
    if kind not in IMPORTERS:
        raise ValueError(f"unknown import kind {kind!r}")
    if institute not in (None, "UK", "AU"):
        raise ValueError(f"unknown institute {institute!r}")
    src = Path(source)
    folder = _private_dir(inbox_dir(store_path))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    # Each hand-over gets its own folder, so the importer sees the file under its original name.
    holder = folder / stamp
    holder.mkdir(mode=0o700)
    os.chmod(holder, 0o700)
    data_name = _safe_name(src.name)
    if src.is_dir():
        tmp = holder / (data_name + ".part")
        _copy_private(src, tmp)
        tmp.replace(holder / data_name)
    else:
        _write_atomic(holder / data_name, src.read_bytes())
    manifest = Manifest(
        kind=kind,
        file=f"{stamp}/{data_name}",
        original_name=src.name,
        actor=actor[:200],
        institute=institute,
        tlp=normalise_tlp(tlp) if tlp else None,
        releasable=list(parse_releasable(releasable)) if releasable else None,
        submitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        options=dict(options or {}),
    )
    path = folder / f"{stamp}{MANIFEST_SUFFIX}"
    _write_atomic(path, json.dumps(asdict(manifest), indent=1).encode("utf-8"))
    return path


def pending(store_path: Path | str) -> list[Manifest]:
    """Manifests waiting (or claimed and still running), oldest first."""
    folder = inbox_dir(store_path)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.endswith(MANIFEST_SUFFIX) or p.name.endswith(MANIFEST_SUFFIX + CLAIM_SUFFIX):
            with contextlib.suppress(OSError, ValueError, TypeError):
                out.append(Manifest(**json.loads(p.read_text())))
    return out


WITHHELD = "(handed over by someone else)"


def _is_own(actor: str | None, viewer: Viewer) -> bool:
    return bool(actor) and str(actor).strip().lower() == viewer.email.strip().lower()


def pending_for(store_path: Path | str, viewer: Viewer) -> list[Manifest]:
    """What waits in the inbox, as the Data page lists it: each person their own hand-overs; admins also the
    others', with the file name withheld."""
    viewer.require(*RECORD_READERS)
    out = []
    for m in pending(store_path):
        if _is_own(m.actor, viewer):
            out.append(m)
        elif viewer.role in ADMINS:
            out.append(replace(m, original_name=WITHHELD, file=WITHHELD, options={}))
    return out


def _ready(folder: Path) -> list[Path]:
    out = []
    now = time.time()
    for p in sorted(folder.iterdir()):
        if p.name.endswith(MANIFEST_SUFFIX):
            out.append(p)
        elif p.name.endswith(MANIFEST_SUFFIX + CLAIM_SUFFIX):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > CLAIM_TIMEOUT:
                    out.append(p)
    return out


def process_inbox(store: Store) -> list[InboxResult]:
    """Import every ready file in the store's inbox; return what happened (empty when there was nothing).

    Cheap when the inbox is empty (one directory listing), so the app can call it on every rerun."""
    if str(store.path) == ":memory:" or store.read_only:
        return []
    folder = inbox_dir(store.path)
    if not folder.is_dir():
        return []
    ready = _ready(folder)
    if not ready or not _PROCESSING.acquire(blocking=False):
        return []
    try:
        return [r for p in ready if (r := _process_one(store, folder, p)) is not None]
    finally:
        _PROCESSING.release()


def _process_one(store: Store, folder: Path, manifest_path: Path) -> InboxResult | None:
    base = manifest_path.name.removesuffix(CLAIM_SUFFIX)
    claimed = folder / (base + CLAIM_SUFFIX)
    try:
        if manifest_path != claimed:
            manifest_path.replace(claimed)  # atomic: only one process wins the claim
        os.utime(claimed)
        raw = json.loads(claimed.read_text())
        manifest = Manifest(**raw)
    except FileNotFoundError:
        return None  # another process claimed it first
    except (OSError, ValueError, TypeError) as e:
        result = InboxResult(base, "?", "?", "refused", f"unreadable manifest ({e})")
        _finish(store, folder, claimed, None, result, None)
        return result

    parts = Path(manifest.file).parts
    data_path = (
        folder / Path(*[p for p in parts if p not in ("..", "/")][-2:]) if parts else folder / "missing"
    )
    batch_id: str | None = None
    try:
        if not data_path.exists():
            raise ImportRefused(f"the data file {manifest.file} is missing from the inbox")
        importers = available_importers()
        if manifest.kind not in importers:
            raise ImportRefused(f"no importer for kind {manifest.kind!r} in this version of the app")
        report = importers[manifest.kind](
            store,
            data_path,
            actor=manifest.actor,
            institute=manifest.institute,
            tlp=manifest.tlp,
            releasable=tuple(manifest.releasable) if manifest.releasable else None,
            **_allowed_options(manifest),
        )
        batch_id = report.batch_id
        result = InboxResult(
            manifest.original_name, manifest.kind, manifest.actor, "imported", report.summary(), batch_id
        )
    except (ImportRefused, ValueError, FileNotFoundError, StoreError, duckdb.Error) as e:
        result = InboxResult(manifest.original_name, manifest.kind, manifest.actor, "refused", str(e))
    _finish(store, folder, claimed, data_path, result, manifest)
    return result


# The options a hand-over carries: exactly the CLI's import options (analytics/cli.py `import_options` builds
# them; tests/security/test_inbox_privacy.py checks both lists against the parser), each checked by
# ingest.clean_options and passed only to an importer that declares it.
TABULAR_OPTIONS = tuple(IMPORT_OPTIONS)


def _allowed_options(manifest: Manifest) -> dict[str, Any]:
    """The manifest's options the importer declares, each of its type; anything else in a manifest is ignored."""
    fn = available_importers().get(manifest.kind)
    return clean_options(manifest.options, importer_options(fn)) if fn else {}


def _finish(
    store: Store,
    folder: Path,
    claimed: Path,
    data_path: Path | None,
    result: InboxResult,
    manifest: Manifest | None,
) -> None:
    dest = _private_dir(folder / ("done" if result.outcome == "imported" else "refused"))
    base = claimed.name.removesuffix(CLAIM_SUFFIX).removesuffix(MANIFEST_SUFFIX)
    with contextlib.suppress(OSError):
        _write_atomic(dest / f"{base}.result.json", json.dumps(asdict(result), indent=1).encode("utf-8"))
    with contextlib.suppress(OSError):
        _deliver(folder, base, result)
    holder = data_path.parent if data_path is not None else None
    if holder is not None and holder != folder and holder.exists():
        with contextlib.suppress(OSError):
            holder.replace(dest / holder.name)
    with contextlib.suppress(OSError):
        claimed.replace(dest / (base + MANIFEST_SUFFIX))
    submitted = None
    if manifest is not None:
        with contextlib.suppress(ValueError):
            submitted = datetime.fromisoformat(manifest.submitted_at).astimezone(UTC).replace(tzinfo=None)
    with store.transaction() as con:
        con.execute(
            "insert into inbox_log (file_name, kind, actor, institute, submitted_at, outcome, message, batch_id) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                result.file,
                result.kind,
                result.actor,
                manifest.institute if manifest else None,
                submitted,
                result.outcome,
                result.message[:4000],
                result.batch_id,
            ],
        )
        audit.record(
            con,
            result.actor,
            "inbox " + result.outcome,
            f"batch:{result.batch_id}" if result.batch_id else f"file:{result.file}",
            {"file": result.file, "kind": result.kind, "via": "inbox"},
        )


def _mailbox(folder: Path, actor: str) -> Path:
    """The folder of one person's undelivered outcomes: named by a digest of their email, so a listing of the
    inbox does not list who handed files over."""
    digest = hashlib.sha256(actor.strip().lower().encode("utf-8")).hexdigest()[:32]
    return folder / "outcomes" / digest


def _deliver(folder: Path, base: str, result: InboxResult) -> None:
    if not result.actor or result.actor == "?":
        return  # nobody to give it to: it stays in the log (its handed-over-by person) and done/ or refused/
    box = _mailbox(folder, result.actor)
    _private_dir(box.parent)
    _private_dir(box)
    _write_atomic(box / f"{base}.json", json.dumps(asdict(result)).encode("utf-8"))


def outcomes_for(store_path: Path | str, viewer: Viewer) -> list[InboxResult]:
    """The outcomes of this person's own hand-overs not yet shown to them, oldest first; each is given once.
    Nobody else's: an outcome quotes the file it refused. Cheap when there are none (one stat)."""
    if str(store_path) == ":memory:" or not viewer.email:
        return []
    box = _mailbox(inbox_dir(store_path), viewer.email)
    if not box.is_dir():
        return []
    out = []
    for p in sorted(box.glob("*.json")):
        try:
            taken = p.with_name(p.name + ".taken")
            p.replace(taken)  # atomic: two sessions of the same person never both show it
        except FileNotFoundError:
            continue
        with contextlib.suppress(OSError, ValueError, TypeError):
            result = InboxResult(**json.loads(taken.read_text()))
            if _is_own(result.actor, viewer):
                out.append(result)
        taken.unlink(missing_ok=True)
    return out


def inbox_log(con: duckdb.DuckDBPyConnection, viewer: Viewer | None, *, limit: int = 50) -> pd.DataFrame:
    """Recent hand-overs, newest first: each person their own. Admins also see the others' (who, when, what kind,
    the outcome) with the file name and message withheld: those quote the file. `viewer=None` (the CLI, which
    has the store file itself) sees everything."""
    params: list[Any] = []
    if viewer is None:
        where, name, message = "true", "file_name", "message"
    else:
        viewer.require(*RECORD_READERS)
        own = "lower(actor) = lower(?)"
        name = f"case when {own} then file_name else ? end"
        message = f"case when {own} then message else ? end"
        params = [viewer.email, WITHHELD, viewer.email, WITHHELD]
        where = "true" if viewer.role in ADMINS else own
        if viewer.role not in ADMINS:
            params.append(viewer.email)
    return con.execute(
        f"select processed_at, {name} as file_name, kind, actor, institute, outcome, {message} as message, "
        f"batch_id from inbox_log where {where} order by id desc limit ?",
        [*params, int(limit)],
    ).df()
