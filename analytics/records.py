"""The columns of the two record tables, stated once.

Why: the importers (tabular, STIX, public sources, Inspect logs) and the STIX export each spelled the incident and
evaluation-run column lists by hand, so a new column meant finding every copy. Here they are stated once, with the
Arrow type an importer hands DuckDB for each, and tests/analytics/test_records.py checks them against the tables of
a freshly migrated store: a migration that adds a column fails that test until this module says it too.

What it owns: the column names in table order (`INCIDENT_COLUMNS`, `EVAL_RUN_COLUMNS`), the subset a record's
content is made of (`*_RECORD_COLUMNS`, without provenance and bookkeeping written by the importer itself) and the
Arrow types. It holds no SQL and reads no store: callers build their own statements from these names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import pyarrow as pa

_TEXT = pa.string()
_LIST = pa.list_(pa.string())

# `incidents`, in table order (analytics/store/migrations/001_core.sql), with the type an importer supplies.
INCIDENT_TYPES: Final[Mapping[str, pa.DataType]] = {
    "id": _TEXT,
    "title": _TEXT,
    "summary": _TEXT,
    "occurred_on": pa.date32(),
    "reported_on": pa.date32(),
    "originator": _TEXT,
    "source": _TEXT,
    "category": _TEXT,
    "severity": pa.int8(),
    "actor_type": _TEXT,
    "sectors": _LIST,
    "countries": _LIST,
    "affected_system": _TEXT,
    "developer": _TEXT,
    "status": _TEXT,
    "tlp": _TEXT,
    "releasable_to": _LIST,
    "named_recipients": _LIST,
    "source_reliability": _TEXT,
    "credibility": pa.int8(),
    "tags": _LIST,
    "import_batch": _TEXT,
    "created_at": pa.timestamp("us"),
    "updated_at": pa.timestamp("us"),
    "occurred_precision": _TEXT,  # day, month or year (migration 008)
    "incident_key": pa.int64(),  # internal join key from a sequence (migration 016); never part of a record
}

# `eval_runs`, in table order.
EVAL_RUN_TYPES: Final[Mapping[str, pa.DataType]] = {
    "run_id": _TEXT,
    "institute": _TEXT,
    "model": _TEXT,
    "model_developer": _TEXT,
    "model_release_date": pa.date32(),
    "benchmark": _TEXT,
    "task_version": _TEXT,
    "eval_date": pa.date32(),
    "metric": _TEXT,
    "score": pa.float64(),
    "stderr": pa.float64(),
    "n_samples": pa.int32(),
    "status": _TEXT,
    "source": _TEXT,
    "tlp": _TEXT,
    "releasable_to": _LIST,
    "named_recipients": _LIST,
    "details": _TEXT,
    "import_batch": _TEXT,
    "created_at": pa.timestamp("us"),
}

INCIDENT_COLUMNS: Final[tuple[str, ...]] = tuple(INCIDENT_TYPES)
EVAL_RUN_COLUMNS: Final[tuple[str, ...]] = tuple(EVAL_RUN_TYPES)

# Written by the importer or the store, not read from the partner's record: where it came from (source), which
# import made it (import_batch), timestamps, an evaluation run's raw details (only Inspect logs have them), and the
# incident's internal key (the column default gives it; it differs between stores, so it never travels).
_BOOKKEEPING = frozenset({"source", "import_batch", "created_at", "updated_at", "details", "incident_key"})

INCIDENT_RECORD_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in INCIDENT_COLUMNS if c not in _BOOKKEEPING)
EVAL_RUN_RECORD_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in EVAL_RUN_COLUMNS if c not in _BOOKKEEPING)


def column_list(columns: Iterable[str], alias: str | None = None) -> str:
    """'a, b, c' (or 'i.a, i.b, i.c') for a select or insert built from these names, never from input."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c for c in columns)


def arrow_schema(columns: Iterable[str], types: Mapping[str, pa.DataType]) -> pa.Schema:
    """The Arrow schema an importer registers with DuckDB for `columns`, so empty lists and missing values
    arrive typed."""
    return pa.schema([(c, types[c]) for c in columns])
