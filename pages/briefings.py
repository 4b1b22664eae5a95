"""Briefings: pick an assessment and charts, order them, download a marked PPTX, DOCX, PDF or Markdown file.

Thin: `main` draws the three steps (content, outline, produce) and the optional chart preview, one function
each; what a briefing holds and how it is marked is analytics.export.briefing's business."""

from datetime import date
from functools import partial

import streamlit as st

from analytics import session
from analytics.access.pages import EVERYONE
from analytics.access.viewer import Viewer
from analytics.export.briefing import builder as briefing_builder
from analytics.export.briefing.builder import BriefingPlan
from analytics.export.briefing.content import SECTION_TITLES
from analytics.export.briefing.formats import FORMAT_LABELS, FORMATS
from analytics.filters import Filters
from pages.ui import chart, marking_banner, move_buttons, page_to_slide


def main() -> None:
    viewer = session.require_role(*EVERYONE)
    f = session.filters()
    today = session.today()

    st.title("Briefings")
    st.caption(
        "Build a briefing from charts drawn for you under the current filters or a saved view. Every file is "
        "marked with the highest TLP and narrowest releasability of what it contains, and every download is "
        "audited. Briefing from an assessment, charts are drawn at the assessment's marking unless you choose "
        "otherwise."
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        assessment_id = _assessment()
        labels = _chart_labels(assessment_id, f, today)
        title, picked = _content(labels, assessment_id)
    plan = session.query(
        briefing_builder.plan_briefing,
        title=title,
        chart_keys=tuple(picked),
        current=f,
        today=today,
        assessment_id=assessment_id,
    )
    with right:
        _outline(plan, [labels[k] for k in picked], assessment_id)
    st.divider()
    _produce(viewer, plan, title, picked, f, today, assessment_id)
    _preview(labels, picked, title, f, today, assessment_id)


def _chart_labels(assessment_id: int | None, f: Filters, today: date) -> dict[str, str]:
    """The charts this viewer may put in a briefing, by key, each label ending with the marking it would carry
    (shown before choosing); the picked list keeps only keys still offered, and starts (again, whenever the
    assessment changes) from the builder's default, drawn at the assessment's marking."""
    choices = session.query(briefing_builder.chart_choices, assessment_id=assessment_id)
    markings = session.query(
        briefing_builder.choice_markings, tuple(k for k, _ in choices), f, today, assessment_id
    )
    labels = {k: f"{label} · {markings[k].label}" if k in markings else label for k, label in choices}
    if "brf_charts" not in st.session_state:
        st.session_state["brf_charts"] = session.query(briefing_builder.default_chart_keys, assessment_id)
    st.session_state["brf_charts"] = [k for k in st.session_state["brf_charts"] if k in labels]
    return labels


def _new_assessment() -> None:
    # A new assessment brings its own default chart (at its marking), not the previous one's choices.
    st.session_state.pop("brf_charts", None)


def _move(index: int, step: int) -> None:
    order = list(st.session_state["brf_charts"])
    j = index + step
    if 0 <= j < len(order):
        order[index], order[j] = order[j], order[index]
        st.session_state["brf_charts"] = order


def _remove(index: int) -> None:
    order = list(st.session_state["brf_charts"])
    del order[index]
    st.session_state["brf_charts"] = order


def _assessment() -> int | None:
    """Step 1a: the assessment the briefing is drawn from (None: a chart pack)."""
    assessment_options = session.query(briefing_builder.assessment_choices)
    assessment_labels: dict[int | None, str] = {None: "None: a chart pack", **dict(assessment_options)}
    st.subheader("1. Content")
    return st.selectbox(
        "Assessment",
        list(assessment_labels),
        format_func=assessment_labels.__getitem__,
        key="brf_assessment",
        on_change=_new_assessment,
        help="Everything approved goes in: bottom line, key judgements, assumptions, alternative views, "
        "indicators, what changed, dissent, who approved it when, and an evidence annex. Policymakers see "
        "approved assessments only; anything not approved is watermarked DRAFT.",
    )


def _content(labels: dict[str, str], assessment_id: int | None) -> tuple[str, list[str]]:
    """Step 1b: the title and the charts in their order; returns (title, keys)."""
    title = st.text_input(
        "Title",
        key="brf_title",
        placeholder="The assessment's title" if assessment_id is not None else "Chart pack",
        max_chars=200,
    )
    picked: list[str] = st.multiselect(
        "Charts",
        list(labels),
        format_func=labels.__getitem__,
        key="brf_charts",
        help="At the assessment's marking: only records its readers may all see, so the chart never raises "
        "the briefing's marking. Current filters: the filters in the sidebar now. Saved views: filter states "
        "saved by your institute. Each label ends with the marking the chart would carry.",
    )
    if picked:
        st.caption("Order (as they will appear)")
    for k, key in enumerate(picked):
        with st.container(border=True):
            text_col, up, down, rm = st.columns([12, 1, 1, 1], vertical_alignment="center", gap="small")
            text_col.text(f"{k + 1}. {labels[key]}")
            move_buttons(
                up,
                down,
                keys=(f"brf_up_{k}", f"brf_down_{k}"),
                index=k,
                count=len(picked),
                on_move=_move,
                args=(k,),
                tertiary=True,
            )
            rm.button(
                "",
                icon=":material/close:",
                key=f"brf_rm_{k}",
                on_click=_remove,
                args=(k,),
                help="Remove",
                type="tertiary",
            )

    return title, picked


def _outline(plan: BriefingPlan, chart_labels: list[str], assessment_id: int | None) -> None:
    """Step 2: the slides in order, as the deck will have them."""
    st.subheader("2. Outline")
    judgements = [f"Key judgement {n}" for n in range(1, plan.judgements + 1)]
    charts_outline = [label.split(" — ")[0] for label in chart_labels]
    bottom_line = ["Bottom line"] if assessment_id is not None else []
    sections = list(SECTION_TITLES) if assessment_id is not None else []
    outline = [plan.title, *bottom_line, *judgements, *sections, *charts_outline, "Sources"]
    st.text("\n".join(f"{n}. {line}" for n, line in enumerate(outline, 1)))
    st.caption(f"{plan.slides} slides at 16:9; a document of the same content in Word, PDF and Markdown.")


def _produce(
    viewer: Viewer,
    plan: BriefingPlan,
    title: str,
    picked: list[str],
    f: Filters,
    today: date,
    assessment_id: int | None,
) -> None:
    """Step 3: the marking of what would be produced and one download button per format (built on click)."""
    st.subheader("3. Produce")
    ready = bool(picked) or assessment_id is not None
    marking_banner(
        plan.marking,
        f"{plan.slides} slides" + (" · DRAFT" if plan.draft else "") if ready else "nothing chosen yet",
    )
    if not ready:
        st.info("Choose an assessment or at least one chart above.", icon=":material/info:")
    for reason in plan.raised_by:  # fixed words, chart titles and markings only
        st.warning(reason, icon=":material/warning:")
    st.caption(f"Protective marking: {plan.protective}")
    # Widths follow the labels, plus room for the icon and padding every button has, so neither "PowerPoint
    # (16:9)" nor "PDF" is cut short at 1024 px (equal columns cut the first; widths by label alone the last).
    cols = st.columns([len(FORMAT_LABELS[fmt]) + 10 for fmt in FORMATS])
    for col, fmt in zip(cols, FORMATS, strict=True):
        col.download_button(
            FORMAT_LABELS[fmt],
            data=partial(
                briefing_builder.export_briefing,
                session.store(),
                viewer,
                fmt,
                title=title,
                chart_keys=tuple(picked),
                current=f,
                today=today,
                assessment_id=assessment_id,
            ),
            file_name=plan.filename(fmt, today),
            mime=FORMATS[fmt],
            key=f"brf_dl_{fmt}",
            on_click="ignore",
            icon=":material/download:",
            disabled=not ready,
            width="stretch",
        )
    st.caption(
        "PowerPoint: title, bottom line, one slide per key judgement, the assessment's other sections and "
        "evidence annex, one slide per chart, sources (16:9, numbered). Word and PDF: the same as a document "
        "with TLP and protective marking in every header and footer. Markdown: the text, with the charts "
        "listed. Drafts are watermarked DRAFT on every page and slide."
    )


def _preview(
    labels: dict[str, str], picked: list[str], title: str, f: Filters, today: date, assessment_id: int | None
) -> None:
    """The picked charts drawn on request, with the page-to-slide button for them."""
    # A toggle, not a collapsed expander: charts are drawn only when asked for, and never hidden.
    if not (picked and st.toggle("Preview the charts", key="brf_preview")):
        return
    figures = []
    for k, key in enumerate(picked):
        scoped = session.query(briefing_builder.draw_chart, key, f, today, assessment_id)
        figures.append((scoped.data, scoped.marking))
        st.text(f"{k + 1}. {labels[key]}")
        chart(scoped.data, key=f"brf_preview_{k}", marking=scoped.marking)
    page_to_slide(title or "Chart pack", figures, key="brf_slide", page="briefings")


main()
