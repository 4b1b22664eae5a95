"""Results shared by the replicas on one machine (analytics/store/shared_cache.py): what one replica computed
another reads, only under the same key (function, viewer, store and data version, arguments), only from a
directory nobody else may write, and never after it expires."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import date

import pytest

from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.store import shared_cache
from analytics.store.shared_cache import MISS, SharedCacheError, SharedResultCache, key_for
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST


def test_what_one_replica_computed_another_reads(tmp_path, demo_store) -> None:
    first, second = SharedResultCache(tmp_path / "cache"), SharedResultCache(tmp_path / "cache")
    f = Filters(categories=("Jailbreak",))
    key = key_for("incidents.base.store_totals", UK_ANALYST, ("quack:h:1", 7), (f, TODAY), ())
    assert key is not None
    assert second.get(key) is MISS
    computed = incident_base.store_totals(demo_store.cursor(), UK_ANALYST, f, TODAY)
    first.put(key, computed)
    assert second.get(key) == computed  # the same counts and the same marking


def test_keys_differ_by_every_part_and_only_plain_values_are_keyed() -> None:
    base = ("fn", UK_ANALYST, ("quack:h:1", 7), (Filters(), TODAY), ())
    key = key_for(*base)
    assert key == key_for(*base)
    variants = [
        ("other_fn", *base[1:]),
        (base[0], AU_ANALYST, *base[2:]),
        (*base[:2], ("quack:h:1", 8), *base[3:]),  # a later data version: a write happened
        (*base[:3], (Filters(categories=("Jailbreak",)), TODAY), ()),
        (*base[:3], (Filters(), date(2026, 11, 21)), ()),
    ]
    assert len({key, *(key_for(*v) for v in variants)}) == 1 + len(variants)

    @dataclasses.dataclass
    class Mutable:
        x: int = 1

    assert key_for("fn", ["a list"]) is None  # its text form could be shared by different values later
    assert key_for("fn", Mutable()) is None
    assert key_for("fn", object()) is None


def test_expired_entries_are_not_read_and_are_pruned(tmp_path) -> None:
    cache = SharedResultCache(tmp_path / "cache", ttl_s=60)
    cache.put("k", {"n": 1})
    assert cache.get("k") == {"n": 1}
    old = time.time() - 61
    os.utime(tmp_path / "cache" / "k.pickle", (old, old))
    assert cache.get("k") is MISS
    assert cache.prune() == 1
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_directory_others_may_write_is_refused_with_its_name(tmp_path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o775)
    with pytest.raises(SharedCacheError, match=f"THREAT_CACHE_DIR {open_dir}: must belong to this user"):
        SharedResultCache(open_dir)
    assert list(open_dir.iterdir()) == []  # nothing written


def test_a_half_written_or_damaged_entry_is_a_miss(tmp_path) -> None:
    cache = SharedResultCache(tmp_path / "cache")
    (tmp_path / "cache" / "k.pickle").write_bytes(b"\x80\x05not a pickle")
    assert cache.get("k") is MISS
    cache.put("k", [1, 2])
    assert cache.get("k") == [1, 2]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".tmp"]


def test_the_code_version_is_part_of_what_is_shared() -> None:
    version = shared_cache.code_version()
    assert len(version) == 16 and version == shared_cache.code_version()


def test_only_a_served_store_shares_results(tmp_path) -> None:
    # An embedded file's data version is the process's own counters, which start again when it restarts: a
    # result written before could be read as current. A served store's version row is the store's own.
    from analytics import session

    assert session._shared_cache(str(tmp_path / "c"), str(tmp_path / "threats.duckdb")) is None
    assert session._shared_cache("", "quack:127.0.0.1:9999") is None
    served = session._shared_cache(str(tmp_path / "c"), "quack:127.0.0.1:9999")
    assert isinstance(served, SharedResultCache) and served.directory == tmp_path / "c"


def test_one_replica_computes_a_key_while_the_others_wait_for_its_result(tmp_path) -> None:
    import fcntl
    import threading

    first, second = SharedResultCache(tmp_path / "cache"), SharedResultCache(tmp_path / "cache")
    lock = tmp_path / "cache" / "k.lock"

    def computing_while_locked() -> str:
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # nobody else may compute it meanwhile
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        return "computed once"

    assert first.get_or_compute("k", computing_while_locked) == "computed once"

    # Another replica holds the key's lock (it is computing): this one waits, then reads its result.
    calls: list[str] = []
    fd = os.open(tmp_path / "cache" / "j.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(second.get_or_compute("j", lambda: calls.append("j")))
    )
    waiter.start()
    first.put("j", "the other replica's result")
    os.close(fd)  # its computation ends
    waiter.join(30)
    assert got == ["the other replica's result"] and calls == []


def test_a_directory_it_may_not_use_is_said_where_a_store_that_cannot_open_is(tmp_path) -> None:
    from analytics.store.database import StoreError

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(StoreError):  # app.py shows a StoreError's message in words, before sign-in
        SharedResultCache(open_dir)
