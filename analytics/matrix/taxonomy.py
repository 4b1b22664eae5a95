"""ATLAS taxonomy lookups: tactics, techniques, mitigations, release history (public, unmarked reference data).

The taxonomy is public (Apache-2.0, MITRE) and carries no marking, so these functions take no viewer; anything
that joins it to incidents or evaluation runs lives in analytics.matrix.queries / analytics.links.queries and is scoped there.
Retired ids (`removed_in` set by a later release) still resolve to a name, but are left out of the matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pandas as pd

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True


def technique_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select id, name from atlas_techniques order by id").fetchall())


def tactic_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select id, name from atlas_tactics order by ordinal").fetchall())


def tactics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current tactics in kill-chain order: id, name, ordinal, description."""
    return con.execute(
        "select id, name, ordinal, description from atlas_tactics where removed_in is null order by ordinal, id"
    ).df()


def techniques(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current techniques and sub-techniques: id, name, parent_id, maturity, ordinal, tactics (list of ids).

    Ordered as in the release file (ATLAS's own order within each tactic); demo-seeded rows have no ordinal and
    sort after, by id."""
    return con.execute(
        """
        select t.id, t.name, t.parent_id, t.maturity, t.ordinal,
               coalesce(list(tt.tactic_id order by ta.ordinal) filter (tt.tactic_id is not null), []) as tactics
        from atlas_techniques t
        left join atlas_technique_tactics tt on tt.technique_id = t.id
        left join atlas_tactics ta on ta.id = tt.tactic_id
        where t.removed_in is null
        group by t.id, t.name, t.parent_id, t.maturity, t.ordinal
        order by coalesce(t.ordinal, 100000), t.id
        """
    ).df()


@dataclass(frozen=True)
class TechniqueDetail:
    id: str
    name: str
    description: str
    maturity: str | None
    parent_id: str | None
    parent_name: str | None
    tactics: tuple[tuple[str, str], ...]  # (id, name) in kill-chain order
    subtechniques: tuple[tuple[str, str], ...]
    removed_in: str | None


def technique_detail(con: duckdb.DuckDBPyConnection, technique_id: str) -> TechniqueDetail | None:
    """Everything the matrix shows about one technique, or None for an unknown id."""
    row = con.execute(
        "select t.id, t.name, coalesce(t.description, ''), t.maturity, t.parent_id, p.name, t.removed_in "
        "from atlas_techniques t left join atlas_techniques p on p.id = t.parent_id where t.id = ?",
        [technique_id],
    ).fetchone()
    if row is None:
        return None
    tac = con.execute(
        "select ta.id, ta.name from atlas_technique_tactics tt join atlas_tactics ta on ta.id = tt.tactic_id "
        "where tt.technique_id = ? order by ta.ordinal",
        [technique_id],
    ).fetchall()
    subs = con.execute(
        "select id, name from atlas_techniques where parent_id = ? and removed_in is null "
        "order by coalesce(ordinal, 100000), id",
        [technique_id],
    ).fetchall()
    return TechniqueDetail(
        id=row[0],
        name=row[1],
        description=plain_text(row[2]),
        maturity=row[3],
        parent_id=row[4],
        parent_name=row[5],
        tactics=tuple((str(a), str(b)) for a, b in tac),
        subtechniques=tuple((str(a), str(b)) for a, b in subs),
        removed_in=row[6],
    )


def mitigations_for(con: duckdb.DuckDBPyConnection, technique_id: str) -> pd.DataFrame:
    """Mitigations of a technique and, for a sub-technique, of its parent: id, name, use, via, categories."""
    df = con.execute(
        """
        select m.id, m.name, tm.use, tm.technique_id as via, m.categories
        from atlas_technique_mitigations tm
        join atlas_mitigations m on m.id = tm.mitigation_id and m.removed_in is null
        where tm.technique_id = ? or tm.technique_id = (select parent_id from atlas_techniques where id = ?)
        order by (tm.technique_id = ?) desc, m.id
        """,
        [technique_id, technique_id, technique_id],
    ).df()
    if not df.empty:
        df = df.drop_duplicates("id", keep="first").reset_index(drop=True)
        df["use"] = df["use"].map(lambda s: plain_text(s or ""))
    return df


def mitigations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """All current mitigations with how many techniques each addresses."""
    return con.execute(
        "select m.id, m.name, m.categories, count(tm.technique_id) as techniques from atlas_mitigations m "
        "left join atlas_technique_mitigations tm on tm.mitigation_id = m.id where m.removed_in is null "
        "group by all order by m.id"
    ).df()


def current_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The ATLAS release last imported, or None when only the demo slice is present."""
    row = con.execute(
        'select version from atlas_versions order by "at" desc, batch_id desc limit 1'
    ).fetchone()
    return str(row[0]) if row else None


def versions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        'select version, "at", imported_by, tactics, techniques, mitigations, case_studies, changes '
        'from atlas_versions order by "at" desc'
    ).df()


_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)]*)\)")
_TECH_PATH = re.compile(r"/(?:techniques|tactics|mitigations)/(AML\.[A-Z]+\d+(?:\.\d+)?)")


def plain_text(markdown: str) -> str:
    """ATLAS descriptions with their markdown links turned into plain words ("Name (AML.T0005)").

    Pages show stored text with st.text, never as markdown; this keeps it readable there."""

    def repl(m: re.Match[str]) -> str:
        target = _TECH_PATH.search(m.group(2))
        return f"{m.group(1)} ({target.group(1)})" if target else m.group(1)

    return _MD_LINK.sub(repl, markdown).strip()
