"""Ids and duplicates: fresh ids for rows a file gives none, and the look-ups for records already stored.

Why: both validation (to list the clash on its row) and commit (to catch a record written since validation) ask
whether an id exists, and must ask it the same way: only among records the importer may see, so a hidden record
is exactly like a missing one and no message, count or outcome reveals it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from analytics.access.markings import visible_sql
from analytics.access.viewer import Viewer
from analytics.ingest.tabular.fields import ARROW_TYPES, FIELDS, Target
from analytics.ingest.tabular.plan import Problem
from analytics.ingest.tabular.read import TabularFile

_KIND_OF: dict[str, dict[str, str]] = {t: {f.name: f.kind for f in specs} for t, specs in FIELDS.items()}


def new_id(target: Target, namespace: str | None) -> str:
    """A fresh id for a row the file gives none (or a TLP:RED row): random, so it cannot be predicted from the
    row's content and never meets a record someone else can see and this importer cannot."""
    digest = uuid.uuid4().hex[:12]
    prefix = (namespace or "X").upper()
    return f"{prefix}-IMP-{digest}" if target == "incidents" else f"{prefix.lower()}-imp-{digest}"


_CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    "incidents": ("title", "occurred_on", "category"),
    "eval_runs": ("model", "benchmark", "eval_date", "metric", "task_version", "score"),
}


def content_duplicates(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    tf: TabularFile,
    values: Mapping[str, list[Any]],
    owners: Sequence[str | None],
    given: Sequence[str | None],
    tlps: Sequence[str | None],
    viewer: Viewer | None,
    problems: list[Problem],
) -> None:
    """Rows without an id that repeat an earlier row of the file, or a record of the same institute the importer
    may see, with the same content (the same file imported twice): a problem on the row."""
    keys = _CONTENT_KEYS[target]
    owner_field = "originator" if target == "incidents" else "institute"
    rows = [
        i
        for i in range(len(tf.rows))
        if given[i] is None and tlps[i] != "RED" and owners[i] is not None and all(k in values for k in keys)
    ]
    if not rows:
        return
    what = (
        "incident (title, date, category)"
        if target == "incidents"
        else "result (model, benchmark, date, score)"
    )
    seen: dict[tuple[Any, ...], int] = {}
    candidates: list[int] = []
    for i in rows:
        key = (owners[i], *(values[k][i] for k in keys))
        if key in seen:
            problems.append(
                # the earlier row goes in the value, so one message (grouped once) covers every repeat
                Problem(
                    i + 1,
                    "",
                    keys[0],
                    f"row {seen[key] + 1}",
                    f"the same {what} as an earlier row of this file",
                )
            )
        else:
            seen[key] = i
            candidates.append(i)
    table = pa.table(
        {
            "k": pa.array(candidates, pa.int64()),
            "owner": pa.array([owners[i] for i in candidates], pa.string()),
            **{
                k: pa.array([values[k][i] for i in candidates], ARROW_TYPES[_KIND_OF[target][k]])
                for k in keys
            },
        }
    )
    table_name = {"incidents": "incidents", "eval_runs": "eval_runs"}[target]
    alias = "i" if target == "incidents" else "r"
    id_col = "id" if target == "incidents" else "run_id"
    vis, params = visible_sql(viewer, target, alias) if viewer is not None else ("true", {})
    on = " and ".join(f"{alias}.{k} is not distinct from c.{k}" for k in keys)
    con.register("tabular_check_content", table)
    try:
        hits = con.execute(
            f"select c.k, min({alias}.{id_col}) from tabular_check_content c join {table_name} {alias} "
            f"on {on} and {alias}.{owner_field} = c.owner where {vis} group by c.k",
            params,
        ).fetchall()
    finally:
        con.unregister("tabular_check_content")
    for i, rid in sorted(hits):
        problems.append(
            Problem(
                i + 1,
                "",
                keys[0],
                "",
                f"the same {what} is already in the store as {rid!r}; imports add records and never replace them",
            )
        )


def existing_ids(
    con: duckdb.DuckDBPyConnection, target: Target, ids: list[str], viewer: Viewer | None = None
) -> list[str]:
    """Those of `ids` held by a record `viewer` may see (every record for the store's operator)."""
    if not ids:
        return []
    table = pa.table({"rid": pa.array(ids, pa.string())})
    vis, params = (
        visible_sql(viewer, target, "i" if target == "incidents" else "r")
        if viewer is not None
        else ("true", {})
    )
    con.register("tabular_check_ids", table)
    try:
        sql = {
            "incidents": "select c.rid from tabular_check_ids c join incidents i on i.id = c.rid",
            "eval_runs": "select c.rid from tabular_check_ids c join eval_runs r on r.run_id = c.rid",
        }[target]
        return [r[0] for r in con.execute(f"{sql} where {vis}", params).fetchall()]
    finally:
        con.unregister("tabular_check_ids")


def stored_records(
    con: duckdb.DuckDBPyConnection, target: Target, ids: list[str], viewer: Viewer | None = None
) -> dict[str, tuple[str, str, list[str], str]]:
    """id -> (originator, TLP, releasability, source) of those of `ids` held by a record `viewer` may see (every record
    for the store's operator): what a re-import compares its rows with."""
    if not ids:
        return {}
    table = pa.table({"rid": pa.array(ids, pa.string())})
    alias = "i" if target == "incidents" else "r"
    vis, params = visible_sql(viewer, target, alias) if viewer is not None else ("true", {})
    con.register("tabular_check_stored", table)
    try:
        sql = {
            "incidents": "select i.id, i.originator, i.tlp, i.releasable_to, i.source from tabular_check_stored c "
            "join incidents i on i.id = c.rid",
            "eval_runs": "select r.run_id, r.institute, r.tlp, r.releasable_to, r.source from tabular_check_stored c "
            "join eval_runs r on r.run_id = c.rid",
        }[target]
        rows = con.execute(f"{sql} where {vis}", params).fetchall()
    finally:
        con.unregister("tabular_check_stored")
    return {rid: (owner, tlp, list(rel), source) for rid, owner, tlp, rel, source in rows}
