"""The Evaluations page's Run detail tab (pages/parts/eval_run_detail.py) through AppTest, for every role: the
sample list with human column names, the score filter, the open sample's stored text shown exactly and inertly,
the UK–AU disagreements, and nothing of a run the viewer may not see."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.demo.generator import build_demo
from analytics.evals import runs as eval_runs
from analytics.store.database import Store, close_all, open_store
from analytics.wording import counted
from tests.conftest import PERSONAS, ROOT

PAGE = "pages/evaluations.py"
BENCHMARK = "SWE-bench Verified"  # an agentic benchmark: its demo samples carry transcripts
PAYLOAD = "<script>alert(1)</script> **bold** [link](http://x.example) :red[red]"


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run-detail") / "base.duckdb"
    s = Store(path)
    build_demo(s, incidents=300, seed=7)
    s.close()
    return path


@pytest.fixture
def db(base_db: Path, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "page.duckdb"
    shutil.copy(base_db, path)
    yield path
    close_all()


@pytest.fixture
def open_tab(db: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(db))

    def make(email: str) -> Any:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        at.run()
        at.switch_page(PAGE).run()
        assert not at.exception, [e.message for e in at.exception]
        at.selectbox(key="ev_benchmark").set_value(BENCHMARK).run()
        at.session_state["ev_tab"] = "Run detail"
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def _samples(at: Any) -> Any:
    return next(
        d.value for d in at.dataframe if "Sample" in d.value.columns and "Transcript" in d.value.columns
    )


def _codes(at: Any) -> list[str]:
    return [c.value for c in at.code]


@pytest.mark.parametrize("email", ["analyst@uk.example", "lead@au.example", "admin@joint.example"])
def test_run_detail_reads_samples_as_stored(open_tab, db: Path, email: str) -> None:
    at = open_tab(email)
    run_id = at.selectbox(key="ev_run").value
    viewer = PERSONAS[email]
    samples = _samples(at)
    assert list(samples.columns)[:9] == [
        "Sample",
        "Epoch",
        "Score",
        "Value",
        "Answer",
        "Input",
        "Target",
        "Output",
        "Transcript",
    ]
    assert not samples.isin(["None", "nan", "<NA>"]).any().any()
    assert samples["Transcript"].eq("yes").all()
    first = samples["Sample"].iloc[0]
    # The first sample opens beside the list, its text exactly as stored, in code blocks (never markdown).
    stored = eval_runs.sample_detail(open_store(db).cursor(), viewer, run_id, first, 1)
    assert stored is not None and stored.data.transcript
    codes = _codes(at)
    assert stored.data.input in codes and stored.data.output in codes and stored.data.explanation in codes
    assert eval_runs.message_text(stored.data.transcript[3]) in codes  # the first tool result
    assert any("this sample" in m.value for m in at.markdown)  # the sample's own marking banner
    # Filter: only correct samples, and the page count follows.
    at.selectbox(key="ev_value").set_value("C").run()
    assert not at.exception
    assert set(_samples(at)["Value"]) == {"C"}


def test_disagreements_match_the_analytics(open_tab, db: Path) -> None:
    at = open_tab("analyst@uk.example")
    con = open_store(db).cursor()
    viewer = PERSONAS["analyst@uk.example"]
    for k in range(len(at.selectbox(key="ev_run").options)):
        at.selectbox(key="ev_run").select_index(k).run()
        found = eval_runs.uk_au_disagreements(con, viewer, at.selectbox(key="ev_run").value)
        if found is not None and found.data.au_run and found.data.disagreeing:
            break
    else:
        pytest.fail("the demo has a model run by both institutes on this benchmark")
    d = found.data
    assert any(
        f"{counted(d.disagreeing, 'sample')} scored differently of {d.shared:,}" in c.value
        for c in at.caption
    )
    table = next(x.value for x in at.dataframe if "UK value" in x.value.columns)
    assert table["Sample"].tolist() == d.samples["sample_id"].tolist()


def test_stored_markup_is_shown_as_text(open_tab, db: Path) -> None:
    s = open_store(db)
    with s.transaction() as con:
        run_id = con.execute(
            "select run_id from eval_runs where benchmark = ? and institute = 'UK' and tlp = 'GREEN' "
            "order by eval_date desc, run_id limit 1",
            [BENCHMARK],
        ).fetchone()[0]
        con.execute(
            "update eval_samples set input = ?, answer = ?, explanation = ? where run_id = ? and sample_id = 's00000'",
            [PAYLOAD, PAYLOAD, PAYLOAD, run_id],
        )
    close_all()
    at = open_tab("analyst@uk.example")
    at.selectbox(key="ev_run").set_value(run_id).run()
    assert PAYLOAD in _codes(at)
    assert not any("<script>" in m.value or "**bold**" in m.value for m in at.markdown)
    assert not any("<script>" in c.value for c in at.caption)


def test_a_run_not_releasable_is_never_offered_nor_read(open_tab, db: Path) -> None:
    con = open_store(db).cursor()
    hidden = con.execute(
        "select run_id from eval_runs where benchmark = ? and not list_contains(releasable_to, 'AU') limit 1",
        [BENCHMARK],
    ).fetchone()
    assert hidden is not None
    at = open_tab("analyst@au.example")
    assert hidden[0] not in at.selectbox(key="ev_run").options
    assert eval_runs.sample_detail(con, PERSONAS["analyst@au.example"], hidden[0], "s00000", 1) is None


@pytest.mark.parametrize("email", ["policy@uk.example", "policy@au.example"])
def test_policymakers_never_reach_sample_text(db: Path, monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
    at.run()
    with contextlib.suppress(Exception):  # a page outside the role's navigation may not be reachable at all
        at.switch_page(PAGE).run()
    assert "ev_run" not in {str(w.key) for w in at.selectbox}
    assert not at.code
