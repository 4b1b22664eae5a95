"""How incident counts are laid on period grids before anything is flagged: which records a grid of a given period
length may count (date precision), where each series' grid starts, and which periods are whole enough to test.

Why a module of its own: the explorer's trend and the overview's windows, sparkline and monthly breaks all build
grids, and three things made them flag what was not there (issue 15, finding 3):

- a source that knows only the month (or year) writes the 1st, so a weekly grid saw a spike on every 1st; a
  record counts only in grids no finer than its precision (`PRECISE_ENOUGH`), and pages say how many were left
  out;
- one grid for every series started at the first record of any of them, so a series that began later (a new
  category, or institute reporting after years of public case studies) had a baseline of zeros and its first
  period was a "break"; each series now starts at its own first record (`flag_from_own_start`);
- the period still in progress (or past the data's end) looked like a fall or, after a burst, a break; partial
  periods are drawn as partial and never tested.

The statistical test itself is analytics.stats.anomalies'; this module decides what it is fed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from analytics.periods import period_end
from analytics.stats.anomalies import DEFAULT_RULE, AnomalyRule, flag_grid

# Said beside every list of flags: what the anomaly test counts (incidents.explorer._anomalies).
FLAGS_SCOPE = (
    "Flags test institute reporting only: public catalogues (AIID, AVID, ATLAS) are dated when they publish "
    "and arrive in import batches, so a batch is no surge; their records still count in every figure."
)

# Precisions (incidents.occurred_precision, vocab.DATE_PRECISIONS) a record needs to count in a grid of each
# period length. Days and weeks need the day; months and quarters the month; a year-precision record counts only
# in yearly (and all-time) totals.
PRECISE_ENOUGH: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "week": ("day",),
    "month": ("day", "month"),
    "quarter": ("day", "month"),
    "year": ("day", "month", "year"),
}


def precise_sql(grain: str, column: str = "i.occurred_precision") -> str:
    """A SQL condition true for records whose date is precise enough for a grid of `grain` periods. Only names
    from PRECISE_ENOUGH and the fixed column names below reach the SQL."""
    if grain not in PRECISE_ENOUGH:
        raise ValueError(f"unknown period length {grain!r}: expected one of {', '.join(PRECISE_ENOUGH)}")
    if column not in {"i.occurred_precision", "occurred_precision", "b.occurred_precision", "prec"}:
        raise ValueError(f"column {column!r} not allowed")
    return f"{column} in ({', '.join(repr(p) for p in PRECISE_ENOUGH[grain])})"


def left_out_note(count: int, grain: str) -> str | None:
    """The line a chart shows when records were left out of it for imprecise dates; None when none were."""
    if count <= 0:
        return None
    known = "the month or year" if grain in ("day", "week") else "the year"
    view = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly"}.get(grain, grain)
    noun = "incident" if count == 1 else "incidents"
    return f"{count:,} {noun} dated only to {known} left out of this {view} view; they count in the totals."


def whole_periods(grid: list[date], grain: str, until: date) -> list[date]:
    """The periods of `grid` that are over by `until` (the last day counted): only these are tested."""
    return [p for p in grid if period_end(p, grain) <= until]


def flag_from_own_start(
    series: dict[str, dict[date, int]],
    grid: list[date],
    rule: AnomalyRule = DEFAULT_RULE,
    testable: list[date] | None = None,
) -> pd.DataFrame:
    """Flags for each series on `grid` from the series' own first period with a record (zeros before it are not
    a baseline), reported only for periods in `testable` (whole periods; every period of `grid` when None).

    Series that start on the same period are tested together in one `flag_grid` call, so its correction across
    series and periods holds within each such family (long-standing series are one family); a series that
    started later is its own family. Columns and order as analytics.stats.anomalies.flag_grid."""
    shown = set(grid if testable is None else testable)
    families: dict[date, dict[str, dict[date, int]]] = {}
    for name, counts in series.items():
        seen = [p for p, n in counts.items() if n > 0 and p in set(grid)]
        if seen:
            families.setdefault(min(seen), {})[name] = counts
    frames: list[pd.DataFrame] = []
    for first, members in families.items():
        own = [p for p in grid if p >= first]
        report = [p for p in own if p in shown]
        if report:
            flagged = flag_grid(members, own, rule, report=report)
            frames.append(flagged[flagged["period"].isin(pd.to_datetime(report))])
    frames = [f for f in frames if not f.empty]
    if not frames:
        return flag_grid({}, [], rule)
    out: Any = pd.concat(frames, ignore_index=True)
    return out.sort_values(["period", "p_value"], ascending=[False, True], ignore_index=True)
