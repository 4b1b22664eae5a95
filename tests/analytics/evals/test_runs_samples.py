"""The sample drill-down's reads on a real store: the score filter, the same sample across runs, and the UK–AU
disagreements, each with the viewer's markings applied in SQL and the result's marking."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analytics.evals import runs as eval_runs
from analytics.ingest.jailbreakbench import import_jailbreakbench
from tests.conftest import AU_ANALYST, SHARED_DATA, UK_ANALYST


def _content(store: Any, run_id: str, answers: dict[str, str]) -> None:
    """Give each sample of `run_id` an input, an output and the scorer's answer."""
    with store.store.transaction() as con:
        for sid, answer in answers.items():
            con.execute(
                "update eval_samples set input = ?, output = ?, answer = ? where run_id = ? and sample_id = ?",
                [f"prompt of {sid}", f"the model said {answer}", answer, run_id, sid],
            )


def test_filter_by_logged_value_pages_only_those(store) -> None:
    samples = {f"s{k:03d}": (1.0 if k % 4 == 0 else 0.0) for k in range(80)}
    store.eval_run(run_id="r", samples=samples, n_samples=80)
    with store.store.transaction() as con:
        con.execute("update eval_samples set score = null, value = null where sample_id = 's001'")
    con = store.cursor()
    correct = eval_runs.sample_page(con, UK_ANALYST, "r", 0, 50, value="C").data
    assert correct["sample_id"].tolist() == [f"s{k:03d}" for k in range(0, 80, 4)]
    wrong = eval_runs.sample_page(con, UK_ANALYST, "r", 1, 50, value="I").data
    incorrect = [sid for sid, score in samples.items() if score == 0.0 and sid != "s001"]
    assert wrong["sample_id"].tolist() == incorrect[50:] and len(wrong) == 9
    unscored = eval_runs.sample_page(con, UK_ANALYST, "r", 0, 50, value=eval_runs.NO_SCORE).data
    assert unscored["sample_id"].tolist() == ["s001"]
    detail = eval_runs.run_detail(con, UK_ANALYST, "r")
    assert eval_runs.value_counts(detail.data.distribution) == {"C": 20, "I": 59, None: 1}


def test_same_sample_across_models_only_same_task_version_and_visible(store) -> None:
    store.eval_run(run_id="a", model="Aurora-1.0", samples={"q1": 1.0, "q2": 0.0}, n_samples=2)
    store.eval_run(run_id="b", model="Borealis-2", samples={"q1": 0.0}, n_samples=1, tlp="AMBER")
    store.eval_run(run_id="c", model="Cirrus", samples={"q1": 1.0}, n_samples=1, task_version="2")
    store.eval_run(
        run_id="d", model="Dusk", institute="AU", samples={"q1": 1.0}, n_samples=1, releasable_to=["AU"]
    )
    _content(store, "a", {"q1": "4"})
    _content(store, "b", {"q1": "5"})
    con = store.cursor()
    side = eval_runs.same_sample_across_runs(con, UK_ANALYST, "a", "q1", 1)
    rows = side.data[["run_id", "model", "value", "answer", "output"]].values.tolist()
    assert rows == [
        ["a", "Aurora-1.0", "C", "4", "the model said 4"],
        ["b", "Borealis-2", "I", "5", "the model said 5"],
    ]  # c is another task version; d is not releasable to the UK
    assert side.marking.tlp == "AMBER" and side.marking.rows == 2
    assert eval_runs.same_sample_across_runs(con, AU_ANALYST, "a", "q1", 1).data["run_id"].tolist() == [
        "a",
        "b",
        "d",
    ]


def test_uk_au_disagreements_list_the_differing_samples(store) -> None:
    store.eval_run(run_id="uk", samples={"q1": 1.0, "q2": 0.0, "q3": 1.0, "q4": 1.0}, n_samples=4)
    store.eval_run(
        run_id="au", institute="AU", samples={"q1": 1.0, "q2": 1.0, "q3": 0.0, "q5": 0.0}, n_samples=4
    )
    _content(store, "uk", {"q2": "7", "q3": "9"})
    _content(store, "au", {"q2": "6", "q3": "8"})
    con = store.cursor()
    found = eval_runs.uk_au_disagreements(con, UK_ANALYST, "uk")
    assert found is not None
    assert (found.data.uk_run, found.data.au_run, found.data.shared, found.data.disagreeing) == (
        "uk",
        "au",
        3,
        2,
    )
    assert found.data.samples.values.tolist() == [
        ["q2", 1, "I", "C", "7", "6"],
        ["q3", 1, "C", "I", "9", "8"],
    ]
    assert found.marking.rows == 2
    first = eval_runs.uk_au_disagreements(con, UK_ANALYST, "uk", limit=1)
    assert first is not None and (first.data.disagreeing, len(first.data.samples)) == (2, 1)
    # From the AU run the same pair, the same samples.
    mirrored = eval_runs.uk_au_disagreements(con, AU_ANALYST, "au")
    assert mirrored is not None and mirrored.data.samples["sample_id"].tolist() == ["q2", "q3"]


def test_disagreements_never_show_a_run_the_viewer_may_not_see(store) -> None:
    store.eval_run(run_id="uk", samples={"q1": 1.0}, n_samples=1)
    store.eval_run(
        run_id="au",
        institute="AU",
        samples={"q1": 0.0},
        n_samples=1,
        tlp="AMBER+STRICT",
        releasable_to=["AU"],
    )
    found = eval_runs.uk_au_disagreements(store.cursor(), UK_ANALYST, "uk")
    assert found is not None
    assert (found.data.au_run, found.data.shared, len(found.data.samples)) == (None, 0, 0)
    assert found.marking.rows == 1 and found.marking.tlp == "GREEN"


def test_jailbreakbench_behaviours_read_as_samples(store) -> None:
    """Real JailbreakBench artifacts: a behaviour opens with its jailbreak prompt, goal and response, and the same
    behaviour is put beside the other target models' responses to it."""
    folder = SHARED_DATA / "jailbreakbench" / "attack-artifacts" / "PAIR" / "black_box"
    if not folder.exists():
        pytest.skip("needs ../shared/data/jailbreakbench")
    import_jailbreakbench(store.store, folder, actor="test")
    doc = json.loads((folder / "vicuna-13b-v1.5.json").read_text(encoding="utf-8"))
    run_id = "jbb-PAIR-black_box-vicuna-13b-v1.5"
    j = next(x for x in doc["jailbreaks"] if x["jailbroken"])
    con = store.cursor()
    found = eval_runs.sample_detail(con, UK_ANALYST, run_id, str(j["index"]), 1)
    assert found is not None
    assert (found.data.input, found.data.target, found.data.output) == (j["prompt"], j["goal"], j["response"])
    assert found.marking.tlp == "CLEAR"
    jailbroken = eval_runs.sample_page(con, UK_ANALYST, run_id, 0, 200, value="jailbroken").data
    assert len(jailbroken) == sum(x["jailbroken"] for x in doc["jailbreaks"])
    side = eval_runs.same_sample_across_runs(con, UK_ANALYST, run_id, str(j["index"]), 1).data
    others = sorted(p.stem for p in folder.glob("*.json"))
    assert side["run_id"].iloc[0] == run_id and len(side) == len(others)


def test_message_text_of_every_content_shape() -> None:
    assert eval_runs.message_text({"role": "user", "content": "plain"}) == "plain"
    parts = [
        {"type": "text", "text": "a"},
        {"type": "reasoning", "reasoning": "b"},
        {"type": "image", "image": "x"},
    ]
    assert eval_runs.message_text({"role": "assistant", "content": parts}) == "a\n[reasoning] b\n[image]"
    assert eval_runs.message_text({"role": "user", "content": {"text": "garak"}}) == '{"text": "garak"}'
    assert eval_runs.message_text({"role": "tool"}) == ""
    assert eval_runs.input_messages('[{"role": "user", "content": "x"}]') == [
        {"role": "user", "content": "x"}
    ]
    assert eval_runs.input_messages("[not json") is None
    assert eval_runs.input_messages('["a", "b"]') is None
