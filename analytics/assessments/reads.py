"""Reading assessments: who may read which version, and each version as its reader sees it.

One rule decides every read (`_visible_version_sql`): the version's own marking, every record it cites checked
now against the reader (with the same SQL rules as the records' own pages), and the reader's role (analysts and
leads see drafts and approved versions they are cleared for; policymakers and administrators only approved
versions). An assessment the viewer may not read behaves exactly like one that does not exist (`NotFound`).

This module also decides which text attached to one version reaches another (`_carried_comments`): only
dissents, and only under a marking whose audience is within the one they were written for. Reads take a cursor
and the viewer; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import duckdb
import pandas as pd

from analytics.access.markings import Marking, Scoped, combine_markings, releasable_sql, visible_sql
from analytics.access.roles import ASSESSMENT_AUTHORS, SIGNERS
from analytics.access.viewer import Viewer
from analytics.assessments.marking import DerivedMarking, EvidenceMarking, audience_within, raise_to_current
from analytics.assessments.model import (
    Assessment,
    Comment,
    EvidenceRef,
    Judgement,
    NotFound,
    SignOff,
    VersionInfo,
)

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False


def _visible_version_sql(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """Predicate over `assessment_versions v` (joined with `assessments a`): the version's own marking, every
    record it cites (checked now, with the same rules as the records' own pages), and the reader's role."""
    inc, params = visible_sql(viewer, "incidents", "i")
    run, run_params = visible_sql(viewer, "eval_runs", "r")
    rel, rel_params = releasable_sql(viewer, "v")
    view_rel, _ = releasable_sql(viewer, "e")  # the same parameters as `rel`
    params.update(run_params)
    params.update(rel_params)
    sql = (
        f"({rel}"
        " and (v.tlp <> 'RED' or list_contains(v.named_recipients, $v_email))"
        " and (v.tlp <> 'AMBER+STRICT' or v.originator = $v_inst)"
        " and not exists (select 1 from assessment_evidence e join incidents i on i.id = e.ref_id"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'incident'"
        f"   and not ({inc}))"
        " and not exists (select 1 from assessment_evidence e join eval_runs r on r.run_id = e.ref_id"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'eval_run'"
        f"   and not ({run}))"
        # A cited view is filters, not data: its counts were drawn at the marking stored with the citation
        # (analytics.assessments.evidence), so the reader must be cleared for that marking.
        " and not exists (select 1 from assessment_evidence e"
        "   where e.assessment_id = v.assessment_id and e.version = v.version and e.kind = 'view'"
        f"   and not ({view_rel}"
        "   and (e.tlp <> 'RED' or list_contains(e.named_recipients, $v_email))"
        "   and (e.tlp <> 'AMBER+STRICT' or e.originator = $v_inst))))"
    )
    if viewer.role not in ASSESSMENT_AUTHORS:
        sql += " and a.status = 'approved' and v.version = a.approved_version"
    return sql, params


def readable_versions_sql(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """WHERE text over `assessments a` joined with `assessment_versions v`: of each assessment, the version this
    viewer reads by default (the current one for authors, the approved one for everyone else), and only when
    `_visible_version_sql` lets them read it. For reads that list assessments by what they cite
    (analytics.entities), so they apply the same rule as every read here."""
    where, params = _visible_version_sql(viewer)
    pick = (
        "v.version = a.current_version"
        if viewer.role in ASSESSMENT_AUTHORS
        else "v.version = a.approved_version"
    )
    return f"({pick} and {where})", params


class VersionRow(NamedTuple):
    """One row of `_VERSION_COLUMNS`: an assessment joined with one of its versions."""

    id: int
    version: int
    current_version: int
    status: str
    title: str
    question: str
    bluf: str
    assumptions: list[str]
    alternatives: list[str]
    indicators: list[str]
    changes: str
    supersedes: int | None
    tlp: str
    releasable_to: list[str]
    named_recipients: list[str]
    originator: str
    raise_tlp: str | None
    restrict_to: list[str]
    requested_recipients: list[str]
    created_by: str
    saved_by: str
    saved_at: datetime
    approved_version: int | None
    approved_at: datetime | None
    protective: str  # migration 011


# The select list is spelled from VersionRow's fields, so the columns and the names they are read by cannot drift
# apart: these come from `assessments a`, every other field from `assessment_versions v`.
_ASSESSMENT_FIELDS = frozenset(
    {"id", "current_version", "status", "supersedes", "created_by", "approved_version", "approved_at"}
)
_VERSION_COLUMNS = ", ".join(f"{'a' if f in _ASSESSMENT_FIELDS else 'v'}.{f}" for f in VersionRow._fields)


def _names(con: duckdb.DuckDBPyConnection, emails: Iterable[str]) -> dict[str, str]:
    emails = list(set(emails))
    if not emails:
        return {}
    rows = con.execute("select email, name from users where list_contains(?, email)", [emails]).fetchall()
    return {e: n for e, n in rows}


# -- reads ----------------------------------------------------------------------------------------------------


def get_assessment(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    assessment_id: int,
    version: int | None = None,
    *,
    approved: bool = False,
) -> Assessment | None:
    """One version of an assessment, or None when it does not exist or this viewer may not read it.

    `version=None` gives the newest version this viewer may read: the current one for analysts and leads, the
    approved one for everyone else. `approved=True` asks for the approved version whoever is reading (None
    while there is none). The marking is the stored one raised by the evidence's markings as they are now."""
    where, params = _visible_version_sql(viewer)
    params["aid"] = int(assessment_id)
    if approved:
        pick = "v.version = a.approved_version"
    elif version is not None:
        pick = "v.version = $ver"
        params["ver"] = int(version)
    elif viewer.role in ASSESSMENT_AUTHORS:
        pick = "v.version = a.current_version"
    else:
        pick = "v.version = a.approved_version"
    row = con.execute(
        f"select {_VERSION_COLUMNS} from assessments a join assessment_versions v on v.assessment_id = a.id "
        f"where a.id = $aid and {pick} and {where}",
        params,
    ).fetchone()
    return _assessment_from_row(con, VersionRow._make(row)) if row else None


def _assessment_from_row(con: duckdb.DuckDBPyConnection, row: VersionRow) -> Assessment:
    """The version in `row` with its judgements, evidence, carried comments, authors and sign-offs."""
    stored = DerivedMarking(
        row.tlp, tuple(row.releasable_to), tuple(row.named_recipients), row.originator, row.tlp
    )
    marking = _effective_marking(con, row.id, row.version, stored)
    comments = _carried_comments(con, row.id, row.version, marking)
    authors = _authors(con, row.id, row.created_by)
    names = _names(con, authors)
    successor = con.execute(
        "select min(id) from assessments where supersedes = ? and status = 'approved'", [row.id]
    ).fetchone()
    return Assessment(
        id=int(row.id),
        version=int(row.version),
        current_version=int(row.current_version),
        status=row.status,
        title=row.title,
        question=row.question,
        bluf=row.bluf,
        judgements=_judgements(con, row.id, row.version, comments),
        assumptions=tuple(row.assumptions),
        alternatives=tuple(row.alternatives),
        indicators=tuple(row.indicators),
        changes=row.changes,
        supersedes=int(row.supersedes) if row.supersedes is not None else None,
        superseded_by=int(successor[0]) if successor and successor[0] is not None else None,
        marking=marking.marking,
        named_recipients=marking.named_recipients,
        originator=marking.originator,
        raise_tlp=row.raise_tlp,
        restrict_to=tuple(row.restrict_to),
        requested_recipients=tuple(row.requested_recipients),
        created_by=row.created_by,
        authors=authors,
        author_names=tuple(names.get(e, e) for e in authors),
        saved_by=row.saved_by,
        saved_at=row.saved_at,
        signoffs=_signoffs(con, row.id, row.version),
        approved_version=int(row.approved_version) if row.approved_version is not None else None,
        approved_at=row.approved_at,
        protective=str(row.protective or "OFFICIAL"),
        comments=tuple(comments),
        dissents=tuple(c for c in comments if c.kind == "dissent" and c.judgement_key is None),
    )


def _judgements(
    con: duckdb.DuckDBPyConnection, aid: int, ver: int, comments: Iterable[Comment]
) -> tuple[Judgement, ...]:
    """A version's judgements in order, each with its evidence and the dissents shown beside it."""
    evidence: dict[str, list[EvidenceRef]] = {}
    for key, kind, ref in con.execute(
        "select judgement_key, kind, ref_id from assessment_evidence where assessment_id = ? and version = ? "
        "order by kind, ref_id",
        [aid, ver],
    ).fetchall():
        evidence.setdefault(key, []).append(EvidenceRef(kind, ref))
    dissents = [c for c in comments if c.kind == "dissent"]
    return tuple(
        Judgement(
            number=int(pos),
            key=key,
            statement=statement,
            term=term,
            confidence=conf,
            reasoning=reasoning,
            evidence=tuple(evidence.get(key, ())),
            edited_at=edited_at,
            edited_by=edited_by,
            dissents=tuple(c for c in dissents if c.judgement_key == key),
        )
        for pos, key, statement, term, conf, reasoning, edited_at, edited_by in con.execute(
            "select position, judgement_key, statement, term, confidence, reasoning, edited_at, edited_by "
            "from assessment_judgements where assessment_id = ? and version = ? order by position",
            [aid, ver],
        ).fetchall()
    )


def _authors(con: duckdb.DuckDBPyConnection, aid: int, created_by: str) -> tuple[str, ...]:
    """The creator, then everyone who saved a version, in order of their first save."""
    savers = [
        email
        for (email,) in con.execute(
            "select saved_by from assessment_versions where assessment_id = ? group by saved_by "
            "order by min(version)",
            [aid],
        ).fetchall()
    ]
    return tuple(dict.fromkeys([created_by, *savers]))


def _signoffs(con: duckdb.DuckDBPyConnection, aid: int, ver: int) -> tuple[SignOff, ...]:
    rows = con.execute(
        'select s.email, coalesce(u.name, s.email), s.institute, s."at" from assessment_signoffs s '
        'left join users u on u.email = s.email where s.assessment_id = ? and s.version = ? order by s."at"',
        [aid, ver],
    ).fetchall()
    return tuple(SignOff(*r) for r in rows)


def _effective_marking(
    con: duckdb.DuckDBPyConnection, aid: int, ver: int, stored: DerivedMarking
) -> DerivedMarking:
    """The stored marking raised by the cited records' markings as they are now (never lower), naming only
    recipients its releasability admits."""
    return raise_to_current(stored, _current_evidence_markings(con, aid, ver), people=people(con))


def people(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The user directory as the marking rules need it: email -> institute (marking.admitted_recipients)."""
    return {str(e).lower(): str(i) for e, i in con.execute("select email, institute from users").fetchall()}


def _current_evidence_markings(con: duckdb.DuckDBPyConnection, aid: int, ver: int) -> list[EvidenceMarking]:
    rows = con.execute(
        "select i.tlp, i.releasable_to, i.named_recipients, i.originator from assessment_evidence e "
        "join incidents i on i.id = e.ref_id where e.assessment_id = ? and e.version = ? and e.kind = 'incident' "
        "union all "
        "select r.tlp, r.releasable_to, r.named_recipients, r.institute from assessment_evidence e "
        "join eval_runs r on r.run_id = e.ref_id where e.assessment_id = ? and e.version = ? and e.kind = 'eval_run' "
        "union all "
        "select e.tlp, e.releasable_to, e.named_recipients, e.originator from assessment_evidence e "
        "where e.assessment_id = ? and e.version = ? and e.kind = 'view'",
        [aid, ver, aid, ver, aid, ver],
    ).fetchall()
    return [EvidenceMarking(t, tuple(r), tuple(n), o) for t, r, n, o in rows]


def _carried_comments(
    con: duckdb.DuckDBPyConnection, aid: int, ver: int, marking: DerivedMarking
) -> list[Comment]:
    """The comments a version shows: those written on it (comments, dissents, review remarks), and dissents
    written on an earlier version whose audience contains this version's audience (`audience_within`).

    This is the only place text attached to one version reaches another: version notes and review remarks stay
    on their own version, and the editor's text is the authors' own. A dissent written for a narrow audience
    (RED named recipients, one institute, AMBER+STRICT) is therefore never shown on a later, wider version nor
    in its approved text; it stays on the version it was written on, for that version's readers."""
    rows = con.execute(
        'select c.id, c.version, c.judgement_key, c.email, coalesce(u.name, c.email), c.institute, c.kind, c.body, c."at" '
        "from assessment_comments c left join users u on u.email = c.email "
        "where c.assessment_id = ? and (c.version = ? or (c.version < ? and c.kind = 'dissent')) order by c.id",
        [aid, ver, ver],
    ).fetchall()
    comments = [Comment(*r) for r in rows]
    origins = {v: _version_marking(con, aid, v) for v in {c.version for c in comments if c.version != ver}}
    return [
        c
        for c in comments
        if c.version == ver or ((o := origins[c.version]) is not None and audience_within(marking, o))
    ]


def _version_marking(con: duckdb.DuckDBPyConnection, aid: int, ver: int) -> DerivedMarking | None:
    """A version's marking as it stands: stored, raised by its evidence's current markings (never lower)."""
    row = con.execute(
        "select tlp, releasable_to, named_recipients, originator from assessment_versions "
        "where assessment_id = ? and version = ?",
        [aid, ver],
    ).fetchone()
    if row is None:
        return None
    tlp, rel, named, originator = row
    return _effective_marking(con, aid, ver, DerivedMarking(tlp, tuple(rel), tuple(named), originator, tlp))


def not_carried(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, version: int) -> int:
    """How many dissents shown on the version before `version` are not shown on `version` because its audience
    is wider than that of the version they were written on (to tell the author after a save, without content).
    0 when the viewer may not read both versions."""
    viewer.require(*ASSESSMENT_AUTHORS)
    new = get_assessment(con, viewer, assessment_id, version)
    old = get_assessment(con, viewer, assessment_id, version - 1) if version > 1 else None
    if new is None or old is None:
        return 0
    kept = {c.id for c in new.comments}
    return sum(1 for c in old.comments if c.kind == "dissent" and c.id not in kept)


def require_assessment(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int, version: int | None = None
) -> Assessment:
    a = get_assessment(con, viewer, assessment_id, version)
    if a is None:
        raise NotFound(f"No assessment {assessment_id}" + (f" version {version}" if version else "") + ".")
    return a


def list_assessments(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> Scoped[pd.DataFrame]:
    """The workspace list for analysts and leads: each assessment's current version this viewer may read, with
    status, marking, authors, sign-offs so far, and whether it awaits this viewer's sign-off."""
    viewer.require(*ASSESSMENT_AUTHORS)
    where, params = _visible_version_sql(viewer)
    df = con.execute(
        "select a.id, v.title, a.status, v.version, v.tlp, v.releasable_to, v.saved_at as updated, "
        "(select list(distinct coalesce(u.name, x.saved_by) order by coalesce(u.name, x.saved_by)) "
        "   from assessment_versions x left join users u on u.email = x.saved_by where x.assessment_id = a.id) "
        "   as authors, "
        "(select list(x.saved_by) from assessment_versions x where x.assessment_id = a.id) as author_emails, "
        "(select coalesce(list(distinct s.institute order by s.institute), []) from assessment_signoffs s "
        "   where s.assessment_id = a.id and s.version = a.current_version) as signed_by "
        "from assessments a join assessment_versions v on v.assessment_id = a.id and v.version = a.current_version "
        f"where {where} order by v.saved_at desc, a.id desc",
        params,
    ).df()
    if df.empty:
        df["awaiting_me"] = pd.Series(dtype=bool)
    else:
        df["awaiting_me"] = [
            viewer.role in SIGNERS
            and status == "in_review"
            and viewer.email not in list(emails)
            and viewer.institute not in list(signed)
            for status, emails, signed in zip(df["status"], df["author_emails"], df["signed_by"], strict=True)
        ]
    df = df.drop(columns=["author_emails"])
    return Scoped(df, _list_marking(df))


def _list_marking(df: pd.DataFrame) -> Marking:
    return combine_markings(
        Marking(t, tuple(r), 1) for t, r in zip(df.get("tlp", []), df.get("releasable_to", []), strict=False)
    )


def list_approved(con: duckdb.DuckDBPyConnection, viewer: Viewer, limit: int = 200) -> Scoped[pd.DataFrame]:
    """Approved assessments this viewer is cleared for, newest approval first (everyone may call this)."""
    where, params = _visible_version_sql(viewer)
    params["lim"] = int(limit)
    df = con.execute(
        "select a.id, v.title, v.bluf, a.approved_at, v.version, v.tlp, v.releasable_to, a.supersedes, "
        "(select min(s.id) from assessments s where s.supersedes = a.id and s.status = 'approved') as superseded_by "
        "from assessments a join assessment_versions v on v.assessment_id = a.id and v.version = a.approved_version "
        f"where a.status = 'approved' and {where} order by a.approved_at desc, a.id desc limit $lim",
        params,
    ).df()
    return Scoped(df, _list_marking(df))


def latest_approved(con: duckdb.DuckDBPyConnection, viewer: Viewer, n: int = 5) -> Scoped[pd.DataFrame]:
    """The `n` most recently approved assessments this viewer may read that nothing newer has superseded (for
    the overview): id, title, bluf, approved_at, tlp, releasable_to."""
    scoped = list_approved(con, viewer)
    df = scoped.data
    df = df[df["superseded_by"].isna()].head(int(n)).reset_index(drop=True)
    return Scoped(df[["id", "title", "bluf", "approved_at", "tlp", "releasable_to"]], _list_marking(df))


def list_versions(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int) -> list[VersionInfo]:
    """Every version of an assessment this viewer may read, newest first."""
    viewer.require(*ASSESSMENT_AUTHORS)
    where, params = _visible_version_sql(viewer)
    params["aid"] = int(assessment_id)
    rows = con.execute(
        "select v.version, coalesce(u.name, v.saved_by), v.saved_at, v.note, v.tlp, "
        "coalesce(v.version = a.approved_version, false) "
        "from assessments a join assessment_versions v on v.assessment_id = a.id "
        f"left join users u on u.email = v.saved_by where a.id = $aid and {where} order by v.version desc",
        params,
    ).fetchall()
    return [VersionInfo(*r) for r in rows]
