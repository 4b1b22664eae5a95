"""Public-source credits come from one registry (analytics/sources.py) through one function, `source_credits`:
every screen and export that credits ATLAS, AIID or Epoch prints the registry's line, so a changed licence or a
new public source is one edit, and no feature keeps its own copy that could fall behind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics import sources
from analytics.access.markings import Marking
from analytics.sources import source_credits

ROOT = Path(__file__).resolve().parents[2]
CREDITS = {s.credit for s in sources.PUBLIC_SOURCES}


def test_credits_follow_the_sources_behind_every_marking_in_registry_order() -> None:
    assert source_credits(Marking(sources=("epoch", "stix")), Marking(sources=("institute", "atlas"))) == (
        "MITRE ATLAS, Apache-2.0",
        "Epoch AI Benchmarking Hub, CC BY 4.0",
    )
    # The institutes' own records and STIX imports need no licence credit.
    assert source_credits(Marking(sources=("institute", "stix", "spreadsheet"))) == ()
    assert source_credits() == ()


def credit_literals(source: str) -> list[str]:
    """String constants in code that spell a credit line or a licence (docstrings excepted)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    licences = {s.licence for s in sources.PUBLIC_SOURCES}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _spells_credit(node.value, licences)
    ]


def _spells_credit(text: str, licences: set[str]) -> bool:
    """A credit line, a licence on its own, or one written after a name as credits are ("X, MIT"). "MIT" is also
    the name of the MIT AI risk taxonomy AIID classifies by, so on its own it is not a licence."""
    return (
        any(credit in text for credit in CREDITS)
        or (text.strip() in licences and text.strip() != "MIT")
        or any(f", {licence}" in text for licence in licences)
    )


def _product_files() -> list[Path]:
    files = [*ROOT.glob("analytics/**/*.py"), *ROOT.glob("pages/**/*.py"), ROOT / "app.py"]
    return [p for p in files if p.relative_to(ROOT).as_posix() != "analytics/sources.py"]


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_credit_is_spelt_out_outside_the_registry(path: Path) -> None:
    found = credit_literals(path.read_text())
    assert found == [], (
        f"{path.relative_to(ROOT)} spells credits {found}: use analytics.sources.source_credits"
    )


def test_the_scan_sees_a_spelt_out_credit() -> None:
    assert credit_literals('CREDIT = "Epoch AI Benchmarking Hub, CC BY 4.0"') == [
        "Epoch AI Benchmarking Hub, CC BY 4.0"
    ]
    assert credit_literals('def f():\n    """Credits Epoch AI Benchmarking Hub, CC BY 4.0."""') == []
