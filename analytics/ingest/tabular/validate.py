"""Validation: every cell converted and checked, markings and origin applied, ids assigned; nothing written.

Why: the analyst sees exactly what a commit would write before it is written. `validate` turns a TabularFile and
a mapping into an ImportPlan: the converted valid rows, and every problem with its row and column. It reads the
store only to find ids and records that already exist, and only among those the importer may see.

The phases run in order on one `_Check` (the file, the mapping and the problems found so far): the mapping,
conversion column by column, required cells, origin, markings, ids and duplicates, then the table of valid rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from analytics.access.markings import INSTITUTES, TLP_LEVELS, Marking, normalise_tlp, parse_releasable
from analytics.access.viewer import Viewer
from analytics.ingest import (
    RESERVED_ID,
    id_namespace,
    importer_institute,
    namespaced_id,
    public_marking,
    public_origin,
)
from analytics.ingest.tabular.convert import CONVERTERS, BadCell, column_month_first, date_or_none
from analytics.ingest.tabular.duplicates import content_duplicates, new_id, stored_records
from analytics.ingest.tabular.fields import (
    ARROW_TYPES,
    FIELDS,
    SOURCE_TAG,
    FieldSpec,
    Target,
    required_fields,
)
from analytics.ingest.tabular.mapping import CONSTANT_PREFIX, source_key_for
from analytics.ingest.tabular.plan import ImportPlan, Problem, short
from analytics.ingest.tabular.read import TabularFile, cell_text, gc_paused
from analytics.sources import PUBLIC_ORIGINATOR

_RANK: dict[str, int] = {t: k for k, t in enumerate(TLP_LEVELS)}
# ids and titles rarely repeat: converted directly rather than through the per-column cache
_UNIQUE_KINDS = frozenset({"id", "title", "long_text"})


def validate(
    con: duckdb.DuckDBPyConnection,
    tf: TabularFile,
    *,
    target: Target,
    mapping: Mapping[str, str],
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    source_key: str | None = None,
    viewer: Viewer | None = None,
    source: str | None = None,
    update: bool = False,
) -> ImportPlan:
    """Convert and check every cell; read the store only to find ids that already exist. Writes nothing.

    Markings: a row's TLP is the higher of its own and the default `tlp`; its releasability the intersection of
    its own and the default `releasable`. A row with neither is a problem: an unmarked record is never stored.

    Origin: the importer's institute (`viewer`'s own, else the chosen `institute`); an originator or institute
    column that says otherwise is a problem on its row. Ids: a file's id is namespaced by the importer's institute
    and checked only against records `viewer` may see; rows without an id, and TLP:RED rows, get a new random id
    (see module docstring), so no message, count or outcome depends on a record the importer may not see.

    Provenance: `source` is stored as the records' source ('spreadsheet' when None). A registered public source
    (`ingest.public_origin`) makes every row PUBLIC, TLP:CLEAR unless raised, never AMBER+STRICT or RED, with
    the file's ids kept as the source gives them. `update`: a row whose id is already stored (and visible, and of
    the same originator) replaces that record instead of being refused.
    """
    with gc_paused():
        institute = importer_institute(viewer, institute)
        public = public_origin(source)
        if public is not None:
            tlp, rel_list = public_marking(public, tlp, releasable)
            releasable = rel_list
        chk = _Check(
            tf=tf,
            target=target,
            institute=PUBLIC_ORIGINATOR if public else institute,
            namespace=None if public else id_namespace(viewer, institute),
            viewer=viewer,
            specs={f.name: f for f in FIELDS[target]},
            col_index={c: k for k, c in enumerate(tf.columns)},
            public=public is not None,
            update=update,
            source=source or SOURCE_TAG,
        )
        _map_fields(chk, mapping)
        for fname, col in chk.field_to_col.items():
            chk.values[fname] = _convert_column(chk, fname, col)
        _required_cells(chk)
        owners = _owners(chk)
        final_tlp, final_rel, recipients = _markings(chk, tlp, releasable, owners)
        ids = _assign_ids(con, chk, final_tlp, owners)
        _unknown_techniques(con, chk)
        table, valid = _valid_rows(chk, ids, owners, final_tlp, final_rel, recipients)
        col_order = list(chk.col_index)
        chk.problems.sort(
            key=lambda p: (p.row, col_order.index(p.column) if p.column in chk.col_index else -1)
        )
        stored_source = source or SOURCE_TAG
        return ImportPlan(
            file=tf,
            target=target,
            mapping={c: f for c, f in mapping.items() if f},
            source_key=source_key or source_key_for(tf.name),
            institute=institute,
            rows=table,
            valid_rows=[i + 1 for i in valid],
            problems=chk.problems,
            warnings=chk.warnings,
            marking=_plan_marking(
                table.column("tlp").to_pylist(), table.column("releasable_to").to_pylist(), stored_source
            ),
            source=stored_source,
            updates=sorted(chk.updates & set(table.column(chk.id_field).to_pylist())),
            unmapped=unmapped_columns(tf.columns, mapping),
        )


def unmapped_columns(columns: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    """The file's columns nothing is taken from: not mapped, and no mapped path reaches into them."""
    used = {c for c, f in mapping.items() if f}
    heads = {re.split(r"[.\[]", c, maxsplit=1)[0] for c in used}
    return [c for c in columns if c not in used and c not in heads and not c.startswith(CONSTANT_PREFIX)]


@dataclass
class _Check:
    """One validation in progress: the file, how its columns map to fields, the converted values so far and the
    problems and warnings found so far (each phase appends to them)."""

    tf: TabularFile
    target: Target
    institute: str | None
    namespace: str | None
    viewer: Viewer | None
    specs: dict[str, FieldSpec]
    col_index: dict[str, int]
    field_to_col: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    public: bool = False  # a registered public source: every row PUBLIC, never AMBER+STRICT or RED
    update: bool = False  # --update: stored ids are replaced, not refused
    source: str = SOURCE_TAG  # the records' source: --update replaces only records of the same source
    updates: set[str] = field(default_factory=set)  # stored ids this import replaces

    @property
    def n(self) -> int:
        return len(self.tf.rows)

    @property
    def owner_field(self) -> str:
        return "originator" if self.target == "incidents" else "institute"

    @property
    def id_field(self) -> str:
        return "id" if self.target == "incidents" else "run_id"

    def column(self, fname: str) -> list[Any]:
        """The converted values of a field, or None for every row if no column feeds it."""
        return self.values.get(fname) or [None] * self.n

    def col(self, fname: str) -> str:
        """The file column mapped to a field ('' if none): where a problem with that field is shown."""
        return self.field_to_col.get(fname, "")

    def empty(self, fname: str, i: int) -> bool:
        """Whether row i's cell for a field is blank (or no column feeds the field)."""
        col = self.field_to_col.get(fname)
        if col is None:
            return True
        return cell_text(self.tf.rows[i][self.col_index[col]]).strip() == ""

    def problem(self, i: int, column: str, fname: str, value: str, message: str) -> None:
        """A problem on 0-based row i."""
        self.problems.append(Problem(i + 1, column, fname, value, message))

    def file_problem(self, column: str, fname: str, message: str) -> None:
        self.problems.append(Problem(0, column, fname, "", message))


def _map_fields(chk: _Check, mapping: Mapping[str, str]) -> None:
    """The usable part of the mapping into chk.field_to_col; every unusable part, and every required field no
    column feeds, is a problem with the whole file."""
    bad_map = {c: f for c, f in mapping.items() if f and (f not in chk.specs or c not in chk.col_index)}
    for c, f in bad_map.items():
        chk.file_problem(c, f, f"cannot map column {c!r} to {f!r} (unknown column or field)")
    for c, f in mapping.items():
        if not f or c in bad_map:
            continue
        if f in chk.field_to_col:
            chk.file_problem(c, f, f"columns {chk.field_to_col[f]!r} and {c!r} are both mapped to {f!r}")
            continue
        chk.field_to_col[f] = c
    for spec in chk.specs.values():
        if spec.required and spec.name not in chk.field_to_col:
            chk.file_problem(
                "",
                spec.name,
                f"no column is mapped to the required field {spec.name!r}: give --map COLUMN={spec.name} or "
                f"--set {spec.name}=VALUE (Data page: choose its column)",
            )
    for row, message in chk.tf.shape_problems:
        chk.problems.append(Problem(row, "", "", "", f"row {message}"))


def _convert_column(chk: _Check, fname: str, col: str) -> list[Any]:
    """One field's values, a problem for each cell that does not convert. Values repeat a lot in real files, so
    each distinct cell is converted once."""
    spec = chk.specs[fname]
    k = chk.col_index[col]
    raw_col = [r[k] for r in chk.tf.rows]
    converter = CONVERTERS[spec.kind]
    if spec.kind == "date":
        month_first = column_month_first(raw_col)
        if month_first:
            chk.warnings.append(
                f"column {col!r}: dates read as month-first (MM/DD/YYYY), as the values require"
            )

        def converter(raw: Any, mf: bool = month_first) -> date | None:
            return date_or_none(raw, mf)

    out: list[Any] = [None] * chk.n
    if spec.kind in _UNIQUE_KINDS:
        for i, raw in enumerate(raw_col):
            try:
                out[i] = converter(raw)
            except BadCell as e:
                chk.problem(i, col, fname, short(raw), str(e))
        return out
    cache: dict[Any, tuple[Any, str | None]] = {}
    for i, raw in enumerate(raw_col):
        key = tuple(raw) if isinstance(raw, list) else raw
        try:
            hit = cache.get(key)
        except TypeError:  # unhashable (a JSON object in a cell)
            hit = None
            key = None
        if hit is None:
            try:
                hit = (converter(raw), None)
            except BadCell as e:
                hit = (None, str(e))
            if key is not None:
                cache[key] = hit
        value, error = hit
        if error:
            chk.problem(i, col, fname, short(raw), error)
        out[i] = value
    return out


def _required_cells(chk: _Check) -> None:
    for fname in required_fields(chk.target):
        if fname not in chk.field_to_col:
            continue
        col = chk.field_to_col[fname]
        for i, v in enumerate(chk.values[fname]):
            if v is None and cell_text(chk.tf.rows[i][chk.col_index[col]]).strip() == "":
                chk.problem(i, col, fname, "", f"{fname} is required and this cell is empty")


def _owners(chk: _Check) -> list[str | None]:
    """Each row's originating institute: the importer's. A cell may repeat it (or say PUBLIC for a published
    evaluation result); any other institute is refused on its row, never obeyed and never silently overridden."""
    owner_field, owner_col, institute = chk.owner_field, chk.col(chk.owner_field), chk.institute
    claimed = chk.column(owner_field)
    # The store's operator (no viewer) who chose no institute replicates or restores for both institutes and
    # already holds the store file: only there does the file's column stand (see analytics.ingest).
    operator_replica = chk.viewer is None and institute is None
    owners: list[str | None] = []
    for i, v in enumerate(claimed):
        if v is None or v == institute or (chk.target == "eval_runs" and v == "PUBLIC") or operator_replica:
            owners.append(v or institute)
            continue
        owners.append(None)
        chk.problem(
            i,
            owner_col,
            owner_field,
            short(v),
            f"says {v!r}, but a file cannot choose the originating institute: "
            + (
                f"records imported for {institute} originate in {institute}"
                if institute
                else "choose the originating institute for the import (UK or AU)"
            ),
        )
    missing = [i for i, v in enumerate(claimed) if v is None and chk.empty(owner_field, i)]
    if missing and institute is None:
        if operator_replica and owner_col:
            for i in missing:
                chk.problem(
                    i, owner_col, owner_field, "", f"no {owner_field} in this row and no institute chosen"
                )
        else:
            chk.file_problem(
                "",
                owner_field,
                f"no originating institute was chosen (UK or AU); the {owner_field} of every record is the "
                "importer's institute",
            )
    return owners


def _markings(
    chk: _Check, tlp: str | None, releasable: Sequence[str] | None, owners: Sequence[str | None]
) -> tuple[list[str | None], list[list[str] | None], list[list[str]]]:
    """Each row's TLP, releasability and named recipients: its own marking raised by the default, its
    releasability narrowed by it, never the other way. A row left unmarked is a problem."""
    default_tlp = normalise_tlp(tlp) if tlp else None
    default_rel = list(parse_releasable(releasable)) if releasable else None
    if default_tlp is None and "tlp" not in chk.field_to_col:
        chk.file_problem(
            "", "tlp", "no TLP marking: give --tlp or map a column (Data page: choose a default TLP)"
        )
    if default_rel is None and "releasable_to" not in chk.field_to_col:
        chk.file_problem(
            "",
            "releasable_to",
            "no releasability: give --releasable or map a column (Data page: choose UK, AU or both)",
        )
    final_tlp = _row_tlps(chk, default_tlp)
    final_rel = _row_releasability(chk, default_rel)
    recipients: list[list[str]] = [v or [] for v in chk.column("named_recipients")]
    tlp_col, rel_col = chk.col("tlp"), chk.col("releasable_to")
    # What an institute imports stays readable by that institute (and by the JOINT importer who made it):
    # otherwise its own ids would hold records hidden from it, and a clash would say they exist.
    who = chk.namespace if chk.namespace in ("UK", "AU", "JOINT") else None
    need = set(INSTITUTES) if who == "JOINT" else {who}
    for i in range(chk.n):
        t, rel = final_tlp[i], final_rel[i]
        if chk.public and t in ("AMBER+STRICT", "RED"):
            chk.problem(i, tlp_col, "tlp", t, f"a public source's record is never TLP:{t}")
            continue
        if t == "RED" and not recipients[i]:
            chk.problem(
                i,
                chk.field_to_col.get("named_recipients", tlp_col),
                "named_recipients",
                "",
                "TLP:RED needs named recipients (a named_recipients column with emails)",
            )
        if not (who and t and t != "RED" and rel):
            continue
        if not need <= set(rel):
            chk.problem(
                i,
                rel_col,
                "releasable_to",
                short(rel),
                f"releasable to {', '.join(rel)} only: {who} could not read the record it imports",
            )
        elif t == "AMBER+STRICT" and owners[i] != who:
            chk.problem(
                i,
                tlp_col,
                "tlp",
                "AMBER+STRICT",
                f"TLP:AMBER+STRICT is read only by the originating institute, and {who} imports this "
                f"{'record for ' + str(owners[i]) if owners[i] else 'record'}",
            )
    return final_tlp, final_rel, recipients


def _row_tlps(chk: _Check, default_tlp: str | None) -> list[str | None]:
    tlp_col = chk.col("tlp")
    out: list[str | None] = [None] * chk.n
    for i, own in enumerate(chk.column("tlp")):
        if own is None and default_tlp is None:
            if tlp_col and chk.empty("tlp", i):
                chk.problem(i, tlp_col, "tlp", "", "no TLP marking in this row and no default")
        elif own is None or (default_tlp is not None and _RANK[default_tlp] > _RANK[own]):
            out[i] = default_tlp
        else:
            out[i] = own
    return out


def _row_releasability(chk: _Check, default_rel: list[str] | None) -> list[list[str] | None]:
    rel_col = chk.col("releasable_to")
    out: list[list[str] | None] = [None] * chk.n
    merged_rel: dict[tuple[str, ...] | None, list[str]] = {}  # rows share one list per distinct releasability
    for i, own_rel in enumerate(chk.column("releasable_to")):
        rel_key = tuple(own_rel) if own_rel is not None else None
        if rel_key in merged_rel:
            out[i] = merged_rel[rel_key]
        elif own_rel is None and default_rel is None:
            if rel_col and chk.empty("releasable_to", i):
                chk.problem(i, rel_col, "releasable_to", "", "no releasability in this row and no default")
        else:
            merged = sorted(set(own_rel or INSTITUTES) & set(default_rel or INSTITUTES))
            if not merged:
                chk.problem(
                    i,
                    rel_col,
                    "releasable_to",
                    short(own_rel),
                    f"releasable to {', '.join(own_rel or [])} in the file but only to "
                    f"{', '.join(default_rel or [])} by the chosen default: nobody could receive it",
                )
            out[i] = merged or None
            if merged:
                merged_rel[rel_key] = merged
    return out


def _assign_ids(
    con: duckdb.DuckDBPyConnection, chk: _Check, final_tlp: Sequence[str | None], owners: Sequence[str | None]
) -> list[str | None]:
    """Ids. A file's id is namespaced by the importer ('X-1' from AU is stored as 'AU-X-1'); rows without one and
    TLP:RED rows get '<ns>-IMP-<random>'. Duplicates are looked for only among records the importer may see (by
    id, or for rows without an id by their content), so a hidden record is exactly like a missing one."""
    id_field, id_col, namespace = chk.id_field, chk.col(chk.id_field), chk.namespace
    given: list[str | None] = chk.column(id_field)
    ids: list[str | None] = [None] * chk.n
    red_given = 0
    fresh_red = namespace is not None  # the operator sees every record: a clash tells them nothing
    for i, g in enumerate(given):
        if g is not None and chk.public and g.split("-", 1)[0].upper() in (*INSTITUTES, "JOINT"):
            chk.problem(
                i,
                id_col,
                id_field,
                g,
                f"a public source's {id_field} cannot start with an institute's prefix",
            )
            continue
        if g is not None and RESERVED_ID in g.upper():
            chk.problem(
                i,
                id_col,
                id_field,
                g,
                f"ids containing {RESERVED_ID!r} are made by the importer; leave the {id_field} empty",
            )
            continue
        if (fresh_red and final_tlp[i] == "RED") or g is None:
            red_given += final_tlp[i] == "RED" and g is not None
            ids[i] = new_id(chk.target, namespace or owners[i])
        else:
            ids[i] = namespaced_id(g, namespace)
    if red_given:
        chk.warnings.append(
            f"{red_given} TLP:RED rows get ids of their own: a RED record never keeps the id a file gives it"
        )
    first_seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if rid is None or given[i] is None or (fresh_red and final_tlp[i] == "RED"):
            continue
        if rid in first_seen:
            chk.problem(
                i,
                id_col,
                id_field,
                str(given[i]),
                f"{id_field} {given[i]!r} is already used by row {first_seen[rid] + 1} of this file",
            )
        else:
            first_seen[rid] = i
    _stored_ids(con, chk, first_seen, given, final_tlp, owners)
    content_duplicates(
        con, chk.target, chk.tf, chk.values, owners, given, final_tlp, chk.viewer, chk.problems
    )
    return ids


def _stored_ids(
    con: duckdb.DuckDBPyConnection,
    chk: _Check,
    first_seen: Mapping[str, int],
    given: Sequence[str | None],
    final_tlp: Sequence[str | None],
    owners: Sequence[str | None],
) -> None:
    """Rows whose id is already stored (among the records the importer may see): with --update they replace the
    record when it has the same originator and came from the same source (a feed refreshes its own records,
    never another source's, so no spreadsheet rewrites ATLAS or another partner's feed); without, a problem that says whether the marking differs and that
    --update applies it."""
    id_field, id_col = chk.id_field, chk.col(chk.id_field)
    for rid, (owner, tlp, _, stored_source) in stored_records(
        con, chk.target, list(first_seen), chk.viewer
    ).items():
        i = first_seen[rid]
        stored = "" if rid == given[i] else f" (as {rid!r})"
        said = f"{id_field} {given[i]!r}{stored} is already in the store"
        if owner != owners[i]:
            message = f"{said}, recorded by {owner}: an import never replaces another originator's record"
        elif chk.update and stored_source != chk.source:
            message = (
                f"{said}, from the source {stored_source!r}: --update refreshes records of the source it imports "
                f"({chk.source!r}), never another's"
            )
        elif chk.update:
            chk.updates.add(rid)
            continue
        elif final_tlp[i] is not None and final_tlp[i] != tlp:
            message = (
                f"{said}, marked TLP:{tlp} in the store and TLP:{final_tlp[i]} here; give --update to apply "
                "the new marking"
            )
        else:
            message = f"{said}; give --update to replace it (an import adds records unless --update)"
        chk.problem(i, id_col, id_field, str(given[i]), message)


def _unknown_techniques(con: duckdb.DuckDBPyConnection, chk: _Check) -> None:
    """Techniques not in the loaded ATLAS release are kept (releases differ) but flagged."""
    if chk.target != "incidents" or "techniques" not in chk.values:
        return
    known = {r[0] for r in con.execute("select id from atlas_techniques").fetchall()}
    unknown = sorted(
        {t for ts in chk.values["techniques"] if ts for t in ts if t not in known and t[:9] not in known}
    )
    if known and unknown:
        chk.warnings.append(
            f"{len(unknown)} technique ids are not in the loaded ATLAS release: {', '.join(unknown[:10])}"
        )


def _valid_rows(
    chk: _Check,
    ids: list[str | None],
    owners: list[str | None],
    final_tlp: list[str | None],
    final_rel: list[list[str] | None],
    recipients: list[list[str]],
) -> tuple[pa.Table, list[int]]:
    """The rows without problems as an Arrow table of store columns (plus 'techniques' for incidents), and their
    0-based positions in the file. A problem with the whole file leaves no valid row."""
    bad_rows = {p.row for p in chk.problems if p.row}
    file_level = any(not p.row for p in chk.problems)
    valid = [] if file_level else [i for i in range(chk.n) if (i + 1) not in bad_rows]
    every = len(valid) == chk.n

    def pick(vals: list[Any]) -> list[Any]:
        return vals if every else [vals[i] for i in valid]

    data: dict[str, list[Any]] = {}
    for fname in chk.specs:
        if fname in ("tlp", "releasable_to", "named_recipients", chk.id_field, chk.owner_field):
            continue
        vals = chk.values.get(fname)
        data[fname] = pick(vals) if vals is not None else [None] * len(valid)
    data[chk.id_field] = pick(ids)
    data[chk.owner_field] = pick(owners)
    data["tlp"] = pick(final_tlp)
    data["releasable_to"] = pick(final_rel)
    data["named_recipients"] = pick(recipients)
    if chk.target == "incidents":
        data["status"] = [v or "new" for v in data["status"]]
        data["occurred_precision"] = [v or "day" for v in data["occurred_precision"]]
        for listed in ("sectors", "countries", "tags", "techniques"):
            data[listed] = [v or [] for v in data[listed]]
    else:
        data["status"] = [v or "success" for v in data["status"]]
    schema = pa.schema([(f.name, ARROW_TYPES[f.kind]) for f in chk.specs.values()])
    table = pa.table({f.name: pa.array(data[f.name], type=schema.field(f.name).type) for f in schema})
    return table, valid


def _plan_marking(tlps: list[str | None], rels: list[list[str] | None], source: str) -> Marking:
    """The marking of everything the plan would write: the highest TLP, the releasability all rows share."""
    if not tlps:
        return Marking(rows=0, sources=(source,))
    top = max((_RANK[t] for t in set(tlps) if t), default=0)
    rel = set(INSTITUTES)
    for r in rels:
        rel &= set(r or ())
    return Marking(TLP_LEVELS[top], tuple(sorted(rel)), len(tlps), (source,))
