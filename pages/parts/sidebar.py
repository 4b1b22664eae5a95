"""The sidebar every signed-in page shares: who is signed in (and sign-out), the shared filters with their link
in the address bar, and the saved views; plus the notices of files handed over by the command line.

app.py calls these once per rerun, before the page runs, so every page reads the same filters from
`session.filters()` and never draws its own copy of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from analytics import session
from analytics.access.pages import PAGES
from analytics.access.viewer import Viewer
from analytics.filters import URL_KEYS, Filters
from analytics.incidents import base as incident_base
from analytics.ingest import inbox
from analytics.matrix import taxonomy
from pages.ui import filter_sidebar, inert_markdown, saved_views_sidebar


def signed_in_as(viewer: Viewer, mode: str, *, on_sign_out: Callable[[], None]) -> None:
    """The person, their institute and role, and the sign-out button (app.py's, which the sign-in screen uses
    too and which must not wait for this module's imports)."""
    with st.sidebar:
        if mode == "demo":
            # The demo's synthetic data ends on a fixed day and `make run` pins "today" there: said on every page.
            st.caption(f":orange-background[DEMO MODE] synthetic institute data. {session.today_note()}")
        st.markdown(f"**{inert_markdown(viewer.name)}**  \n{viewer.institute} · {viewer.role}")
        st.button("Sign out", icon=":material/logout:", on_click=on_sign_out)


def hand_over_notices(viewer: Viewer) -> None:
    """Files the CLI handed over while this process held the store (docs/exchange.md); one directory listing
    when empty. An outcome goes only to the person who handed the file over (it quotes the file)."""
    inbox.process_inbox(session.store())
    for handed_over in inbox.outcomes_for(session.store().path, viewer):
        st.toast(inert_markdown(handed_over.describe()), icon=":material/move_to_inbox:")


# Pages that show no incident counts (analytics.access.pages says which): the incident filters would do nothing
# there, so they are not drawn; the choices are kept for the next page that uses them.
FILTERLESS_PAGES = frozenset(p.url_path for p in PAGES if not p.incident_filters)


def shared_filters(viewer: Viewer, page_path: str) -> Filters:
    """The filters from the link and the sidebar, as this person may apply them; kept in the session for the
    page and written back to the address bar, so the link always reproduces what is shown. On FILTERLESS_PAGES
    nothing is drawn and the last filters are kept as they were."""
    if page_path in FILTERLESS_PAGES:
        return _keep_filters(viewer)
    today = session.today()
    # Asked with the empty Filters(): the same cached rollup as the facet counts below when nothing but
    # categories and severities is chosen (a first page, a sign-in), so the two share one read instead of
    # running the same statement twice (about 1.4 s of the store server's CPU at 1M incidents, issue 21).
    options = _facet_counts(viewer, today, Filters())
    # Public reference data, the same for everyone: one cached read per store version, not two per rerun.
    names = {
        "techniques": session.reference(taxonomy.technique_names),
        "tactics": session.reference(taxonomy.tactic_names),
    }
    url_filters = Filters.from_query_params({k: st.query_params.get_all(k) for k in st.query_params})
    # Only the filters this person may apply (Filters.for_viewer): policymakers see counts, never records, so a
    # free-text search (from the sidebar or a `?q=` link) would make every count an oracle on text they may
    # not read.
    if url_filters.drops_for(viewer):
        st.sidebar.info(
            "Search and filter values from this link were ignored: your role sees summaries, which are "
            "never narrowed by searching record text.",
            icon=":material/search_off:",
        )
    f = filter_sidebar(
        url_filters.for_viewer(viewer),
        options,
        names,
        search=viewer.can_see_records,
        facets=lambda chosen: _facet_counts(viewer, today, chosen),
    )
    f = f.for_viewer(viewer)
    st.session_state["filters"] = f
    saved_views_sidebar(viewer, f, page_path)
    _write_link(f)
    return f


def _facet_counts(viewer: Viewer, today: date, chosen: Filters) -> dict[str, list[tuple[Any, int]]]:
    """The sidebar's counts under `chosen` (incidents.base.filter_options), from the rollup cached under the
    other filters: choosing or clearing categories and severities asks the store server nothing
    (incidents.base.facet_rollup)."""
    rollup = session.query(incident_base.facet_rollup, today, incident_base.rollup_filters(chosen))
    return incident_base.facet_counts(rollup, viewer, chosen)


def _keep_filters(viewer: Viewer) -> Filters:
    """Keep the filter widgets' values through a page that does not draw them (Streamlit drops a widget's state
    after a run that did not draw it; set again by the script, it is kept), and the page's filters as they were."""
    for key in [k for k in st.session_state if str(k).startswith("flt_")]:
        st.session_state[key] = st.session_state[key]
    kept = st.session_state.get("filters")
    if not isinstance(kept, Filters):
        kept = Filters.from_query_params({k: st.query_params.get_all(k) for k in st.query_params})
    f = kept.for_viewer(viewer)
    st.session_state["filters"] = f
    st.sidebar.caption(
        "The incident filters do not apply to this page; your choices are kept for the others."
    )
    return f


def _write_link(f: Filters) -> None:
    """The address bar's filter parameters, rewritten only when they differ (a rewrite is a browser history
    entry)."""
    wanted = f.to_query_params()
    current = {k: st.query_params.get_all(k) for k in st.query_params if k in URL_KEYS}
    if {k: (v if isinstance(v, list) else [v]) for k, v in wanted.items()} != current:
        for k in current:
            del st.query_params[k]
        st.query_params.update(wanted)
