"""What validation produces: each Problem (row, column, message) and the ImportPlan a commit writes.

Why: the Data page shows a plan (problems, preview, marking, rejected rows as a CSV) and commit writes it; both
read these types, neither needs the validator itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from analytics.access.markings import Marking
from analytics.ingest.tabular.fields import Target
from analytics.ingest.tabular.read import TabularFile, cell_text
from analytics.wording import counted


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
    source: str = "spreadsheet"  # stored in incidents.source / eval_runs.source
    updates: list[str] = field(default_factory=list)  # stored ids the valid rows replace (--update)
    unmapped: list[str] = field(default_factory=list)  # file columns nothing is taken from

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


def grouped_problems(problems: list[Problem], limit: int = 30) -> list[str]:
    """One line per distinct problem (the same column and message), with how many rows have it and the first
    of them: 'rows 3, 7, 9 and 198 more, column 'severity': '9' is not a severity (1 to 5)'. Problems with the
    whole file first."""
    groups: dict[tuple[str, str], list[int]] = {}
    for p in problems:
        groups.setdefault((p.column, p.message), []).append(p.row)
    ordered = sorted(groups.items(), key=lambda kv: (min(kv[1]) != 0, min(kv[1])))
    lines: list[str] = []
    for (column, message), rows in ordered[:limit]:
        col = f", column {column!r}" if column else ""
        numbered = sorted({r for r in rows if r})
        if not numbered:
            where = "file"
        elif len(numbered) == 1:
            where = f"row {numbered[0]}"
        else:
            more = f" and {len(numbered) - 3} more" if len(numbered) > 3 else ""
            shown = numbered[:3]
            where = "rows " + (", ".join(map(str, shown)) + more if more else _and(shown))
        lines.append(f"{where}{col}: {message}")
    if len(ordered) > limit:
        lines.append(f"... and {counted(len(ordered) - limit, 'other problem')}")
    return lines


def _and(items: list[int]) -> str:
    text = [str(i) for i in items]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def short(v: Any) -> str:
    s = cell_text(v)
    return s if len(s) <= 80 else s[:77] + "..."
