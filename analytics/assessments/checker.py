"""The checker: estimative-language and sign-off checks over a draft, before anyone is asked to approve it.

Every key judgement needs one term from the PHIA probability yardstick (analytics/assessments/yardstick.py) and
one confidence level; words that carry no probability ("could", "may") are flagged, and so are terms or
percentages in the text that contradict the chosen band, judgements without evidence, and evidence updated after
the judgement was last edited. A marking that no UK or AU lead could read blocks too (nobody could sign it off).

Errors block submission, every save while in review, and the sign-off itself (analytics/assessments/workflow.py);
warnings are advice. Messages are built from fixed vocabularies and numbers only, never author text, so they
may be shown, logged and refused with safely. Everything but `check` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from analytics.access.markings import INSTITUTES
from analytics.access.roles import ASSESSMENT_AUTHORS
from analytics.access.viewer import Viewer
from analytics.assessments import yardstick
from analytics.assessments.evidence import draft_marking, evidence_info
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

# Not records only: cached results follow every write (session.generation_for).
READS_ONLY_RECORDS = False

VAGUE_WORDS: tuple[str, ...] = ("could", "may", "might", "possibly", "potentially")
_VAGUE_RE = re.compile(r"\b(" + "|".join(VAGUE_WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One thing the checker flags. Messages are built from fixed vocabularies and numbers, never author text."""

    code: str
    severity: str  # 'error' blocks submission for review; 'warning' is advice
    message: str
    judgement: int | None = None  # 1-based judgement number, None for the whole assessment


def _vague_words(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1).lower() for m in _VAGUE_RE.finditer(text or "")))


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
    for word in _vague_words(f"{j.statement}\n{j.reasoning}"):
        out.append(
            Finding(
                "vague_word",
                "warning",
                f"uses “{word}”, which carries no probability: say how likely, with a yardstick term.",
                number,
            )
        )
    if band is not None:
        out.extend(_contradictions(number, j.statement, band))
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


def _contradictions(number: int, statement: str, band: yardstick.Band) -> list[Finding]:
    """Yardstick terms and percentages in the statement that fall outside the chosen band."""
    out: list[Finding] = []
    seen: set[str] = set()
    for mention in yardstick.terms_in_text(statement):
        if mention.phrase in seen or mention.band.overlaps(band):
            continue
        seen.add(mention.phrase)
        out.append(
            Finding(
                "term_contradicts",
                "warning",
                f"says “{mention.phrase}” ({mention.band.low}–{mention.band.high}%) in its text, "
                f"but the chosen term is {band.label}.",
                number,
            )
        )
    for lo, hi in yardstick.percentages_in_text(statement):
        if band.low <= lo and hi <= band.high:
            continue
        out.append(
            Finding(
                "percent_outside",
                "warning",
                f"gives {yardstick.format_percent(lo, hi)} in its text, outside the chosen band {band.label}.",
                number,
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
            f"cites {len(newer)} record(s) ({kinds}) updated after the judgement was last edited: "
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
    for word in _vague_words(draft.bluf):
        out.append(
            Finding("vague_word", "warning", f"The bottom line uses “{word}”, which carries no probability.")
        )
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
    return f"{len(problems)} problem(s): " + "; ".join(parts) + "."


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
            Finding("no_evidence", "error", f"{len(missing)} cited record(s) cannot be opened by you.")
        )
    else:
        creator = base.originator if base is not None and base.originator in INSTITUTES else None
        findings.extend(marking_findings(draft_marking(con, viewer, draft, today, creator)))
    return findings
