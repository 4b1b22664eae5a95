"""The checker: estimative-language and sign-off checks over a draft, before anyone is asked to approve it.

Every key judgement needs one term from the PHIA probability yardstick (analytics/assessments/yardstick.py) and
one confidence level. Beyond that it reads the text as a PHIA-trained reviewer would: words that carry no
probability ("could", "may" but not the month May) and hedges ("perhaps", "we cannot rule out"); probability
wording and numbers that contradict the chosen band, read with negation ("probably not" is the complement of
"likely"), in adverb and noun forms, and in every numeric form, but only where they state a probability (an
observed "15% of banks" or "remote access" is not one); confidence wording against the chosen level; and a
judgement with no time frame. Judgements without evidence, and evidence updated after the judgement was last
edited, are flagged; a marking that no UK or AU lead could read blocks (nobody could sign it off).

Errors block submission, every save while in review, and the sign-off itself (analytics/assessments/workflow.py);
warnings are advice. Findings in the text carry the field and span (start, end) they are about, so the editor
can highlight them inline and `python -m analytics check-judgement` can print them. Messages are built from
fixed vocabularies and numbers only, never author text, so they may be shown, logged and refused with safely.
Everything but `check` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb

from analytics.access.markings import INSTITUTES
from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.assessments import yardstick
from analytics.assessments.evidence import draft_marking, evidence_info, marking_responsible
from analytics.assessments.marking import DerivedMarking
from analytics.assessments.model import (
    EVIDENCE_KINDS,
    SIGNOFF_INSTITUTES,
    Assessment,
    AssessmentDraft,
    EvidenceRef,
    JudgementDraft,
    same_judgement,
)
from analytics.wording import counted

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

VAGUE_WORDS: tuple[str, ...] = ("could", "may", "might", "possibly", "potentially")
_VAGUE_RE = re.compile(r"\b(" + "|".join(VAGUE_WORDS) + r")\b", re.IGNORECASE)
# "May" the month is no hedge: "In May ...", "by May 2027", "12 May", "April and May".
_MONTH_BEFORE_RE = re.compile(
    r"(?:\b(?:in|on|since|during|from|until|till|by|before|after|through|throughout|early|late|of|this|next|"
    r"last|between|around|and|or|to)\s+|\bmid-?\s*|\d(?:st|nd|rd|th)?\s+|\b(?:April|June),?\s+)$",
    re.IGNORECASE,
)
_MONTH_AFTER_RE = re.compile(r"\s*(?:\d|(?:and|or|to|-|–)\s*June\b)")

# Hedges: words that soften a judgement without saying how likely it is. Canonical forms for the messages.
HEDGES: dict[str, str] = {
    r"perhaps": "perhaps",
    r"maybe": "maybe",
    r"conceivabl[ey]": "conceivable",
    r"(?:it\s+is|it's|it’s|is\s+it)\s+possible|possible\s+that": "it is possible",
    r"not\s+impossible": "not impossible",
    r"(?:cannot|can't|can’t|could\s+not|couldn't|do\s+not|don't)\s+(?:be\s+)?rule[ds]?\s+out"
    r"|(?:cannot|can't|can’t|could\s+not|not)\s+be\s+ruled\s+out": "cannot rule out",
    r"(?:cannot|can't|can’t)\s+(?:be\s+)?exclude[d]?": "cannot exclude",
    r"there\s+(?:is|'s|’s)\s+a\s+(?:chance|possibility)": "there is a chance",
}
_HEDGE_RES = tuple((re.compile(rf"\b(?:{rx})\b", re.IGNORECASE), word) for rx, word in HEDGES.items())

# Confidence wording and the levels it fits ("we are confident" reads as high or moderate).
_CONFIDENCE_RE = re.compile(
    r"\b(?P<level>high|moderate|medium|low|little|limited)[-\s]+confidence\b"
    r"|\b(?P<adverb>highly|very|fairly|moderately|reasonably|quite|not)?\s*\bconfident\b",
    re.IGNORECASE,
)
_CONFIDENCE_FITS: dict[str, tuple[str, ...]] = {
    "high": ("high",),
    "moderate": ("moderate",),
    "medium": ("moderate",),
    "low": ("low",),
    "little": ("low",),
    "limited": ("low",),
    "highly": ("high",),
    "very": ("high",),
    "fairly": ("moderate",),
    "moderately": ("moderate",),
    "reasonably": ("moderate",),
    "quite": ("moderate", "high"),
    "not": ("low",),
    "": ("high", "moderate"),
}

# A time frame: when the judgement holds. "in the next 12 months", "by 2027", "over the coming year", "by May",
# "in the near term", "currently" (a judgement about now).
_NUMBER_WORDS = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty|few|several|couple\s+of)"
_PERIOD = r"(?:days?|weeks?|months?|quarters?|years?|decades?)"
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_TIME_FRAME_RE = re.compile(
    "|".join(
        (
            r"\b(?:in|by|before|until|till|through|throughout|during|within|over|across|from|after|since|for|to|"
            r"of|beyond|around)\s+(?:the\s+)?(?:(?:end|start|beginning|middle|first\s+half|second\s+half)\s+of\s+)?"
            r"(?:(?:early|mid|late)[-\s]?)?(?:19|20)\d\d\b",
            r"\b(?:19|20)\d\d\s*(?:-|–|/|to)\s*(?:19|20)?\d\d\b",
            r"\b(?:Q[1-4]|H[12]|FY)\s*'?(?:19|20)?\d\d\b",
            rf"\b(?:next|coming|following|past|last|previous|first|upcoming)\s+(?:{_NUMBER_WORDS}\s+)?{_PERIOD}",
            r"\b(?:this|next|last)\s+(?:year|month|quarter|week|decade|winter|summer|spring|autumn)\b",
            rf"\b(?:within|in|for|over)\s+{_NUMBER_WORDS}\s+(?:more\s+)?{_PERIOD}",
            r"\b(?:short|near|medium|long)[-\s]term\b",
            rf"\b(?:in|by|before|until|through|during|since|from|after)\s+(?:(?:early|late|mid)[-\s]?)?{_MONTHS}\b",
            r"\bby\s+the\s+end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:year|decade|quarter|month)\b",
            r"\b(?:currently|at\s+present|presently|to\s+date|so\s+far|already|now|today|at\s+the\s+moment)\b",
        )
    ),
    re.IGNORECASE,
)

TEXT_FIELDS: tuple[str, ...] = ("statement", "reasoning", "bluf")


@dataclass(frozen=True)
class Finding:
    """One thing the checker flags. Messages are built from fixed vocabularies and numbers, never author text.
    `field` and `span` say where in the author's text (start, end character offsets) the problem is, for
    inline highlighting; both are None for problems that are not in the text (no term, no evidence, ...)."""

    code: str
    severity: str  # 'error' blocks submission for review; 'warning' is advice
    message: str
    judgement: int | None = None  # 1-based judgement number, None for the whole assessment
    field: str | None = None  # 'statement', 'reasoning' or 'bluf'
    span: tuple[int, int] | None = None

    @property
    def kind(self) -> str:
        """The finding's kind, as the command line prints it (the same as `code`)."""
        return self.code


def _is_month(text: str, start: int, end: int) -> bool:
    return text[start:end] == "May" and bool(
        _MONTH_BEFORE_RE.search(text[max(0, start - 20) : start]) or _MONTH_AFTER_RE.match(text, end)
    )


def _vague_words(text: str) -> list[tuple[str, int, int]]:
    """Vague words with their spans; "May" the month is not one."""
    text = text or ""
    return [
        (m.group(1).lower(), m.start(1), m.end(1))
        for m in _VAGUE_RE.finditer(text)
        if not _is_month(text, m.start(1), m.end(1))
    ]


def _hedges(text: str) -> list[tuple[str, int, int]]:
    found = [(word, m.start(), m.end()) for rx, word in _HEDGE_RES for m in rx.finditer(text or "")]
    return sorted(found, key=lambda h: h[1])


def wording_findings(text: str, field: str, number: int | None = None) -> list[Finding]:
    """Vague words and hedges in one text (a statement, its reasoning, the bottom line), with their spans."""
    whose = "The bottom line " if field == "bluf" else ""
    out = [
        Finding(
            "vague_word",
            "warning",
            f"{whose}uses “{word}”, which carries no probability: say how likely, with a yardstick term.",
            number,
            field,
            (s, e),
        )
        for word, s, e in _vague_words(text)
    ]
    out += [
        Finding(
            "hedge",
            "warning",
            f"{whose}hedges with “{word}”, which says nothing about how likely: state the judgement with a "
            "yardstick term, or drop it.",
            number,
            field,
            (s, e),
        )
        for word, s, e in _hedges(text)
    ]
    return sorted(out, key=lambda f: f.span or (0, 0))


def statement_findings(
    statement: str, band: yardstick.Band | None, confidence: str | None, number: int | None = None
) -> list[Finding]:
    """What a reviewer raises on a judgement's text alone: vague words and hedges, probability wording or numbers
    outside the chosen band, confidence wording against the chosen level, and a missing time frame. Sorted by
    where they are in the text. The command line (check-judgement) runs exactly this."""
    out = wording_findings(statement, "statement", number)
    if band is not None:
        out += _contradictions(number, statement, band)
    if confidence in yardstick.CONFIDENCE_LEVELS:
        out += _confidence_findings(number, statement, confidence)
    out.sort(key=lambda f: f.span or (0, 0))
    if statement.strip() and not _TIME_FRAME_RE.search(statement):
        out.append(
            Finding(
                "time_frame",
                "warning",
                "gives no time frame: say when it holds (“in the next 12 months”, “by 2027”, “over the coming "
                "year”).",
                number,
                "statement",
                (0, len(statement)),
            )
        )
    return out


def check_text(statement: str, term: str, confidence: str | None = None) -> list[Finding]:
    """The text checks on one judgement written anywhere (the command line's check-judgement): `term` is a
    PHIA term (or synonym; ValueError otherwise), `confidence` a level or None to skip that check."""
    band = yardstick.phia_band(term)
    if confidence is not None and confidence not in yardstick.CONFIDENCE_LEVELS:
        raise ValueError(f"--confidence {confidence!r} is not a confidence level; use high, moderate or low")
    return statement_findings(statement, band, confidence)


def check_judgement(
    number: int,
    j: JudgementDraft,
    *,
    edited_at: datetime | None = None,
    evidence_updated: Mapping[EvidenceRef, datetime] | None = None,
) -> list[Finding]:
    """Findings for one judgement. `edited_at` is when it was last changed (None while being edited now);
    `evidence_updated` gives each cited record's last update."""
    band, out = _term_findings(number, j)
    if not j.confidence:
        out.append(
            Finding("no_confidence", "error", "has no confidence level (high, moderate or low).", number)
        )
    elif j.confidence not in yardstick.CONFIDENCE_LEVELS:
        out.append(Finding("no_confidence", "error", "has an unknown confidence level.", number))
    out.extend(statement_findings(j.statement, band, j.confidence, number))
    out.extend(wording_findings(j.reasoning, "reasoning", number))
    out.extend(_evidence_findings(number, j, edited_at, evidence_updated))
    return out


def _term_findings(number: int, j: JudgementDraft) -> tuple[yardstick.Band | None, list[Finding]]:
    """The judgement's yardstick band (None when missing or unknown) and the findings if so."""
    if not j.term:
        return None, [Finding("no_term", "error", "has no probability term from the PHIA yardstick.", number)]
    try:
        return yardstick.phia_band(j.term), []
    except ValueError:
        return None, [Finding("no_term", "error", "uses a term that is not on the PHIA yardstick.", number)]


def _contradictions(number: int | None, statement: str, band: yardstick.Band) -> list[Finding]:
    """Probability wording (negation applied) and numbers in the statement that fall outside the chosen band."""
    out: list[Finding] = []
    for mention in yardstick.terms_in_text(statement):
        if mention.band.overlaps(band):
            continue
        out.append(
            Finding(
                "term_contradicts",
                "warning",
                f"says “{mention.phrase}” ({mention.band.low}–{mention.band.high}%) in its text, "
                f"but the chosen term is {band.label}.",
                number,
                "statement",
                (mention.start, mention.end),
            )
        )
    for n in yardstick.numbers_in_text(statement):
        if band.low <= n.low and n.high <= band.high:
            continue
        out.append(
            Finding(
                "percent_outside",
                "warning",
                f"gives {n.label} in its text, outside the chosen band {band.label}.",
                number,
                "statement",
                (n.start, n.end),
            )
        )
    return out


def _confidence_findings(number: int | None, statement: str, chosen: str) -> list[Finding]:
    """Confidence wording in the statement that does not fit the chosen level."""
    out = []
    for m in _CONFIDENCE_RE.finditer(statement):
        word = (m.group("level") or m.group("adverb") or "").lower()
        fits = _CONFIDENCE_FITS[word]
        if chosen in fits:
            continue
        said = f"{word} confidence" if m.group("level") else " ".join(f"{word} confident".split())
        start = (
            m.start("level") if m.group("level") else m.start("adverb") if m.group("adverb") else m.end() - 9
        )
        out.append(
            Finding(
                "confidence",
                "warning",
                f"says “{said.lower()}” in its text, but the chosen confidence level is {chosen}.",
                number,
                "statement",
                (start, m.end()),
            )
        )
    return out


def _evidence_findings(
    number: int,
    j: JudgementDraft,
    edited_at: datetime | None,
    evidence_updated: Mapping[EvidenceRef, datetime] | None,
) -> list[Finding]:
    """No evidence, or evidence updated since the judgement was last edited."""
    if not j.evidence:
        return [Finding("no_evidence", "warning", "cites no evidence.", number)]
    if edited_at is None or not evidence_updated:
        return []
    newer = [e for e in j.evidence if (t := evidence_updated.get(e)) is not None and t > edited_at]
    if not newer:
        return []
    kinds = ", ".join(sorted({EVIDENCE_KINDS[e.kind].lower() for e in newer}))
    return [
        Finding(
            "evidence_newer",
            "warning",
            f"cites {counted(len(newer), 'record')} ({kinds}) updated after the judgement was last edited: "
            "re-read the evidence and confirm the judgement.",
            number,
        )
    ]


def check_draft(
    draft: AssessmentDraft,
    *,
    edited_at: Mapping[str, datetime] | None = None,
    evidence_updated: Mapping[EvidenceRef, datetime] | None = None,
    marking: DerivedMarking | None = None,
) -> list[Finding]:
    """Everything the checker flags in a draft. `edited_at` maps judgement keys to their last edit (only for
    judgements unchanged since the saved version); `marking` adds the checks on who could approve it."""
    out: list[Finding] = []
    if not draft.title.strip():
        out.append(Finding("no_title", "error", "The assessment has no title."))
    if not draft.bluf.strip():
        out.append(Finding("no_bluf", "warning", "There is no bottom line up front."))
    if not draft.judgements:
        out.append(Finding("no_judgements", "error", "There are no key judgements."))
    out.extend(wording_findings(draft.bluf, "bluf"))
    for n, j in enumerate(draft.judgements, start=1):
        out.extend(
            check_judgement(
                n,
                j,
                edited_at=(edited_at or {}).get(j.key) if j.key else None,
                evidence_updated=evidence_updated,
            )
        )
    if marking is not None:
        out.extend(marking_findings(marking))
    return out


def marking_findings(m: DerivedMarking) -> list[Finding]:
    """A joint assessment needs a lead of each institute to approve it: flag markings that make that impossible."""
    if not m.releasable_to:
        return [
            Finding(
                "unreadable",
                "error",
                "No one is cleared for all of this evidence together (its releasability or AMBER+STRICT "
                "originators do not overlap). Remove or replace evidence.",
            )
        ]
    missing = [i for i in SIGNOFF_INSTITUTES if i not in m.releasable_to]
    if missing:
        return [
            Finding(
                "single_institute",
                "error",
                f"The evidence makes this assessment releasable to {' and '.join(m.releasable_to)} only, so no "
                f"{' or '.join(missing)} lead can read it to sign it off. Use evidence both institutes may see.",
            )
        ]
    if m.tlp == "AMBER+STRICT":
        return [
            Finding(
                "single_institute",
                "error",
                f"TLP:AMBER+STRICT keeps this assessment inside {m.originator}, so the other institute's lead "
                "cannot sign it off.",
            )
        ]
    if m.tlp == "RED" and not m.named_recipients:
        return [Finding("unreadable", "error", "TLP:RED with no named recipient common to all the evidence.")]
    return []


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def blocks_text(problems: Sequence[Finding]) -> str:
    """'2 problem(s): Judgement 2 has no probability term …; Judgement 2 has no confidence level ….' Built from
    the checker's fixed messages and numbers only, never author text."""
    parts = [(f"Judgement {f.judgement} " if f.judgement else "") + f.message.rstrip(".") for f in problems]
    return f"{counted(len(problems), 'problem')}: " + "; ".join(parts) + "."


def check(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    draft: AssessmentDraft,
    base: Assessment | None = None,
    today: date | None = None,
) -> list[Finding]:
    """The checker on a draft as the author writes it. Judgements unchanged since `base` (the saved version
    the author started from) keep their last-edit time, so evidence updated since then is flagged."""
    viewer.require(*ASSESSMENT_AUTHORS)
    refs = [e for j in draft.judgements for e in j.evidence]
    info = evidence_info(con, viewer, refs, today)
    edited: dict[str, datetime] = {}
    if base is not None:
        saved = {j.key: j for j in base.judgements}
        for j in draft.judgements:
            old = saved.get(j.key)
            if old is not None and same_judgement(j, old):
                edited[j.key] = old.edited_at
    findings = check_draft(
        draft,
        edited_at=edited,
        evidence_updated={r: i.updated_at for r, i in info.items() if i.updated_at is not None},
    )
    missing = [e for e in refs if e not in info]
    if missing:
        findings.append(
            Finding(
                "no_evidence", "error", f"{counted(len(missing), 'cited record')} cannot be opened by you."
            )
        )
    else:
        creator = base.originator if base is not None and base.originator in INSTITUTES else None
        blocked = marking_findings(draft_marking(con, viewer, draft, today, creator))
        why = marking_responsible(con, viewer, draft, today) if blocked else ""
        # Each marking block names the judgement and record responsible (ids and markings, never record text).
        findings.extend(replace(f, message=f"{f.message} {why}") if why else f for f in blocked)
    return findings
