"""Demo sign-in across reloads, links narrowed for a role, the policymakers' pages on the `make run` store, and
the watch inbox (issue 20). AppTest runs of app.py, every rerun through app.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analytics.accounts import identity
from analytics.filters import Filters
from analytics.ingest.tabular.commit import import_tabular
from analytics.store.database import close_all, open_store
from analytics.views import save_view
from analytics.watchlists import watch
from tests.conftest import ROOT, TEST_OIDC_AUTH, UK_ANALYST


@pytest.fixture(scope="module")
def showcase_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `make run` store without the public sets (they add nothing these tests read)."""
    path = tmp_path_factory.mktemp("showcase") / "demo.duckdb"
    cmd = [sys.executable, "-m", "analytics", "demo", "--db", str(path), "--incidents", "3000", "--showcase"]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return path


def demo_app(db: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None) -> Any:
    from streamlit.testing.v1 import AppTest

    close_all()  # the app opens the store itself, as the server would
    monkeypatch.setenv("THREAT_DB", str(db))
    monkeypatch.setenv("THREAT_DEMO_MODE", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at


def signed_in_name(at: Any) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def test_a_demo_persona_survives_a_reload(showcase_db, monkeypatch, navigation_mode) -> None:
    at = demo_app(showcase_db, monkeypatch).run()
    at.button(key="persona_analyst@uk.example").click().run()
    assert at.query_params[identity.PERSONA_PARAM] == "analyst@uk.example"
    reloaded = demo_app(showcase_db, monkeypatch, {"persona": "analyst@uk.example"}).run()  # a new session
    assert not reloaded.exception
    assert "Priya Shah" in signed_in_name(reloaded)
    assert not [b for b in reloaded.button if b.key and b.key.startswith("persona_")]
    reloaded.sidebar.button[0].click().run()  # Sign out: the address no longer names the persona
    assert identity.PERSONA_PARAM not in reloaded.query_params
    assert [b for b in reloaded.button if b.key and b.key.startswith("persona_")]


@pytest.mark.parametrize("value", ["stranger@evil.example", ""])
def test_the_persona_parameter_names_only_a_persona(showcase_db, monkeypatch, navigation_mode, value) -> None:
    at = demo_app(showcase_db, monkeypatch, {"persona": value}).run()
    assert [b for b in at.button if b.key and b.key.startswith("persona_")]  # still choosing


def test_the_persona_parameter_means_nothing_outside_demo_mode(
    showcase_db, monkeypatch, navigation_mode
) -> None:
    at = demo_app(showcase_db, monkeypatch, {"persona": "admin@joint.example"})
    monkeypatch.delenv("THREAT_DEMO_MODE")
    at.run()
    assert "Sign-in is not configured" in at.error[0].value
    at = demo_app(showcase_db, monkeypatch, {"persona": "admin@joint.example"})
    monkeypatch.delenv("THREAT_DEMO_MODE")
    at.secrets["auth"] = dict(TEST_OIDC_AUTH)
    at.run()
    assert "Sam Taylor" not in signed_in_name(at)
    assert not at.metric


def test_a_policymaker_told_why_an_analysts_link_was_narrowed(
    showcase_db, monkeypatch, navigation_mode
) -> None:
    at = demo_app(showcase_db, monkeypatch).run()
    # What the sign-in screen keeps of a link to /explorer?cat=Jailbreak&q=leak followed before sign-in.
    at.session_state["after_sign_in"] = ("explorer", {"cat": ["Jailbreak"], "q": ["leak"]})
    at.button(key="persona_policy@uk.example").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Overview"]
    notes = [i.value for i in at.info]
    assert any(
        "opens the Incident explorer page, which is for analysts, leads and administrators; as a policymaker "
        "you see the Overview instead" in n
        for n in notes
    ), notes


def test_the_policymakers_pages_are_not_empty(showcase_db, monkeypatch, navigation_mode) -> None:
    at = demo_app(showcase_db, monkeypatch).run()
    at.button(key="persona_policy@au.example").click().run()
    text = " ".join(m.value for m in at.markdown)
    assert "Agentic AI misuse against financial services" in text
    at.switch_page("pages/assessments_read.py").run()
    assert not at.exception
    assert "Agentic AI misuse against financial services" in " ".join(
        [m.value for m in at.markdown] + [s.value for s in at.subheader] + [h.value for h in at.header]
    )


def test_the_watch_inbox_shows_news_on_the_next_visit(tmp_path, monkeypatch, navigation_mode) -> None:
    db = tmp_path / "watch.duckdb"
    subprocess.run(
        [sys.executable, "-m", "analytics", "demo", "--db", str(db), "--incidents", "500"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    store = open_store(db)
    with store.transaction(changes_records=False) as con:
        view = save_view(
            con, UK_ANALYST, "Model theft watch", "explorer", Filters(categories=("Model theft",))
        )
    watch(store, UK_ANALYST, view)
    csv_path = tmp_path / "new.csv"
    csv_path.write_text(
        "id,title,occurred_on,category,severity,sectors,tlp,releasable_to\n"
        'W-1,Weights exfiltrated from a lab,2026-11-18,Model theft,4,technology,GREEN,"UK,AU"\n'
    )
    import_tabular(store, csv_path, actor="t@x", institute="AU", tlp=None, releasable=None)
    at = demo_app(db, monkeypatch).run()
    at.button(key="persona_analyst@uk.example").click().run()
    assert not at.exception
    assert [e.label for e in at.expander if e.label.startswith("Watchlist:")] == [
        "Watchlist: 1 new since your last visit"
    ]
    frames = [df.value for df in at.dataframe]
    assert any(
        "Weights exfiltrated from a lab" in f.get("Title", []).tolist() for f in frames if "Title" in f
    )
    again = demo_app(db, monkeypatch, {"persona": "analyst@uk.example"}).run()  # the next visit
    assert not [e for e in again.expander if e.label.startswith("Watchlist:")]


def test_a_signed_in_policymaker_opening_an_analysts_address_is_told_why(app_factory) -> None:
    """Signed in already (an OIDC identity cookie), the address names a page the role does not open."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "policy@uk.example"}  # type: ignore[assignment]
    at.context["url"] = "http://localhost:8501/matrix"
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Overview"]
    assert any("opens the Threat matrix page, which is for analysts" in i.value for i in at.info)
    at.context["url"] = "http://localhost:8501/assessments_read"
    at.switch_page("pages/assessments_read.py").run()  # moving on: it was said on the page it landed on
    assert not at.exception
    assert not any("Threat matrix page" in i.value for i in at.info)
