"""Rendering pieces every page shares: the marking banner, figures, empty states. No data access here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from analytics import session, views
from analytics.access import pages as access
from analytics.access.markings import Marking
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import AccessDenied, Viewer
from analytics.charts import inert_figure
from analytics.filters import PRESETS, Filters, source_label, value_label
from analytics.vocab import SEVERITY_LABELS
from analytics.wording import counted

_BANNER_COLOUR = {
    "CLEAR": "gray",
    "GREEN": "green",
    "AMBER": "orange",
    "AMBER+STRICT": "orange",
    "RED": "red",
}


def marking_banner(marking: Marking, what: str = "") -> None:
    """The marking of the data shown below it; built only from fixed vocabularies, never stored text."""
    colour = _BANNER_COLOUR[marking.tlp]
    rel = " and ".join(marking.releasable_to)
    suffix = f" · {what}" if what else ""
    st.markdown(f":{colour}-background[**TLP:{marking.tlp}**] &nbsp; releasable to **{rel}**{suffix}")


def chart(fig: go.Figure, key: str, marking: Marking, **kwargs: Any) -> Any:
    """Show a figure with the standard config. `marking` is the marking of the rows behind this figure; the
    briefing exports (PNG/SVG with banner and provenance footer) hang off this one function. Extra kwargs go
    to st.plotly_chart (e.g. on_select="rerun", selection_mode=...), except `export_filters` (a Filters or a
    phrase) which the export footer names instead of the shared sidebar filters, and `export_title`, the title
    an exported image carries when the figure has none on screen.

    Under the figure sits a small "Export chart" popover with PNG and SVG downloads at briefing sizes. The
    images are built only when someone clicks (deferred download data), so showing a chart stays cheap."""
    export_filters = kwargs.pop("export_filters", None)
    export_title = kwargs.pop("export_title", None)
    fig = inert_figure(fig)  # stored text in a figure must never become a link or markup in the browser
    event = st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False}, **kwargs)
    _chart_export_controls(fig, key, marking, export_filters, export_title)
    return event


def metric_row() -> Any:
    """A row for metrics (`row.metric(...)`) that wraps onto a second row rather than truncate their labels on a
    narrow screen: in four fixed columns at 1024 px "High or critical, 90 days" read "High or cri…" (issue 20).
    Metrics in it stretch to share the row and wrap below Streamlit's minimum width for a stretched element."""
    return st.container(horizontal=True, gap="small")


def empty_state(message: str) -> None:
    st.info(message, icon=":material/filter_alt_off:")


def move_buttons(
    up: Any,
    down: Any,
    *,
    keys: tuple[str, str],
    index: int,
    count: int,
    on_move: Callable[..., None],
    args: tuple[Any, ...] = (),
    tertiary: bool = False,
) -> None:
    """Move-up and move-down buttons (in the columns `up` and `down`) for item `index` (0-based) of `count` in a
    list the person orders: judgements in the assessment editor, charts in a briefing. `on_move(*args, step)`
    runs as the click's callback, step -1 or 1, so the rerun draws the new order; the first item cannot move up
    nor the last down. `keys` (up, down) are the widgets' keys, which tests and the browser find them by."""
    for column, key, step, icon, label in (
        (up, keys[0], -1, ":material/arrow_upward:", "Move up"),
        (down, keys[1], 1, ":material/arrow_downward:", "Move down"),
    ):
        column.button(
            "",
            icon=icon,
            key=key,
            on_click=on_move,
            args=(*args, step),
            disabled=not 0 <= index + step < count,
            help=label,
            type="tertiary" if tertiary else "secondary",
        )


def change_label(now: float | None, before: float | None, *, points: bool = False) -> str | None:
    """A metric's change against the previous period, as the explorer and the overview show it: relative
    ("+20%"), or in points for a share (`points`), "new" when nothing came before; None when there is no
    previous figure (or nothing either side), so the metric shows no arrow."""
    if now is None or before is None:
        return None
    if points:
        return f"{(now - before) * 100:+.1f} pts"
    if before == 0:
        return "new" if now else None
    return f"{(now - before) / before:+.0%}"


def change(now: float | None, before: float | None, *, points: bool = False) -> dict[str, Any]:
    """`st.metric` arguments for a change (`**change(now, before)`): the label from `change_label`, red for a rise
    and green for a fall (more incidents is worse), and no arrow and no colour for a change that rounds to zero,
    which read as a red rise ("↑ +0%")."""
    label = change_label(now, before, points=points)
    flat = label is not None and label.lstrip("+-").startswith(("0%", "0.0 pts"))
    if flat:
        return {"delta": label, "delta_color": "off", "delta_arrow": "off"}
    return {"delta": label, "delta_color": "inverse"}


_MULTI: tuple[tuple[str, str], ...] = (
    ("originators", "Reported by"),
    ("sources", "Source"),
    ("categories", "Category"),
    ("sectors", "Sector"),
    ("severities", "Severity"),
    ("actor_types", "Actor type"),
    ("tactics", "ATLAS tactic"),
    ("techniques", "ATLAS technique"),
    ("countries", "Country"),
    ("tlps", "TLP"),
    ("statuses", "Status"),
)
_MAIN = {"originators", "sources", "categories", "sectors", "severities"}
_FILTER_HELP = {
    "sources": "Institute reporting: records the UK or AU institute reported (however they were imported). "
    "Public sources (MITRE ATLAS case studies, the AI Incident Database, ...) are nobody's reporting: "
    "their records are 'Reported by PUBLIC', and UK–AU comparisons never count them.",
}


def filter_sidebar(
    current: Filters,
    options: dict[str, list[tuple[Any, int]]],
    names: dict[str, dict[str, str]],
    *,
    search: bool = True,
    facets: Callable[[Filters], dict[str, list[tuple[Any, int]]]] | None = None,
) -> Filters:
    """The shared filters. Options and counts come from rows the viewer may see; values not among them
    (from an old link, or invisible to this viewer) are dropped rather than echoed back. `search=False`
    (people who may not read records, see Filters.for_viewer) offers no free-text search at all.

    `options` are every value the viewer may see (they check links and chart clicks); `facets(filters)` gives
    the counts shown, each under the other filters chosen (incidents.base.filter_options), so with Jailbreak
    chosen Sector offers only sectors of jailbreaks. A chosen value stays offered, with its count, even at 0."""
    # Seed the widgets from `current` on a session's first run, and again whenever Streamlit has dropped their
    # state (it forgets a widget's value after a completed run that did not draw it, e.g. a sign-in or page
    # switch). Otherwise the period would fall back to the selectbox's first option, "Last 30 days", and
    # silently narrow every page and its link.
    if not st.session_state.get("flt_init") or "flt_preset" not in st.session_state:
        _seed_filter_state(current, options)
    _apply_pending_filter_change(options)
    st.sidebar.header("Filters")
    preset, date_from, date_to = _period_inputs()
    text = st.sidebar.text_input("Search title and summary", key="flt_text", max_chars=200) if search else ""
    shown = facets(_state_filters(preset, date_from, date_to, text or "")) if facets else options
    values = _multiselect_filters(current, _with_chosen(shown, options), names)
    _reset_filters_button()
    return Filters(
        preset=preset,
        date_from=date_from,
        date_to=date_to,
        text=text or "",
        benchmark=current.benchmark,  # no widget here: the Evaluations page picks it, the link keeps it
        **values,
    )


def _state_filters(preset: str, date_from: date | None, date_to: date | None, text: str) -> Filters:
    """The filters as the widgets hold them before the multiselects are drawn (their state is the person's last
    choice): what the facet counts are taken under."""
    picked: dict[str, Any] = {attr: tuple(st.session_state.get(f"flt_{attr}") or ()) for attr, _ in _MULTI}
    return Filters(preset=preset, date_from=date_from, date_to=date_to, text=text, **picked)


def _with_chosen(
    shown: dict[str, list[tuple[Any, int]]], options: dict[str, list[tuple[Any, int]]]
) -> dict[str, list[tuple[Any, int]]]:
    """Facet counts plus every chosen value they leave out (no row under the other filters), counted 0: a chosen
    value never disappears from its own list. Only values among `options` (visible to the viewer)."""
    out: dict[str, list[tuple[Any, int]]] = {}
    for attr in {**options, **shown}:
        have = {v for v, _ in shown.get(attr, [])}
        chosen = [
            v for v in _allowed(options, attr, st.session_state.get(f"flt_{attr}") or ()) if v not in have
        ]
        out[attr] = list(shown.get(attr, [])) + [(v, 0) for v in chosen]
    return out


def _allowed(options: dict[str, list[tuple[Any, int]]], attr: str, values: Any) -> list[Any]:
    """The values among this filter's options (options come from rows the viewer may see)."""
    offered = {v for v, _ in options.get(attr, [])}
    return [v for v in values if v in offered]


def _seed_filter_state(current: Filters, options: dict[str, list[tuple[Any, int]]]) -> None:
    """First run of a session: the widgets start from `current` (a link's or the page's filters)."""
    st.session_state["flt_preset"] = current.preset
    if current.preset == "custom":
        st.session_state["flt_dates"] = tuple(d for d in (current.date_from, current.date_to) if d)
    for attr, _ in _MULTI:
        st.session_state[f"flt_{attr}"] = _allowed(options, attr, getattr(current, attr))
    st.session_state["flt_text"] = current.text
    st.session_state["flt_init"] = True


def _apply_pending_filter_change(options: dict[str, list[tuple[Any, int]]]) -> None:
    """A click on a chart (request_filter_change) narrows the filters: it is applied here, before the widgets
    exist, because Streamlit forbids changing a widget's state after it is drawn in the same run."""
    pending = st.session_state.pop("flt_pending", None)
    if not isinstance(pending, dict):
        return
    for attr, picked in pending.items():
        if attr == "dates" and picked:
            st.session_state["flt_preset"] = "custom"
            st.session_state["flt_dates"] = tuple(picked[0])
        elif attr in dict(_MULTI):
            st.session_state[f"flt_{attr}"] = _allowed(options, attr, picked)


def _period_inputs() -> tuple[str, date | None, date | None]:
    """The period preset and, for a custom range, its first and last day (None until picked)."""
    # "All time" first: it is the default, so if Streamlit ever falls back to the first option the view widens
    # to the default instead of silently narrowing to the last 30 days.
    preset_labels = {
        "all": PRESETS["all"],
        **{k: v for k, v in PRESETS.items() if k != "all"},
        "custom": "Custom range",
    }
    preset = st.sidebar.selectbox(
        "Period", list(preset_labels), format_func=preset_labels.__getitem__, key="flt_preset"
    )
    date_from: date | None = None
    date_to: date | None = None
    if preset == "custom":
        # No default when the state already holds dates (from a link or a click): Streamlit warns otherwise.
        dates_kw: dict[str, Any] = {} if "flt_dates" in st.session_state else {"value": []}
        picked = st.sidebar.date_input("From – to", key="flt_dates", **dates_kw)
        if isinstance(picked, tuple | list):
            date_from = picked[0] if len(picked) > 0 else None
            date_to = picked[1] if len(picked) > 1 else None
    return preset, date_from, date_to


def _multiselect_filters(
    current: Filters, options: dict[str, list[tuple[Any, int]]], names: dict[str, dict[str, str]]
) -> dict[str, tuple[Any, ...]]:
    """One multiselect per filter: the main ones in the sidebar, the rest in 'More filters' (open when one of
    them is set)."""
    values: dict[str, tuple[Any, ...]] = {}
    main = [m for m in _MULTI if m[0] in _MAIN]
    more = st.sidebar.expander(
        "More filters", expanded=any(getattr(current, a) for a, _ in _MULTI if a not in _MAIN)
    )
    for attr, label in main + [m for m in _MULTI if m[0] not in _MAIN]:
        opts = options.get(attr, [])
        container = st.sidebar if attr in _MAIN else more
        fmt = _option_label(attr, dict(opts), names.get(attr, {}))
        picked_values = container.multiselect(
            label, [v for v, _ in opts], format_func=fmt, key=f"flt_{attr}", help=_FILTER_HELP.get(attr)
        )
        values[attr] = tuple(picked_values)
    return values


def _option_label(attr: str, counts: dict[Any, int], labels: dict[str, str]) -> Callable[[Any], str]:
    """How a filter's option reads: value, its name (or severity label) and how many visible rows have it."""

    def fmt(v: Any) -> str:
        shown = labels.get(str(v), "")
        if attr == "severities":
            shown = f"{v} {SEVERITY_LABELS.get(int(v), '')}"
        elif attr == "sources":  # institute reporting, or the public source's registered name
            shown = source_label(str(v))
        elif shown:
            shown = f"{v} {shown}"
        else:
            shown = value_label(attr, v)  # sentence case for lower-case vocabularies; the value is unchanged
        return f"{shown} ({counts.get(v, 0):,})"

    return fmt


def _reset_filters_button() -> None:
    """Back to every record: clears every filter widget's state and reruns with the 'all' period."""
    if st.sidebar.button("Reset filters", icon=":material/restart_alt:"):
        for key in [k for k in st.session_state if str(k).startswith("flt_")]:
            del st.session_state[key]
        st.session_state["flt_init"] = True
        st.session_state["flt_preset"] = "all"
        st.rerun()


def saved_views_sidebar(viewer: Viewer, f: Filters, page: str) -> None:
    """Save the current filters under a name (a view is evidence in assessments and a chart source in
    briefings) and reopen one: its page with its filters, drawn with the opener's own markings."""
    if viewer.role not in RECORD_READERS:
        return
    box = st.sidebar.expander("Saved views", icon=":material/bookmark:")
    name = box.text_input("Name for the current filters", key="sv_name", max_chars=200)
    if box.button("Save view", icon=":material/bookmark_add:", key="sv_save"):
        try:
            with session.store().transaction(changes_records=False) as con:
                views.save_view(con, viewer, name, page, f)
        except (AccessDenied, ValueError) as e:
            box.error(str(e).capitalize())
        else:
            st.toast(f"Saved view “{inert_markdown(name.strip())}”", icon=":material/bookmark_added:")
    mine = session.query(views.list_views)  # after a save: the write moved the store on, so it is listed
    if not mine:
        box.caption("Views saved here can be cited in assessments and drawn in briefings.")
    for v in mine[:15]:
        opens = access.page_at(v.page, viewer.role) or access.page_at("overview", viewer.role)
        assert opens is not None  # everyone may open the overview
        label = f"{inert_markdown(v.name)} · {opens.title}"
        if box.button(label, key=f"sv_open_{v.id}", icon=":material/bookmark:", width="stretch"):
            # The sidebar takes its filters from the URL again on the next run (see filter_sidebar).
            st.session_state["flt_init"] = False
            st.switch_page(opens.path, query_params=v.filters.to_query_params())


# -- assessments (pages/assessments.py, pages/assessments_read.py) ------------------------------------------------

_ASSESSMENT_MD_SPECIAL = "\\`*_{}[]()<>#+-.!|~:$&"


def inert_markdown(text: str) -> str:
    """Stored text made inert inside st.markdown (every character Markdown, Streamlit directives or HTML could
    act on is backslash-escaped; newlines become spaces), for the few places stored text must sit in a line."""
    return "".join("\\" + c if c in _ASSESSMENT_MD_SPECIAL else c for c in " ".join(str(text).split()))


_CONFIDENCE_COLOUR = {"high": "green", "moderate": "orange", "low": "red"}


def judgement_estimate(term: str | None, confidence: str | None) -> str:
    """Badges for a judgement's yardstick term (with its band) and confidence; fixed vocabularies only."""
    from analytics.assessments import yardstick

    if term:
        band = yardstick.phia_band(term)
        term_md = f":blue-badge[{band.term} · {band.low}–{band.high}%]"
    else:
        term_md = ":gray-badge[no probability term]"
    if confidence in _CONFIDENCE_COLOUR:
        conf_md = f":{_CONFIDENCE_COLOUR[confidence]}-badge[{confidence} confidence]"
    else:
        conf_md = ":gray-badge[no confidence level]"
    return f"{term_md} {conf_md}"


def assessment_brief(a: Any, evidence_labels: dict[Any, str] | None = None) -> None:
    """An assessment (analytics.assessments.model.Assessment) as a clean read-only brief. Stored text goes through
    st.text or inert_markdown only. `evidence_labels` (record roles) lists each judgement's evidence by name;
    without it a judgement says how many records it rests on."""
    from analytics.assessments.model import EVIDENCE_KINDS

    if a.question:
        st.markdown("**Question**")
        st.text(a.question)
    st.markdown("#### Bottom line up front")
    if a.bluf:
        st.text(a.bluf)
    else:
        st.caption("No bottom line yet.")
    st.markdown("#### Key judgements")
    if not a.judgements:
        st.caption("No key judgements yet.")
    for j in a.judgements:
        with st.container(border=True):
            st.markdown(f"**{j.number}.** {inert_markdown(j.statement)}")
            st.markdown(judgement_estimate(j.term, j.confidence))
            if j.reasoning:
                st.text(j.reasoning)
            if evidence_labels is not None and j.evidence:
                for e in j.evidence:
                    label = evidence_labels.get(e, f"{e.ref_id}")
                    st.markdown(f"- {EVIDENCE_KINDS[e.kind]}: {inert_markdown(label)}")
            elif j.evidence:
                st.caption(f"Rests on {counted(len(j.evidence), 'record')}.")
            else:
                st.caption("Cites no evidence.")
            for d in j.dissents:
                st.markdown(
                    f":orange-badge[Dissent] **{inert_markdown(d.name)}** ({d.institute}): {inert_markdown(d.body)}"
                )
    for d in a.dissents:
        st.markdown(
            f":orange-badge[Dissent] **{inert_markdown(d.name)}** ({d.institute}): {inert_markdown(d.body)}"
        )
    sections = (
        ("Assumptions", a.assumptions),
        ("Alternative views", a.alternatives),
        ("Indicators that would change these judgements", a.indicators),
    )
    cols = st.columns(len(sections))
    for col, (heading, items) in zip(cols, sections, strict=True):
        with col:
            st.markdown(f"**{heading}**")
            if items:
                for item in items:
                    st.markdown(f"- {inert_markdown(item)}")
            else:
                st.caption("None recorded.")
    if a.supersedes is not None or a.changes:
        st.markdown("#### What changed since the last assessment")
        if a.supersedes is not None:
            st.caption(f"Supersedes assessment A-{a.supersedes}.")
        if a.changes:
            st.text(a.changes)


# -- incident explorer (pages/explorer.py, pages/overview.py) -----------------------------------------------------


def request_filter_change(updates: dict[str, list[Any]]) -> None:
    """Narrow the shared sidebar filters to `updates` ({field: values}, "dates": [(from, to)]) and rerun.
    filter_sidebar applies them at the top of the next run, so the multiselect chips show the new filters."""
    if updates:
        st.session_state["flt_pending"] = updates
        st.rerun()


def selection_points(event: Any) -> list[dict[str, Any]]:
    """The points of a Plotly selection event returned by st.plotly_chart(on_select="rerun"), or []."""
    try:
        points = event.selection.points
    except AttributeError:
        try:
            points = event["selection"]["points"]
        except (KeyError, TypeError):
            return []
    return [dict(p) for p in points or []]


# -- briefing exports (chart downloads, page to slide) ------------------------------------------------------------


def _export_context() -> tuple[Any, Any, Any, Any]:
    """Store, viewer, shared filters and today, captured now: download data runs later, outside the script."""
    from analytics import session

    return session.store(), session.viewer(), session.filters(), session.today()


@st.fragment
def _chart_export_controls(
    fig: go.Figure, key: str, marking: Marking, export_filters: Any, export_title: str | None = None
) -> None:
    # A fragment, so choosing a size reruns only this popover, not the page.
    from functools import partial

    from analytics.export import chart_image as chart_export
    from analytics.export.rows_behind import rows_behind

    store, viewer, shared_filters, today = _export_context()
    filters = shared_filters if export_filters is None else export_filters
    # The footer's reads, cached per audience like the page's: colleagues exporting one chart read them once.
    behind = session.later(rows_behind, filters, today) if isinstance(filters, Filters) else None
    if export_title and not chart_export.figure_title(fig, ""):
        # On screen the page heading names the chart; a briefing image must carry its own title.
        fig = go.Figure(fig).update_layout(title=export_title)
    title = chart_export.figure_title(fig)
    with st.popover("Export chart", icon=":material/download:", key=f"{key}__export", type="tertiary"):
        preset = st.radio(
            "Size",
            list(chart_export.PRESETS),
            format_func=lambda p: chart_export.PRESETS[p].label,
            horizontal=True,
            key=f"{key}__export_size",
        )
        st.caption(
            f"Marked **TLP:{marking.tlp}** at the top; the footer names the filters, the data date, you and "
            "the sources. Every export is recorded in the audit log."
        )
        left, right = st.columns(2)
        for col, fmt in zip((left, right), chart_export.FORMATS, strict=True):
            col.download_button(
                fmt.upper(),
                data=partial(
                    chart_export.export_and_record,
                    store,
                    viewer,
                    fig,
                    marking,
                    fmt=fmt,
                    preset=preset,
                    filters=filters,
                    today=today,
                    obj=f"chart:{key}",
                    rows_behind=behind,
                ),
                file_name=chart_export.export_filename(title, marking, fmt, today),
                mime=chart_export.MIME[fmt],
                key=f"{key}__export_{fmt}",
                on_click="ignore",
                icon=":material/image:",
                width="stretch",
            )


def page_to_slide(title: str, figures: list[tuple[go.Figure, Marking]], key: str, page: str = "") -> None:
    """A "Page to slide" button: the current view (these figures, each with its marking) as one 16:9 PowerPoint
    slide titled `title`, marked with the combination of all the figures' markings. Built only on click."""
    from functools import partial

    from analytics.export.briefing import builder as briefing_builder

    if not figures:
        return
    store, viewer, filters, today = _export_context()
    st.download_button(
        "Page to slide",
        data=partial(
            briefing_builder.export_page_slide,
            store,
            viewer,
            title=title,
            figures=list(figures),
            filters=filters,
            today=today,
            page=page or key,
        ),
        file_name=briefing_builder.slide_filename(title, [m for _, m in figures], today),
        mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
        key=f"{key}__slide",
        on_click="ignore",
        icon=":material/slideshow:",
        help="One 16:9 slide of this page's charts, marked and with provenance, for a briefing.",
    )
