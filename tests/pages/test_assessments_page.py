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
    # both changed the title: a conflict, both texts side by side with the differing words highlighted
    assert "1 conflicting field" in text and "**Title**" in text
    assert ":green-background[Their AU]" in text and ":red-background[My UK]" in text, text
    # their change is kept unless discarded: discard it for the title, and save the merge
    at.checkbox(key="ed_discard_title").check().run()
    at.button(key="ed_merge_save").click().run()
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
        "Saved A-" in w and "1 dissent on version 2 was not carried to version 3" in w for w in told
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


# -- edits never lost, notes, diff, inbox (issue 18) -------------------------------------------------------------


def _open(make: Callable[..., Any], email: str, aid: int) -> Any:
    return make(email, WORKSPACE, {"a": str(aid)})


def test_two_sessions_editing_one_version_keep_both_authors_changes(app) -> None:
    """Two analysts edit version 1 at once, each in their own session: the UK analyst changes judgement 1's
    reasoning and saves; the AU analyst changes the bottom line, saves, gets the merge and saves it. Version 3
    holds both changes."""
    store, make = app
    aid = make_assessment(store)
    uk = _open(make, "analyst@uk.example", aid)
    au = _open(make, "analyst@au.example", aid)
    k = uk.session_state["ed_jkeys"][0]
    uk.text_area(key=f"ed_j_{k}_reasoning").input("UK and AU reporting rose in each of six quarters.").run()
    uk.button(key="ed_save").click().run()
    assert not uk.exception and get_assessment(store.cursor(), UK_ANALYST, aid).version == 2
    au.text_area(key="ed_bluf").input(
        "Agentic misuse against banks is highly likely to rise through 2027."
    ).run()
    au.button(key="ed_save").click().run()
    assert not au.exception, [e.message for e in au.exception]
    text = markdown_text(au)
    assert "No conflicting fields" in text, text
    assert "Judgement 1 · reasoning" in text  # kept from their version, named
    assert "Bottom line up front" in text  # kept from mine
    au.button(key="ed_merge_save").click().run()
    assert not au.exception, [e.message for e in au.exception]
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert a.version == 3
    assert a.bluf == "Agentic misuse against banks is highly likely to rise through 2027."
    assert a.judgements[0].reasoning == "UK and AU reporting rose in each of six quarters."


def test_a_conflicting_field_shows_both_highlighted_and_keeps_theirs_unless_discarded(app) -> None:
    store, make = app
    aid = make_assessment(store)
    uk = _open(make, "analyst@uk.example", aid)
    au = _open(make, "analyst@au.example", aid)
    k = uk.session_state["ed_jkeys"][0]
    uk.text_area(key=f"ed_j_{k}_reasoning").input("Both institutes' reporting rose for six quarters.").run()
    uk.text_area(key="ed_assumptions").input("Reporting stays level\nBanks keep reporting").run()
    uk.button(key="ed_save").click().run()
    au.text_area(key=f"ed_j_{k}_reasoning").input("Both institutes' reporting doubled <b>[x](y)</b>.").run()
    au.button(key="ed_save").click().run()
    text = markdown_text(au)
    assert "1 conflicting field" in text
    # word-level highlighting of the two texts, stored text escaped
    assert (
        ":red-background[doubled]" in text
        or ":red-background[doubled \\<b\\>\\[x\\]\\(y\\)\\</b\\>\\.]" in text
    )
    assert ":green-background[rose for six quarters\\.]" in text, text
    assert "<b>" not in text
    # by default the merge keeps theirs in the conflicting field, and the other field they changed: the merge is
    # then their version as saved, so nothing new is written
    au.button(key="ed_merge_save").click().run()
    assert not au.error, [e.value for e in au.error]
    assert any("No changes to save: version 2 already holds them." in m.value for m in au.success)
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert a.version == 2 and a.judgements[0].reasoning == "Both institutes' reporting rose for six quarters."
    assert a.assumptions == ("Reporting stays level", "Banks keep reporting")


def test_discarding_their_change_in_one_field_keeps_the_rest_of_theirs(app) -> None:
    store, make = app
    aid = make_assessment(store)
    uk = _open(make, "analyst@uk.example", aid)
    au = _open(make, "analyst@au.example", aid)
    k = uk.session_state["ed_jkeys"][0]
    uk.text_area(key=f"ed_j_{k}_reasoning").input("UK reasoning.").run()
    uk.text_input(key="ed_title").input("UK title").run()
    uk.button(key="ed_save").click().run()
    au.text_area(key=f"ed_j_{k}_reasoning").input("AU reasoning.").run()
    au.button(key="ed_save").click().run()
    au.checkbox(key=f"ed_discard_judgement.{k}.reasoning").check().run()
    au.button(key="ed_merge_save").click().run()
    a = get_assessment(store.cursor(), UK_ANALYST, aid)
    assert (a.title, a.judgements[0].reasoning) == ("UK title", "AU reasoning.")


def test_the_note_for_a_version_is_saved_and_shown(app) -> None:
    store, make = app
    aid = make_assessment(store)
    at = _open(make, "analyst@uk.example", aid)
    at.text_area(key="ed_bluf").input("Agentic misuse is highly likely to rise.").run()
    at.text_input(key="ed_note").input("Raised the bottom line after AU data").run()
    at.button(key="ed_save").click().run()
    assert not at.exception
    tables = [d.value for d in at.dataframe if "Note" in d.value.columns]
    assert tables and list(tables[0]["Note"]) == ["Raised the bottom line after AU data", "created"], tables


def test_versions_tab_shows_the_words_changed_and_the_evidence_ids(app) -> None:
    store, make = app
    aid = make_assessment(store)
    d = get_assessment(store.cursor(), UK_ANALYST, aid).to_draft()
    j = d.judgements[0]
    extra = shared_incidents(store, 3)[2]
    edited = replace(
        j,
        reasoning="Both institutes' reporting doubled each quarter.",
        evidence=(j.evidence[0], EvidenceRef("incident", extra)),
    )
    save_version(store, AU_ANALYST, aid, replace(d, judgements=(edited,)), 1)
    at = _open(make, "analyst@uk.example", aid)
    text = markdown_text(at)
    assert ":red-background[rose each quarter\\.]" in text or ":red-background[rose]" in text, text
    assert ":green-background[doubled each quarter\\.]" in text or ":green-background[doubled]" in text, text
    assert f"**added** {inert_id(extra)} · " in text, text
    assert f"**removed** {inert_id(j.evidence[1].ref_id)} · " in text, text
    assert "TLP:GREEN" in text


def inert_id(ref_id: str) -> str:
    from pages.ui import inert_markdown

    return inert_markdown(ref_id)


def test_the_inbox_tells_a_lead_a_sign_off_waits_and_an_author_it_came_back(app) -> None:
    store, make = app
    aid = make_assessment(store, title="Waiting one")
    submit_for_review(store, UK_ANALYST, aid, 1)
    at = make("lead@au.example", WORKSPACE)
    text = markdown_text(at)
    assert "Waiting for your sign-off" in text and f"A-{aid} · Waiting one" in text, text
    at.button(key=f"inbox_open_{aid}").click().run()
    assert at.session_state["as_open"] == aid
    from analytics.assessments.workflow import return_for_changes

    return_for_changes(store, AU_LEAD, aid, 1, "Add the AU reporting.")
    at = make("analyst@uk.example", WORKSPACE)
    text = markdown_text(at)
    assert "Returned to you" in text and f"A-{aid} · Waiting one" in text and "lead@au" not in text, text
    at = make("lead@au.example", WORKSPACE)
    assert "Waiting for your sign-off" not in markdown_text(at)


def test_a_warning_when_no_lead_of_an_institute_can_sign(app) -> None:
    store, make = app
    aid = make_assessment(store, author=UK_LEAD)  # the only UK lead wrote it
    at = _open(make, "lead@uk.example", aid)
    assert any("No UK lead can sign this off" in w.value for w in at.warning), [w.value for w in at.warning]
    # a lead about to edit someone else's draft is told saving would leave nobody of their institute to sign
    other = make_assessment(store, title="Analyst draft")
    at = _open(make, "lead@au.example", other)
    assert any(
        "If you save, you become an author" in w.value and "no other AU lead" in w.value for w in at.warning
    ), [w.value for w in at.warning]
    at = _open(make, "analyst@au.example", other)
    assert not any("can sign this off" in w.value for w in at.warning)


def test_the_icd_caption_follows_the_phia_term(app) -> None:
    _, make = app
    at = make("analyst@au.example", WORKSPACE)
    at.button(key="as_new").click().run()
    k = at.session_state["ed_jkeys"][0]
    at.selectbox(key=f"ed_j_{k}_icd").set_value("unlikely").run()
    assert any("is saved as PHIA unlikely" in c.value for c in at.caption)
    at.selectbox(key=f"ed_j_{k}_term").set_value("likely").run()
    assert not any("is saved as PHIA unlikely" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.selectbox(key=f"ed_j_{k}_icd").value is None


def test_the_tlp_picker_and_the_marking_at_the_top_name_the_derived_marking(app) -> None:
    store, make = app
    aid = make_assessment(store)
    at = _open(make, "analyst@uk.example", aid)
    picker = at.selectbox(key="ed_raise")
    # the picker's "as is" choice names the marking the draft derives, the same TLP as the banners show
    assert picker.format_func("") == "TLP:GREEN (as derived)"
    assert picker.options == [
        "TLP:GREEN (as derived)",
        "Raise to TLP:AMBER",
        "Raise to TLP:AMBER+STRICT",
        "Raise to TLP:RED",
    ]
    picker.set_value("AMBER+STRICT").run()
    top = [m.value for m in at.markdown if "this draft will be marked" in m.value]
    assert top and "TLP:AMBER+STRICT" in top[0], top
    assert any("TLP:AMBER+STRICT" in m.value for m in at.sidebar.markdown)


def test_the_protective_marking_is_chosen_in_the_editor_and_saved_with_the_version(app) -> None:
    """Issue 18: the protective marking (UK GSC / AU PSPF) is set per assessment from the editor, shown in both
    schemes' words, and stored with the version the briefings print it from."""
    store, make = app
    aid = make_assessment(store)
    at = _open(make, "analyst@uk.example", aid)
    picker = at.selectbox(key="ed_protective")
    assert picker.value == "OFFICIAL"
    assert "UK OFFICIAL-SENSITIVE · AU OFFICIAL: Sensitive" in picker.options
    picker.set_value("OFFICIAL-SENSITIVE").run()
    at.text_input(key="ed_note").input("Sensitive sourcing").run()
    at.button(key="ed_save").click().run()
    assert not at.exception
    assert get_assessment(store.cursor(), UK_ANALYST, aid).protective == "OFFICIAL-SENSITIVE"
