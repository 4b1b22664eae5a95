"""Evidence: the records an assessment cites, as its author may find and cite them and as approval pins them.

Three kinds of record can be cited (`EVIDENCE_KINDS`): incidents, evaluation runs and saved views. This module
owns what the viewer may see of each (`evidence_info`: label, dates and marking, only for records the viewer
may open, so a record they may not see is indistinguishable from one that does not exist), the search an author
cites from, the marking a draft would carry given its evidence (`draft_marking`), and the pins: the values and
markings of every cited record at approval (`pin_evidence`), compared later with what the reader sees now
(`pinned_evidence`). Column names come only from `PIN_FIELDS`.

A saved view stores filters, not data, so what it contributes depends on who it is drawn for. Cited in an
assessment whose other evidence and requested marking both institutes may read (a joint assessment), its query
is evaluated at that audience (`audience_viewer`: records releasable to both, never AMBER+STRICT or RED), so the
author's own narrower records never make a joint assessment single-institute; otherwise at the author's full
scope, narrowed to the view's institute. `marking_responsible` names, for the checker's block messages, each
judgement and record that keeps an assessment from being joint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, NamedTuple

import duckdb
import pandas as pd

from analytics import views
from analytics.access.markings import INSTITUTES, TLP_LEVELS, visible_sql
from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.assessments.marking import DerivedMarking, EvidenceMarking, derive_marking
from analytics.assessments.model import (
    EVIDENCE_KINDS,
    Assessment,
    AssessmentDraft,
    AssessmentError,
    EvidenceRef,
)
from analytics.assessments.reads import get_assessment, people
from analytics.filters import Filters

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

# Evidence values pinned at approval, per kind. Column names come only from here.
PIN_FIELDS: dict[str, tuple[str, ...]] = {
    "incident": (
        "title",
        "summary",
        "occurred_on",
        "originator",
        "category",
        "severity",
        "status",
        "tlp",
        "releasable_to",
        "named_recipients",
    ),
    "eval_run": (
        "institute",
        "model",
        "benchmark",
        "task_version",
        "eval_date",
        "metric",
        "score",
        "stderr",
        "n_samples",
        "status",
        "tlp",
        "releasable_to",
        "named_recipients",
    ),
    "view": ("name", "page", "query"),
}


def _eval_updated_column(con: duckdb.DuckDBPyConnection) -> str:
    """eval_runs may gain an updated_at column (the evaluation feature); until then creation time is its age."""
    row = con.execute(
        "select count(*) from information_schema.columns where table_name = 'eval_runs' and column_name = 'updated_at'"
    ).fetchone()
    return "r.updated_at" if row and row[0] else "r.created_at"


@dataclass(frozen=True)
class EvidenceInfo:
    ref: EvidenceRef
    label: str  # stored text (titles, names): render as plain text
    when: date | None
    updated_at: datetime | None
    marking: EvidenceMarking


def audience_viewer(viewer: Viewer, releasable_to: Iterable[str], tlp: str) -> Viewer:
    """`viewer` narrowed to the audience of a marking, for drawing views and charts at that audience.

    Releasable to both and neither AMBER+STRICT nor RED: a joint-staff scope (analytics.access.markings'
    rule: records releasable to both, never AMBER+STRICT) with no email, so no RED record names it. Releasable to
    the viewer's institute only (and not RED): that institute, no email. Otherwise (RED, or an audience the
    viewer is not part of) the viewer unchanged. Always within what the viewer may see: a UK or AU person sees
    every record releasable to both that is neither AMBER+STRICT nor RED."""
    rel = set(releasable_to)
    if tlp == "RED":
        return viewer
    if set(INSTITUTES) <= rel and tlp != "AMBER+STRICT":
        return replace(viewer, institute="JOINT", email="")
    if viewer.institute in INSTITUTES and rel == {viewer.institute}:
        return replace(viewer, institute=viewer.institute, email="")
    return viewer


def is_joint(releasable_to: Iterable[str], tlp: str) -> bool:
    """Whether a marking lets a lead of each institute read it (releasable to both, not AMBER+STRICT or RED)."""
    return set(INSTITUTES) <= set(releasable_to) and tlp not in ("AMBER+STRICT", "RED")


def evidence_info(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    refs: Iterable[EvidenceRef],
    today: date | None = None,
    *,
    audience: Viewer | None = None,
) -> dict[EvidenceRef, EvidenceInfo]:
    """Label, date, last update and marking of each record the viewer may see; the others are simply absent.

    A saved view's marking is that of the incidents it shows: drawn for `audience` (see `audience_viewer`) when
    given, so a view cited in a joint assessment is marked at the joint audience; else for this viewer,
    narrowed to the view's institute (views are shared within an institute only)."""
    by_kind: dict[str, list[str]] = {}
    for r in dict.fromkeys(refs):
        by_kind.setdefault(r.kind, []).append(r.ref_id)
    out: dict[EvidenceRef, EvidenceInfo] = {}
    if ids := by_kind.get("incident"):
        out.update(_incident_info(con, viewer, ids))
    if ids := by_kind.get("eval_run"):
        out.update(_eval_run_info(con, viewer, ids))
    if ids := by_kind.get("view"):
        out.update(_view_info(con, viewer, ids, today or date.today(), audience))
    return out


def _incident_info(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, ids: list[str]
) -> dict[EvidenceRef, EvidenceInfo]:
    vis, params = visible_sql(viewer, "incidents", "i")
    params["ids"] = ids
    out = {}
    for rid, title, occurred, updated, tlp, rel, named, orig in con.execute(
        "select i.id, i.title, i.occurred_on, i.updated_at, i.tlp, i.releasable_to, i.named_recipients, "
        f"i.originator from incidents i where list_contains($ids::varchar[], i.id) and {vis}",
        params,
    ).fetchall():
        ref = EvidenceRef("incident", rid)
        marking = EvidenceMarking(tlp, tuple(rel), tuple(named), orig)
        out[ref] = EvidenceInfo(ref, f"{rid} · {title}", occurred, updated, marking)
    return out


def _eval_run_info(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, ids: list[str]
) -> dict[EvidenceRef, EvidenceInfo]:
    vis, params = visible_sql(viewer, "eval_runs", "r")
    params["ids"] = ids
    updated_col = _eval_updated_column(con)
    out = {}
    for rid, model, bench, metric, score, when, updated, tlp, rel, named, inst in con.execute(
        f"select r.run_id, r.model, r.benchmark, r.metric, r.score, r.eval_date, {updated_col}, r.tlp, "
        "r.releasable_to, r.named_recipients, r.institute from eval_runs r "
        f"where list_contains($ids::varchar[], r.run_id) and {vis}",
        params,
    ).fetchall():
        ref = EvidenceRef("eval_run", rid)
        score_text = f" {metric} {score:.2f}" if score is not None else ""
        marking = EvidenceMarking(tlp, tuple(rel), tuple(named), inst)
        out[ref] = EvidenceInfo(ref, f"{rid} · {model} on {bench}{score_text}", when, updated, marking)
    return out


class _ViewIncidentMarking(NamedTuple):
    """The combined marking of the incidents a saved view shows one viewer (one row of `_view_info`'s SQL)."""

    tlp_position: int  # 1-based position in TLP_LEVELS of the highest TLP
    uk: bool  # every incident releasable to UK
    au: bool
    strict_originators: list[str] | None  # originators of AMBER+STRICT incidents
    red_names: list[str] | None  # recipients named on every RED incident


def _view_info(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    ids: list[str],
    today: date,
    audience: Viewer | None = None,
) -> dict[EvidenceRef, EvidenceInfo]:
    wanted = {int(i) for i in ids if i.isdigit()}
    out = {}
    for v, at in _openable_views(con, viewer, audience):
        if v.id not in wanted:
            continue
        joint = at is not None and at.institute == "JOINT"
        ref = EvidenceRef("view", str(v.id))
        where, params = v.filters.sql_where(at or viewer, today)
        row = con.execute(
            "select coalesce(max(list_position(['CLEAR','GREEN','AMBER','AMBER+STRICT','RED'], i.tlp)), 1), "
            "coalesce(bool_and(list_contains(i.releasable_to, 'UK')), true), "
            "coalesce(bool_and(list_contains(i.releasable_to, 'AU')), true), "
            "list(distinct i.originator) filter (i.tlp = 'AMBER+STRICT'), "
            "list_reduce(list(i.named_recipients) filter (i.tlp = 'RED'), lambda a, b: list_intersect(a, b)) "
            f"from incidents i where {where}",
            params,
        ).fetchone()
        assert row is not None
        shown = _ViewIncidentMarking._make(row)
        view_inst = _view_institute(con, v.id)
        rel = tuple(i for i in ("AU", "UK") if (i == "AU" and shown.au) or (i == "UK" and shown.uk))
        if not joint:  # drawn at the author's scope, the counts are their institute's to share
            rel = tuple(i for i in rel if i == view_inst) if view_inst in INSTITUTES else ()
        strict = list(shown.strict_originators or [])
        if strict:
            rel = tuple(i for i in rel if i in strict)
        marking = EvidenceMarking(
            TLP_LEVELS[int(shown.tlp_position) - 1],
            rel,
            tuple(shown.red_names or ()),
            strict[0] if len(strict) == 1 else view_inst,
        )
        out[ref] = EvidenceInfo(ref, f"view {v.id} · {v.name}", None, _view_created(con, v.id), marking)
    return out


def _openable_views(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, audience: Viewer | None
) -> list[tuple[views.SavedView, Viewer | None]]:
    """The views this viewer may cite or check, each with whom it is drawn for: their institute's
    (analytics.views) at `audience`; and the other institute's views that some assessment already cites at a
    joint marking, always at the joint audience, so the other institute's lead can check and sign an assessment
    citing a view they could not open on its own (its counts, drawn at that audience, are theirs to see; its
    name is part of the assessment)."""
    own = views.list_views(con, viewer)
    seen = {v.id for v in own}
    rows = con.execute(
        "select distinct sv.id, sv.name, sv.page, sv.query, sv.owner from saved_views sv "
        "join assessment_evidence e on e.kind = 'view' and e.ref_id = cast(sv.id as varchar) "
        "where list_contains(e.releasable_to, 'UK') and list_contains(e.releasable_to, 'AU') "
        "and e.tlp not in ('AMBER+STRICT', 'RED')"
    ).fetchall()
    joint = audience_viewer(viewer, INSTITUTES, "CLEAR")
    others = [v for v in map(views._view, rows) if v.id not in seen]
    return [(v, audience) for v in own] + [(v, joint) for v in others]


def _view_institute(con: duckdb.DuckDBPyConnection, view_id: int) -> str:
    row = con.execute("select institute from saved_views where id = ?", [view_id]).fetchone()
    return str(row[0]) if row else ""


def _view_created(con: duckdb.DuckDBPyConnection, view_id: int) -> datetime | None:
    row = con.execute("select created_at from saved_views where id = ?", [view_id]).fetchone()
    return row[0] if row else None


def search_evidence(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    kind: str,
    text: str,
    today: date,
    limit: int = 25,
) -> pd.DataFrame:
    """Evidence the author may cite: records matching `text` (title/summary, or an exact id) that this viewer
    may see, newest first. Columns: ref (kind:id), label, when, tlp, releasable_to."""
    viewer.require(*ASSESSMENT_AUTHORS)
    if kind not in EVIDENCE_KINDS:
        raise AssessmentError(f"unknown evidence kind {kind!r}")
    q = text.strip()[:200]
    cols = ["ref", "label", "when", "tlp", "releasable_to"]
    if kind == "incident":
        where, params = Filters(text=q).sql_where(viewer, today)
        vis, vparams = visible_sql(viewer, "incidents", "i")
        params.update(vparams)
        params["q_id"] = q.upper()
        params["lim"] = int(limit)
        return con.execute(
            "select 'incident:' || i.id as ref, i.id || ' · ' || i.title as label, i.occurred_on as \"when\", "
            f"i.tlp, i.releasable_to from incidents i where ({where}) or ({vis} and upper(i.id) = $q_id) "
            "order by (upper(i.id) = $q_id) desc, i.occurred_on desc, i.id limit $lim",
            params,
        ).df()
    if kind == "eval_run":
        vis, params = visible_sql(viewer, "eval_runs", "r")
        params["q"] = q.lower()
        params["lim"] = int(limit)
        return con.execute(
            "select 'eval_run:' || r.run_id as ref, "
            "r.run_id || ' · ' || r.model || ' on ' || r.benchmark || coalesce(' ' || r.metric || ' ' || "
            "printf('%.2f', r.score), '') as label, r.eval_date as \"when\", r.tlp, r.releasable_to "
            f"from eval_runs r where {vis} and (contains(lower(r.model), $q) or contains(lower(r.benchmark), $q) "
            "or lower(r.run_id) = $q or contains(lower(coalesce(r.model_developer, '')), $q)) "
            "order by r.eval_date desc nulls last, r.run_id limit $lim",
            params,
        ).df()
    # A view's marking is shown before it is chosen: the one citing it gives in a joint assessment.
    found = [v for v in views.list_views(con, viewer) if q.lower() in v.name.lower()][: int(limit)]
    info = _view_info(
        con, viewer, [str(v.id) for v in found], today, audience_viewer(viewer, INSTITUTES, "CLEAR")
    )
    rows: list[tuple[Any, ...]] = []
    for v in found:
        m = info[EvidenceRef("view", str(v.id))].marking
        rows.append((f"view:{v.id}", f"view {v.id} · {v.name}", None, m.tlp, list(m.releasable_to)))
    return pd.DataFrame(rows, columns=cols)


def view_audience(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, draft: AssessmentDraft, today: date | None = None
) -> Viewer | None:
    """Who the draft's saved views are drawn for: the joint audience (`audience_viewer`) when everything else
    the draft cites, and the marking its authors asked for, leave it readable by both institutes; None (the
    author's full scope) when the assessment is narrower anyway."""
    others = [e for j in draft.judgements for e in j.evidence if e.kind != "view"]
    info = evidence_info(con, viewer, others, today)
    base = derive_marking(
        (info[e].marking for e in dict.fromkeys(others) if e in info),
        creator_institute=viewer.institute,
        raise_tlp=draft.raise_tlp,
        restrict_to=draft.restrict_to,
    )
    if not is_joint(base.releasable_to, base.tlp):
        return None
    return audience_viewer(viewer, INSTITUTES, "CLEAR")


def cited_evidence(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, draft: AssessmentDraft, today: date | None = None
) -> dict[EvidenceRef, EvidenceInfo]:
    """What the viewer may see of every record the draft cites; refused (AssessmentError) if any is missing,
    with exactly the message for a record that does not exist, so nothing about an invisible one leaks. Saved
    views are marked at the draft's audience (`view_audience`)."""
    refs = [e for j in draft.judgements for e in j.evidence]
    audience = view_audience(con, viewer, draft, today) if any(e.kind == "view" for e in refs) else None
    info = evidence_info(con, viewer, refs, today, audience=audience)
    missing = [e for e in refs if e not in info]
    if missing:
        raise AssessmentError(
            f"No {EVIDENCE_KINDS[missing[0].kind].lower()} {missing[0].ref_id}: cite only records you can open."
        )
    return info


def draft_marking(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    draft: AssessmentDraft,
    today: date | None = None,
    creator_institute: str | None = None,
) -> DerivedMarking:
    """The marking a draft would carry if this viewer saved it now (for the editor's banner). Evidence the
    viewer cannot see is refused, exactly like evidence that does not exist."""
    info = cited_evidence(con, viewer, draft, today)
    refs = dict.fromkeys(e for j in draft.judgements for e in j.evidence)
    return derive_marking(
        (info[e].marking for e in refs),
        creator_institute=creator_institute or viewer.institute,
        raise_tlp=draft.raise_tlp,
        restrict_to=draft.restrict_to,
        named_recipients=draft.named_recipients,
        people=people(con),
    )


def marking_responsible(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, draft: AssessmentDraft, today: date | None = None
) -> str:
    """Which judgement and record keep the draft from being joint (releasable to both institutes, neither
    AMBER+STRICT nor RED), in one sentence for block messages: "Judgement 2 cites incident T-3 (TLP:RED, …)".
    Ids, fixed words and markings only, never record text; the authors' own narrowing is named as theirs.
    Empty when nothing narrows it. Records the viewer cannot see are left to `cited_evidence`'s refusal."""
    refs = [e for j in draft.judgements for e in j.evidence]
    audience = view_audience(con, viewer, draft, today) if any(e.kind == "view" for e in refs) else None
    info = evidence_info(con, viewer, refs, today, audience=audience)
    parts: list[str] = []
    for n, j in enumerate(draft.judgements, start=1):
        for e in dict.fromkeys(j.evidence):
            m = info[e].marking if e in info else None
            if m is None or is_joint(m.releasable_to, m.tlp):
                continue
            if m.tlp == "AMBER+STRICT":
                how = f"TLP:AMBER+STRICT, {m.originator} only"
            else:
                rel = " and ".join(m.releasable_to) or "nobody"
                how = f"TLP:{m.tlp}, releasable to {rel}"
            parts.append(f"judgement {n} cites {EVIDENCE_KINDS[e.kind].lower()} {e.ref_id} ({how})")
    if draft.restrict_to and set(draft.restrict_to) != set(INSTITUTES):
        parts.append(f"the releasability chosen for the assessment ({' and '.join(draft.restrict_to)})")
    if draft.raise_tlp in ("AMBER+STRICT", "RED"):
        parts.append(f"the TLP chosen for the assessment (TLP:{draft.raise_tlp})")
    if not parts:
        return ""
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


# -- pins -----------------------------------------------------------------------------------------------------


def pin_evidence(con: duckdb.DuckDBPyConnection, a: Assessment, now: datetime) -> None:
    """Store the values and markings of every record `a` cites as they are at approval (`now`)."""
    for ref in a.evidence():
        snap = _snapshot(con, ref)
        if snap is None:
            continue  # deleted since the version was saved: the stored evidence marking still applies
        values, marking = snap
        con.execute(
            "insert into assessment_pins (assessment_id, version, kind, ref_id, snapshot, tlp, releasable_to, "
            "named_recipients, pinned_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                a.id,
                a.version,
                ref.kind,
                ref.ref_id,
                json.dumps(values, default=str, sort_keys=True),
                marking.tlp,
                list(marking.releasable_to),
                list(marking.named_recipients),
                now,
            ],
        )


def _snapshot(
    con: duckdb.DuckDBPyConnection, ref: EvidenceRef
) -> tuple[dict[str, Any], EvidenceMarking] | None:
    """Current values of one record (no viewer filter: callers have already checked the reader may see it)."""
    if ref.kind == "view":
        return _view_snapshot(con, ref)
    fields = PIN_FIELDS[ref.kind]
    if ref.kind == "incident":
        sql = f"select {', '.join('i.' + f for f in fields)} from incidents i where i.id = ?"
    else:
        sql = f"select {', '.join('r.' + f for f in fields)} from eval_runs r where r.run_id = ?"
    row = con.execute(sql, [ref.ref_id]).fetchone()
    if row is None:
        return None
    values = {f: _jsonable(v) for f, v in zip(fields, row, strict=True)}
    origin = values["originator"] if ref.kind == "incident" else values["institute"]
    return values, EvidenceMarking(
        values["tlp"], tuple(values["releasable_to"]), tuple(values["named_recipients"]), origin
    )


def _view_snapshot(
    con: duckdb.DuckDBPyConnection, ref: EvidenceRef
) -> tuple[dict[str, Any], EvidenceMarking] | None:
    """A saved view's values, and the marking it was last cited with (a view has no marking of its own: its
    incidents' marking was stored with the citation), else CLEAR within the view's institute."""
    row = con.execute(
        "select name, page, query, institute from saved_views where id = ?",
        [int(ref.ref_id) if ref.ref_id.isdigit() else -1],
    ).fetchone()
    if row is None:
        return None
    name, page, query, institute = row
    values = {"name": _jsonable(name), "page": _jsonable(page), "query": _jsonable(query)}
    stored = con.execute(
        "select tlp, releasable_to, named_recipients, originator from assessment_evidence "
        "where kind = 'view' and ref_id = ? order by version desc limit 1",
        [ref.ref_id],
    ).fetchone()
    if stored is None:
        return values, EvidenceMarking("CLEAR", (str(institute),), (), str(institute))
    tlp, releasable_to, named, originator = stored
    return values, EvidenceMarking(tlp, tuple(releasable_to), tuple(named), originator)


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


@dataclass(frozen=True)
class PinnedEvidence:
    ref: EvidenceRef
    pinned: dict[str, Any]  # values at approval (stored text inside: render as plain text)
    marking: EvidenceMarking  # marking at approval
    pinned_at: datetime
    changed_fields: tuple[str, ...]  # fields whose value differs now
    available: bool  # False when the record is gone or no longer visible to this reader (indistinguishable)

    @property
    def changed(self) -> bool:
        return bool(self.changed_fields) or not self.available

    @property
    def label(self) -> str:
        title = (
            self.pinned.get("title")
            or self.pinned.get("name")
            or (f"{self.pinned.get('model', '')} on {self.pinned.get('benchmark', '')}")
        )
        return f"{self.ref.ref_id} · {title}"


def pinned_evidence(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int
) -> list[PinnedEvidence]:
    """Evidence of the approved version as it was at approval, and what has changed since (compared with what
    this reader can see now). Empty when there is no approved version this viewer may read."""
    a = get_assessment(con, viewer, assessment_id, approved=True)
    if a is None:
        return []
    rows = con.execute(
        "select kind, ref_id, snapshot, tlp, releasable_to, named_recipients, pinned_at from assessment_pins "
        "where assessment_id = ? and version = ? order by kind, ref_id",
        [a.id, a.version],
    ).fetchall()
    visible_now = evidence_info(con, viewer, [EvidenceRef(k, r) for k, r, *_ in rows])
    out = []
    for kind, ref_id, snapshot, tlp, rel, named, pinned_at in rows:
        ref = EvidenceRef(kind, ref_id)
        pinned = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
        available = ref in visible_now
        changed: tuple[str, ...] = ()
        if available:
            now = _snapshot(con, ref)
            if now is not None:
                current = json.loads(json.dumps(now[0], default=str, sort_keys=True))
                changed = tuple(f for f in PIN_FIELDS[kind] if pinned.get(f) != current.get(f))
        out.append(
            PinnedEvidence(
                ref, pinned, EvidenceMarking(tlp, tuple(rel), tuple(named)), pinned_at, changed, available
            )
        )
    return out


def evidence_changed_count(con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int) -> int:
    """How many pinned records differ now (for readers who see the brief, not the records)."""
    return sum(1 for p in pinned_evidence(con, viewer, assessment_id) if p.changed)
