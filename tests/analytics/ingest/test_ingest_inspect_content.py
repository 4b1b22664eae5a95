"""Inspect sample content (issue 19): a real agentic log, written by Inspect from a task run against the offline
model with a tool, imported, and every stored text read back through analytics.evals.runs and compared exactly
with what inspect-ai itself reads from the log. A viewer not cleared for the run gets none of its text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import ChatMessageSystem, ChatMessageUser
from inspect_ai.scorer import Score, Target, accuracy, match, scorer
from inspect_ai.solver import TaskState, generate, use_tools
from inspect_ai.tool import tool

from analytics.bench.offline_model import PROVIDER
from analytics.evals import runs as eval_runs
from analytics.ingest.inspect_logs import import_inspect
from analytics.store.database import Store
from tests.conftest import AU_ANALYST, UK_ANALYST

CHAT_PROMPT = "Add 2 and 3 with the tool."


@tool
def add():  # type: ignore[no-untyped-def]
    async def execute(x: int, y: int) -> int:
        """Add two numbers.

        Args:
            x: the first number
            y: the second number
        """
        return x + y

    return execute


@scorer(metrics=[accuracy()])
def says_five():  # type: ignore[no-untyped-def]
    """C when the final answer contains the target, with the reason given as the explanation."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion
        right = target.text in answer
        return Score(
            value="C" if right else "I",
            answer=answer[-20:],
            explanation=f"looked for {target.text!r} in the final answer: {'found' if right else 'absent'}",
        )

    return score


def agentic_task() -> Task:
    return Task(
        dataset=[
            Sample(
                input=[ChatMessageSystem(content="You add numbers."), ChatMessageUser(content=CHAT_PROMPT)],
                target="5",
                id="chat-1",
                metadata={"difficulty": "easy", "tags": ["arith", "<b>bold</b>"]},
            ),
            Sample(input="Say <script>alert(1)</script> plainly.", target=["x", "y"], id="plain-2"),
        ],
        solver=[use_tools(add()), generate()],
        scorer=[says_five(), match()],
        name="agentic_add",
    )


@pytest.fixture(scope="module")
def agentic_log(tmp_path_factory: pytest.TempPathFactory) -> EvalLog:
    folder = tmp_path_factory.mktemp("agentic")
    [log] = eval(
        agentic_task(),
        model=f"{PROVIDER}/agent",
        model_args={"tool_call": {CHAT_PROMPT: ["add", {"x": 2, "y": 3}]}, "fallback": "plain answer"},
        log_dir=str(folder),
        display="none",
    )
    assert log.status == "success"
    return log


def _messages(messages: Any) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in messages]


def test_sample_content_reads_back_exactly(store, agentic_log: EvalLog) -> None:
    s: Store = store.store
    import_inspect(s, agentic_log.location, actor="t", institute="UK", tlp="AMBER", releasable=["UK"])
    full = read_eval_log(agentic_log.location)  # inspect-ai's own reading of every sample
    run_id = full.eval.eval_id
    by_id = {str(x.id): x for x in full.samples or []}
    con = s.cursor()

    chat = eval_runs.sample_detail(con, UK_ANALYST, run_id, "chat-1", 1)
    assert chat is not None
    src = by_id["chat-1"]
    assert eval_runs.input_messages(chat.data.input) == _messages(src.input)
    assert chat.data.target == "5"
    assert chat.data.output == src.output.completion == "The tool said 5"
    # The transcript: system, user, the assistant's tool call, the tool's result, the final answer, in order.
    assert chat.data.transcript == _messages(src.messages)
    assert [m["role"] for m in chat.data.transcript] == ["system", "user", "assistant", "tool", "assistant"]
    assert eval_runs.tool_calls_text(chat.data.transcript[2]) == ['add({"x": 2, "y": 3})']
    assert (chat.data.value, chat.data.score, chat.data.answer) == ("C", 1.0, src.scores["says_five"].answer)
    assert chat.data.explanation == "looked for '5' in the final answer: found"
    assert chat.data.metadata == {"difficulty": "easy", "tags": ["arith", "<b>bold</b>"]}
    other = chat.data.other_scores.to_dict("records")
    assert [(o["scorer"], o["value"], o["explanation"]) for o in other] == [
        ("match", src.scores["match"].value, src.scores["match"].explanation)
    ]
    assert chat.marking.tlp == "AMBER" and chat.marking.releasable_to == ("UK",)

    plain = eval_runs.sample_detail(con, UK_ANALYST, run_id, "plain-2", 1)
    assert plain is not None
    assert plain.data.input == "Say <script>alert(1)</script> plainly."
    assert eval_runs.input_messages(plain.data.input) is None
    assert plain.data.target == json.dumps(["x", "y"])
    assert plain.data.output == "plain answer"
    assert plain.data.transcript is None  # one prompt, one reply: input and output say everything
    assert plain.data.metadata is None

    page = eval_runs.sample_page(con, UK_ANALYST, run_id, 0, 50).data
    assert page["sample_id"].tolist() == ["chat-1", "plain-2"]
    assert page["has_transcript"].tolist() == [True, False]
    assert page["output"].tolist() == ["The tool said 5", "plain answer"]
    # The list previews a chat input by its last message, a prompt by its start.
    assert page["input"].tolist() == [CHAT_PROMPT, "Say <script>alert(1)</script> plainly."]


def test_viewer_not_cleared_sees_no_sample_text(store, agentic_log: EvalLog) -> None:
    s: Store = store.store
    import_inspect(s, agentic_log.location, actor="t", institute="UK", tlp="AMBER", releasable=["UK"])
    run_id = agentic_log.eval.eval_id
    con = s.cursor()
    assert eval_runs.sample_detail(con, AU_ANALYST, run_id, "chat-1", 1) is None
    assert eval_runs.sample_page(con, AU_ANALYST, run_id, 0, 50).data.empty
    assert eval_runs.same_sample_across_runs(con, AU_ANALYST, run_id, "chat-1", 1).data.empty
    assert eval_runs.uk_au_disagreements(con, AU_ANALYST, run_id) is None
    # The text is in the store all the same (the AU analyst is refused by the markings, not by a missing row).
    stored = con.execute("select count(transcript) from eval_samples where run_id = ?", [run_id]).fetchone()
    assert stored == (1,)
