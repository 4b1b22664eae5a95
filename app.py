"""Joint UK–AU AI threat dashboard: sign-in, navigation for this person's role, shared filters, the page."""

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from analytics import session
from analytics.access import narrowing
from analytics.access import pages as access
from analytics.access.viewer import Viewer
from analytics.accounts import identity
from analytics.filters import Filters
from analytics.store.database import StoreError, StoreUnavailable
from pages.parts import preload

st.set_page_config(page_title="UK–AU AI Threat Dashboard", page_icon=":material/shield:", layout="wide")


@contextmanager
def _store_answers() -> Iterator[None]:
    """In the served mode the store server may be stopped or restarting: the page says so in words
    (StoreUnavailable's message) instead of Streamlit's redacted error, and draws nothing after it."""
    try:
        yield
    except StoreUnavailable as e:
        st.error(str(e), icon=":material/database:")
        st.stop()


def _secrets() -> dict:
    try:
        return {"auth": st.secrets["auth"]} if "auth" in st.secrets else {}
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return {}


def _sign_out() -> None:
    st.session_state.clear()  # the app reruns after this callback and shows the sign-in screen
    st.query_params.pop(identity.PERSONA_PARAM, None)  # a reload after signing out must not sign in again
    if bool(st.user.get("is_logged_in", False)):
        st.logout()  # clears the identity cookie and ends the provider session; starts a new session


def _choose_persona(demo_email: str) -> None:
    st.session_state["demo_email"] = demo_email


def _gate() -> None:
    """Everything a person sees before they are signed in as an enrolled, active user."""
    st.title("Not enrolled" if email else "UK–AU AI Threat Dashboard")
    if mode == "misconfigured":
        st.error("Sign-in is misconfigured; ask the operator to check the server log.")
    elif email:
        st.error("This account is not enrolled, or has been disabled. Ask your institute's administrator.")
        st.text(f"Signed in as {email}")  # text, never markdown: the provider chose this string
        st.button("Sign out", on_click=_sign_out)
    elif mode == "oidc":
        st.write("Sign in with your institute account to continue.")
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
    elif mode == "demo":
        st.warning("**Demo mode** — synthetic data; choose a persona. Never enable this in production.")
        for demo_email, name, institute, role in identity.DEMO_USERS:
            # A callback, not `if st.button(): ... st.rerun()`: it runs before the click's script run, so that
            # run is already signed in and draws the first page (one script run and round trip fewer).
            st.button(
                f"{name} — {institute} {role} ({demo_email})",
                key=f"persona_{demo_email}",
                on_click=_choose_persona,
                args=(demo_email,),
            )
    else:
        st.error(
            "Sign-in is not configured. Set `[auth]` in `.streamlit/secrets.toml` for OIDC, "
            "or start with `THREAT_DEMO_MODE=1` (as `make run` does) for the demo personas."
        )


def _narrowed(person: Viewer, asked_path: str, asked_query: dict[str, list[str]], landing: str) -> None:
    """Remember, for the landing page, why a link to a page this role may not open landed here."""
    dropped = Filters.from_query_params(asked_query).drops_for(person)
    note = narrowing.narrowed_link_note(asked_path, person.role, filters_dropped=dropped)
    if note:
        st.session_state["narrowed"] = (note, landing)


try:
    con = session.cursor()
except StoreError as e:
    st.error(str(e), icon=":material/database:")
    st.stop()

with _store_answers():
    mode = identity.auth_mode(_secrets(), con=con)  # con: demo mode only on a demo store
if mode == "misconfigured":  # the reason goes to the operator's log, never to the page
    print(f"sign-in misconfigured: {identity.configuration_problem(_secrets(), con=con)}", flush=True)
_peer = st.context.ip_address  # None for loopback; a str otherwise (AppTest has no peer: not a str)
if identity.demo_client_refused(mode, _peer if isinstance(_peer, str) else None):
    st.error("Demo mode answers only on the machine it runs on. Open it there, at http://localhost.")
    st.stop()
# Demo mode: a reload keeps the persona, which the address names (identity.remembered_persona).
demo_email = st.session_state.get("demo_email") or identity.remembered_persona(
    mode, st.query_params.get(identity.PERSONA_PARAM)
)
email = identity.signed_in_email(mode, st.user.to_dict(), demo_email)
# Looked up on every rerun: disabling someone or changing their role takes effect at their next interaction.
with _store_answers():
    viewer = identity.viewer_for_email(con, email) if mode != "misconfigured" else None
if viewer is None:
    for key in ("viewer", "signed_in_as"):
        st.session_state.pop(key, None)
    if email and st.session_state.get("refused_as") != email:
        identity.record_refused_sign_in(session.store(), email, mode)
        st.session_state["refused_as"] = email
    # A hidden navigation in which every address runs the sign-in: no page of the app is listed or reachable
    # before sign-in, yet a link to /explorer?cat=... keeps its address, and after sign-in opens that page
    # with its filters (if the person's role may see it).
    gate = [st.Page(_gate, title="Sign in", url_path="sign-in", default=True)]
    gate += [st.Page(_gate, title="Sign in", url_path=spec.url_path) for spec in access.PAGES]
    asked = st.navigation(gate, position="hidden")
    if asked.url_path not in ("sign-in", ""):  # "" is the default page: a rerun of the sign-in screen itself
        st.session_state["after_sign_in"] = (
            asked.url_path,
            {k: st.query_params.get_all(k) for k in st.query_params},
        )
    asked.run()
    preload.start()  # for `streamlit run app.py`; asgi.py started it with the server (a no-op then)
    st.stop()

from pages.parts import sidebar, watchlist  # noqa: E402 - see pages/parts/preload.py

if st.session_state.get("signed_in_as") != viewer.email:
    with _store_answers():
        identity.record_sign_in(session.store(), viewer, mode)
    st.session_state["signed_in_as"] = viewer.email
st.session_state["viewer"] = viewer
if mode == "demo":
    st.session_state["demo_email"] = viewer.email
    if st.query_params.get(identity.PERSONA_PARAM) != viewer.email:
        st.query_params[identity.PERSONA_PARAM] = viewer.email

with _store_answers():
    sidebar.hand_over_notices(viewer)
sidebar.signed_in_as(viewer, mode, on_sign_out=_sign_out)

sections: dict[str, list] = {}
for spec in access.pages_for(viewer.role):
    sections.setdefault(spec.section, []).append(st.Page(spec.path, title=spec.title, icon=spec.icon))
page = st.navigation(sections)
if "after_sign_in" in st.session_state:
    asked_path, asked_query = st.session_state.pop("after_sign_in")
    asked_page = access.page_at(asked_path, viewer.role)
    if asked_page is not None and asked_path != page.url_path:
        st.switch_page(asked_page.path, query_params=asked_query)
    _narrowed(viewer, asked_path, asked_query, page.url_path)
else:  # signed in already (an identity cookie), and the address names a page this role does not open
    _narrowed(viewer, (st.context.url or "").rstrip("/").rsplit("/", 1)[-1], {}, page.url_path)
st.session_state["page_path"] = page.url_path
narrowed = st.session_state.get("narrowed")
if narrowed and narrowed[1] == page.url_path:
    st.info(narrowed[0], icon=":material/filter_alt_off:")
else:
    st.session_state.pop("narrowed", None)  # said once, on the page it landed on; gone after moving on

with _store_answers(), session.one_data_version():
    sidebar.shared_filters(viewer, page.url_path)
    watchlist.watch_controls(viewer)
    watchlist.watch_inbox(viewer, page.url_path)
    page.run()
preload.after_first_page()  # what other pages need, once this one is drawn (pages/parts/preload.py)
