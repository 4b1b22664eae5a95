"""How current the evaluation results are: the latest evaluation date of the institutes' own runs and of each
public source (Epoch), through the viewer's markings.

Why a module of its own: every page states what its data runs to (issue 15), and the evaluations page's capability
trend and frontier stop where the last import stopped, which a reader cannot tell from the chart. The incident
equivalent, with the reporting lag, is analytics.incidents.currency; evaluations have no reporting lag to measure
(a run is dated when it ran), so this says only how far each series reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from analytics.access.markings import visible_sql
from analytics.access.viewer import Viewer
from analytics.sources import PUBLIC_ORIGINATOR, public_source

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True

INSTITUTE = "institute"  # the institutes' own runs (UK or AU), whatever their source


@dataclass(frozen=True)
class RunSeries:
    key: str  # INSTITUTE or a public source key (eval_runs.source)
    runs: int
    last_evaluated: date | None  # None when no run of the series carries an evaluation date

    @property
    def label(self) -> str:
        if self.key == INSTITUTE:
            return "institute evaluations"
        known = public_source(self.key)
        return known.name if known else self.key


@dataclass(frozen=True)
class EvalCurrency:
    today: date
    series: tuple[RunSeries, ...]  # institute runs first, then the most current first

    def describe(self) -> str:
        """One line for the page: 'Evaluations to 12 Nov 2026 (institute evaluations); Epoch AI ... to 3 Oct 2026.'"""
        if not self.series:
            return "No evaluation runs you may see yet."
        parts = []
        for s in self.series:
            when = "undated" if s.last_evaluated is None else _day(min(s.last_evaluated, self.today))
            parts.append(f"{s.label} to {when}")
        head, *rest = parts
        return "; ".join([f"Evaluations: {head}", *rest]) + "."


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def evaluation_currency(con: duckdb.DuckDBPyConnection, viewer: Viewer, today: date) -> EvalCurrency:
    """The latest evaluation date per series among the runs this viewer may see."""
    visible, params = visible_sql(viewer, "eval_runs", "r")
    params.update({"public": PUBLIC_ORIGINATOR, "institute": INSTITUTE})
    rows = con.execute(
        "select case when r.institute = $public then r.source else $institute end as series, count(*), "
        f"max(r.eval_date) from eval_runs r where {visible} group by all",
        params,
    ).fetchall()
    found = [RunSeries(str(key), int(n), last) for key, n, last in rows]
    found.sort(key=lambda s: (s.key != INSTITUTE, -(s.last_evaluated or date.min).toordinal(), s.key))
    return EvalCurrency(today, tuple(found))
