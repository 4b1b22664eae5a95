"""Who sees exactly the same records: the audience a cached result may be shared with.

Why: a page's read of the records depends on the person asking only through the markings rules
(`markings.visible_sql`): their institute (releasability, AMBER+STRICT) and, for TLP:RED, whether their email is
among a record's named recipients. Their role decides which pages and reads they may open at all. So two people
of one institute and role who are named on the same TLP:RED records (usually none) see the same rows and get the
same answer to the same question, and computing it once for both is what lets many analysts share one store
server (issue 21: a new question costs the store server about 0.7 s of CPU; the same question asked again costs
nothing).

`Audience` names that access and nothing else; `analytics.session` keys cached reads of records-only modules by
it instead of by the person. It is computed from the store under the same data version as the result it keys:
a write that names someone on a TLP:RED record (or removes them) gives them a new audience from the next read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from analytics.access.markings import ORIGINATOR_COLUMN
from analytics.access.viewer import Viewer

__all__ = ["Audience", "audience_of"]

# The identifying column of each marked table (markings.ORIGINATOR_COLUMN names the tables). A marked table
# missing here fails loudly in `audience_of` rather than letting its TLP:RED rows go unconsidered.
RECORD_ID: dict[str, str] = {"incidents": "id", "eval_runs": "run_id"}


@dataclass(frozen=True)
class Audience:
    """Everything a records read may depend on about the person asking. `red` is a digest of the TLP:RED
    records that name them ("" when none), so it says whether two people's RED access is the same without
    carrying which records those are."""

    institute: str
    role: str
    red: str


def red_records_naming(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[tuple[str, str]]:
    """(table, record id) of every TLP:RED record, in every marked table, that names this person, sorted.
    Whether they may otherwise see it does not matter here: naming alone can make two people's access differ."""
    parts = [
        f"select '{table}' as t, {RECORD_ID[table]} as id from {table} "
        "where tlp = 'RED' and list_contains(named_recipients, $email)"
        for table in sorted(ORIGINATOR_COLUMN)
    ]
    rows = con.execute(
        " union all ".join(parts) + " order by 1, 2", {"email": viewer.email.lower()}
    ).fetchall()
    return [(str(t), str(i)) for t, i in rows]


def audience_of(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Audience:
    """The audience this person belongs to, as the store stands now."""
    named = red_records_naming(con, viewer)
    red = hashlib.sha256(repr(named).encode()).hexdigest() if named else ""
    return Audience(institute=viewer.institute, role=viewer.role, red=red)
