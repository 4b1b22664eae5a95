"""What validation produces: each Problem (row, column, message) and the ImportPlan a commit writes.

Why: the Data page shows a plan (problems, preview, marking, rejected rows as a CSV) and commit writes it; both
read these types, neither needs the validator itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from analytics.access.markings import Marking
from analytics.ingest.tabular.fields import Target
from analytics.ingest.tabular.read import TabularFile, cell_text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file. row is the 1-based data row (0: the whole file)."""

    row: int
    column: str
    field: str
    value: str
    message: str

    def text(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        col = f", column {self.column!r}" if self.column else ""
        return f"{where}{col}: {self.message}"


@dataclass
class ImportPlan:
    """What a commit would write: the converted valid rows, and every problem with the others."""

    file: TabularFile
    target: Target
    mapping: dict[str, str]
    source_key: str
    institute: str | None
    rows: pa.Table  # valid rows, store columns (plus 'techniques' for incidents)
    valid_rows: list[int]  # 1-based data row numbers of the rows in `rows`
    problems: list[Problem]
    warnings: list[str]
    marking: Marking

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row})

    @property
    def file_level_problems(self) -> list[Problem]:
        return [p for p in self.problems if not p.row]

    def problem_table(self) -> list[dict[str, Any]]:
        return [
            {
                "row": p.row or None,
                "column": p.column,
                "field": p.field,
                "value": p.value,
                "problem": p.message,
            }
            for p in self.problems
        ]

    def rejected_rows_frame(self) -> pd.DataFrame:
        """The rejected rows as in the file, plus a 'problems' column: what the Data page offers as a CSV
        (through analytics.export.table, which escapes formulas and audits the download like every export)."""
        by_row: dict[int, list[str]] = {}
        for p in self.problems:
            if p.row:
                by_row.setdefault(p.row, []).append(f"{p.column or p.field}: {p.message}")
        columns = ["source_row", *self.file.columns, "problems"]
        rows = [
            [r, *[cell_text(v) for v in self.file.rows[r - 1]], " | ".join(by_row[r])] for r in sorted(by_row)
        ]
        return pd.DataFrame(rows, columns=columns, dtype=object)


def short(v: Any) -> str:
    s = cell_text(v)
    return s if len(s) <= 80 else s[:77] + "..."
