"""The checker read like a PHIA-trained reviewer (issue 18, finding 7): a table of judgement sentences, each with
the term and confidence level the author chose and the set of finding kinds a reviewer would raise (empty for a
clean judgement), and the same checker from the command line (`python -m analytics check-judgement`).

Rows marked TRICKY are the ones the issue's review tripped over (negation, adverb and noun forms, numbers in words
and other forms, hedges, confidence wording, time frames, the month "May", "remote access", observed figures).
"""

from __future__ import annotations

import json

import pytest

from analytics.assessments.checker import check_judgement
from analytics.assessments.model import EvidenceRef, JudgementDraft
from analytics.cli import main

EVIDENCE = (EvidenceRef("incident", "INC-1"),)
TRICKY = True

# (term chosen, confidence chosen, judgement text, kinds a reviewer raises, tricky)
# fmt: off
SENTENCES: list[tuple[str, str, str, set[str], bool]] = [
    # -- clean judgements: the text agrees with the chosen term and level, and says when ------------------------
    ("likely", "moderate", "Agentic misuse against UK banks is likely to rise over the next 12 months.", set(), False),
    ("highly likely", "high", "It is highly likely that criminal groups will sell agent kits by 2027.", set(), False),
    ("almost certain", "high", "Deepfake voice fraud will almost certainly continue over the coming year.", set(), TRICKY),
    ("realistic possibility", "low", "There is a realistic possibility that a state actor uses agents against AU banks in 2027.", set(), False),
    ("unlikely", "moderate", "It is unlikely that open-weight models will be banned in the next 12 months.", set(), False),
    ("remote chance", "moderate", "There is a remote chance that a frontier lab is breached by 2027.", set(), False),
    ("highly unlikely", "moderate", "Attackers are highly unlikely to abandon phishing within the next two years.", set(), False),
    ("likely", "moderate", "Banks will probably face more agent-driven fraud by the end of 2027.", set(), False),
    ("likely", "moderate", "We judge there is a 70% chance that agent kits spread in 2027.", set(), False),
    ("highly likely", "high", "We put this at 85% over the next year.", set(), False),
    ("unlikely", "low", "There is a one in three chance that regulators act by 2027.", set(), TRICKY),
    ("likely", "moderate", "We estimate a probability of 0.7 that fraud rises in 2027.", set(), TRICKY),
    ("likely", "moderate", "We put the chance at 60-70% over the next 12 months.", set(), False),
    ("remote chance", "moderate", "The chance of a successful attack on payment rails is less than 5% in 2027.", set(), TRICKY),
    ("almost certain", "high", "We assess a probability of more than 95% that phishing kits add agents by 2027.", set(), TRICKY),
    ("likely", "moderate", "In May 2027 agent kits are likely to appear on criminal forums.", set(), TRICKY),
    ("likely", "moderate", "Remote access tooling is likely to be abused against banks in 2027.", set(), TRICKY),
    ("likely", "moderate", "Agentic attacks that affect 15% of UK banks are likely to double in 2027.", set(), TRICKY),
    ("likely", "moderate", "Reported incidents rose 45% year on year and are likely to keep rising in 2027.", set(), TRICKY),
    ("likely", "moderate", "Agents scored 62% on Cybench, and attackers are likely to adopt them by 2027.", set(), TRICKY),
    ("likely", "high", "We assess with high confidence that fraud will likely rise in 2027.", set(), False),
    ("unlikely", "moderate", "It is not likely that banks will ban agents in the next 12 months.", set(), TRICKY),
    ("remote chance", "high", "Attackers will almost certainly not breach the payment rails in 2027.", set(), TRICKY),
    ("likely", "moderate", "Misuse is likely to rise by May 2027.", set(), TRICKY),
    ("realistic possibility", "moderate", "A major outage caused by agents is a realistic possibility before the end of 2026.", set(), False),
    ("likely", "low", "We have low confidence, but fraud is likely to rise over the next six months.", set(), False),
    ("highly likely", "moderate", "We put the probability between 80% and 90% for 2027.", set(), False),
    ("likely", "moderate", "The likelihood of agent-driven fraud rising in 2027 is high.", set(), TRICKY),
    ("likely", "moderate", "Mayfield Bank is likely to be targeted again in the next 12 months.", set(), False),
    ("likely", "moderate", "Six in ten banks reported agent fraud, and more are likely to in 2027.", set(), TRICKY),
    ("remote chance", "moderate", "The chance of a successful attack on the payment rails is remote in 2027.", set(), TRICKY),
    ("likely", "moderate", "Remote access trojans will probably be used against AU banks over the coming year.", set(), TRICKY),
    ("likely", "moderate", "There is a seventy per cent chance that fraud rises in 2027.", set(), TRICKY),
    ("likely", "moderate", "Phishing volumes rose by 30% in 2026 and are likely to rise again in 2027.", set(), False),
    ("likely", "moderate", "Over the coming year attackers will probably target AU banks.", set(), False),
    ("likely", "moderate", "Fraud against banks is likely to rise in the near term.", set(), False),
    ("likely", "moderate", "There is a high likelihood that fraud rises in 2027.", set(), False),
    ("likely", "moderate", "Fraud is likely to rise by up to 40% in 2027.", set(), TRICKY),
    ("likely", "moderate", "Banks that do not patch are likely to be hit in 2027.", set(), TRICKY),
    ("likely", "moderate", "No bank is likely to escape agent fraud in 2027.", set(), False),
    ("likely", "moderate", "It is likely not only banks but insurers that are hit in 2027.", set(), False),
    # -- negation: the implied term is the complement --------------------------------------------------------
    ("likely", "moderate", "Ransomware crews will almost certainly not adopt agents in the next 12 months.", {"term_contradicts"}, TRICKY),
    ("likely", "moderate", "It is not likely that banks will be hit by 2027.", {"term_contradicts"}, TRICKY),
    ("likely", "moderate", "Criminal groups will probably not adopt agent kits over the coming year.", {"term_contradicts"}, TRICKY),
    ("unlikely", "moderate", "Attackers are unlikely not to use agents against banks in 2027.", {"term_contradicts"}, TRICKY),
    # -- adverb and noun forms -------------------------------------------------------------------------------
    ("likely", "moderate", "Attackers will almost certainly use agents against banks in 2027.", {"term_contradicts"}, TRICKY),
    ("likely", "moderate", "It is highly unlikely that banks escape agent fraud in 2027.", {"term_contradicts"}, False),
    ("realistic possibility", "moderate", "It is highly likely that agents cause a major outage in 2027.", {"term_contradicts"}, False),
    ("unlikely", "moderate", "There is a high likelihood that fraud rises in 2027.", {"term_contradicts"}, TRICKY),
    ("likely", "moderate", "The chance of a successful attack on the payment rails is remote in 2027.", {"term_contradicts"}, TRICKY),
    ("highly likely", "moderate", "A breach of a major bank is a realistic possibility by 2027.", {"term_contradicts"}, False),
    # -- numbers in every form ---------------------------------------------------------------------------------
    ("likely", "moderate", "There is a one in three chance of a major deepfake fraud by 2027.", {"percent_outside"}, TRICKY),
    ("likely", "moderate", "We assess a probability of 0.9 that agents are used against banks in 2027.", {"percent_outside"}, TRICKY),
    ("likely", "moderate", "The chance of a breach is less than 25% in the next 12 months.", {"percent_outside"}, TRICKY),
    ("highly likely", "moderate", "We put the probability at more than 60% by 2027.", {"percent_outside"}, False),
    ("likely", "moderate", "We put the chance at 60-80% over the next year.", {"percent_outside"}, False),
    ("unlikely", "moderate", "There is a 1 in 10 chance of a sector-wide outage in 2027.", {"percent_outside"}, False),
    ("highly likely", "moderate", "We put this at 70% for 2027.", {"percent_outside"}, False),
    ("unlikely", "moderate", "We put it at 37% over the next 12 months.", {"percent_outside"}, False),
    ("likely", "moderate", "The odds of a breach are one in a hundred by 2027.", {"percent_outside"}, TRICKY),
    ("highly likely", "moderate", "There is a seventy per cent chance that fraud rises in 2027.", {"percent_outside"}, False),
    ("likely", "moderate", "Fraud is likely to rise in 2027, with a fifty-fifty chance of a major loss.", {"percent_outside"}, False),
    # -- hedges and vague words ------------------------------------------------------------------------------
    ("likely", "moderate", "Perhaps attackers will target AU banks in 2027.", {"hedge"}, TRICKY),
    ("likely", "moderate", "Maybe agent kits will reach criminal forums by 2027.", {"hedge"}, TRICKY),
    ("likely", "moderate", "It is conceivable that states will use agents against banks in 2027.", {"hedge"}, TRICKY),
    ("likely", "moderate", "We cannot rule out an agent-driven outage at a major bank in 2027.", {"hedge"}, TRICKY),
    ("likely", "moderate", "It is possible that banks will see more agent attacks by 2027.", {"hedge"}, False),
    ("likely", "moderate", "It is likely that fraud rises over the next 12 months; a fall cannot be ruled out.", {"hedge"}, False),
    ("likely", "moderate", "Attackers could use agents against banks in 2027.", {"vague_word"}, False),
    ("likely", "moderate", "Attackers May use agents against banks in 2027.", {"vague_word"}, False),
    ("likely", "moderate", "In May attackers could hit banks.", {"vague_word"}, TRICKY),
    # -- confidence wording against the chosen level ---------------------------------------------------------
    ("likely", "low", "We assess with high confidence that agent fraud will rise in 2027.", {"confidence"}, TRICKY),
    ("likely", "high", "We have low confidence that fraud is likely to rise over the next 12 months.", {"confidence"}, False),
    ("highly likely", "high", "We judge with moderate confidence that kits are highly likely to spread by 2027.", {"confidence"}, False),
    # -- a time frame per judgement --------------------------------------------------------------------------
    ("likely", "moderate", "Fraud against banks will rise.", {"time_frame"}, TRICKY),
    ("almost certain", "high", "Deepfake voice fraud will almost certainly continue.", {"time_frame"}, False),
    # -- several at once ------------------------------------------------------------------------------------
    ("likely", "moderate", "Perhaps fraud will rise.", {"hedge", "time_frame"}, False),
    ("likely", "low", "We assess with high confidence that banks will almost certainly not be hit.", {"confidence", "term_contradicts", "time_frame"}, False),
]
# fmt: on


def _kinds(term: str, confidence: str, text: str) -> set[str]:
    return {f.code for f in check_judgement(1, JudgementDraft(text, term, confidence, "", EVIDENCE))}


def test_the_table_is_big_enough_and_covers_the_tricky_sentences() -> None:
    assert len(SENTENCES) >= 60
    assert sum(1 for *_, tricky in SENTENCES if tricky) >= 26
    assert len({text for _, _, text, _, _ in SENTENCES}) + 4 >= len(SENTENCES)  # a few texts under two terms
    kinds = set().union(*(k for _, _, _, k, _ in SENTENCES))
    assert kinds == {"term_contradicts", "percent_outside", "hedge", "vague_word", "confidence", "time_frame"}
    assert sum(1 for *_, k, _ in SENTENCES if not k) >= 25


@pytest.mark.parametrize(
    ("term", "confidence", "text", "expected"),
    [pytest.param(t, c, s, k, id=s[:60]) for t, c, s, k, _ in SENTENCES],
)
def test_a_reviewer_raises_these_kinds(term: str, confidence: str, text: str, expected: set[str]) -> None:
    assert _kinds(term, confidence, text) == expected


# -- spans: each problem points at its words -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "confidence", "text", "kind", "words"),
    [
        (
            "likely",
            "moderate",
            "Ransomware crews will almost certainly not adopt agents in 2027.",
            "term_contradicts",
            "almost certainly not",
        ),
        (
            "likely",
            "moderate",
            "It is not likely that banks will be hit by 2027.",
            "term_contradicts",
            "not likely",
        ),
        (
            "likely",
            "moderate",
            "Criminal groups will probably not adopt kits in 2027.",
            "term_contradicts",
            "probably not",
        ),
        (
            "likely",
            "moderate",
            "There is a one in three chance of a major fraud by 2027.",
            "percent_outside",
            "one in three",
        ),
        (
            "likely",
            "moderate",
            "The chance of a breach is less than 25% in 2027.",
            "percent_outside",
            "less than 25%",
        ),
        (
            "likely",
            "moderate",
            "We assess a probability of 0.9 that banks are hit in 2027.",
            "percent_outside",
            "0.9",
        ),
        ("likely", "moderate", "We put the chance at 60-80% in 2027.", "percent_outside", "60-80%"),
        ("likely", "moderate", "In 2027 we cannot rule out a fall.", "hedge", "cannot rule out"),
        ("likely", "moderate", "Attackers will, perhaps, hit banks in 2027.", "hedge", "perhaps"),
        (
            "likely",
            "low",
            "We assess with high confidence that fraud rises in 2027.",
            "confidence",
            "high confidence",
        ),
        ("likely", "moderate", "In May attackers could hit banks.", "vague_word", "could"),
        ("likely", "moderate", "Fraud will rise.", "time_frame", "Fraud will rise."),
    ],
)
def test_each_finding_spans_the_words_it_is_about(
    term: str, confidence: str, text: str, kind: str, words: str
) -> None:
    found = [
        f for f in check_judgement(1, JudgementDraft(text, term, confidence, "", EVIDENCE)) if f.code == kind
    ]
    assert len(found) == 1
    assert found[0].span is not None and found[0].field == "statement"
    start, end = found[0].span
    assert text[start:end] == words


def test_findings_in_the_reasoning_span_the_reasoning() -> None:
    reasoning = "Forums are busy; maybe the kits will spread."
    found = check_judgement(
        1, JudgementDraft("Fraud is likely to rise in 2027.", "likely", "moderate", reasoning, EVIDENCE)
    )
    assert [(f.code, f.field, reasoning[f.span[0] : f.span[1]]) for f in found if f.span] == [
        ("hedge", "reasoning", "maybe")
    ]


def test_messages_never_quote_author_text() -> None:
    text = "We assess with high confidence that <script>x</script> will almost certainly not happen; perhaps."
    for f in check_judgement(1, JudgementDraft(text, "likely", "low", "", EVIDENCE)):
        assert "script" not in f.message and "happen" not in f.message


# -- the command line -----------------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["check-judgement", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_cli_prints_one_json_object_per_finding_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    text = "We assess with high confidence that banks will almost certainly not be hit."
    code, lines, err = _cli(capsys, "--term", "likely", "--confidence", "low", text)
    assert code == 1 and err == ""
    assert {tuple(sorted(d)) for d in lines} == {("kind", "message", "span")}
    by_kind = {d["kind"]: d for d in lines}
    assert set(by_kind) == {"confidence", "term_contradicts", "time_frame"}
    words = {k: text[d["span"][0] : d["span"][1]] for k, d in by_kind.items()}  # type: ignore[index]
    assert words == {
        "confidence": "high confidence",
        "term_contradicts": "almost certainly not",
        "time_frame": text,
    }
    assert "0–5%" in str(by_kind["term_contradicts"]["message"])
    assert "low" in str(by_kind["confidence"]["message"])


def test_cli_exits_0_with_no_output_for_a_clean_judgement(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _cli(capsys, "--term", "Probably", "Fraud is likely to rise over the next 12 months.")
    assert (code, lines, err) == (0, [], "")


def test_cli_without_confidence_skips_the_confidence_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = _cli(
        capsys, "--term", "likely", "We assess with high confidence that fraud rises in 2027."
    )
    assert (code, lines) == (0, [])
    code, lines, _ = _cli(
        capsys,
        "--term",
        "likely",
        "--confidence",
        "moderate",
        "We assess with high confidence that fraud rises in 2027.",
    )
    assert code == 1 and [d["kind"] for d in lines] == ["confidence"]


def test_cli_spans_are_in_order_and_point_at_the_words(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Perhaps there is a one in three chance; we cannot rule out more by 2027."
    code, lines, _ = _cli(capsys, "--term", "likely", text)
    assert code == 1
    assert [(d["kind"], text[d["span"][0] : d["span"][1]]) for d in lines] == [  # type: ignore[index]
        ("hedge", "Perhaps"),
        ("percent_outside", "one in three"),
        ("hedge", "cannot rule out"),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--term", "very likely", "Fraud will rise in 2027."], "not a PHIA yardstick term"),
        (["--term", "likely", "--confidence", "certain", "Fraud will rise in 2027."], "--confidence"),
        (["--term", "likely", "   "], "empty"),
        (["Fraud will rise in 2027."], "--term"),
        (["--term", "likely"], "TEXT"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(["check-judgement", *argv])
    except SystemExit as e:  # argparse's own refusals
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


def test_cli_reads_the_text_from_stdin_with_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Perhaps fraud rises in 2027.\n"))
    code, lines, _ = _cli(capsys, "--term", "likely", "-")
    assert code == 1 and [(d["kind"], d["span"]) for d in lines] == [("hedge", [0, 7])]
