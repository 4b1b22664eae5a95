"""What the briefing builder offers and assembles: the charts one can put in a briefing, drawn for the viewer.

A chart in a briefing is a chart kind (a viewer-scoped query plus a Plotly builder) drawn under a filter state:
either the filters the person has on now, or one of the saved views they may see (analytics.views). Views store
filters, never data, so a briefing built from a view shows exactly what its builder may see today, and its
marking is computed from those rows.

A briefing from an assessment draws its charts at the assessment's audience by default (`ChartChoice.scope`
"assessment": the viewer narrowed by analytics.assessments.evidence.audience_viewer, and no TLP above the
assessment's), so a chart never silently raises a joint brief's marking; a chart drawn at the viewer's full
scope is offered too, labelled with its marking, and `plan_briefing` says which chart would raise the marking.

Everything here is summary (aggregate) charts, so everyone, policymakers included, may put them in a briefing;
a kind marked `summary=False` is refused for people who may not see records. Other features add their kinds with
`register_chart` (their query and builder stay in their own modules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import charts, views
from analytics.access.markings import (
    TLP_LEVELS,
    Marking,
    Scoped,
    combine_markings,
    highest_marking,
    tlp_rank,
    visible_sql,
)
from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import AccessDenied, Viewer
from analytics.assessments.evidence import audience_viewer, evidence_info
from analytics.assessments.model import EVIDENCE_KINDS, STATUS_LABELS, Assessment, NotFound
from analytics.assessments.reads import get_assessment, list_approved, list_assessments
from analytics.evals.queries import eval_where, runs_marking
from analytics.export.audit import record_export
from analytics.export.briefing.content import (
    Briefing,
    BriefingChart,
    EvidenceLine,
    assessment_sections,
    briefing_chart,
    from_assessment,
    make_briefing,
    native_chart,
    protective_line,
    section_pages,
)
from analytics.export.briefing.formats import render
from analytics.export.briefing.slides import one_slide
from analytics.export.chart_image import (
    data_as_of,
    export_chart,
    export_filename,
    figure_title,
    provenance_for,
    records_span,
    red_recipients,
)
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.store import audit
from analytics.store.database import Store
from analytics.vocab import SEVERITY_LABELS

# plotly.express is imported inside the builders that draw with it: every page's "Page to slide" button imports
# this module, and the first page after sign-in must not pay for express (and narwhals) before a click (issue 20).

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

ChartBuild = Callable[[duckdb.DuckDBPyConnection, Viewer, Filters, date], Scoped[go.Figure]]
ChartMarking = Callable[[duckdb.DuckDBPyConnection, Viewer, Filters, date], Marking]


def incidents_marking(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    """The marking of the incidents a chart drawn under `f` for `viewer` counts (one aggregate query)."""
    where, params = f.sql_where(viewer, today)
    return highest_marking(con, "incidents i", where, params)


def runs_marking_for(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Marking:
    """The marking of the evaluation runs a chart drawn under `f` for `viewer` uses."""
    where, params = eval_where(viewer, f, today)
    return runs_marking(con, where, params)


@dataclass(frozen=True)
class ChartKind:
    key: str
    title: str
    build: ChartBuild
    summary: bool = True  # aggregate only: policymakers may use it
    marking: ChartMarking = incidents_marking  # cheap: shown beside every choice before it is picked


CHART_KINDS: dict[str, ChartKind] = {}


def register_chart(kind: ChartKind) -> None:
    CHART_KINDS[kind.key] = kind


# -- the kinds this module provides ------------------------------------------------------------------------------


def _by_category(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[go.Figure]:
    scoped = incident_base.counts_by_originator_and_category(con, viewer, f, today)
    return Scoped(charts.counts_by_originator_and_category(scoped.data), scoped.marking)


def incidents_by_month_and_originator(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Incidents per month and reporting institute, for what this viewer may see under these filters."""
    where, params = f.sql_where(viewer, today)
    df = con.execute(
        f"select date_trunc('month', i.occurred_on) as month, i.originator, count(*) as incidents "
        f"from incidents i where {where} group by all order by all",
        params,
    ).df()
    return Scoped(df, highest_marking(con, "incidents i", where, params))


def _by_month(con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date) -> Scoped[go.Figure]:
    scoped = incidents_by_month_and_originator(con, viewer, f, today)
    import plotly.express as px  # where used: see the note at the imports

    fig = px.line(
        scoped.data,
        x="month",
        y="incidents",
        color="originator",
        markers=True,
        category_orders={"originator": ["UK", "AU"]},
        color_discrete_map=charts.ORIGINATOR_COLOURS,
        labels={"month": "", "incidents": "Incidents per month", "originator": "Reported by"},
    )
    return Scoped(
        charts.style_figure(fig, "Incidents per month by reporting institute"),
        scoped.marking,
    )


def incidents_by_severity_and_originator(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[pd.DataFrame]:
    """Incidents per severity level and reporting institute, for what this viewer may see."""
    where, params = f.sql_where(viewer, today)
    df = con.execute(
        f"select i.severity, i.originator, count(*) as incidents from incidents i where {where} "
        "group by all order by all",
        params,
    ).df()
    return Scoped(df, highest_marking(con, "incidents i", where, params))


def _by_severity(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[go.Figure]:
    scoped = incidents_by_severity_and_originator(con, viewer, f, today)
    df = scoped.data.copy()
    df["level"] = [f"{int(s)} {SEVERITY_LABELS.get(int(s), '')}" for s in df["severity"]]
    import plotly.express as px  # where used: see the note at the imports

    fig = px.bar(
        df,
        x="level",
        y="incidents",
        color="originator",
        barmode="group",
        category_orders={
            "originator": ["UK", "AU"],
            "level": [f"{k} {v}" for k, v in SEVERITY_LABELS.items()],
        },
        color_discrete_map=charts.ORIGINATOR_COLOURS,
        labels={"level": "Severity", "incidents": "Incidents", "originator": "Reported by"},
    )
    return Scoped(
        charts.style_figure(fig, "Incidents by severity and reporting institute"),
        scoped.marking,
    )


def _eval_scores(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[go.Figure]:
    """Mean score per benchmark and evaluating institute, for the runs this viewer may see in the period."""
    where, params = eval_where(viewer, f, today)
    df = con.execute(
        f"select r.benchmark, r.institute, avg(r.score) as score, count(*) as runs from eval_runs r "
        f"where {where} and r.score is not null group by all order by r.benchmark, r.institute limit 60",
        params,
    ).df()
    import plotly.express as px  # where used: see the note at the imports

    fig = px.bar(
        df,
        x="benchmark",
        y="score",
        color="institute",
        barmode="group",
        category_orders={"institute": ["UK", "AU", "PUBLIC"]},
        color_discrete_map=charts.ORIGINATOR_COLOURS,
        labels={"benchmark": "Benchmark", "score": "Mean score", "institute": "Evaluated by"},
    )
    return Scoped(
        charts.style_figure(fig, "Evaluation scores by benchmark and institute"),
        runs_marking(con, where, params),
    )


def _atlas_tactics(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, f: Filters, today: date
) -> Scoped[go.Figure]:
    """Incidents per MITRE ATLAS tactic (an incident counts once under each tactic its techniques serve, a
    sub-technique under its parent's: the tactics kept per incident, as the sidebar counts them)."""
    where, params = f.sql_where(viewer, today)
    df = con.execute(
        "select t.name as tactic, count(*) as incidents from incidents i "
        "join incident_tactics it on it.incident_key = i.incident_key "
        f"join atlas_tactics t on t.id = it.tactic_id where {where} "
        "group by t.name, t.ordinal order by t.ordinal",
        params,
    ).df()
    import plotly.express as px  # where used: see the note at the imports

    fig = px.bar(df, x="tactic", y="incidents", labels={"tactic": "ATLAS tactic", "incidents": "Incidents"})
    return Scoped(
        charts.style_figure(fig, "Incidents by MITRE ATLAS tactic"),
        highest_marking(con, "incidents i", where, params),
    )


register_chart(ChartKind("by_category", "Incidents by category and reporting institute", _by_category))
register_chart(ChartKind("by_month", "Incidents per month by reporting institute", _by_month))
register_chart(ChartKind("by_severity", "Incidents by severity and reporting institute", _by_severity))
register_chart(
    ChartKind(
        "eval_scores", "Evaluation scores by benchmark and institute", _eval_scores, marking=runs_marking_for
    )
)
register_chart(ChartKind("atlas_tactics", "Incidents by MITRE ATLAS tactic", _atlas_tactics))


# -- choices -------------------------------------------------------------------------------------------------------

CURRENT = "current"
AT_ASSESSMENT = "@assessment"  # key suffix: drawn at the assessment's audience and marking


@dataclass(frozen=True)
class ChartChoice:
    """One chart the builder offers: `kind` drawn under the current filters or saved view `view_id`, at the
    viewer's full scope or (`scope` "assessment") at the audience and marking of the briefed assessment."""

    kind: str
    view_id: int | None = None
    scope: str = "full"  # "full" | "assessment"

    @property
    def key(self) -> str:
        source = CURRENT if self.view_id is None else f"view:{self.view_id}"
        return f"{self.kind}|{source}" + (AT_ASSESSMENT if self.scope == "assessment" else "")

    @classmethod
    def parse(cls, key: str) -> ChartChoice:
        kind, _, source = key.partition("|")
        if kind not in CHART_KINDS:
            raise ValueError(f"unknown chart {kind!r}")
        scope = "full"
        if source.endswith(AT_ASSESSMENT):
            source, scope = source[: -len(AT_ASSESSMENT)], "assessment"
        if source in ("", CURRENT):
            return cls(kind, None, scope)
        if source.startswith("view:") and source[5:].isdigit():
            return cls(kind, int(source[5:]), scope)
        raise ValueError(f"unknown chart source {source!r}")


def allowed_kinds(viewer: Viewer) -> list[ChartKind]:
    return [k for k in CHART_KINDS.values() if k.summary or viewer.can_see_records]


def chart_choices(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, *, assessment_id: int | None = None
) -> list[tuple[str, str]]:
    """(choice key, label) for every chart this viewer may put in a briefing: with an assessment, first each
    kind at the assessment's marking (labelled with it); then each kind under the current filters and under
    each saved view they may see, at their full scope. Labels hold view names (stored text): show as text."""
    out: list[tuple[str, str]] = []
    saved = views.list_views(con, viewer)
    assessment = briefing_assessment(con, viewer, assessment_id)
    for kind in allowed_kinds(viewer):
        if assessment is not None:
            out.append(
                (
                    ChartChoice(kind.key, None, "assessment").key,
                    f"{kind.title} — current filters, at the assessment's marking ({assessment.marking.label})",
                )
            )
            for v in saved:
                out.append(
                    (
                        ChartChoice(kind.key, v.id, "assessment").key,
                        f"{kind.title} — saved view “{v.name}” ({v.page}), at the assessment's marking",
                    )
                )
    for kind in allowed_kinds(viewer):
        out.append((ChartChoice(kind.key).key, f"{kind.title} — current filters"))
        for v in saved:
            out.append((ChartChoice(kind.key, v.id).key, f"{kind.title} — saved view “{v.name}” ({v.page})"))
    return out


def default_chart_keys(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int | None = None
) -> list[str]:
    """What the builder pre-selects: incidents by category, at the assessment's marking when briefing from one
    (so the default never raises it), else under the current filters."""
    scope = "assessment" if assessment_id is not None else "full"
    if briefing_assessment(con, viewer, assessment_id) is None:
        scope = "full"
    kind = "by_category" if any(k.key == "by_category" for k in allowed_kinds(viewer)) else None
    return [ChartChoice(kind, None, scope).key] if kind else []


def _at_marking(viewer: Viewer, f: Filters, marking: Marking) -> tuple[Viewer, Filters]:
    """The viewer and filters that draw a chart at an assessment's marking: its audience
    (`audience_viewer`), and no record above its TLP (intersected with the TLPs the filters ask for; when that
    leaves none the filters are kept, and the chart's own marking shows what it raises)."""
    audience = audience_viewer(viewer, marking.releasable_to, marking.tlp)
    allowed = tuple(t for t in TLP_LEVELS if tlp_rank(t) <= tlp_rank(marking.tlp))
    wanted = tuple(t for t in (f.tlps or TLP_LEVELS) if t in allowed)
    return audience, (replace(f, tlps=wanted) if wanted else f)


def _resolve(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    choice: ChartChoice,
    current: Filters,
    assessment: Assessment | None = None,
) -> tuple[ChartKind, Viewer, Filters, str]:
    """The kind, who it is drawn for, the filters and the view name (or '') a choice stands for."""
    kind = CHART_KINDS[choice.kind]
    if not (kind.summary or viewer.can_see_records):
        raise AccessDenied(f"{viewer.role} may not export record-level charts")
    # Only the filters this viewer may apply (Filters.for_viewer): a saved view can carry an analyst's search,
    # which must neither narrow a policymaker's chart nor be named in its caption.
    if choice.view_id is None:
        f, name = current.for_viewer(viewer), ""
    else:
        view = views.get_view(con, viewer, choice.view_id)
        if view is None:  # not theirs to see looks the same as not there
            raise ValueError(f"no saved view {choice.view_id}")
        f, name = view.filters.for_viewer(viewer), view.name
    if choice.scope == "assessment":
        if assessment is None:
            raise ValueError("a chart at the assessment's marking needs an assessment")
        drawer, f = _at_marking(viewer, f, assessment.marking)
        return kind, drawer, f, name
    return kind, viewer, f, name


def choice_markings(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    keys: Sequence[str],
    current: Filters,
    today: date,
    assessment_id: int | None = None,
) -> dict[str, Marking]:
    """The marking each choice would carry, before it is picked (one aggregate query per choice)."""
    assessment = briefing_assessment(con, viewer, assessment_id)
    out = {}
    for key in keys:
        choice = ChartChoice.parse(key)
        if choice.scope == "assessment" and assessment is None:
            continue
        kind, drawer, f, _ = _resolve(con, viewer, choice, current, assessment)
        out[key] = kind.marking(con, drawer, f, today)
    return out


def draw_chart(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    key: str,
    current: Filters,
    today: date,
    assessment_id: int | None = None,
) -> Scoped[go.Figure]:
    """The figure a choice stands for, drawn for this viewer (for previews and page views)."""
    assessment = briefing_assessment(con, viewer, assessment_id)
    kind, drawer, f, _ = _resolve(con, viewer, ChartChoice.parse(key), current, assessment)
    return kind.build(con, drawer, f, today)


@dataclass(frozen=True)
class BriefingPlan:
    """What a briefing will be, known before it is rendered: enough for the banner and the file names, and
    which chart would raise the assessment's marking (`raised_by`, one sentence per chart)."""

    title: str
    marking: Marking
    draft: bool
    slides: int
    judgements: int = 0
    raised_by: tuple[str, ...] = ()
    protective: str = protective_line("OFFICIAL")  # both schemes' words, as every header will show them

    def filename(self, ext: str, today: date) -> str:
        title = f"DRAFT {self.title}" if self.draft else self.title
        return export_filename(title, self.marking, ext, today)


def plan_briefing(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    *,
    title: str,
    chart_keys: Sequence[str],
    current: Filters,
    today: date,
    assessment_id: int | None = None,
) -> BriefingPlan:
    """The marking (assessment and every chart combined), title and size of the briefing these choices make,
    and a sentence for each chart whose marking is above the assessment's."""
    assessment = briefing_assessment(con, viewer, assessment_id)
    drawn = [draw_chart(con, viewer, k, current, today, assessment_id) for k in chart_keys]
    markings = [d.marking for d in drawn]
    natives = sum(native_chart(d.data) is not None for d in drawn)  # an editable chart slide before the image
    raised: list[str] = []
    if assessment is not None:
        base = assessment.marking
        for n, (k, m) in enumerate(zip(chart_keys, markings, strict=True), start=1):
            if base.combine(m).label != base.label:
                raised.append(
                    f"Chart {n} ({CHART_KINDS[ChartChoice.parse(k).kind].title}) raises the briefing from "
                    f"{base.label} to {base.combine(m).label}: choose it at the assessment's marking."
                )
        markings.append(assessment.marking)
    draft = assessment is not None and not getattr(assessment, "is_approved_text", False)
    name = title.strip() or (assessment.title if assessment is not None else "Chart pack")
    judgements = len(assessment.judgements) if assessment is not None else 0
    slides = 2 + int(assessment is not None) + judgements + len(chart_keys) + natives
    if assessment is not None:  # the sections, a long evidence annex over several slides
        annex = [EvidenceLine(r.ref_id, "", "", "") for r in assessment.evidence()]
        slides += sum(len(section_pages(sec)) for sec in assessment_sections(assessment, annex))
    level = getattr(assessment, "protective", "OFFICIAL") if assessment is not None else "OFFICIAL"
    return BriefingPlan(
        name, combine_markings(markings), draft, slides, judgements, tuple(raised), protective_line(level)
    )


# -- assessments -----------------------------------------------------------------------------------------------


def assessment_choices(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[tuple[int, str]]:
    """(id, label) of the assessments this viewer may brief from: analysts and leads every assessment they may
    read (drafts too; a draft briefing is watermarked), everyone else approved ones only. Titles are stored
    text: show labels as text."""
    if viewer.role in ASSESSMENT_AUTHORS:
        rows = list_assessments(con, viewer).data[["id", "title", "status", "version"]]
    else:
        rows = list_approved(con, viewer).data[["id", "title", "version"]].assign(status="approved")
        rows = rows[["id", "title", "status", "version"]]
    out: list[tuple[int, str]] = []
    for aid, title, status, version in rows.itertuples(index=False):
        label = STATUS_LABELS.get(str(status), str(status))
        out.append((int(aid), f"A-{int(aid)} · {title} · {label} · v{int(version)}"))
    return out


def briefing_assessment(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, assessment_id: int | None
) -> Assessment | None:
    """The version of the assessment this viewer briefs from (current for authors, approved for everyone
    else, as analytics.assessments.reads decides). An id they may not read raises like one that does not exist."""
    if assessment_id is None:
        return None
    a = get_assessment(con, viewer, int(assessment_id))
    if a is None:
        raise NotFound(f"No assessment {assessment_id}.")
    check_assessment_allowed(viewer, a)
    return a


# -- assembling ----------------------------------------------------------------------------------------------------


def check_assessment_allowed(viewer: Viewer, assessment: Any | None) -> None:
    """Only people who may see drafts (analysts, leads) may brief from anything but the approved text."""
    if assessment is None:
        return
    if not getattr(assessment, "is_approved_text", False) and viewer.role not in ASSESSMENT_AUTHORS:
        raise AccessDenied(f"{viewer.role} may only brief from approved assessments")


def build_briefing(
    store: Store,
    viewer: Viewer,
    *,
    title: str,
    chart_keys: Sequence[str],
    current: Filters,
    today: date,
    assessment_id: int | None = None,
    now: datetime | None = None,
) -> Briefing:
    """The briefing: the assessment (or none, for a chart pack) and the chosen charts in the chosen order,
    each drawn for this viewer; its marking combines all of them."""
    con = store.cursor()
    assessment = briefing_assessment(con, viewer, assessment_id)
    as_of = data_as_of(con, viewer)
    prepared_by = f"{viewer.name} ({viewer.email})"
    figures: list[BriefingChart] = []
    for key in chart_keys:
        kind, drawer, f, view_name = _resolve(con, viewer, ChartChoice.parse(key), current, assessment)
        scoped = kind.build(con, drawer, f, today)
        prov = provenance_for(
            viewer,
            scoped.marking,
            filters=f,
            today=today,
            as_of=as_of,
            now=now,
            span=records_span(con, drawer, f, today),
            recipients=red_recipients(con, drawer, f, today),
        )
        caption = f"filters: {prov.filters}" + (f" (saved view “{view_name}”)" if view_name else "")
        figures.append(briefing_chart(scoped.data, scoped.marking, prov, caption))
    if assessment is not None:
        annex = evidence_annex(con, viewer, assessment, today)
        b = from_assessment(assessment, charts=figures, prepared_by=prepared_by, now=now, evidence=annex)
        return b if not title.strip() else _retitled(b, title)
    return make_briefing(title or "Chart pack", charts=figures, prepared_by=prepared_by, now=now)


def _audit_status(store: Store, viewer: Viewer, assessment_id: int | None) -> str | None:
    a = briefing_assessment(store.cursor(), viewer, assessment_id)
    return None if a is None else f"{a.status_label} · version {a.version}"


def evidence_annex(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, a: Assessment, today: date
) -> list[EvidenceLine]:
    """Every record the assessment cites: id, kind, reliability (incidents' Admiralty grade, e.g. B2), marking
    and the judgements citing it; titles only for readers who may read records (policymakers see ids, grades
    and markings, never record text)."""
    refs = a.evidence()
    info = evidence_info(con, viewer, refs, today)
    graded = _reliability(con, viewer, [r.ref_id for r in refs if r.kind == "incident"])
    out = []
    for ref in refs:
        i = info.get(ref)
        if i is None:  # not visible to this reader: behaves as if it did not exist
            continue
        m = Marking(i.marking.tlp, i.marking.releasable_to)
        grade = (
            graded.get(ref.ref_id, "not graded") if ref.kind == "incident" else "not graded (not a report)"
        )
        on = tuple(j.number for j in a.judgements if ref in j.evidence)
        label = i.label if viewer.can_see_records else ""
        out.append(EvidenceLine(ref.ref_id, EVIDENCE_KINDS[ref.kind], grade, m.label, on, label))
    return out


def _reliability(con: duckdb.DuckDBPyConnection, viewer: Viewer, ids: list[str]) -> dict[str, str]:
    """Admiralty grade (source reliability letter, information credibility digit) of the incidents the viewer
    may see among `ids`."""
    if not ids:
        return {}
    vis, params = visible_sql(viewer, "incidents", "i")
    params["ids"] = ids
    rows = con.execute(
        "select i.id, coalesce(i.source_reliability, ''), i.credibility from incidents i "
        f"where list_contains($ids::varchar[], i.id) and {vis}",
        params,
    ).fetchall()
    return {str(r): (f"{g}{c}" if g and c is not None else "not graded") for r, g, c in rows}


def _retitled(b: Briefing, title: str) -> Briefing:
    return replace(b, title=title.strip())


def export_briefing(
    store: Store,
    viewer: Viewer,
    fmt: str,
    *,
    title: str,
    chart_keys: Sequence[str],
    current: Filters,
    today: date,
    assessment_id: int | None = None,
) -> bytes:
    """The briefing file, and the audit entry of its export (assessment id and version, chart choices); a
    refused export (a chart or a draft outside the viewer's role) is audited too."""
    obj = f"assessment:{assessment_id}" if assessment_id is not None else "briefing:charts"
    try:
        b = build_briefing(
            store,
            viewer,
            title=title,
            chart_keys=chart_keys,
            current=current,
            today=today,
            assessment_id=assessment_id,
        )
    except AccessDenied:
        audit.refused(store, viewer, "export", obj)
        raise
    data = render(b, fmt)
    record_export(
        store,
        viewer,
        kind="briefing",
        obj=obj,
        fmt=fmt,
        marking=b.marking,
        filters=current.for_viewer(viewer)
        if any(ChartChoice.parse(k).view_id is None for k in chart_keys)
        else None,
        extra={
            "charts": list(chart_keys),
            # the fixed words only (the status line itself names the approvers): "Approved · version 2"
            "assessment_status": _audit_status(store, viewer, assessment_id),
            "draft": b.draft,
        },
    )
    return data


# -- page to slide ---------------------------------------------------------------------------------------------------


def slide_filename(title: str, markings: Sequence[Marking], today: date) -> str:
    """File name of a page's slide: date, 'slide' and the page title, and the combined marking of its charts."""
    return export_filename(f"slide {title}", combine_markings(markings), "pptx", today)


def export_page_slide(
    store: Store,
    viewer: Viewer,
    *,
    title: str,
    figures: Sequence[tuple[go.Figure, Marking]],
    filters: Filters | None,
    today: date,
    page: str,
) -> bytes:
    """One 16:9 slide of what a page shows now (its charts, each with banner and provenance), marked with the
    combination of their markings, and the audit entry of the export."""
    as_of = data_as_of(store.cursor(), viewer)
    images = []
    for fig, marking in figures:
        prov = provenance_for(viewer, marking, filters=filters, today=today, as_of=as_of)
        images.append(
            BriefingChart(figure_title(fig), export_chart(fig, marking, prov, "png", "slide"), marking)
        )
    data, marking = one_slide(title, images, prepared_by=f"{viewer.name} ({viewer.email})")
    record_export(
        store,
        viewer,
        kind="slide",
        obj=f"page:{page}",
        fmt="pptx",
        marking=marking,
        filters=filters,
        extra={"chart_count": len(figures)},  # chart titles can carry record text: the log holds none
    )
    return data
