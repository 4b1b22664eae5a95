"""The Data exchange page through Streamlit's AppTest, on a store of its own (the page writes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.ingest import inbox
from analytics.ingest.tabular.commit import commit
from analytics.ingest.tabular.mapping import auto_mapping
from analytics.ingest.tabular.read import read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.store.database import close_all
from tests.conftest import ROOT, UK_ANALYST

CSV = (
    "id,title,occurred_on,category,severity,tlp,releasable_to\n"
    "P-1,One,2025-01-01,Jailbreak,3,GREEN,UK;AU\n"
    "P-2,Two,2025-01-02,Model theft,4,AMBER,UK\n"
)


@pytest.fixture
def page_store(store, monkeypatch):
    store.incident(id="SHARED", tlp="GREEN", releasable_to=["AU", "UK"])
    store.incident(id="STRICT", tlp="AMBER+STRICT", releasable_to=["AU", "UK"])
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    yield store
    close_all()


def open_page(email: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def download_labels(at: AppTest) -> list[str]:
    return [el.proto.label for el in at.get("download_button")]


def test_export_tab_shows_the_marking_and_offers_the_bundle(page_store) -> None:
    at = open_page("analyst@uk.example")
    banners = [m.value for m in at.markdown if "TLP:" in m.value]
    assert any("TLP:GREEN" in b and "1 incident releasable to AU" in b for b in banners), banners
    assert "STIX bundle for AU" in download_labels(at)
    at.radio(key="dx_partner").set_value("UK").run()
    banners = [m.value for m in at.markdown if "releasable to UK" in m.value]
    assert banners and "TLP:GREEN" in banners[0] and "1 incident " in banners[0]  # AMBER+STRICT never leaves


def test_history_and_undo_from_the_page(page_store) -> None:
    tf = read_tabular("partner.csv", CSV.encode())
    plan = validate(
        page_store.cursor(),
        tf,
        target="incidents",
        mapping=auto_mapping(tf.columns, "incidents"),
        institute="UK",
        tlp=None,
        releasable=None,
    )
    batch = commit(page_store.store, plan, actor="", viewer=UK_ANALYST).batch_id
    at = open_page("analyst@uk.example")
    assert at.selectbox(key="dx_undo_batch").value == batch
    assert at.button(key="dx_undo").disabled
    at.checkbox(key="dx_undo_sure").check().run()
    at.button(key="dx_undo").click().run()
    assert not at.exception
    assert any(f"undid {batch}" in s.value.replace("\\", "") for s in at.success), [
        s.value for s in at.success
    ]
    ids = page_store.cursor().execute("select id from incidents order by id").fetchall()
    assert ids == [("SHARED",), ("STRICT",)]
    audit = page_store.cursor().execute("select email from audit_log where action = 'undo import'").fetchall()
    assert audit == [("analyst@uk.example",)]


def test_the_page_imports_what_the_cli_handed_over(page_store, tmp_path: Path) -> None:
    src = tmp_path / "handed.csv"
    src.write_text(CSV)
    inbox.hand_over(
        page_store.store.path,
        src,
        kind="csv",
        actor="lead@uk.example",  # the outcome is shown to the person who handed the file over, only
        institute="UK",
        tlp=None,
        releasable=None,
    )
    # app.py ingests handed-over files on the first run of any page and says so in a toast
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "lead@uk.example"}  # type: ignore[assignment]
    at.run()
    assert any("Imported handed.csv" in t.value.replace("\\", "") for t in at.toast)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert page_store.cursor().execute("select count(*) from incidents").fetchall() == [(4,)]
    log = [df.value for df in at.dataframe if "outcome" in getattr(df.value, "columns", [])]
    assert log and log[0]["outcome"].tolist() == ["imported"]


def test_au_analyst_does_not_see_uk_batches(page_store) -> None:
    tf = read_tabular("partner.csv", CSV.encode())
    plan = validate(
        page_store.cursor(),
        tf,
        target="incidents",
        mapping=auto_mapping(tf.columns, "incidents"),
        institute="UK",
        tlp=None,
        releasable=None,
    )
    commit(page_store.store, plan, actor="", viewer=UK_ANALYST)
    at = open_page("analyst@au.example")
    assert all(sb.key != "dx_undo_batch" for sb in at.selectbox)
    assert any("No imports yet that you may see" in i.value for i in at.info)
