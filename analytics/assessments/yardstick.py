"""Estimative language: the PHIA probability yardstick, the US ICD 203 scale, and translation between them.

Joint assessments are written against the UK Professional Head of Intelligence Assessment (PHIA) yardstick. Its
bands have deliberate gaps (nothing between 5 and 10 %, 20 and 25 %, ...) so that a reader never has to decide
which side of a boundary a judgement sits on. Australian partners sometimes think in the US ICD 203 terms, whose
bands are contiguous and cut differently; a translation therefore says which PHIA term is nearest and warns
whenever the ICD band does not fit inside that PHIA band (PHIA "unlikely" is 25-35 %, ICD's is 20-45 %).

Confidence is a separate axis (high / moderate / low): how good the information and analysis behind a
judgement are, not how probable it is.

It also finds probability language in free text (`terms_in_text`, `numbers_in_text`), with where each mention is:
words only where they state a probability (bare "remote" does not; "the chance ... is remote" does), negation
turning a band into its complement, and numbers only when their context is a probability rather than an
observed figure.

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
# word ("unlikely", "likely", "almost certain"), since judgements here are written against PHIA. ICD 203's bare
# "remote" is left out: "remote access tooling" is no probability. It counts only beside a probability noun ("a
# remote possibility", "the chance ... is remote", _NOUN_RES below). Adverb and noun forms are what authors
# write ("will almost certainly", "a near certainty").
TEXT_TERMS: dict[str, Band] = {
    **{b.term: b for b in ICD_BANDS},
    **{syn: _ICD[name] for syn, name in ICD_SYNONYMS.items() if syn != "remote"},
    **{b.term: b for b in PHIA_BANDS},
    **{syn: _PHIA[name] for syn, name in PHIA_SYNONYMS.items()},
    "almost certainly": _PHIA["almost certain"],
    "near certainty": _PHIA["almost certain"],
    "remote possibility": _PHIA["remote chance"],
    "very probably": _ICD["very likely"],
}
# Longest phrase first, so "highly unlikely" is one match and not "unlikely" (or "likely") inside it.
_TERM_RE = re.compile(
    r"\b("
    + "|".join(re.escape(t).replace(r"\ ", r"[\s-]+") for t in sorted(TEXT_TERMS, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
# A percentage or a percentage range: "70%", "70 per cent", "60-70%", "60 to 70 percent".
_PERCENT_RE = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent|percent)?\s*(?:-|–|—|to)\s*(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b|percent\b)"
    r"|(?<![\d.,])(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b|percent\b)",
    re.IGNORECASE,
)

# Likelihood nouns with a quality word ("a high likelihood", "the chance ... is remote") are probability
# language too, though off the yardstick; their bands are the yardstick bands such words are read as.
_QUALITY_BANDS: dict[str, tuple[int, int]] = {
    "very high": (80, 100),
    "high": (55, 90),
    "strong": (55, 90),
    "good": (55, 90),
    "low": (0, 35),
    "very low": (0, 20),
    "slim": (0, 20),
    "small": (0, 20),
    "negligible": (0, 5),
    "remote": (0, 5),
}
_QUALITY = r"(?P<q>very\s+high|very\s+low|high|strong|good|low|slim|small|negligible|remote)"
_NOUN = r"(?P<n>likelihood|chances?|probability|possibility|prospects?|odds)"
_NOUN_RES = (
    re.compile(rf"\b{_QUALITY}\s+{_NOUN}\b", re.IGNORECASE),
    # "the chance of a successful attack on the payment rails is remote": up to ten words between
    re.compile(
        rf"\b{_NOUN}\b(?:\s+[^\s.;:!?,]+){{0,10}}?\s+(?:is|are|remains?|was|were|looks?|seems?|appears?)\s+"
        rf"{_QUALITY}\b",
        re.IGNORECASE,
    ),
)

# Negation turns a term into its complement ("almost certainly not" is 0-5%, "not likely" 25-45%). Before the
# term: not / never / -n't, with only linking words between ("it is not likely", "we do not judge it likely");
# "no" only right before ("no realistic possibility"). After it: "probably not", "likely won't".
_NEG_WORDS = {"not", "never", "cannot"}
_LINKING = {
    "is", "are", "was", "were", "be", "been", "being", "it", "this", "that", "seem", "seems", "appear", "appears",
    "considered", "judged", "thought", "deemed", "very", "particularly", "especially", "at", "all", "as", "a",
    "an", "do", "does", "did", "think", "judge", "assess", "consider", "regard", "we", "i", "see", "look", "looks",
}  # fmt: skip
_NEG_AFTER_RE = re.compile(
    r"\s+(?:(?:will|would|shall|should|be|have|has|had|do|does|is|are|was|were)\s+)?(?:not(?!\s+only\b)|never)\b"
    r"|\s+(?:won't|wouldn't|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|haven't|hasn't|cannot|can't)\b",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[\w'’]+")
_CLAUSE_RE = re.compile(r"[.;:!?,()\[\]\n]|\b(?:but|and|or|although|though|while|whereas|because)\b", re.I)


@dataclass(frozen=True)
class TermMention:
    """A probability phrase in a text, with where it is (start, end), its band after any negation, and whether
    it was negated. `phrase` is canonical (lower case, "not likely"), never the author's raw text."""

    phrase: str
    band: Band
    start: int = 0
    end: int = 0
    negated: bool = False


def _complement(band: Band) -> Band:
    return Band(band.term, 100 - band.high, 100 - band.low)


def _negation_before(text: str, start: int) -> int | None:
    """Where a negation governing the phrase at `start` begins, or None."""
    lo = max(0, start - 80)
    pre = text[lo:start]
    cuts = list(_CLAUSE_RE.finditer(pre))
    base = lo + (cuts[-1].end() if cuts else 0)
    words = [
        (m.group().lower().replace("’", "'"), base + m.start()) for m in _WORD_RE.finditer(text[base:start])
    ]
    if words and words[-1][0] == "no":
        return words[-1][1]
    for i in range(len(words) - 1, max(-1, len(words) - 5), -1):
        w, at = words[i]
        if w in _NEG_WORDS or w.endswith("n't"):
            return at
        if w not in _LINKING:
            return None
    return None


def _with_negation(text: str, phrase: str, band: Band, start: int, end: int) -> TermMention:
    before = _negation_before(text, start)
    after = _NEG_AFTER_RE.match(text, end)
    if before is not None and after is not None:  # "not unlikely not to": leave double negatives as written
        return TermMention(phrase, band, start, end)
    if before is not None:
        return TermMention(f"not {phrase}", _complement(band), before, end, True)
    if after is not None:
        return TermMention(f"{phrase} not", _complement(band), start, after.end(), True)
    return TermMention(phrase, band, start, end)


def terms_in_text(text: str) -> list[TermMention]:
    """Probability phrases used in `text`, left to right, longest match first, negation applied."""
    text = text or ""
    found: list[tuple[int, int, str, Band]] = []
    for m in _TERM_RE.finditer(text):
        phrase = " ".join(m.group(1).lower().replace("-", " ").split())
        found.append((m.start(1), m.end(1), phrase, TEXT_TERMS[phrase]))
    for rx in _NOUN_RES:
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e, *_ in found):
                continue
            q = " ".join(m.group("q").lower().split())
            noun = m.group("n").lower().rstrip("s") if m.group("n").lower() != "odds" else "odds"
            lo, hi = _QUALITY_BANDS[q]
            phrase = f"{q} {noun}"
            found.append((m.start(), m.end(), phrase, Band(phrase, lo, hi)))
    found.sort()
    return [_with_negation(text, phrase, band, s, e) for s, e, phrase, band in found]


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


# -- numbers that state a probability ---------------------------------------------------------------------

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]  # fmt: skip
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_BIG = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUM_WORD = (
    rf"(?:(?:{'|'.join(_TENS)})(?:[-\s](?:{'|'.join(_UNITS[1:10])}))?"
    rf"|(?:(?:a|one)\s+)?(?:{'|'.join(_BIG)})|{'|'.join(sorted(_UNITS, key=len, reverse=True))})"
)
_NUM = rf"(?:\d{{1,3}}(?:\.\d+)?|{_NUM_WORD})"
_PCT = r"\s*(?:%|per\s*cent\b|percent\b)"
_BOUND = (
    r"(?P<bound>less\s+than|fewer\s+than|under|below|at\s+most|no\s+more\s+than|up\s+to|more\s+than|over|above|"
    r"greater\s+than|at\s+least|no\s+less\s+than)"
)
_UPPER_BOUNDS = {"less than", "fewer than", "under", "below", "at most", "no more than", "up to"}
_PERCENT_FORMS = (
    re.compile(rf"\bbetween\s+(?P<a>{_NUM})(?:{_PCT})?\s+and\s+(?P<b>{_NUM}){_PCT}", re.I),
    re.compile(rf"(?<![\d.,])\b(?P<a>{_NUM})(?:{_PCT})?\s*(?:-|–|—|to)\s*(?P<b>{_NUM}){_PCT}", re.I),
    re.compile(rf"\b{_BOUND}\s+(?P<a>{_NUM}){_PCT}", re.I),
    re.compile(rf"(?<![\d.,])\b(?P<a>{_NUM}){_PCT}", re.I),
)
_CHANCE = r"(?:chances?|probability|likelihood|odds|risk)"
_DECIMAL_FORMS = (
    re.compile(
        rf"\b{_CHANCE}\s*(?:of|is|was|at|=|:)?\s*(?:about|around|roughly|approximately|some)?\s*"
        r"(?P<a>0?\.\d+|1\.0+)(?![\d%])",
        re.I,
    ),
    re.compile(rf"(?<![\d.])(?P<a>0?\.\d+)\s+{_CHANCE}\b", re.I),
)
_N_IN_M = re.compile(rf"\b(?P<a>\d+|{_NUM_WORD})(?:\s+|-)in(?:\s+|-)(?P<b>\d+|(?:a\s+)?{_NUM_WORD})\b", re.I)
_EVEN = re.compile(r"\b(?:fifty[-\s]fifty|50[-/]50)\b", re.I)
# Context that makes a percentage an observed figure, not a probability: "15% of UK banks", "rose 45% year on
# year", "a 30% increase", "scored 62%". A probability noun or "likely" right after the number wins over these.
_OBSERVED_AFTER = re.compile(
    r"\s*(?:of|increase|increases|rise|rises|growth|decline|drop|fall|jump|reduction|more|fewer|less|higher|"
    r"lower|year[-\s]on[-\s]year|year[-\s]over[-\s]year|a\s+year|per\s+year|annually|accuracy|success|pass|"
    r"score|on)\b",
    re.I,
)
_OBSERVED_BEFORE = re.compile(
    r"\b(?:rose|rise|rises|risen|rising|grew|grow|grows|grown|growing|increased?|increases|increasing|fell|falls?|"
    r"fallen|falling|dropped|drops?|declined?|declines|jumped|jumps?|up|down|by|scored?|scores|scoring|accuracy|"
    r"rate|share|reached|reaches|reach|accounted\s+for|accounts\s+for|makes?\s+up|made\s+up)\s*$",
    re.I,
)
_PROBABILITY_AFTER = re.compile(rf"\s*(?:{_CHANCE}|likely|certain|certainty)\b", re.I)


def _number(word: str) -> float:
    """'70', '3.5', 'seventy-five', 'a hundred', 'three' as a number."""
    w = " ".join(word.lower().replace("-", " ").split())
    if w[:1].isdigit() or w[:1] == ".":
        return float(w)
    parts = [p for p in w.split() if p not in ("a",)]
    if parts[-1] in _BIG:
        return float(_BIG[parts[-1]])
    total = 0
    for p in parts:
        total += _TENS.get(p, 0) or (_UNITS.index(p) if p in _UNITS else 0)
    return float(total)


@dataclass(frozen=True)
class NumberMention:
    """A probability stated as a number ("70%", "60-80%", "less than 25%", "0.9", "one in three"), as a
    percentage range (low == high for one value) and where it is in the text."""

    low: float
    high: float
    start: int
    end: int

    @property
    def label(self) -> str:
        return format_percent(self.low, self.high)


def _observed(text: str, start: int, end: int) -> bool:
    if _PROBABILITY_AFTER.match(text, end):
        return False
    return bool(_OBSERVED_AFTER.match(text, end) or _OBSERVED_BEFORE.search(text[max(0, start - 40) : start]))


def numbers_in_text(text: str) -> list[NumberMention]:
    """Probabilities written as numbers in `text`, left to right. Percentages count unless their context makes
    them an observed figure; decimals and "N in M" count only beside a probability noun ("a probability of 0.9",
    "a one in three chance", "the odds are one in a hundred")."""
    text = text or ""
    out: list[NumberMention] = []

    def add(lo: float, hi: float, start: int, end: int) -> None:
        if hi <= 100 and not any(m.start < end and start < m.end for m in out):
            out.append(NumberMention(lo, hi, start, end))

    for m in _EVEN.finditer(text):
        add(50, 50, m.start(), m.end())
    for rx in _DECIMAL_FORMS:
        for m in rx.finditer(text):
            v = float(m.group("a")) * 100
            add(v, v, m.start("a"), m.end("a"))
    for m in _N_IN_M.finditer(text):
        n, of = _number(m.group("a")), _number(m.group("b"))
        before = text[max(0, m.start() - 60) : m.start()]
        chance = re.match(rf"\s*(?:-\s*)?{_CHANCE}\b", text[m.end() :], re.I) or re.search(
            rf"\b{_CHANCE}\b[^.;:!?]{{0,40}}\b(?:of|is|are|was|were|at)\s+(?:(?:about|around|roughly|only|just)\s+)?$",
            before,
            re.I,
        )
        if chance and of > 0 and n <= of:
            v = round(100 * n / of, 1)
            add(v, v, m.start(), m.end())
    observed: list[tuple[int, int]] = []  # "rose by up to 40%": no shorter form may read "40%" inside it
    for i, rx in enumerate(_PERCENT_FORMS):
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in observed):
                continue
            if _observed(text, m.start(), m.end()):
                observed.append((m.start(), m.end()))
                continue
            a = _number(m.group("a"))
            if i < 2:
                lo, hi = sorted((a, _number(m.group("b"))))
            elif i == 2:
                bound = " ".join(m.group("bound").lower().split())
                lo, hi = (0.0, a) if bound in _UPPER_BOUNDS else (a, 100.0)
            else:
                lo = hi = a
            add(lo, hi, m.start(), m.end())
    return sorted(out, key=lambda m: m.start)
