"""Links that pivot from a detail to everything related: an entity page (`entity?kind=…&id=…`) or an incident.

Why one module: every detail (an incident, a technique, an entity) links the same things the same way. Links are
`st.page_link`s, so they move within the signed-in session (a new tab would ask for sign-in again); their query
parameters come from `analytics.entities.kinds.query_params` (kinds from its allow-list, encoded by Streamlit),
and every label made of stored text goes through `inert_markdown`, never HTML.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from analytics.entities.kinds import query_params
from pages.ui import inert_markdown

ENTITY_PAGE = "pages/entity.py"
EXPLORER_PAGE = "pages/explorer.py"

ICONS = {
    "model": ":material/smart_toy:",
    "developer": ":material/factory:",
    "sector": ":material/domain:",
    "actor": ":material/person_alert:",
    "technique": ":material/grid_view:",
    "benchmark": ":material/science:",
}


def entity_link(kind: str, ident: str, label: str | None = None, *, help: str | None = None) -> None:
    """A link to the entity's page; `label` (stored text allowed) defaults to the id."""
    st.page_link(
        ENTITY_PAGE,
        label=inert_markdown(label if label is not None else ident),
        icon=ICONS[kind],
        query_params=query_params(kind, ident),
        help=help,
    )


def entity_links(items: Iterable[tuple[str, str, str | None]], empty: str = "—") -> None:
    """A wrapping row of entity links, one per (kind, id, label); `empty` when there is none."""
    items = [(k, i, lbl) for k, i, lbl in items if i and str(i).strip()]
    if not items:
        st.caption(empty)
        return
    with st.container(horizontal=True, gap="small"):
        for kind, ident, label in items:
            entity_link(kind, str(ident), label)


def technique_label(technique_id: str, names: dict[str, str]) -> str:
    """'AML.T0051.001 LLM Prompt Injection: Indirect': the id and the full name (names from
    analytics.entities.queries.technique_full_names)."""
    name = names.get(technique_id)
    return f"{technique_id} {name}" if name else technique_id


def incident_link(incident_id: str, title: str | None = None, note: str = "") -> None:
    """A link that opens the incident's detail in the explorer; `note` is fixed text (no stored text)."""
    label = inert_markdown(incident_id) + (f" · {inert_markdown(title)}" if title else "")
    st.page_link(
        EXPLORER_PAGE,
        label=label + (f" — {note}" if note else ""),
        icon=":material/description:",
        query_params={"incident": str(incident_id)},
    )
