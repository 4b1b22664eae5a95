"""What is waiting for whom: the in-app inbox of the Assessments page, and who is still able to sign.

The workflow (analytics/assessments/workflow.py) decides who may sign: a lead of each institute who did not write
any version and can read the current one. Nothing told people when that was their turn, and nothing said when
the rule left nobody at all: a lead who edits an analyst's draft becomes an author and can never sign it, and if
they were their institute's only other lead the assessment can never be approved. This module answers both from
the store, with the workflow's own rules (`authors_of`, reads' visibility), so the page only renders:

- `inbox(con, viewer)`: assessments waiting for this lead's sign-off, and assessments returned to this author;
- `signers_left(con, viewer, id)`: per institute still to sign, how many leads could sign the current version
  (0 means nobody can: the page warns), optionally as if `also_author` saved it too (the editing lead's warning).

Reads only: counts and ids, never another person's text beyond who returned an assessment and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from analytics.access.roles import ASSESSMENT_AUTHORS, SIGNERS
from analytics.access.viewer import Viewer
from analytics.assessments.model import SIGNOFF_INSTITUTES
from analytics.assessments.reads import get_assessment, list_assessments
from analytics.assessments.workflow import authors_of

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False


@dataclass(frozen=True)
class InboxItem:
    assessment_id: int
    title: str  # stored text: render inert
    version: int
    by: str  # who it waits on you from (the last saver) or who returned it (display name)
    at: datetime | None


@dataclass(frozen=True)
class Inbox:
    waiting_for_signoff: tuple[InboxItem, ...]
    returned_to_you: tuple[InboxItem, ...]

    @property
    def empty(self) -> bool:
        return not (self.waiting_for_signoff or self.returned_to_you)


def inbox(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Inbox:
    """Assessments this viewer may read that wait for them: in review with no sign-off yet from this lead's
    institute and not written by them ("waiting for your sign-off"); returned with comments to an author of
    theirs ("returned to you")."""
    viewer.require(*ASSESSMENT_AUTHORS)
    df = list_assessments(con, viewer).data
    waiting: list[InboxItem] = []
    returned: list[InboxItem] = []
    for aid, title, status, version, awaiting, updated in zip(
        df["id"], df["title"], df["status"], df["version"], df["awaiting_me"], df["updated"], strict=True
    ):
        aid = int(aid)
        if status == "in_review" and bool(awaiting) and viewer.role in SIGNERS:
            row = con.execute(
                "select coalesce(u.name, v.saved_by) from assessment_versions v left join users u "
                "on u.email = v.saved_by where v.assessment_id = ? and v.version = ?",
                [aid, int(version)],
            ).fetchone()
            waiting.append(InboxItem(aid, str(title), int(version), str(row[0]) if row else "", updated))
        elif status == "returned" and viewer.email in authors_of(con, aid):
            row = con.execute(
                'select coalesce(u.name, c.email), c."at" from assessment_comments c left join users u '
                "on u.email = c.email where c.assessment_id = ? and c.kind = 'return' order by c.id desc limit 1",
                [aid],
            ).fetchone()
            returned.append(
                InboxItem(aid, str(title), int(version), str(row[0]) if row else "", row[1] if row else None)
            )
    return Inbox(tuple(waiting), tuple(returned))


def signers_left(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, *, also_author: str | None = None
) -> dict[str, int]:
    """For each sign-off institute that has not signed the current version: how many active leads of it could
    sign (not an author, and cleared to read the current version). `also_author` counts that person as an author
    too (what saving would make them). Empty when the viewer may not read the assessment or it is approved."""
    viewer.require(*ASSESSMENT_AUTHORS)
    a = get_assessment(con, viewer, assessment_id)
    if a is None or a.status == "approved":
        return {}
    authors = authors_of(con, assessment_id) | ({also_author} if also_author else set())
    signed = set(a.signed_institutes)
    leads = con.execute(
        "select email, name, institute, role from users where list_contains(?, role) and active "
        "and list_contains(?, institute) order by email",
        [list(SIGNERS), list(SIGNOFF_INSTITUTES)],
    ).fetchall()
    counts = {i: 0 for i in SIGNOFF_INSTITUTES if i not in signed}
    for email, name, institute, role in leads:
        if institute not in counts or email in authors:
            continue
        # Cleared for the current version under the same rule as every read (marking and every cited record).
        if get_assessment(con, Viewer(email, name, institute, role), assessment_id) is not None:
            counts[institute] += 1
    return counts
