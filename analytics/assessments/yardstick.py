"""Estimative language: the PHIA probability yardstick, the US ICD 203 scale, and translation between them.

Joint assessments are written against the UK Professional Head of Intelligence Assessment (PHIA) yardstick. Its
bands have deliberate gaps (nothing between 5 and 10 %, 20 and 25 %, ...) so that a reader never has to decide
which side of a boundary a judgement sits on. Australian partners sometimes think in the US ICD 203 terms, whose
bands are contiguous and cut differently; a translation therefore says which PHIA term is nearest and warns
whenever the ICD band does not fit inside that PHIA band (PHIA "unlikely" is 25-35 %, ICD's is 20-45 %).

Confidence is a separate axis (high / moderate / low): how good the information and analysis behind a
judgement are, not how probable it is.

Everything here is pure data and functions, used by the checker (analytics.assessments.checker) and the editor page.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """A probability term and its band in whole percent, inclusive at both ends."""

    term: str
    low: int
    high: int

    @property
    def label(self) -> str:
        return f"{self.term} ({self.low}–{self.high}%)"

    def contains(self, percent: float) -> bool:
        return self.low <= percent <= self.high

    def overlaps(self, other: Band) -> bool:
        return self.low <= other.high and other.low <= self.high

    def within(self, other: Band) -> bool:
        return other.low <= self.low and self.high <= other.high


# PHIA yardstick, lowest first. The gaps between bands are deliberate; do not "fix" them.
PHIA_BANDS: tuple[Band, ...] = (
    Band("remote chance", 0, 5),
    Band("highly unlikely", 10, 20),
    Band("unlikely", 25, 35),
    Band("realistic possibility", 40, 50),
    Band("likely", 55, 75),
    Band("highly likely", 80, 90),
    Band("almost certain", 95, 100),
)
PHIA_TERMS: tuple[str, ...] = tuple(b.term for b in PHIA_BANDS)
# PHIA treats "probably" as the same band as "likely"; judgements store the canonical term.
PHIA_SYNONYMS: dict[str, str] = {"probably": "likely", "probable": "likely"}

# US ICD 203, lowest first (contiguous; ends touch).
ICD_BANDS: tuple[Band, ...] = (
    Band("almost no chance", 1, 5),
    Band("very unlikely", 5, 20),
    Band("unlikely", 20, 45),
    Band("roughly even chance", 45, 55),
    Band("likely", 55, 80),
    Band("very likely", 80, 95),
    Band("almost certain", 95, 99),
)
ICD_TERMS: tuple[str, ...] = tuple(b.term for b in ICD_BANDS)
# ICD 203 lists alternative words for each band; these map to the band names above.
ICD_SYNONYMS: dict[str, str] = {
    "remote": "almost no chance",
    "highly improbable": "very unlikely",
    "improbable": "unlikely",
    "roughly even odds": "roughly even chance",
    "even chance": "roughly even chance",
    "highly probable": "very likely",
    "nearly certain": "almost certain",
}

CONFIDENCE_LEVELS: tuple[str, ...] = ("high", "moderate", "low")
CONFIDENCE_MEANING: dict[str, str] = {
    "high": "Good-quality information from several sources; few assumptions; little room for alternatives.",
    "moderate": "Credible information, but gaps, single sources or assumptions that could change the view.",
    "low": "Scant, questionable or fragmented information; significant assumptions; judgement is tentative.",
}

_PHIA = {b.term: b for b in PHIA_BANDS}
_ICD = {b.term: b for b in ICD_BANDS}


def phia_term(term: str) -> str:
    """Canonical PHIA term for user input ('Probably' -> 'likely'); unknown terms raise ValueError."""
    t = " ".join(term.strip().lower().split())
    t = PHIA_SYNONYMS.get(t, t)
    if t not in _PHIA:
        raise ValueError(f"{term!r} is not a PHIA yardstick term; use one of {', '.join(PHIA_TERMS)}")
    return t


def phia_band(term: str) -> Band:
    return _PHIA[phia_term(term)]


def icd_band(term: str) -> Band:
    t = " ".join(term.strip().lower().split())
    t = ICD_SYNONYMS.get(t, t)
    if t not in _ICD:
        raise ValueError(f"{term!r} is not an ICD 203 term; use one of {', '.join(ICD_TERMS)}")
    return _ICD[t]


def phia_for_percent(percent: float) -> Band | None:
    """The PHIA band holding this probability, or None when it falls in one of the deliberate gaps."""
    for b in PHIA_BANDS:
        if b.contains(percent):
            return b
    return None


def neighbours_of_gap(percent: float) -> tuple[Band, Band] | None:
    """The two PHIA bands either side of a gap value (e.g. 37 % -> unlikely, realistic possibility)."""
    for lower, upper in itertools.pairwise(PHIA_BANDS):
        if lower.high < percent < upper.low:
            return lower, upper
    return None


@dataclass(frozen=True)
class Translation:
    """One term rendered on the other scale, with a warning when the bands do not line up."""

    source: Band
    target: Band
    warning: str | None

    @property
    def exact(self) -> bool:
        return self.warning is None


def _overlap(a: Band, b: Band) -> int:
    return max(0, min(a.high, b.high) - max(a.low, b.low))


def _nearest(band: Band, candidates: tuple[Band, ...]) -> Band:
    # Most overlap wins; ties (and no overlap) go to the closest midpoint, then the lower band.
    def key(c: Band) -> tuple[int, float, int]:
        mid = (band.low + band.high) / 2
        return (-_overlap(band, c), abs((c.low + c.high) / 2 - mid), c.low)

    return min(candidates, key=key)


def _warning(source: Band, target: Band, source_scale: str, target_scale: str) -> str | None:
    if source.within(target):
        return None
    spans = [b.label for b in (PHIA_BANDS if target_scale == "PHIA" else ICD_BANDS) if b.overlaps(source)]
    return (
        f"{source_scale} '{source.term}' covers {source.low}–{source.high}%, but {target_scale} "
        f"'{target.term}' covers {target.low}–{target.high}%. The {source_scale} band touches "
        f"{', '.join(spans) or 'no band'} on the {target_scale} scale: check the probability you mean "
        f"before relying on this translation."
    )


def icd_to_phia(term: str) -> Translation:
    """The PHIA term nearest an ICD 203 term, warning where the ICD band is not inside the PHIA band."""
    src = icd_band(term)
    target = _nearest(src, PHIA_BANDS)
    return Translation(src, target, _warning(src, target, "ICD 203", "PHIA"))


def phia_to_icd(term: str) -> Translation:
    """The ICD 203 term nearest a PHIA term, for partners; warns where the PHIA band is not inside it."""
    src = phia_band(term)
    target = _nearest(src, ICD_BANDS)
    return Translation(src, target, _warning(src, target, "PHIA", "ICD 203"))


# -- finding probability language in free text -----------------------------------------------------------

# Every phrase that expresses a probability, mapped to its band. PHIA wording wins where both scales share a
# word ("unlikely", "likely", "almost certain"), since judgements here are written against PHIA.
TEXT_TERMS: dict[str, Band] = {
    **{b.term: b for b in ICD_BANDS},
    **{syn: _ICD[name] for syn, name in ICD_SYNONYMS.items()},
    **{b.term: b for b in PHIA_BANDS},
    **{syn: _PHIA[name] for syn, name in PHIA_SYNONYMS.items()},
}
# Longest phrase first, so "highly unlikely" is one match and not "unlikely" (or "likely") inside it.
_TERM_RE = re.compile(
    r"\b("
    + "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in sorted(TEXT_TERMS, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
# A percentage or a percentage range: "70%", "70 per cent", "60-70%", "60 to 70 percent".
_PERCENT_RE = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent|percent)?\s*(?:-|–|—|to)\s*(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b|percent\b)"
    r"|(?<![\d.,])(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b|percent\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TermMention:
    phrase: str  # the canonical phrase (lower case), never the author's raw text
    band: Band


def terms_in_text(text: str) -> list[TermMention]:
    """Probability phrases used in `text`, left to right, longest match first."""
    out = []
    for m in _TERM_RE.finditer(text or ""):
        phrase = " ".join(m.group(1).lower().split())
        out.append(TermMention(phrase, TEXT_TERMS[phrase]))
    return out


def percentages_in_text(text: str) -> list[tuple[float, float]]:
    """Percentages in `text` as (low, high) ranges; a single value is (v, v). Values above 100 are ignored."""
    out = []
    for m in _PERCENT_RE.finditer(text or ""):
        if m.group(3) is not None:
            lo = hi = float(m.group(3))
        else:
            lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        if hi <= 100:
            out.append((lo, hi))
    return out


def format_percent(lo: float, hi: float) -> str:
    def f(v: float) -> str:
        return f"{v:g}"

    return f"{f(lo)}%" if lo == hi else f"{f(lo)}–{f(hi)}%"
