"""Importers, one module per format. Every import is one transaction: all rows or none.

Each importer has the signature `import_<kind>(store, path, *, actor, institute, tlp, releasable) -> ImportReport`
and raises `ImportRefused` (a message naming the file, row or field) for bad input, leaving the store unchanged.
The CLI finds importers through `IMPORTERS`.

`load_json` is the one way an importer parses JSON it was handed: nesting deeper than `MAX_JSON_DEPTH` is refused
in one line naming the file, instead of exhausting Python's stack (a few hundred KB of brackets did).
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb


class ImportRefused(ValueError):
    """Bad input. The message says what and where (file, row, column or field); nothing was written."""


# Real records nest a handful of levels (bundle > objects > object > extensions > property > list); 64 leaves
# room for any genuine file and stays far below the interpreter's recursion limit (stix2 walks objects
# recursively, so the limit must hold for what json accepts, not only for what json itself can parse).
MAX_JSON_DEPTH = 64


def json_depth(doc: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value, walked without recursion; stops counting once past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return deepest


def load_json(label: str, text: str | bytes, *, where: str = "", limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a nesting limit. Raises ImportRefused (one line, naming `label` and `where`) for JSON
    nested too deep; json.JSONDecodeError passes through for the caller's own message."""
    at = f" ({where})" if where else ""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ImportRefused(f"{label}{at}: JSON nested too deep (more than {limit} levels)") from None
    if isinstance(doc, dict | list) and json_depth(doc, limit) > limit:
        raise ImportRefused(f"{label}{at}: JSON nested too deep (more than {limit} levels)")
    return doc


def importer_institute(viewer: Any, institute: str | None) -> str | None:
    """The institute an import is recorded for: a UK or AU person's own, always (choosing another is refused);
    for JOINT staff and the store's operator (no viewer), the one they chose, or None if they chose none.

    Origin is who imports: no column or claim in a file can change it (issue 22)."""
    own = getattr(viewer, "institute", None)
    if own in ("UK", "AU"):
        if institute is not None and institute != own:
            raise ImportRefused(
                f"you import for {own}; an import cannot be recorded as originating in {institute}"
            )
        return str(own)
    if institute is not None and institute not in ("UK", "AU"):
        raise ImportRefused(f"unknown originating institute {institute!r} (UK or AU)")
    return institute


def id_namespace(viewer: Any, institute: str | None) -> str | None:
    """Prefix of the ids an import creates: the importer's own institute (JOINT for joint staff), so a file's id
    can never land on, or reveal, another institute's record. None for the store's operator without an
    institute (the operator sees every record, so there is nothing to hide from them)."""
    own = getattr(viewer, "institute", None)
    return str(own) if own else institute


def namespaced_id(given: str, namespace: str | None) -> str:
    """`given` in `namespace`: unchanged if it already starts with '<namespace>-', else prefixed. Depends only on
    the importer and the file, never on what the store holds, so the id itself tells nothing."""
    if namespace is None or given.upper().startswith(f"{namespace.upper()}-"):
        return given
    return f"{namespace}-{given}"


RESERVED_ID = "-IMP-"  # ids '<namespace>-IMP-<random>' are made by importers, never taken from a file


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
    "csv": "analytics.ingest.tabular.commit:import_tabular",
    "json": "analytics.ingest.tabular.commit:import_tabular",
    "jsonl": "analytics.ingest.tabular.commit:import_tabular",
    "stix": "analytics.ingest.stix.commit:import_stix",
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
