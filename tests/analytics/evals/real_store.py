"""A store as an analyst has it: the demo (institute runs with per-sample scores) plus the real public imports in
../shared/data (Epoch AI Benchmarking Hub, garak, JailbreakBench). Built once per test module that needs it."""

from __future__ import annotations

from pathlib import Path

from analytics.demo.generator import build_demo
from analytics.ingest.epoch import import_epoch
from analytics.ingest.garak import import_garak
from analytics.ingest.jailbreakbench import import_jailbreakbench
from analytics.store.database import Store
from tests.conftest import SHARED_DATA


def build_real_store(path: Path) -> Path:
    """Demo incidents and evaluations, then every Epoch, garak and JailbreakBench file of the shared data."""
    store = Store(path)
    build_demo(store, incidents=300, seed=7)
    import_epoch(store, SHARED_DATA / "epoch-benchmarks", actor="test")
    import_garak(store, SHARED_DATA / "garak", actor="test")
    import_jailbreakbench(store, SHARED_DATA / "jailbreakbench", actor="test")
    store.close()
    return path
