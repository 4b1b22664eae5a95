"""Joint UK–AU AI threat dashboard: sign-in, navigation for this person's role, shared filters, the page."""

import streamlit as st

from analytics import access, audit, identity, incidents, session, taxonomy
from analytics.filters import URL_KEYS, Filters
from analytics.store import StoreError
from pages.ui import filter_sidebar

st.set_page_config(page_title="UK–AU AI Threat Dashboard", page_icon=":material/shield:", layout="wide")


def _secrets() -> dict:
    try:
        return {"auth": st.secrets["auth"]} if "auth" in st.secrets else {}
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return {}


try:
    con = session.cursor()
except StoreError as e:
    st.error(str(e), icon=":material/database:")
    st.stop()

mode = identity.auth_mode(_secrets())
if mode == "misconfigured":
    st.error("Demo mode (THREAT_DEMO_MODE) cannot be on while OIDC sign-in is configured. Unset one of them.")
    st.stop()

logged_in = bool(st.user.get("is_logged_in", False))
email = str(st.user.get("email") or "") if logged_in else str(st.session_state.get("demo_email") or "")
if not email:
    st.title("UK–AU AI Threat Dashboard")
    if mode == "oidc":
        st.write("Sign in with your institute account to continue.")
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
    elif mode == "demo":
        st.warning("**Demo mode** — synthetic data; choose a persona. Never enable this in production.")
        for demo_email, name, institute, role in identity.DEMO_USERS:
            if st.button(f"{name} — {institute} {role} ({demo_email})", key=f"persona_{demo_email}"):
                st.session_state["demo_email"] = demo_email
                st.rerun()
    else:
        st.error(
            "Sign-in is not configured. Set `[auth]` in `.streamlit/secrets.toml` for OIDC, "
            "or start with `THREAT_DEMO_MODE=1` (as `make run` does) for the demo personas."
        )
    st.stop()

viewer = identity.viewer_for_email(con, email)
if viewer is None:
    if not st.session_state.get("refusal_logged"):
        with session.store().transaction() as tx:
            audit.record(tx, str(email), "sign-in refused", "", "not enrolled or disabled")
        st.session_state["refusal_logged"] = True
    st.title("Not enrolled")
    st.error(f"{email} is not enrolled, or has been disabled. Ask your institute's administrator for access.")
    if st.button("Sign out"):
        st.session_state.clear()
        if logged_in and mode == "oidc":
            st.logout()
        st.rerun()
    st.stop()

if st.session_state.get("signed_in_as") != viewer.email:
    with session.store().transaction() as tx:
        audit.record(tx, viewer.email, "sign-in", "", {"mode": mode})
    st.session_state["signed_in_as"] = viewer.email
st.session_state["viewer"] = viewer

with st.sidebar:
    if mode == "demo":
        st.caption(":orange-background[DEMO MODE] synthetic data")
    st.markdown(f"**{viewer.name}**  \n{viewer.institute} · {viewer.role}")
    if st.button("Sign out", icon=":material/logout:"):
        st.session_state.clear()
        if mode == "oidc":
            st.logout()
        st.rerun()

pages = access.pages_for(viewer.role)
sections: dict[str, list] = {}
for spec in pages:
    sections.setdefault(spec.section, []).append(st.Page(spec.path, title=spec.title, icon=spec.icon))
page = st.navigation(sections)
st.session_state["page_path"] = page.url_path

today = session.today()
options = session.query(incidents.filter_options, today)
names = {"techniques": taxonomy.technique_names(con), "tactics": taxonomy.tactic_names(con)}
url_filters = Filters.from_query_params({k: st.query_params.get_all(k) for k in st.query_params})
f = filter_sidebar(url_filters, options, names)
st.session_state["filters"] = f
wanted = f.to_query_params()
current = {k: st.query_params.get_all(k) for k in st.query_params if k in URL_KEYS}
if {k: (v if isinstance(v, list) else [v]) for k, v in wanted.items()} != current:
    for k in current:
        del st.query_params[k]
    st.query_params.update(wanted)

page.run()
