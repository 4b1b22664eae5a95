"""The assessment pages through Streamlit's AppTest, for each role, over a private copy of the demo store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from analytics.assessments.model import AssessmentDraft, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment, list_assessments
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    save_version,
    sign_off,
    submit_for_review,
)
from analytics.store.database import Store, close_all, open_store
from tests.conftest import AU_ANALYST, AU_LEAD, ROOT, TODAY, UK_ANALYST, UK_LEAD

WORKSPACE = "pages/assessments.py"
READER = "pages/assessments_read.py"


@pytest.fixture
def app(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, Callable[..., Any]]]:
    """A copy of the demo store (assessments are written to it) and an AppTest factory signed in as `email`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    # session.query's cache key is (function, viewer, store generation, args): each test's fresh store starts
    # at the same generations, so results cached for another test's store must go.
    st.cache_data.clear()
    path = tmp_path / "assessments.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("THREAT_DB", str(path))
    store = open_store(path)

    def make(email: str, page: str, query: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield store, make
    close_all()


def shared_incidents(store: Store, n: int = 3) -> list[str]:
    """Incidents every demo persona may see (GREEN, releasable to both)."""
    rows = (
        store.cursor()
        .execute(
            "select id from incidents where tlp = 'GREEN' and len(releasable_to) = 2 order by occurred_on desc, id limit ?",
            [n],
        )
        .fetchall()
    )
    return [r[0] for r in rows]


def make_assessment(store: Store, author=UK_ANALYST, title: str = "Agent misuse in finance") -> int:
    ids = shared_incidents(store)
    return create_assessment(
        store,
        author,
        AssessmentDraft(
            title=title,
            question="Will agentic misuse against banks rise?",
            bluf="Agentic misuse against banks is likely to rise through 2027.",
            judgements=(
                JudgementDraft(
                    "Criminal use of agent kits against banks will grow.",
                    "likely",
                    "moderate",
                    "Both institutes' reporting rose each quarter.",
                    (EvidenceRef("incident", ids[0]), EvidenceRef("incident", ids[1])),
                ),
            ),
            assumptions=("Reporting stays level",),
        ),
        today=TODAY,
    )


def markdown_text(at: Any) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_analyst_drafts_a_new_assessment_with_the_checker_and_saves_it(app) -> None:
    store, make = app
    evidence = shared_incidents(store, 1)[0]
    at = make("analyst@uk.example", WORKSPACE)
    assert [m.value for m in at.metric][:4] == ["0", "0", "0", "0"]
    at.button(key="as_new").click().run()
    k = at.session_state["ed_jkeys"][0]
    at.text_input(key="ed_title").input("Deepfake fraud against UK and AU banks").run()
    at.text_area(key="ed_bluf").input("Deepfake fraud will grow.").run()
    at.text_area(key=f"ed_j_{k}_statement").input("Fraudsters could clone executives' voices.").run()
    text = markdown_text(at)
    # the checker speaks as the author writes
    assert "Judgement 1 has no probability term" in text
    assert "uses “could”, which carries no probability" in text
    assert "Judgement 1 cites no evidence." in text
    at.selectbox(key=f"ed_j_{k}_term").set_value("highly likely").run()
    at.segmented_control(key=f"ed_j_{k}_conf").set_value("moderate").run()
    at.text_area(key=f"ed_j_{k}_statement").input("Fraudsters will clone executives' voices in 2027.").run()
    at.text_input(key=f"ed_j_{k}_q").input(evidence.lower()).run()
    at.multiselect(key=f"ed_j_{k}_evidence").set_value([f"incident:{evidence}"]).run()
    text = markdown_text(at)
    assert "no probability term" not in text and "“could”" not in text and "cites no evidence" not in text
    assert "TLP:GREEN" in text
    at.button(key="ed_save").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Saved A-")
    saved = list_assessments(store.cursor(), UK_ANALYST).data
    assert list(saved["title"]) == ["Deepfake fraud against UK and AU banks"]
    a = get_assessment(store.cursor(), UK_ANALYST, int(saved["id"][0]))
    assert [(j.term, j.confidence, [e.ref_id for e in j.evidence]) for j in a.judgements] == [
        ("highly likely", "moderate", [evidence])
    ]


def test_picking_an_icd_term_translates_it_and_warns(app) -> None:
    _, make = app
    at = make("analyst@au.example", WORKSPACE)
    at.button(key="as_new").click().run()
    k = at.session_state["ed_jkeys"][0]
    at.selectbox(key=f"ed_j_{k}_icd").set_value("unlikely").run()
    assert at.selectbox(key=f"ed_j_{k}_term").value == "unlikely"
    assert any(
        "ICD 203 'unlikely' covers 20–45%, but PHIA 'unlikely' covers 25–35%" in w.value for w in at.warning
    )
    assert any("is saved as PHIA unlikely (25–35%)" in c.value for c in at.caption)


def test_the_second_save_from_an_old_version_gets_a_conflict_with_both_texts(app) -> None:
    store, make = app
    aid = make_assessment(store)
    at = make("analyst@uk.example", WORKSPACE, {"a": str(aid)})
    at.text_input(key="ed_title").input("My UK title").run()
    # meanwhile an AU analyst saves version 2
    theirs = replace(get_assessment(store.cursor(), AU_ANALYST, aid).to_draft(), title="Their AU title")
    save_version(store, AU_ANALYST, aid, theirs, 1)
    at.button(key="ed_save").click().run()
    assert any(
        "Version 2 was saved by analyst@au.example after you opened version 1" in w.value for w in at.warning
    )
    text = markdown_text(at)
    assert "Saved: version 2" in text and "Yours: not saved yet" in text
    assert {"My UK title", "Their AU title"} <= {t.value for t in at.text}
    at.button(key="ed_keep_mine").click().run()
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert (a.version, a.title) == (3, "My UK title")
    assert get_assessment(store.cursor(), UK_ANALYST, aid, version=2).title == "Their AU title"


def test_lead_sees_awaiting_sign_off_and_signs(app) -> None:
    store, make = app
    aid = make_assessment(store)
    submit_for_review(store, UK_ANALYST, aid, 1)
    at = make("lead@au.example", WORKSPACE)
    assert at.metric[0].value == "1"  # awaiting my sign-off
    at = make("lead@au.example", WORKSPACE, {"a": str(aid)})
    at.button(key="rv_sign").click().run()
    assert any("Signed off. Status now: In review." in s.value for s in at.success)
    at = make("lead@uk.example", WORKSPACE, {"a": str(aid)})
    at.button(key="rv_sign").click().run()
    assert any("Status now: Approved" in s.value for s in at.success)
    assert get_assessment(store.cursor(), UK_LEAD, aid).status == "approved"


def test_author_lead_is_not_offered_sign_off(app) -> None:
    store, make = app
    aid = make_assessment(store, author=UK_LEAD)
    submit_for_review(store, UK_LEAD, aid, 1)
    at = make("lead@uk.example", WORKSPACE, {"a": str(aid)})
    assert not [b for b in at.button if b.key == "rv_sign"]
    assert any("You wrote part of this assessment" in i.value for i in at.info)


def test_lead_returns_with_comments_and_analyst_sees_them(app) -> None:
    store, make = app
    aid = make_assessment(store)
    submit_for_review(store, UK_ANALYST, aid, 1)
    at = make("lead@au.example", WORKSPACE, {"a": str(aid)})
    at.text_area(key="rv_return_text").input("Add the AU reporting.").run()
    at.button(key="rv_return").click().run()
    at = make("analyst@uk.example", WORKSPACE, {"a": str(aid)})
    assert any("Add the AU reporting" in w.value for w in at.warning)
    assert "Returned with comments" in markdown_text(at)


def test_policymaker_reads_only_approved_assessments(app) -> None:
    store, make = app
    approved = make_assessment(store, title="Approved brief")
    make_assessment(store, title="Still a draft")
    submit_for_review(store, UK_ANALYST, approved, 1)
    sign_off(store, UK_LEAD, approved, 1)
    sign_off(store, AU_LEAD, approved, 1)
    at = make("policy@au.example", READER)
    assert not at.error
    assert at.selectbox(key="read_pick").options == [f"A-{approved} · Approved brief"]
    assert [h.value for h in at.subheader] == ["Approved brief"]
    assert "Still a draft" not in markdown_text(at)
    assert "likely · 55–75%" in markdown_text(at)
    assert any("Based on 2 incidents" in c.value for c in at.caption)
    assert not at.dataframe  # no record-level table for policymakers
    assert not [b for b in at.button if b.key == "rv_sign"]


def test_analyst_reader_sees_pinned_evidence_and_changes(app) -> None:
    store, make = app
    aid = make_assessment(store)
    submit_for_review(store, UK_ANALYST, aid, 1)
    sign_off(store, UK_LEAD, aid, 1)
    sign_off(store, AU_LEAD, aid, 1)
    cited = get_assessment(store.cursor(), UK_ANALYST, aid).judgements[0].evidence[0].ref_id
    with store.transaction() as con:
        con.execute("update incidents set severity = 5, updated_at = current_timestamp where id = ?", [cited])
    at = make("analyst@au.example", READER)
    assert any("1 of the 2 records behind this assessment have changed" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert sorted(table["Since approval"]) == ["changed: severity", "unchanged"]


def test_empty_reader_page_for_policymaker(app) -> None:
    _, make = app
    at = make("policy@uk.example", READER)
    assert any("No approved assessments you are cleared for yet." in i.value for i in at.info)
    assert any("TLP:" in m.value for m in at.markdown)


def test_versions_tab_compares(app) -> None:
    store, make = app
    aid = make_assessment(store)
    d = get_assessment(store.cursor(), UK_ANALYST, aid).to_draft()
    j = d.judgements[0]
    save_version(store, AU_ANALYST, aid, replace(d, judgements=(replace(j, term="highly likely"),)), 1)
    at = make("analyst@uk.example", WORKSPACE, {"a": str(aid)})
    text = markdown_text(at)
    assert "**Probability term changed**" in text
    assert "judgement 1 → 1: likely → highly likely" in text


def test_widening_the_audience_tells_the_author_how_many_dissents_stay_behind(app) -> None:
    """A dissent written on a UK-only version is not carried to the wider version: the author is told a count,
    and the AU readers of the new version never see the dissent."""
    store, make = app
    aid = make_assessment(store)
    d = get_assessment(store.cursor(), UK_ANALYST, aid).to_draft()
    save_version(store, UK_ANALYST, aid, replace(d, restrict_to=("UK",)), 1)
    key = get_assessment(store.cursor(), UK_LEAD, aid).judgements[0].key
    add_comment(store, UK_LEAD, aid, 2, key, "UK-eyes-only dissent zqxpagecarry", dissent=True)
    at = make("analyst@uk.example", WORKSPACE, {"a": str(aid)})
    at.multiselect(key="ed_restrict").set_value([]).run()
    at.button(key="ed_save").click().run()
    assert not at.exception
    told = [w.value for w in at.warning]
    assert any(
        "Saved A-" in w and "1 dissent(s) on version 2 were not carried to version 3" in w for w in told
    ), told
    assert not any("zqxpagecarry" in w for w in told)
    at = make("lead@au.example", WORKSPACE, {"a": str(aid)})
    assert "zqxpagecarry" not in markdown_text(at)


def test_a_save_in_review_that_the_checker_blocks_is_refused_on_the_page(app) -> None:
    store, make = app
    aid = make_assessment(store)
    submit_for_review(store, UK_ANALYST, aid, 1)
    at = make("analyst@uk.example", WORKSPACE, {"a": str(aid)})
    assert any("In review, a save the checker blocks is refused." in c.value for c in at.caption)
    k = at.session_state["ed_jkeys"][0]
    at.selectbox(key=f"ed_j_{k}_term").set_value(None).run()
    at.button(key="ed_save").click().run()
    assert any(
        "Nothing was saved" in e.value and "Judgement 1 has no probability term" in e.value for e in at.error
    ), [e.value for e in at.error]
    assert get_assessment(store.cursor(), UK_ANALYST, aid).version == 1
