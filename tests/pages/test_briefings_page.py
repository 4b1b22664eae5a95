"""The Briefings page through AppTest: assessment choices by role, ordering, the marking banner and outline."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.demo.generator import build_demo
from analytics.store.database import Store
from tests.analytics.export.test_briefing_builder import _approve, _assessment
from tests.conftest import ROOT, TODAY


class _Builder:
    """Just enough of tests.conftest.StoreBuilder for the assessment helpers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def cursor(self):
        return self.store.cursor()


@pytest.fixture(scope="module")
def briefing_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    path = tmp_path_factory.mktemp("briefings") / "briefings.duckdb"
    s = Store(path)
    build_demo(s, incidents=400, seed=5)
    ids = [
        r[0]
        for r in s.cursor()
        .execute(
            "select id from incidents where tlp in ('CLEAR', 'GREEN') and list_has_all(releasable_to, ['UK', 'AU']) "
            "order by id limit 2"
        )
        .fetchall()
    ]
    b = _Builder(s)
    approved = _assessment(b, evidence=ids)
    _approve(b, approved)
    draft = _assessment(b, evidence=ids[:1], title="Draft on jailbreak kits")
    s.close()
    return path, approved, draft


def _app(db: Path, email: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("THREAT_DB", str(db))
    monkeypatch.setenv("THREAT_TODAY", TODAY.isoformat())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
    at.run()
    at.switch_page("pages/briefings.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _banner(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "TLP:" in m.value)


def test_analyst_can_brief_from_a_draft_which_is_flagged(briefing_db, monkeypatch) -> None:
    db, approved, draft = briefing_db
    at = _app(db, "analyst@uk.example", monkeypatch)
    box = at.selectbox(key="brf_assessment")
    assert set(box.options) == {
        "None: a chart pack",
        f"A-{approved} · Agentic AI misuse in finance, 2027 · Approved · v1",
        f"A-{draft} · Draft on jailbreak kits · Draft · v1",
    }
    box.set_value(draft).run()
    assert not at.exception
    assert "DRAFT" in _banner(at) and "7 slides" not in _banner(at)
    outline = next(t.value for t in at.text if t.value.startswith("1. Draft"))
    assert outline.splitlines() == [
        "1. Draft on jailbreak kits",
        "2. Bottom line",
        "3. Key judgement 1",
        "4. Key judgement 2",
        "5. What changed since the last assessment",
        "6. Assumptions",
        "7. Alternative views",
        "8. Indicators that would change these judgements",
        "9. Dissent",
        "10. Approval",
        "11. Evidence annex",
        "12. Incidents by category and reporting institute",
        "13. Sources",
    ]
    assert [b.proto.label for b in at.get("download_button")][:4] == [
        "PowerPoint (16:9)",
        "Word",
        "PDF",
        "Markdown",
    ]
    assert all(not b.proto.disabled for b in at.get("download_button")[:4])


def test_policymaker_is_offered_approved_assessments_only(briefing_db, monkeypatch) -> None:
    db, approved, _ = briefing_db
    at = _app(db, "policy@au.example", monkeypatch)
    assert at.selectbox(key="brf_assessment").options == [
        "None: a chart pack",
        f"A-{approved} · Agentic AI misuse in finance, 2027 · Approved · v1",
    ]
    at.selectbox(key="brf_assessment").set_value(approved).run()
    assert not at.exception and not at.error
    # 13 slides and the default chart's editable native slide before its image
    assert "DRAFT" not in _banner(at) and "14 slides" in _banner(at)


def test_the_default_chart_is_drawn_at_the_assessments_marking(briefing_db, monkeypatch) -> None:
    """Finding 6: a joint assessment briefed by a policymaker stays at its marking with the default chart."""
    db, approved, _ = briefing_db
    at = _app(db, "policy@uk.example", monkeypatch)
    at.selectbox(key="brf_assessment").set_value(approved).run()
    assert not at.exception
    assert at.multiselect(key="brf_charts").value == ["by_category|current@assessment"]
    assert "releasable to **AU and UK**" in _banner(at) and "AMBER+STRICT" not in _banner(at)
    assert not at.warning
    # The labels say each chart's marking before it is chosen; a full-scope chart says it would raise it.
    options = at.multiselect(key="brf_charts").options
    assert any("at the assessment's marking" in o and "releasable to AU and UK" in o for o in options)
    at.multiselect(key="brf_charts").set_value(["by_category|current"]).run()
    assert "releasable to **UK**" in _banner(at)
    assert any("raises the briefing" in w.value for w in at.warning)
    assert any("UK OFFICIAL · AU OFFICIAL" in c.value for c in at.caption)


def test_charts_are_ordered_and_removed_with_the_row_buttons(briefing_db, monkeypatch) -> None:
    db, _, _ = briefing_db
    at = _app(db, "lead@uk.example", monkeypatch)
    at.multiselect(key="brf_charts").set_value(["by_category|current", "by_severity|current"]).run()
    at.button(key="brf_down_0").click().run()
    assert at.multiselect(key="brf_charts").value == ["by_severity|current", "by_category|current"]
    at.button(key="brf_rm_1").click().run()
    assert at.multiselect(key="brf_charts").value == ["by_severity|current"]
    at.button(key="brf_rm_0").click().run()
    assert at.multiselect(key="brf_charts").value == []
    assert "nothing chosen yet" in _banner(at)
    assert all(b.proto.disabled for b in at.get("download_button")[:4])
