"""User management and the audit log: admins only, nobody changes themselves, every change and every refusal
audited, the log searchable with bound values and never rewritten."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from analytics.access.viewer import AccessDenied, Viewer
from analytics.accounts import users
from analytics.store import audit
from tests.conftest import ADMIN, AU_LEAD, ROOT, UK_ANALYST, StoreBuilder

SECOND_ADMIN = Viewer("admin2@joint.example", "Alex Morgan", "JOINT", "admin")


def log(store: StoreBuilder) -> list[tuple[str, str, str, str | None]]:
    return (
        store.cursor().execute("select email, action, object, detail from audit_log order by id").fetchall()
    )


def user_row(store: StoreBuilder, email: str) -> tuple | None:
    return (
        store.cursor()
        .execute("select name, institute, role, active from users where email = ?", [email])
        .fetchone()
    )


def test_enrol_adds_an_active_user_and_audits_it(store: StoreBuilder) -> None:
    users.enrol(
        store.store,
        ADMIN,
        email=" New.Analyst@UK.example ",
        name="  Ada   Lovelace ",
        institute="UK",
        role="analyst",
    )
    assert user_row(store, "new.analyst@uk.example") == ("Ada Lovelace", "UK", "analyst", True)
    assert log(store) == [
        (
            "admin@joint.example",
            "enrol user",
            "user:new.analyst@uk.example",
            '{"institute": "UK", "role": "analyst"}',
        )
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": "not-an-email"}, "is not an email address"),
        ({"email": "analyst@uk.example"}, "already enrolled"),
        ({"name": "   "}, "a name of 1 to 120 characters"),
        ({"institute": "US"}, "institute must be one of UK, AU, JOINT"),
        ({"role": "superuser"}, "role must be one of"),
        ({"email": "ADMIN@joint.example"}, "cannot enrol yourself"),
    ],
)
def test_enrol_refuses_bad_input_and_writes_nothing(store: StoreBuilder, kwargs: dict, message: str) -> None:
    before = store.cursor().execute("select count(*) from users").fetchone()
    args = {"email": "x@uk.example", "name": "X", "institute": "UK", "role": "analyst", **kwargs}
    with pytest.raises(users.UserRefused, match=message):
        users.enrol(store.store, ADMIN, **args)
    assert store.cursor().execute("select count(*) from users").fetchone() == before
    assert log(store) == []


@pytest.mark.parametrize("who", [UK_ANALYST, AU_LEAD])
def test_non_admins_are_refused_and_the_attempt_is_audited(store: StoreBuilder, who: Viewer) -> None:
    attempts = [
        (
            "enrol user",
            lambda: users.enrol(
                store.store, who, email="x@uk.example", name="X", institute="UK", role="admin"
            ),
        ),
        ("change role", lambda: users.change_role(store.store, who, who.email, "admin")),
        ("disable user", lambda: users.set_active(store.store, who, "policy@uk.example", False)),
        ("enable user", lambda: users.set_active(store.store, who, "policy@uk.example", True)),
    ]
    for _, attempt in attempts:
        with pytest.raises(AccessDenied):
            attempt()
    with pytest.raises(AccessDenied):
        users.list_users(store.cursor(), who)
    with pytest.raises(AccessDenied):
        audit.search(store.cursor(), who)
    assert user_row(store, who.email) == (who.name, who.institute, who.role, True)
    assert user_row(store, "x@uk.example") is None
    assert [(e, a, d) for e, a, _, d in log(store)] == [
        (who.email, "refused", f'{{"action": "{action}", "role": "{who.role}"}}') for action, _ in attempts
    ]


def test_nobody_changes_their_own_role_or_disables_themselves(store: StoreBuilder) -> None:
    with pytest.raises(users.UserRefused, match="cannot change the role of yourself"):
        users.change_role(store.store, ADMIN, "admin@joint.example", "analyst")
    with pytest.raises(users.UserRefused, match="cannot disable or enable yourself"):
        users.set_active(store.store, ADMIN, "Admin@Joint.example", False)
    assert user_row(store, "admin@joint.example") == ("Sam Taylor", "JOINT", "admin", True)


def test_there_is_no_way_to_change_an_institute() -> None:
    # Institutes are fixed at enrolment: the module offers no function that writes one after that.
    source = (ROOT / "analytics" / "accounts" / "users.py").read_text()
    assert not re.search(r"update users set[^\"]*institute", source)


def test_change_role_and_disable_enable_are_audited(store: StoreBuilder) -> None:
    users.change_role(store.store, ADMIN, "analyst@au.example", "lead")
    users.set_active(store.store, ADMIN, "analyst@au.example", False)
    users.set_active(store.store, ADMIN, "analyst@au.example", True)
    assert user_row(store, "analyst@au.example") == ("Liam Nguyen", "AU", "lead", True)
    assert log(store) == [
        (
            "admin@joint.example",
            "change role",
            "user:analyst@au.example",
            '{"from": "analyst", "to": "lead"}',
        ),
        ("admin@joint.example", "disable user", "user:analyst@au.example", None),
        ("admin@joint.example", "enable user", "user:analyst@au.example", None),
    ]
    with pytest.raises(users.UserRefused, match="already lead"):
        users.change_role(store.store, ADMIN, "analyst@au.example", "lead")
    with pytest.raises(users.UserRefused, match="already active"):
        users.set_active(store.store, ADMIN, "analyst@au.example", True)
    with pytest.raises(users.UserRefused, match="no enrolled user"):
        users.change_role(store.store, ADMIN, "ghost@au.example", "lead")
    assert len(log(store)) == 3


def test_an_admin_disabled_or_demoted_meanwhile_cannot_act_on_a_stale_session(store: StoreBuilder) -> None:
    users.enrol(
        store.store, ADMIN, email=SECOND_ADMIN.email, name=SECOND_ADMIN.name, institute="JOINT", role="admin"
    )
    users.change_role(store.store, SECOND_ADMIN, ADMIN.email, "analyst")
    # ADMIN's Viewer still says admin (a stale session), but the store no longer does.
    with pytest.raises(AccessDenied, match="withdrawn"):
        users.set_active(store.store, ADMIN, SECOND_ADMIN.email, False)
    assert user_row(store, SECOND_ADMIN.email)[3] is True
    assert log(store)[-1] == (
        "admin@joint.example",
        "refused",
        "user:admin2@joint.example",
        '{"action": "disable user", "reason": "not an active admin"}',
    )


def test_list_users_shows_everyone_to_an_admin(store: StoreBuilder) -> None:
    users.set_active(store.store, ADMIN, "policy@au.example", False)
    df = users.list_users(store.cursor(), ADMIN)
    assert len(df) == 7
    assert df["email"].iloc[-1] == "policy@au.example"  # disabled users last
    assert list(df.columns) == ["email", "name", "institute", "role", "active", "created_at"]


# -- the audit log ----------------------------------------------------------------------------------------------


def _entries(store: StoreBuilder) -> None:
    with store.store.transaction() as tx:
        for at, email, action, obj, detail in [
            (datetime(2026, 11, 1, 9), "analyst@uk.example", "sign-in", "", '{"mode": "oidc"}'),
            (datetime(2026, 11, 2, 10), "analyst@uk.example", "export", "incidents.csv", '{"rows": 12}'),
            (datetime(2026, 11, 3, 23, 59), "lead@au.example", "approve", "assessment:7", None),
            (
                datetime(2026, 11, 4, 0, 0),
                "lead@au.example",
                "marking change",
                "incident:T-9",
                '{"from": "GREEN", "to": "RED"}',
            ),
        ]:
            tx.execute(
                'insert into audit_log ("at", email, action, object, detail) values (?, ?, ?, ?, ?)',
                [at, email, action, obj, detail],
            )


def _ids(df) -> list[str]:  # type: ignore[no-untyped-def]
    return list(df["action"])


def test_audit_search_by_person_action_text_and_date(store: StoreBuilder) -> None:
    _entries(store)
    con = store.cursor()
    assert _ids(audit.search(con, ADMIN)) == ["marking change", "approve", "export", "sign-in"]
    assert _ids(audit.search(con, ADMIN, email="ANALYST@UK")) == ["export", "sign-in"]
    assert _ids(audit.search(con, ADMIN, action="approve")) == ["approve"]
    assert _ids(audit.search(con, ADMIN, text="t-9")) == ["marking change"]
    assert _ids(audit.search(con, ADMIN, text="RED")) == ["marking change"]
    # dates are whole days, both ends included
    assert _ids(audit.search(con, ADMIN, date_from=date(2026, 11, 2), date_to=date(2026, 11, 3))) == [
        "approve",
        "export",
    ]
    assert _ids(audit.search(con, ADMIN, date_from=date(2026, 11, 4))) == ["marking change"]
    assert _ids(audit.search(con, ADMIN, email="lead", action="approve", date_to=date(2026, 11, 3))) == [
        "approve"
    ]
    assert len(audit.search(con, ADMIN, limit=2)) == 2
    assert len(audit.search(con, ADMIN, limit=10**9)) == 4
    assert audit.actions(con, ADMIN) == ["approve", "export", "marking change", "sign-in"]


@pytest.mark.parametrize(
    "payload",
    ["'; delete from audit_log; --", "%", "_", "' or '1'='1", "\\", "lead@au.example' --", "]]>{}$(x)"],
)
def test_audit_search_values_are_inert(store: StoreBuilder, payload: str) -> None:
    _entries(store)
    con = store.cursor()
    for kwargs in ({"email": payload}, {"text": payload}, {"action": payload}):
        assert audit.search(con, ADMIN, **kwargs).empty
    assert con.execute("select count(*) from audit_log").fetchone() == (4,)


def test_nothing_in_the_product_rewrites_the_audit_log() -> None:
    pattern = re.compile(
        r"(update\s+audit_log|delete\s+from\s+audit_log|drop\s+table\s+audit_log|truncate\s+(table\s+)?audit_log)",
        re.I,
    )
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("analytics", "pages")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".sql") and pattern.search(p.read_text())
    ]
    offenders += ["app.py"] if pattern.search((ROOT / "app.py").read_text()) else []
    assert offenders == []


def test_refusal_helper_audits_and_raises(store: StoreBuilder) -> None:
    with pytest.raises(AccessDenied):
        audit.require(store.store, UK_ANALYST, "lead", "admin", action="approve", obj="assessment:3")
    audit.require(store.store, AU_LEAD, "lead", action="approve", obj="assessment:3")  # allowed: no entry
    assert log(store) == [
        ("analyst@uk.example", "refused", "assessment:3", '{"action": "approve", "role": "analyst"}')
    ]
