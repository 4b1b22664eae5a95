"""Handling markings (TLP 2.0 and nationality releasability) and the SQL that enforces them.

Markings are applied in SQL by every read, never in pages: `visible_sql` returns the predicate that decides
whether a viewer may see a row, and `highest_marking` says what a result set must be marked with (the highest
TLP and the narrowest releasability of the rows it used). Rules, from docs/access-model.md:

- the viewer's institute must be in the row's `releasable_to` (JOINT staff: both UK and AU);
- TLP:RED rows only for their named recipients;
- TLP:AMBER+STRICT rows only for the originating institute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import duckdb

from analytics.access.viewer import Viewer

T = TypeVar("T")

TLP_LEVELS: tuple[str, ...] = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
INSTITUTES: tuple[str, ...] = ("UK", "AU")

TLP_COLOURS: dict[str, tuple[str, str]] = {
    # (background, text) from the FIRST TLP 2.0 colour specification, on black as FIRST recommends
    "CLEAR": ("#000000", "#FFFFFF"),
    "GREEN": ("#000000", "#33FF00"),
    "AMBER": ("#000000", "#FFC000"),
    "AMBER+STRICT": ("#000000", "#FFC000"),
    "RED": ("#000000", "#FF2B2B"),
}

TLP_MEANING: dict[str, str] = {
    "CLEAR": "Disclosure is not limited.",
    "GREEN": "Limited disclosure, recipients can spread this within their community.",
    "AMBER": "Limited disclosure, recipients' organisations and their clients on a need-to-know basis.",
    "AMBER+STRICT": "Limited disclosure, restricted to the originating institute only.",
    "RED": "For the eyes and ears of named recipients only, no further disclosure.",
}

# Which column holds the originating institute, per marked table. Table names come only from here.
ORIGINATOR_COLUMN: dict[str, str] = {"incidents": "originator", "eval_runs": "institute"}
MarkedTable = Literal["incidents", "eval_runs"]

_ALIASES = frozenset({"i", "r", "e", "x", "v", "incidents", "eval_runs"})


def tlp_rank(tlp: str) -> int:
    return TLP_LEVELS.index(normalise_tlp(tlp))


def normalise_tlp(value: str) -> str:
    """Canonical TLP name from user input such as 'tlp:amber+strict' or 'Amber'. Unknown values raise."""
    v = value.strip().upper()
    if v.startswith("TLP:"):
        v = v[4:]
    v = v.replace(" ", "")
    if v == "WHITE":  # TLP 1.0
        v = "CLEAR"
    if v not in TLP_LEVELS:
        raise ValueError(f"unknown TLP marking {value!r}; expected one of {', '.join(TLP_LEVELS)}")
    return v


def parse_releasable(value: str | Iterable[str]) -> tuple[str, ...]:
    """'UK,AU' or ['uk'] -> ('AU', 'UK'). Unknown institutes raise; an empty list is refused."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = sorted({s.strip().upper() for s in items if s and s.strip()})
    bad = [s for s in out if s not in INSTITUTES]
    if bad:
        raise ValueError(f"unknown releasability {', '.join(bad)}; expected UK and/or AU")
    if not out:
        raise ValueError("releasability is empty; a record must be releasable to UK, AU or both")
    return tuple(out)


@dataclass(frozen=True)
class Marking:
    """The marking a result (chart, table, export) must carry."""

    tlp: str = "CLEAR"
    releasable_to: tuple[str, ...] = INSTITUTES
    rows: int = 0
    sources: tuple[
        str, ...
    ] = ()  # where the rows came from (institute, atlas, aiid, epoch, stix, ...), for credits

    @property
    def label(self) -> str:
        rel = " and ".join(self.releasable_to) if self.releasable_to else "nobody"
        return f"TLP:{self.tlp} · releasable to {rel}"

    @property
    def short(self) -> str:
        """File-name safe form, e.g. 'TLP-AMBER-STRICT_REL-UK'."""
        return f"TLP-{self.tlp.replace('+', '-')}_REL-{'-'.join(self.releasable_to) or 'NONE'}"

    def combine(self, other: Marking) -> Marking:
        """The most restrictive of two markings: highest TLP, intersection of releasability."""
        tlp = self.tlp if tlp_rank(self.tlp) >= tlp_rank(other.tlp) else other.tlp
        rel = tuple(sorted(set(self.releasable_to) & set(other.releasable_to)))
        return Marking(
            tlp, rel, self.rows + other.rows, tuple(sorted(set(self.sources) | set(other.sources)))
        )

    def raise_to(self, tlp: str) -> Marking:
        """Raise (never lower) the TLP."""
        higher = tlp if tlp_rank(tlp) > tlp_rank(self.tlp) else self.tlp
        return Marking(higher, self.releasable_to, self.rows, self.sources)


def combine_markings(markings: Iterable[Marking]) -> Marking:
    out = Marking()
    for m in markings:
        out = out.combine(m)
    return out


def visible_sql(
    viewer: Viewer, table: MarkedTable = "incidents", alias: str = "i"
) -> tuple[str, dict[str, Any]]:
    """SQL predicate (with named parameters) true for the rows of `table` this viewer may see."""
    if table not in ORIGINATOR_COLUMN:
        raise ValueError(f"no markings defined for table {table!r}")
    if alias not in _ALIASES:
        raise ValueError(f"alias {alias!r} not allowed")
    orig = ORIGINATOR_COLUMN[table]
    rel_sql, params = releasable_sql(viewer, alias)
    sql = (
        f"({rel_sql}"
        f" and ({alias}.tlp <> 'RED' or list_contains({alias}.named_recipients, $v_email))"
        f" and ({alias}.tlp <> 'AMBER+STRICT' or {alias}.{orig} = $v_inst))"
    )
    return sql, {**params, "v_email": viewer.email.lower(), "v_inst": viewer.institute}


def releasable_sql(viewer: Viewer, alias: str = "i") -> tuple[str, dict[str, Any]]:
    """SQL predicate: the row's `releasable_to` names every institute the viewer belongs to (JOINT staff belong
    to neither alone, so they see only what both have released).

    One list_contains per institute rather than list_has_all(releasable_to, [...]): at 10M incidents DuckDB
    takes ~45 ms for the first and ~360 ms for the second, and every page query pays it once per scan."""
    if alias not in _ALIASES:
        raise ValueError(f"alias {alias!r} not allowed")
    rel = list(INSTITUTES) if viewer.institute == "JOINT" else [viewer.institute]
    sql = " and ".join(f"list_contains({alias}.releasable_to, $v_rel_{k})" for k in range(len(rel)))
    return f"({sql})", {f"v_rel_{k}": inst for k, inst in enumerate(rel)}


def marking_select_sql(alias: str = "i") -> str:
    """Aggregate expressions that compute a result's marking; use in a query with the same WHERE as the data."""
    if alias not in _ALIASES:
        raise ValueError(f"alias {alias!r} not allowed")
    levels = ", ".join(f"'{t}'" for t in TLP_LEVELS)
    return (
        f"coalesce(max(list_position([{levels}], {alias}.tlp)), 1) as m_tlp, "
        f"coalesce(bool_and(list_contains({alias}.releasable_to, 'UK')), true) as m_uk, "
        f"coalesce(bool_and(list_contains({alias}.releasable_to, 'AU')), true) as m_au, "
        f"count(*) as m_rows, "
        f"list_sort(list_distinct(list({alias}.source))) as m_sources"
    )


def marking_from_row(
    m_tlp: int, m_uk: bool, m_au: bool, m_rows: int, m_sources: list[str] | None = None
) -> Marking:
    rel = tuple(inst for inst, ok in (("AU", m_au), ("UK", m_uk)) if ok)
    return Marking(TLP_LEVELS[int(m_tlp) - 1], rel, int(m_rows), tuple(m_sources or ()))


def highest_marking(
    con: duckdb.DuckDBPyConnection, from_sql: str, where: str, params: dict[str, Any], alias: str = "i"
) -> Marking:
    """Marking of the rows selected by `from <from_sql> where <where>` (both built from allow-listed parts)."""
    row = con.execute(f"select {marking_select_sql(alias)} from {from_sql} where {where}", params).fetchone()
    assert row is not None
    return marking_from_row(*row)


@dataclass(frozen=True)
class Scoped(Generic[T]):
    """A query result and the marking it must be shown with."""

    data: T
    marking: Marking
