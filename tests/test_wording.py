"""Counts read in the right number everywhere (issue 20: "1 rows", "1 problems")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.wording import counted
from tests.conftest import ROOT


def test_counted_takes_the_number_of_its_count() -> None:
    assert counted(1, "row") == "1 row"
    assert counted(0, "row") == "0 rows"
    assert counted(1204, "incident") == "1,204 incidents"
    assert counted(2, "entry") == "2 entries"
    assert counted(3, "sample", "samples") == "3 samples"


# A count interpolated straight before a plural noun: "{len(x)} rows", "{n:,} problems".
_BY_HAND = re.compile(
    r"\{(?P<expr>[^{}]+)\}(?: [a-z-]+)? (?:rows|problems|incidents|records|runs|warnings|files|columns|objects|"
    r"items|cells|models|benchmarks|assessments|samples|differences|values|pages|reasons)\b"
)
# Counts that are never 1: constants of the code, and Plotly hover templates (%{x:,}), which cannot inflect.
_NEVER_ONE = ("MAX_ROWS", "max_rows", "SPARK_WEEKS", "self.window", "self.min_baseline", "size:,", "width")
# Not counts: SQL fragments, a share, a quoted name followed by a verb ("member 'x' runs past the end").
_NOT_COUNTS = ("marking_select_sql", ":.0%", "!r")
# A noun hedged with "(s)" after a count ("Rests on 1 record(s)"): the count knows its number, so say it.
_HEDGED = re.compile(r"\{(?P<expr>[^{}]+)\}(?: [a-z-]+)* [a-z]+\((?:s|es|ies)\)")
_ELSEWHERE = (
    "analytics/bench/",  # the benchmark's own reports, for developers
    "analytics/wording.py",  # its docstring shows the mistake
)


def _sources() -> list[Path]:
    return [
        p
        for folder in ("pages", "analytics")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if not any(str(p.relative_to(ROOT)).startswith(e) for e in _ELSEWHERE)
    ]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_count_is_spelt_by_hand(path: Path) -> None:
    found = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if "select " in line or "%{" in line:  # SQL text and Plotly templates
            continue
        for m in (*_BY_HAND.finditer(line), *_HEDGED.finditer(line)):
            if not any(word in m.group("expr") for word in (*_NEVER_ONE, *_NOT_COUNTS)):
                found.append(f"{lineno}: {m.group(0)}")
    assert not found, "use analytics.wording.counted: " + "; ".join(found)
