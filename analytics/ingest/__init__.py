"""Importers, one module per format. Every import is one transaction: all rows or none.

Each importer has the signature `import_<kind>(store, path, *, actor, institute, tlp, releasable, **options)
-> ImportReport` and raises `ImportRefused` (a message naming the file, row or field) for bad input, leaving the
store unchanged. The CLI finds importers through `IMPORTERS`.

`options` are the generic import flags, one keyword each (`IMPORT_OPTIONS`); an importer declares, as keyword
parameters, only those it honours, and the CLI refuses a flag the importer does not declare (one line, exit 2)
instead of ignoring it: `target` (--records), `source_key` (--source), `mapping` (--map/--mapping),
`constants` (--set), `recipients` (--recipients), `only_valid` (--only-valid), `update` (--update).

Provenance: `public_origin(source_key)` is the one rule that makes an import's records PUBLIC: a registered
public source key (analytics/sources.py) means originator/institute PUBLIC whoever imports, TLP:CLEAR unless a
higher TLP is chosen, never AMBER+STRICT or RED, releasable to both institutes (`public_marking`).

`load_json` is the one way an importer parses JSON it was handed: nesting deeper than `MAX_JSON_DEPTH` is refused
in one line naming the file, instead of exhausting Python's stack (a few hundred KB of brackets did).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from analytics.sources import PublicSource, public_source
from analytics.wording import counted


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


IMPORT_OPTIONS: dict[str, str] = {
    "target": "--records",
    "source_key": "--source",
    "mapping": "--map/--mapping",
    "constants": "--set",
    "recipients": "--recipients",
    "only_valid": "--only-valid",
    "update": "--update",
}


def importer_options(fn: Callable[..., Any]) -> frozenset[str]:
    """The generic options (IMPORT_OPTIONS) an importer declares as keyword parameters."""
    params = inspect.signature(fn).parameters
    return frozenset(k for k in IMPORT_OPTIONS if k in params)


def refuse_unknown_options(kind: str, fn: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """A flag the importer does not honour is refused in one line, never silently ignored."""
    unused = [IMPORT_OPTIONS[k] for k, v in options.items() if v and k not in importer_options(fn)]
    if unused:
        raise ImportRefused(f"import {kind} does not take {', '.join(unused)}")


def clean_options(options: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The options of a hand-over manifest (written by the CLI, read back by the dashboard) that the importer
    declares (`allowed`), each of its expected type and size; anything else is dropped, never passed on."""

    def names(value: Any) -> dict[str, str] | None:
        if not isinstance(value, dict) or len(value) > 500:
            return None
        ok = all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 300 and len(v) <= 500
            for k, v in value.items()
        )
        return dict(value) if ok and value else None

    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in allowed:
            continue
        if key == "target" and value in ("incidents", "eval_runs"):
            out[key] = value
        elif key == "source_key" and isinstance(value, str) and value.strip():
            try:
                out[key] = source_name(value[:100])
            except ImportRefused:
                continue
        elif key in ("mapping", "constants") and names(value):
            out[key] = names(value)
        elif key == "recipients" and isinstance(value, list) and 0 < len(value) <= 50:
            out[key] = [str(v)[:200] for v in value if isinstance(v, str)]
        elif key in ("only_valid", "update") and value is True:
            out[key] = True
    return out


def public_origin(source_key: str | None) -> PublicSource | None:
    """The registered public source an import's records come from (their originator is then PUBLIC whoever
    imports them), or None for an institute's own reporting. The one place that rule is decided: the tabular
    importer, the dedicated public importers and STIX all ask here."""
    return public_source(source_key.strip().lower()) if source_key else None


def public_marking(
    source: PublicSource, tlp: str | None, releasable: Sequence[str] | None
) -> tuple[str, list[str]]:
    """The marking of a public source's records: TLP:CLEAR unless a higher TLP is chosen, releasable to both
    institutes unless narrowed; never AMBER+STRICT (an originating institute's own) or RED (named people)."""
    from analytics.access.markings import INSTITUTES, normalise_tlp, parse_releasable

    try:
        level = normalise_tlp(tlp) if tlp else "CLEAR"
        rel = sorted(parse_releasable(releasable)) if releasable else sorted(INSTITUTES)
    except ValueError as e:
        raise ImportRefused(str(e)) from None
    if level in ("AMBER+STRICT", "RED"):
        raise ImportRefused(
            f"{source.name} is a public source: its records are never TLP:{level} (CLEAR, GREEN or AMBER)"
        )
    return level, rel


SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9 ._-]{0,99}")


def source_name(raw: str | None) -> str | None:
    """A --source value as stored in incidents.source / eval_runs.source: lower-cased and stripped; refused
    (one line) unless letters, digits, spaces and . _ - (at most 100)."""
    if raw is None or not raw.strip():
        return None
    name = raw.strip().lower()
    if not SOURCE_NAME.fullmatch(name):
        raise ImportRefused(f"--source {raw!r}: use letters, digits, spaces and . _ - only (at most 100)")
    return name


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
        return text + (f"; {counted(len(self.warnings), 'warning')}" if self.warnings else "")


# kind -> "module:function"; modules are imported lazily so one missing optional format never breaks the CLI.
IMPORTERS: dict[str, str] = {
    "inspect": "analytics.ingest.inspect_logs:import_inspect",
    "epoch": "analytics.ingest.epoch:import_epoch",
    "atlas": "analytics.ingest.atlas:import_atlas",
    "aiid": "analytics.ingest.aiid:import_aiid",
    "avid": "analytics.ingest.avid:import_avid",
    "garak": "analytics.ingest.garak:import_garak",
    "jailbreakbench": "analytics.ingest.jailbreakbench:import_jailbreakbench",
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
