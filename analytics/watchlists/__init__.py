"""Watchlists: a saved view someone watches, and what is new for them on their next visit (issue 20).

A saved view (analytics.views) is a named filter state; watching it asks "tell me when something new matches".
On each visit (the first page after sign-in) `visit` reads, for every view the person watches and may still
open:

- incidents that match the view's filters and arrived in the store after the person's last visit (by the time
  of the import batch that brought them, else the record's creation), and
- models crossing a benchmark threshold (analytics.evals.queries' thresholds): a model with a run at or above
  its benchmark's threshold, among runs the view selects, that had none at the last visit (or whose threshold
  was set since),

then moves the watch's `seen_to` on, so each item is shown once. Everything is read at the visit with the
person's markings applied in SQL (Filters.sql_where / eval_where), so a watch never reveals a record the person
cannot read now, and each result carries the marking of the rows behind it. Policymakers do not read records,
so watching is for the record readers, like saving a view.

Watching is a personal setting that changes no records and shows nothing the person could not open already, so
it is not written to the audit log (saving the view it watches is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from analytics.access.markings import Marking, Scoped, highest_marking
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import Viewer
from analytics.evals.queries import SCORED, eval_where
from analytics.store.database import Store
from analytics.views import SavedView, get_view, list_views

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

# The most incidents one visit lists per view (the count says how many there were).
LIST_LIMIT = 20


@dataclass(frozen=True)
class WatchNews:
    """What is new on one watched view since the last visit."""

    view: SavedView
    new_incidents: int
    incidents: Scoped[
        pd.DataFrame
    ]  # id, title (stored text: render inert), occurred_on, category; newest first
    crossings: Scoped[pd.DataFrame]  # model, benchmark, best_score, threshold

    @property
    def empty(self) -> bool:
        return self.new_incidents == 0 and self.crossings.data.empty


def watched_view_ids(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> set[int]:
    """The ids of the views this person watches (whether or not they may still open them)."""
    rows = con.execute("select view_id from watches where owner = ?", [viewer.email]).fetchall()
    return {int(r[0]) for r in rows}


def watch(store: Store, viewer: Viewer, view_id: int) -> None:
    """Watch a saved view this person may open; news starts from now. Watching it again changes nothing."""
    viewer.require(*RECORD_READERS)
    with store.transaction(changes_data=False) as con:  # no cached result reads `watches`
        if get_view(con, viewer, view_id) is None:
            raise ValueError(f"no saved view {view_id}")
        con.execute(
            "insert into watches (view_id, owner) values (?, ?) on conflict do nothing",
            [view_id, viewer.email],
        )


def unwatch(store: Store, viewer: Viewer, view_id: int) -> None:
    """Stop watching a view (nothing happens when it was not watched)."""
    with store.transaction(changes_data=False) as con:
        con.execute("delete from watches where view_id = ? and owner = ?", [view_id, viewer.email])


# When a record arrived in this store: the time of the import that brought it (an undone import brought
# nothing), else its creation (records written by the demo generator or a STIX bundle's own `created`).
_ARRIVED = 'coalesce(b."at", {a}.created_at)'
_BATCH_JOIN = "left join import_batches b on b.batch_id = {a}.import_batch and b.undone_at is null"


def _new_incidents(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    view: SavedView,
    today: date,
    since: datetime,
    now: datetime,
) -> tuple[int, Scoped[pd.DataFrame]]:
    where, params = view.filters.sql_where(viewer, today)  # the viewer's markings, then the view's filters
    arrived = _ARRIVED.format(a="i")
    where = f"{where} and {arrived} > $w_since and {arrived} <= $w_now"
    params.update(w_since=since, w_now=now)
    source = f"incidents i {_BATCH_JOIN.format(a='i')}"
    row = con.execute(f"select count(*) from {source} where {where}", params).fetchone()
    total = int(row[0]) if row else 0
    df = con.execute(
        f"select i.id, i.title, i.occurred_on, i.category from {source} where {where} "
        f"order by i.occurred_on desc, i.id limit {LIST_LIMIT}",
        params,
    ).df()
    return total, Scoped(df, highest_marking(con, source, where, params))


def _crossings(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    view: SavedView,
    today: date,
    since: datetime,
    now: datetime,
) -> Scoped[pd.DataFrame]:
    where, params = eval_where(viewer, view.filters, today)  # markings first, then the view's run filters
    arrived = _ARRIVED.format(a="r")
    crossing = f"{where} and {SCORED} and r.score >= t.threshold and {arrived} <= $w_now"
    params.update(w_since=since, w_now=now)
    source = f"eval_runs r join eval_thresholds t on t.benchmark = r.benchmark {_BATCH_JOIN.format(a='r')}"
    # Crossed by now, and not at the last visit: no crossing run had arrived by then under the same threshold.
    new = (
        f"{crossing} and not exists (select 1 from eval_runs r0 join eval_thresholds t0 on t0.benchmark = "
        f"r0.benchmark left join import_batches b0 on b0.batch_id = r0.import_batch and b0.undone_at is null "
        f"where r0.model = r.model and r0.benchmark = r.benchmark and r0.score >= t0.threshold "
        f"and r0.run_id in (select r.run_id from eval_runs r where {where}) "
        f'and coalesce(b0."at", r0.created_at) <= $w_since and t0.set_at <= $w_since)'
    )
    df = con.execute(
        f"select r.model, r.benchmark, max(r.score) as best_score, any_value(t.threshold) as threshold "
        f"from {source} where {new} group by all order by r.benchmark, best_score desc",
        params,
    ).df()
    return Scoped(df, highest_marking(con, source, new, params, alias="r") if not df.empty else Marking())


def visit(store: Store, viewer: Viewer, today: date) -> list[WatchNews]:
    """What is new on each watched view since this person's last visit (views with news only), and mark it
    seen. Call once per visit (app.py: once per session, after sign-in)."""
    if viewer.role not in RECORD_READERS or not watched_view_ids(store.cursor(), viewer):
        return []  # no write at all: most sessions watch nothing
    # Moving `seen_to` on changes nothing a cached result reads (no cached query reads `watches`), so it leaves
    # the store's generations, and everyone's cached results, alone.
    with store.transaction(changes_data=False) as con:
        now_row = con.execute("select current_timestamp::timestamp").fetchone()
        assert now_row is not None
        now: datetime = now_row[0]
        watched = dict(
            con.execute("select view_id, seen_to from watches where owner = ?", [viewer.email]).fetchall()
        )
        news = []
        for view in list_views(con, viewer):  # only views this person may still open
            if view.id not in watched:
                continue
            since = watched[view.id]
            total, incidents = _new_incidents(con, viewer, view, today, since, now)
            item = WatchNews(view, total, incidents, _crossings(con, viewer, view, today, since, now))
            if not item.empty:
                news.append(item)
        con.execute(
            "update watches set seen_to = ? where owner = ? and seen_to < ?", [now, viewer.email, now]
        )
    return news
