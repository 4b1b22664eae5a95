"""The Administration page through AppTest: search the audit log, enrol, disable, enable and re-role users,
each change audited; refusals shown as messages; anyone but an admin refused and the attempt audited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse: every rerun runs app.py first
from tests.conftest import ROOT, UK_ANALYST, StoreBuilder

PAGE = "pages/admin.py"


def admin_app(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch, email: str = "admin@joint.example"
) -> Any:
    from streamlit.testing.v1 import AppTest

    store.incident()
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def actions(store: StoreBuilder) -> list[tuple[str, str, str]]:
    return store.cursor().execute("select email, action, object from audit_log order by id").fetchall()


def test_admin_sees_the_log_and_the_directory_under_a_banner(store: StoreBuilder, monkeypatch) -> None:
    at = admin_app(store, monkeypatch)
    assert [t.value for t in at.title] == ["Administration"]
    assert at.markdown[0].value.startswith(":orange-background[**TLP:AMBER**]")
    log, directory = at.dataframe[0].value, at.dataframe[1].value
    assert list(log["action"]) == ["sign-in"]
    assert len(directory) == 7
    # an administrator is never offered themselves to change
    at.selectbox(key="admin_target").set_value("analyst@uk.example").run()
    assert "admin@joint.example" not in at.selectbox(key="admin_target").options


def test_enrol_through_the_form(store: StoreBuilder, monkeypatch) -> None:
    at = admin_app(store, monkeypatch)
    at.text_input(key="enrol_email").set_value("Noor.Haddad@AU.example")
    at.text_input(key="enrol_name").set_value("Noor Haddad")
    at.selectbox(key="enrol_institute").set_value("AU")
    at.selectbox(key="enrol_role").set_value("lead")
    at.button(key="enrol_submit").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Enrolled noor.haddad@au.example as AU lead."]
    assert "noor.haddad@au.example" in list(at.dataframe[1].value["email"])
    assert actions(store)[-1] == ("admin@joint.example", "enrol user", "user:noor.haddad@au.example")


def test_a_refused_change_is_explained_and_nothing_written(store: StoreBuilder, monkeypatch) -> None:
    at = admin_app(store, monkeypatch)
    at.text_input(key="enrol_email").set_value("analyst@uk.example")
    at.text_input(key="enrol_name").set_value("Someone")
    at.button(key="enrol_submit").click().run()
    assert [e.value for e in at.error] == ["analyst@uk.example is already enrolled"]
    assert [a for _, a, _ in actions(store)] == ["sign-in"]


def test_disable_enable_and_change_role(store: StoreBuilder, monkeypatch) -> None:
    at = admin_app(store, monkeypatch)
    at.selectbox(key="admin_target").set_value("analyst@uk.example").run()
    at.button(key="admin_disable").click().run()
    assert [s.value for s in at.success] == ["Disabled analyst@uk.example."]
    assert store.cursor().execute(
        "select active from users where email = 'analyst@uk.example'"
    ).fetchone() == (False,)
    at.button(key="admin_enable").click().run()
    assert [s.value for s in at.success] == ["Enabled analyst@uk.example."]
    at.selectbox(key="admin_new_role").set_value("lead")
    at.button(key="admin_change_role").click().run()
    assert [s.value for s in at.success] == ["analyst@uk.example is now lead."]
    assert store.cursor().execute(
        "select role, active from users where email = 'analyst@uk.example'"
    ).fetchone() == (
        "lead",
        True,
    )
    assert [a for _, a, _ in actions(store)] == ["sign-in", "disable user", "enable user", "change role"]


def test_audit_search_is_itself_audited_and_filters(store: StoreBuilder, monkeypatch) -> None:
    at = admin_app(store, monkeypatch)
    at.text_input(key="audit_person").set_value("analyst")
    at.button(key="audit_submit").click().run()
    assert at.dataframe[0].value.empty  # only the admin has signed in so far
    assert actions(store)[-1] == ("admin@joint.example", "search audit", "audit_log")
    at.run()  # the action list is read as the form is drawn, before this run's search was recorded
    at.text_input(key="audit_person").set_value("")
    at.selectbox(key="audit_action").set_value("search audit")
    at.button(key="audit_submit").click().run()
    assert list(at.dataframe[0].value["action"]) == ["search audit", "search audit"]


def test_a_non_admin_reaching_the_page_file_is_refused_and_audited(store: StoreBuilder, monkeypatch) -> None:
    # The navigation never offers the page to an analyst (tests/pages/test_pages.py); this is the page's own check,
    # as when Streamlit runs the page file directly.
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=60)
    at.session_state["viewer"] = UK_ANALYST
    at.session_state["page_path"] = "admin"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Your role does not give access to this page."]
    assert not at.dataframe and not at.text_input
    assert actions(store) == [("analyst@uk.example", "refused", "admin")]


def test_nobody_signed_in_reaching_the_page_file_sees_nothing(store: StoreBuilder, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=60).run()
    assert [e.value for e in at.error] == ["You are not signed in."]
    assert not at.dataframe and not at.markdown


def test_page_source_renders_no_stored_text_as_markdown() -> None:
    source = (ROOT / PAGE).read_text()
    assert "unsafe_allow_html" not in source and "st.html" not in source
    assert "st.markdown" not in source and "st.write(" not in source
