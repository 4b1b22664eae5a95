"""Importers, one module per format. Every import is one transaction: all rows or none.

Each importer has the signature `import_<kind>(store, path, *, actor, institute, tlp, releasable) -> ImportReport`
and raises `ImportRefused` (a message naming the file, row or field) for bad input, leaving the store unchanged.
The CLI finds importers through `IMPORTERS`.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb


class ImportRefused(ValueError):
    """Bad input. The message says what and where (file, row, column or field); nothing was written."""


@dataclass
class ImportReport:
    kind: str
    source: str
    batch_id: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        text = (
            f"{self.kind} import of {self.source}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        return text + (f"; {len(self.warnings)} warnings" if self.warnings else "")


# kind -> "module:function"; modules are imported lazily so one missing optional format never breaks the CLI.
IMPORTERS: dict[str, str] = {
    "inspect": "analytics.ingest.inspect_logs:import_inspect",
    "epoch": "analytics.ingest.epoch:import_epoch",
    "atlas": "analytics.ingest.atlas:import_atlas",
    "aiid": "analytics.ingest.aiid:import_aiid",
    "csv": "analytics.ingest.tabular:import_tabular",
    "json": "analytics.ingest.tabular:import_tabular",
    "jsonl": "analytics.ingest.tabular:import_tabular",
    "stix": "analytics.ingest.stix:import_stix",
}


def available_importers() -> dict[str, Callable[..., ImportReport]]:
    out = {}
    for kind, target in IMPORTERS.items():
        module, fn = target.split(":")
        try:
            out[kind] = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError):
            continue
    return out


def new_batch_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def record_batch(
    con: duckdb.DuckDBPyConnection, report: ImportReport, *, actor: str, institute: str | None
) -> None:
    """Write the batch row inside the import's own transaction, so history and data commit together."""
    con.execute(
        "insert into import_batches (batch_id, kind, source, imported_by, institute, added, updated, unchanged, "
        "rejected, warnings) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.batch_id,
            report.kind,
            Path(report.source).name if report.source else "",
            actor,
            institute,
            report.added,
            report.updated,
            report.unchanged,
            report.rejected,
            report.warnings,
        ],
    )
