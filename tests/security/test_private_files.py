"""Copies of the store and of handed-over files are their owner's only, and a backup is audited before it exists.

A backup is the whole store (every marking, RED included) and an inbox file is a partner's raw data: with the
usual umask 022 they used to be world-readable (0644). Files must be 0600 and the folders created for them 0700.
And the backup's audit entry must be committed before the copy starts: the copy itself then holds its entry.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.accounts import identity
from analytics.ingest import inbox
from analytics.store import backup
from analytics.store.database import Store, close_all, open_store
from tests.conftest import UK_LEAD

GOOD = "id,title,occurred_on,category,severity,tlp,releasable_to\nP-1,x,2025-05-01,Jailbreak,3,GREEN,UK;AU\n"


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "threats.duckdb"
    s = Store(path)
    with s.transaction() as con:
        identity.enrol_demo_users(con)
    s.close()
    return path


def test_backups_are_private_files_in_private_folders(db: Path, tmp_path: Path) -> None:
    offline = backup.backup_offline(db, tmp_path / "b1" / "nested", actor="ops@uk.example")
    store = open_store(db)
    try:
        online = backup.backup_store(store, tmp_path / "b2", actor="ops@uk.example")
    finally:
        close_all()
    for made in (offline, online):
        assert _mode(Path(made.path)) == 0o600, made.path
        assert _mode(Path(made.manifest)) == 0o600, made.manifest
        assert _mode(Path(made.path).parent) == 0o700
    assert _mode(tmp_path / "b1") == 0o700  # every folder the backup created
    restored = tmp_path / "restored" / "threats.duckdb"
    backup.restore(online.path, restored, actor="ops@uk.example")
    assert _mode(restored) == 0o600


def test_inbox_copies_are_private(db: Path, tmp_path: Path) -> None:
    src = tmp_path / "weekly.csv"
    src.write_text(GOOD)
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.json").write_text("{}")
    manifest = inbox.hand_over(
        db, src, kind="csv", actor=UK_LEAD.email, institute="UK", tlp=None, releasable=None
    )
    inbox.hand_over(
        db, folder, kind="inspect", actor=UK_LEAD.email, institute="UK", tlp=None, releasable=None
    )
    box = inbox.inbox_dir(db)
    assert _mode(box) == 0o700 and _mode(manifest) == 0o600
    for p in box.rglob("*"):
        assert _mode(p) == (0o700 if p.is_dir() else 0o600), p
    store = open_store(db)
    try:
        inbox.process_inbox(store)
    finally:
        close_all()
    kept = list(box.rglob("*"))
    assert any(p.name.endswith(".result.json") for p in kept)
    for p in kept:
        assert _mode(p) == (0o700 if p.is_dir() else 0o600), p


def test_the_backup_is_audited_before_the_copy_exists(db: Path, tmp_path: Path) -> None:
    """The entry is committed before the checkpoint and the copy, so the copy holds its own entry; had the entry
    been written after, the copy would not have it (and a crash between the two would leave an unaudited copy)."""
    store = open_store(db)
    try:
        made = backup.backup_store(store, tmp_path / "b", actor="ops@uk.example")
    finally:
        close_all()
    offline = backup.backup_offline(db, tmp_path / "b", actor="ops@au.example")
    for result, who in ((made, "ops@uk.example"), (offline, "ops@au.example")):
        copy = duckdb.connect(result.path, read_only=True)
        rows = copy.execute(
            "select email, object from audit_log where action = 'backup' and email = ?", [who]
        )
        assert rows.fetchall() == [(who, Path(result.path).name)]
        copy.close()
