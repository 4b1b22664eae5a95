"""The editor's checker highlights each problem inline (issue 18, finding 7): the author's text is shown escaped,
with highlight markup only around the spans the checker found, never through unsafe_allow_html."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.store.database import close_all
from pages.parts.assessment_editor import highlighted_markdown
from tests.conftest import ROOT

WORKSPACE = "pages/assessments.py"


@pytest.fixture
def make(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    path = tmp_path / "assessments.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("THREAT_DB", str(path))

    def make(email: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        at.run()
        at.switch_page(WORKSPACE).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield make
    close_all()


def test_highlighting_marks_only_the_spans_and_escapes_everything_else() -> None:
    text = "Attackers could hit [banks](javascript:x) <b>now</b> :red[x] perhaps."
    could = text.index("could")
    perhaps = text.index("perhaps")
    md = highlighted_markdown(text, [(could, could + 5), (perhaps, perhaps + 7)])
    assert md.count(":orange-background[") == 2
    assert ":orange-background[could]" in md and ":orange-background[perhaps]" in md
    # nothing the author wrote can act as Markdown, a directive or HTML
    assert "\\[banks\\]\\(javascript\\:x\\)" in md
    assert "\\<b\\>now\\</b\\>" in md
    assert "\\:red\\[x\\]" in md
    # words either side of a span keep their spaces
    assert md.startswith("Attackers :orange-background[could] hit ")


def test_overlapping_spans_and_a_span_over_the_whole_text() -> None:
    text = "It is not likely that banks fall."
    assert highlighted_markdown(text, [(6, 16), (10, 16)]) == (
        "It is :orange-background[not likely] that banks fall\\."
    )
    assert highlighted_markdown(text, [(0, len(text))]) == "It is not likely that banks fall\\."  # no "where"


def test_the_editor_highlights_the_words_the_checker_flags(make: Callable[..., Any]) -> None:
    at = make("analyst@uk.example")
    at.button(key="as_new").click().run()
    k = at.session_state["ed_jkeys"][0]
    at.selectbox(key=f"ed_j_{k}_term").set_value("likely").run()
    at.segmented_control(key=f"ed_j_{k}_conf").set_value("low").run()
    at.text_area(key=f"ed_j_{k}_statement").input(
        "We assess with high confidence that <i>crews</i> will almost certainly not adopt agents in 2027."
    ).run()
    at.text_area(key=f"ed_j_{k}_reasoning").input("Forums are busy; maybe [more](x).").run()
    assert not at.exception
    md = [m.value for m in at.markdown]
    statement = [v for v in md if "Judgement 1" in v and "statement" in v and "background[" in v]
    assert statement == [
        "**Judgement 1** · statement: We assess with :orange-background[high confidence] that "
        "\\<i\\>crews\\</i\\> will :orange-background[almost certainly not] adopt agents in 2027\\."
    ]
    reasoning = [v for v in md if "Judgement 1" in v and "reasoning" in v and "background[" in v]
    assert reasoning == [
        "**Judgement 1** · reasoning: Forums are busy; :orange-background[maybe] \\[more\\]\\(x\\)\\."
    ]
