"""Counts in words: "1 row", "2 rows", "1,204 incidents".

Why a module: every message that counts something (page captions, import reports, CLI lines, export headers) said
"{n} rows" and so read "1 rows" and "1 problems" (issue 20). One function spells a count with its noun, so a new
message cannot get it wrong; tests/test_wording.py scans pages/ and analytics/ for counts spelt by hand.
"""

from __future__ import annotations

# Nouns whose plural is not the singular plus "s".
_IRREGULAR: dict[str, str] = {
    "entry": "entries",
    "category": "categories",
    "capability": "capabilities",
    "body": "bodies",
    "query": "queries",
}


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """`n` with thousands separators and the noun in the number it takes: counted(1, "row") == "1 row"."""
    if n == 1:
        return f"1 {singular}"
    return f"{n:,} {plural or _IRREGULAR.get(singular) or singular + 's'}"


# What a figure shows when there is nothing to show (no incidents to take a share of, no value recorded): an em
# dash, never a zero or an empty cell that reads as a value.
MISSING = "—"
