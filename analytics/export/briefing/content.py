"""Briefings: the one content model every writer lays out, so the four formats always say the same thing.

A `Briefing` is what goes to the reader: a title, the marking of everything in it, whether it is a draft, the
bottom line, numbered key judgements (each with its yardstick term and confidence), chart images, and the
sources it credits. Pages build one from an assessment (see `from_assessment`) and chart images rendered by
analytics.export.chart_image. The writers (slides.py for PowerPoint, docx_writer.py for Word, pdf.py,
markdown.py; formats.py picks one by name) only lay it out.

Rules every writer keeps:
- the marking (highest TLP, narrowest releasability of the assessment and every chart; `make_briefing` combines
  them) is on every slide and in every page header and footer, with the TLP label in its FIRST colour on black;
- a draft is watermarked DRAFT on every slide and page, and says so in its file name;
- file names carry the date, the title and the marking (`briefing_filename`).

The small helpers at the end (`generated_when`, `subtitle_line`, `releasable_text`, `rgb`) are shared by the
writers, so the words and colours of a marking are spelled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analytics.access.markings import Marking, combine_markings
from analytics.export.chart_image import Provenance, export_chart, export_filename, figure_title
from analytics.sources import source_credits
from analytics.wording import counted

WATERMARK = "DRAFT"

# The protective marking an assessment carries beside its TLP, in the words of each government's scheme: the UK
# Government Security Classifications (OFFICIAL, with the OFFICIAL-SENSITIVE handling caveat) and the Australian
# Protective Security Policy Framework (OFFICIAL, OFFICIAL: Sensitive, PROTECTED). AU PROTECTED has no UK tier of
# its own below SECRET: the UK holds it as OFFICIAL-SENSITIVE with the AU marking kept (docs/briefings.md).
PROTECTIVE_WORDS: dict[str, tuple[str, str]] = {
    "OFFICIAL": ("OFFICIAL", "OFFICIAL"),
    "OFFICIAL-SENSITIVE": ("OFFICIAL-SENSITIVE", "OFFICIAL: Sensitive"),
    "PROTECTED": ("OFFICIAL-SENSITIVE (AU PROTECTED)", "PROTECTED"),
}


def protective_line(level: str) -> str:
    """'UK OFFICIAL-SENSITIVE · AU OFFICIAL: Sensitive': both schemes' words for one level."""
    uk, au = PROTECTIVE_WORDS.get(level, PROTECTIVE_WORDS["OFFICIAL"])
    return f"UK {uk} · AU {au}"


@dataclass(frozen=True)
class KeyJudgement:
    number: int
    statement: str
    term: str | None = None  # PHIA yardstick term, e.g. "likely"
    confidence: str | None = None  # high / moderate / low
    term_label: str = ""  # the term with its band, e.g. "likely (55–75%)"; falls back to the term
    reasoning: str = ""

    @property
    def term_text(self) -> str:
        """The yardstick term as every writer prints it (with its band when known)."""
        return self.term_label or self.term or "no probability term"

    @property
    def confidence_text(self) -> str:
        return self.confidence or "not given"

    @property
    def estimate(self) -> str:
        conf = f"{self.confidence} confidence" if self.confidence else "no confidence level"
        return f"{self.term_text} · {conf}"


@dataclass(frozen=True)
class NativeChart:
    """A chart's data as PowerPoint's own chart draws it (editable in the deck): bar or line, one category
    axis, one series per trace. Values missing in a trace are None."""

    kind: str  # "bar" | "barh" | "line"
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    value_title: str = ""


def native_chart(fig: Any) -> NativeChart | None:
    """The figure as chart data when every trace is a bar or a line over one shared axis (what python-pptx's
    chart data can hold); None otherwise (heatmaps, annotations, mixed kinds), and the picture is used."""
    traces = list(getattr(fig, "data", ()))
    if not traces:
        return None
    kinds = {("bar" if t.type == "bar" else "line" if t.type == "scatter" else "other") for t in traces}
    if len(kinds) != 1 or "other" in kinds:
        return None
    horizontal = kinds == {"bar"} and all(getattr(t, "orientation", None) == "h" for t in traces)
    cats: dict[str, None] = {}
    per: list[tuple[str, dict[str, float | None]]] = []
    for t in traces:
        xs, ys = (t.y, t.x) if horizontal else (t.x, t.y)
        if xs is None or ys is None:
            return None
        keys = [_category(x) for x in xs]
        cats.update(dict.fromkeys(keys))
        per.append(
            (
                str(t.name or ""),
                {k: (None if v is None else float(v)) for k, v in zip(keys, ys, strict=False)},
            )
        )
    order = tuple(cats)
    series = tuple((name, tuple(vals.get(c) for c in order)) for name, vals in per)
    axis = fig.layout.xaxis if horizontal else fig.layout.yaxis
    title = str(axis.title.text) if axis is not None and axis.title and axis.title.text else ""
    kind = "barh" if horizontal else ("bar" if kinds == {"bar"} else "line")
    return NativeChart(kind, order, series, title)


def _category(x: Any) -> str:
    """Dates as 'YYYY-MM-DD' (a month axis), everything else as text."""
    text = str(x)
    return text[:10] if len(text) >= 19 and text[4] == "-" and text[10] in "T " else text


@dataclass(frozen=True)
class BriefingChart:
    """A chart image ready for a briefing (rendered with banner and footer by analytics.export.chart_image),
    and its data for an editable PowerPoint chart when the figure is a plain bar or line chart."""

    title: str
    png: bytes  # 16:9, for slides
    marking: Marking
    caption: str = ""  # e.g. the filters in words
    print_png: bytes | None = None  # A4 half-page shape, for documents; the slide image when absent
    native: NativeChart | None = None

    @property
    def document_png(self) -> bytes:
        return self.print_png or self.png

    @property
    def alt_text(self) -> str:
        """What a screen reader says for the picture in every format: title, filters and range, marking."""
        caption = f" — {self.caption}" if self.caption else ""
        return f"{self.title}{caption} ({self.marking.label})"


def briefing_chart(fig: Any, marking: Marking, provenance: Provenance, caption: str = "") -> BriefingChart:
    """Render a figure for a briefing: a 16:9 image for slides and an A4 half-page one for documents."""
    return BriefingChart(
        title=figure_title(fig),
        png=export_chart(fig, marking, provenance, "png", "slide"),
        marking=marking,
        caption=caption,
        print_png=export_chart(fig, marking, provenance, "png", "a4half"),
        native=native_chart(fig),
    )


@dataclass(frozen=True)
class Section:
    """A titled list of what an assessment says beyond its judgements (assumptions, dissent, approval, the
    evidence annex, ...): every writer lays sections out the same generic way, so none can drop one."""

    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceLine:
    """One cited record in the evidence annex: its id, kind, reliability grade and marking (and its title
    only for readers who may read records)."""

    ref_id: str
    kind: str  # "Incident", "Evaluation run", "Saved view"
    reliability: str  # e.g. "B2" (Admiralty source reliability and credibility), or why there is none
    marking: str  # e.g. "TLP:GREEN · releasable to AU and UK"
    judgements: tuple[int, ...] = ()
    label: str = ""  # record text: empty for readers who may not read records

    @property
    def text(self) -> str:
        on = f" · judgement {', '.join(str(n) for n in self.judgements)}" if self.judgements else ""
        label = f" · {self.label}" if self.label else ""
        return f"{self.ref_id} · {self.kind} · reliability {self.reliability} · {self.marking}{on}{label}"


@dataclass(frozen=True)
class Briefing:
    title: str
    marking: Marking
    draft: bool
    bottom_line: str
    judgements: tuple[KeyJudgement, ...] = ()
    charts: tuple[BriefingChart, ...] = ()
    sources: tuple[str, ...] = ()
    status: str = ""  # e.g. "Approved 2026-11-20 by … · version 4", "Draft · version 2"
    question: str = ""
    prepared_by: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    sections: tuple[Section, ...] = ()  # after the judgements, in order (see `assessment_sections`)
    protective: str = "OFFICIAL"  # a PROTECTIVE_WORDS key, set per assessment
    recipients: tuple[str, ...] = ()  # named recipients of a TLP:RED briefing (emails)

    @property
    def has_bottom_line(self) -> bool:
        """A chart pack has no bottom line; anything from an assessment has one (flagged when missing)."""
        return bool(self.bottom_line or self.question or self.judgements)

    @property
    def slide_count(self) -> int:
        """Title, bottom line (unless a chart pack), one per judgement, the sections (long ones over several
        slides), one per chart, sources."""
        extra = sum(len(section_pages(s)) for s in self.sections)
        charts = len(self.charts) + sum(c.native is not None for c in self.charts)  # native + image
        return 2 + int(self.has_bottom_line) + len(self.judgements) + extra + charts


SECTION_ITEMS_PER_SLIDE = 7


def section_pages(s: Section) -> list[tuple[str, ...]]:
    """A section's items in slide-sized pieces (a long evidence annex continues on the next slide)."""
    items = s.items or ("(none recorded)",)
    n = SECTION_ITEMS_PER_SLIDE
    return [items[k : k + n] for k in range(0, len(items), n)]


def make_briefing(
    title: str,
    *,
    bottom_line: str = "",
    judgements: Sequence[KeyJudgement] = (),
    charts: Sequence[BriefingChart] = (),
    sources: Iterable[str] = (),
    base_marking: Marking | None = None,
    draft: bool = False,
    status: str = "",
    question: str = "",
    prepared_by: str = "",
    now: datetime | None = None,
    sections: Sequence[Section] = (),
    protective: str = "OFFICIAL",
    recipients: Sequence[str] = (),
) -> Briefing:
    """A briefing whose marking combines the assessment's (`base_marking`) and every chart's, and whose
    sources add the licence credits those markings call for."""
    marking = combine_markings([base_marking or Marking(), *(c.marking for c in charts)])
    credits = source_credits(marking)
    return Briefing(
        title=title.strip() or "Untitled briefing",
        marking=marking,
        draft=draft,
        bottom_line=bottom_line.strip(),
        judgements=tuple(judgements),
        charts=tuple(charts),
        sources=tuple(
            dict.fromkeys([*(s for s in sources if s.strip()), *credits, *_records_credit(charts)])
        ),
        status=status or ("Draft" if draft else ""),
        question=question.strip(),
        prepared_by=prepared_by,
        generated_at=now or datetime.now(UTC),
        sections=tuple(sections),
        protective=protective if protective in PROTECTIVE_WORDS else "OFFICIAL",
        recipients=tuple(recipients) if marking.tlp == "RED" else (),
    )


def _records_credit(charts: Sequence[BriefingChart]) -> list[str]:
    if not charts:
        return []
    return ["Records in the joint UK–AU AI threat dashboard, drawn under the filters each figure names"]


def from_assessment(
    a: Any,
    *,
    charts: Sequence[BriefingChart] = (),
    prepared_by: str = "",
    now: datetime | None = None,
    extra_sources: Iterable[str] = (),
    evidence: Sequence[EvidenceLine] = (),
) -> Briefing:
    """A briefing from an analytics.assessments.model.Assessment (the read API's object): everything the
    approved text holds (`assessment_sections`), and the evidence annex (`evidence`, built by the caller, who
    knows what the reader may see).

    Duck-typed on purpose: this module stays free of the assessment workflow, and the adapter reads only the
    fields a reader sees. Anything that is not the approved text is a draft and is watermarked.
    """
    draft = not bool(getattr(a, "is_approved_text", False))
    judgements = []
    for j in a.judgements:
        band = getattr(j, "band", None)
        judgements.append(
            KeyJudgement(
                number=int(j.number),
                statement=str(j.statement),
                term=j.term,
                confidence=j.confidence,
                term_label=str(band.label) if band is not None else "",
                reasoning=str(getattr(j, "reasoning", "") or ""),
            )
        )
    sources = [f"Assessment A-{a.id} version {a.version} ({counted(len(a.evidence()), 'evidence item')})"]
    return make_briefing(
        a.title,
        bottom_line=a.bluf or "(no bottom line yet)",
        judgements=judgements,
        charts=charts,
        sources=[*sources, *extra_sources],
        base_marking=a.marking,
        draft=draft,
        status=assessment_status(a),
        question=a.question,
        prepared_by=prepared_by,
        now=now,
        sections=assessment_sections(a, evidence),
        protective=str(getattr(a, "protective", "OFFICIAL") or "OFFICIAL"),
        recipients=tuple(getattr(a, "named_recipients", ()) or ()),
    )


def _day(t: Any) -> str:
    return t.strftime("%Y-%m-%d") if t is not None else "date not recorded"


def _signer(s: Any) -> str:
    when = s.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if s.at.tzinfo else f"{s.at:%Y-%m-%d %H:%M}"
    return f"{s.name} ({s.institute} lead), signed {when}"


def assessment_status(a: Any) -> str:
    """The title block's status: who approved the approved text and when, else its status and version."""
    version = f"version {a.version}"
    if getattr(a, "is_approved_text", False):
        signers = " and ".join(f"{s.name} ({s.institute} lead)" for s in a.signoffs)
        by = f" by {signers}" if signers else ""
        return f"Approved {_day(a.approved_at)}{by} · {version}"
    return f"{a.status_label} · {version}" if hasattr(a, "status_label") else version


# The sections after the judgements, in reading order (page outlines list them from here).
SECTION_TITLES: tuple[str, ...] = (
    "What changed since the last assessment",
    "Assumptions",
    "Alternative views",
    "Indicators that would change these judgements",
    "Dissent",
    "Approval",
    "Evidence annex",
)


def assessment_sections(a: Any, evidence: Sequence[EvidenceLine] = ()) -> list[Section]:
    """Everything the assessment says beyond the bottom line and the judgements, as sections in reading order.
    Every section is present even when empty ("none recorded"), so a reader can tell nothing was dropped."""
    changes = []
    if a.supersedes is not None:
        changes.append(f"Supersedes assessment A-{a.supersedes}.")
    if a.changes:
        changes.append(a.changes)
    dissents = [
        f"On key judgement {j.number} — {d.name} ({d.institute}), {_day(d.at)}: {d.body}"
        for j in a.judgements
        for d in getattr(j, "dissents", ())
    ]
    dissents += [
        f"On the whole assessment — {d.name} ({d.institute}), {_day(d.at)}: {d.body}"
        for d in getattr(a, "dissents", ())
    ]
    approval = [_signer(s) for s in a.signoffs]
    if getattr(a, "is_approved_text", False):
        approval.append(f"Approved {_day(a.approved_at)} as version {a.version} of assessment A-{a.id}.")
    else:
        approval.append(f"Not approved: {a.status_label if hasattr(a, 'status_label') else 'draft'}.")
    items = (
        changes,
        a.assumptions,
        a.alternatives,
        a.indicators,
        dissents,
        approval,
        [e.text for e in evidence],
    )
    return [Section(t, tuple(i)) for t, i in zip(SECTION_TITLES, items, strict=True)]


def briefing_filename(b: Briefing, ext: str) -> str:
    """'2026-11-20_cyber-uplift_TLP-AMBER_REL-AU-UK.pptx'; drafts say DRAFT after the date."""
    title = f"DRAFT {b.title}" if b.draft else b.title
    return export_filename(title, b.marking, ext, b.generated_at)


# -- shared by the writers ------------------------------------------------------------------------------------------


def generated_when(b: Briefing) -> str:
    """When the briefing was generated, in UTC when the time carries a zone."""
    g = b.generated_at
    if g.tzinfo is not None:
        return g.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return g.strftime("%Y-%m-%d %H:%M")


def subtitle_line(b: Briefing) -> str:
    """The line under the title: what this is, its status, when and by whom it was generated."""
    bits = ["Joint UK–AU AI threat briefing"]
    if b.status:
        bits.append(b.status)
    bits.append(f"generated {generated_when(b)}" + (f" by {b.prepared_by}" if b.prepared_by else ""))
    return " · ".join(bits)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """'#FFC000' as (255, 192, 0): every writer's colour API takes the three channels."""
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def recipients_text(b: Briefing) -> str:
    """'for a@x, b@y only' on a TLP:RED briefing (who it may go to); '' otherwise."""
    if b.marking.tlp != "RED":
        return ""
    return f"for {', '.join(b.recipients)} only" if b.recipients else "for named recipients only (none named)"


def band_text(b: Briefing) -> str:
    """What follows the TLP label in every header and footer: releasability, RED recipients, protective marking."""
    bits = [f"releasable to {releasable_text(b.marking)}"]
    if r := recipients_text(b):
        bits.append(r)
    return " · ".join(bits)


def releasable_text(m: Marking) -> str:
    """Who a marking releases to, in words ('AU and UK'; 'nobody' when the list is empty)."""
    return " and ".join(m.releasable_to) if m.releasable_to else "nobody"
