"""Administration: search the audit log, enrol, disable, enable or change the role of users, and set each
partner's export ceiling. Admins only.

Every change goes through analytics.accounts.users (which re-checks the role, refuses changes to oneself and audits),
and every audit search is itself recorded. Stored text is shown only in tables, never as markdown.

`main()` draws the page: one function per tab, and one per form of the Users tab.
"""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from analytics import session
from analytics.access.markings import INSTITUTES
from analytics.access.roles import ADMINS, ROLES
from analytics.access.viewer import VIEWER_INSTITUTES, AccessDenied, Viewer
from analytics.accounts import users
from analytics.export import partners
from analytics.store import audit
from pages.ui import marking_banner


def main() -> None:
    viewer = session.require_role(*ADMINS)
    st.title("Administration")
    marking_banner(audit.AUDIT_MARKING, "audit log and user directory")
    flash = st.session_state.pop("admin_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    log_tab, users_tab, partners_tab = st.tabs(["Audit log", "Users", "Partner exports"])
    with log_tab:
        _audit_log(viewer)
    with users_tab:
        _users(viewer)
    with partners_tab:
        _partner_ceilings(viewer)


def _audit_log(viewer: Viewer) -> None:
    """The search form and its results; a search is recorded by the criteria it used, never their text."""
    today = date.today()  # the audit log is stamped with the real clock, not the demo's pinned 'today'
    with st.form("audit_search", border=False):
        c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
        person = c1.text_input("Person (email contains)", max_chars=200, key="audit_person")
        action = c2.selectbox(
            "Action",
            ["", *audit.actions(session.cursor(), viewer)],
            key="audit_action",
            format_func=lambda a: a or "Any action",
        )
        text = c3.text_input("Object or detail contains", max_chars=200, key="audit_text")
        days = c4.date_input(
            "Between", value=(today - timedelta(days=30), today), key="audit_dates", format="YYYY-MM-DD"
        )
        submitted = st.form_submit_button(
            "Search the log", icon=":material/search:", type="primary", key="audit_submit"
        )
    picked = list(days) if isinstance(days, tuple | list) else [days]
    date_from = picked[0] if picked else None
    date_to = picked[1] if len(picked) > 1 else date_from
    criteria = {"email": person, "action": action, "text": text, "date_from": date_from, "date_to": date_to}
    if (
        submitted
    ):  # which criteria were used, never their text (the log holds no typed text: analytics.store.audit)
        used = {"fields": sorted(k for k, v in criteria.items() if v), "action": action or None}
        audit.append(session.store(), viewer.email, "search audit", "audit_log", used)
    found = audit.search(
        session.cursor(),
        viewer,
        email=person,
        action=action or "",
        text=text,
        date_from=date_from,
        date_to=date_to,
    )
    shown = f"{len(found):,} {'entry' if len(found) == 1 else 'entries'}, newest first"
    st.caption(shown + (" (the first 500)" if len(found) == 500 else ""))
    st.dataframe(
        found,
        hide_index=True,
        width="stretch",
        column_config={
            "id": st.column_config.NumberColumn("#", width="small"),
            "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "email": "Person",
            "action": st.column_config.TextColumn("Action", width="medium"),
            "object": "Object",
            "detail": "Detail",
        },
    )


def _users(viewer: Viewer) -> None:
    directory = users.list_users(session.cursor(), viewer)
    st.dataframe(
        directory,
        hide_index=True,
        width="stretch",
        column_config={
            "email": "Email",
            "name": "Name",
            "institute": "Institute",
            "role": "Role",
            "active": st.column_config.CheckboxColumn("Active"),
            "created_at": st.column_config.DatetimeColumn("Enrolled", format="YYYY-MM-DD"),
        },
    )
    left, right = st.columns(2, gap="large")
    with left:
        _enrol_form(viewer)
    with right:
        _change_user(viewer, directory)


def _run_change(viewer: Viewer, change: Callable[..., None], done: str, *args: Any, **kwargs: Any) -> None:
    """A change through analytics.accounts.users; its refusal shown here, its success after the rerun."""
    try:
        change(session.store(), viewer, *args, **kwargs)
    except (users.UserRefused, AccessDenied) as e:
        st.error(str(e), icon=":material/block:")
    else:
        st.session_state["admin_flash"] = done
        st.rerun()


def _enrol_form(viewer: Viewer) -> None:
    with st.form("enrol_user", clear_on_submit=True):
        st.subheader("Enrol a user")
        email = st.text_input("Email", max_chars=200, key="enrol_email")
        name = st.text_input("Name", max_chars=120, key="enrol_name")
        c1, c2 = st.columns(2)
        institute = c1.selectbox("Institute", VIEWER_INSTITUTES, key="enrol_institute")
        role = c2.selectbox("Role", ROLES, key="enrol_role")
        if st.form_submit_button("Enrol", icon=":material/person_add:", key="enrol_submit"):
            _run_change(
                viewer,
                users.enrol,
                f"Enrolled {email.strip().lower()} as {institute} {role}.",
                email=email,
                name=name,
                institute=institute,
                role=role,
            )


def _change_user(viewer: Viewer, directory: pd.DataFrame) -> None:
    st.subheader("Change a user")
    others = [e for e in directory["email"].tolist() if e != viewer.email]
    target = st.selectbox("User", others, key="admin_target", index=None, placeholder="Choose a user")
    if target:
        row = directory.loc[directory["email"] == target].iloc[0]
        st.text(
            f"{row['name']} · {row['institute']} · {row['role']} · {'active' if row['active'] else 'disabled'}"
        )
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        role = c1.selectbox("New role", [r for r in ROLES if r != row["role"]], key="admin_new_role")
        if c2.button("Change role", icon=":material/badge:", key="admin_change_role"):
            _run_change(viewer, users.change_role, f"{target} is now {role}.", target, role)
        if row["active"]:
            if st.button("Disable", icon=":material/person_off:", type="primary", key="admin_disable"):
                _run_change(viewer, users.set_active, f"Disabled {target}.", target, False)
        elif st.button("Enable", icon=":material/person_check:", key="admin_enable"):
            _run_change(viewer, users.set_active, f"Enabled {target}.", target, True)
    st.caption(
        "Nobody can change their own role or disable themselves. Institutes are fixed at enrolment: "
        "someone who moves institute is disabled and enrolled again. Changes apply at the user's next "
        "interaction."
    )


def _partner_ceilings(viewer: Viewer) -> None:
    """Each partner's export ceiling (analytics.export.partners: the rules, the audit, the refusals)."""
    st.dataframe(
        pd.DataFrame(session.query(partners.ceiling_overview)),
        hide_index=True,
        width="stretch",
        column_config={
            "partner": "Partner",
            "ceiling": "Highest TLP in a bundle",
            "set_by": "Set by",
            "set_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "withheld": "An export now withholds (of what you may see)",
        },
    )
    with st.form("export_ceiling", border=False):
        c1, c2 = st.columns(2)
        partner = c1.selectbox("Partner", INSTITUTES, key="ceiling_partner")
        tlp = c2.selectbox("Highest TLP that may leave", partners.CEILING_CHOICES, key="ceiling_tlp")
        if st.form_submit_button("Set ceiling", icon=":material/shield:", key="ceiling_submit"):
            try:
                partners.set_ceiling(session.store(), partner, tlp, actor=viewer.email, viewer=viewer)
            except (ValueError, AccessDenied) as e:
                st.error(str(e), icon=":material/block:")
            else:
                st.session_state["admin_flash"] = f"{partner}'s export ceiling is now TLP:{tlp}."
                st.rerun()
    st.caption(
        "TLP:RED never leaves in a bundle (it goes to its named people one by one) and TLP:AMBER+STRICT never "
        "leaves its originator, whatever the ceiling. Every change is audited."
    )


main()
