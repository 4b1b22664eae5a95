"""The Markdown writer: a Briefing as text only; charts are listed by title and marking (their images are
downloaded beside it). Marking first and last, and a DRAFT notice under the first marking line of drafts.
"""

from __future__ import annotations

from analytics.access.markings import TLP_MEANING
from analytics.export.briefing.content import (
    WATERMARK,
    Briefing,
    band_text,
    protective_line,
    subtitle_line,
)
from analytics.export.chart_image import export_filename


def to_markdown(b: Briefing) -> str:
    """Text only: charts are listed by title and marking (download the images beside it)."""
    mark = f"**TLP:{b.marking.tlp}** · {band_text(b)} · **{protective_line(b.protective)}**"
    lines = [mark, ""]
    if b.draft:
        lines += [f"> **{WATERMARK}** — not approved; do not circulate as an agreed assessment.", ""]
    lines += [f"# {b.title}", "", f"*{subtitle_line(b)}*", "", f"Handling: {TLP_MEANING[b.marking.tlp]}", ""]
    if b.question:
        lines += ["## Question", "", b.question, ""]
    if b.has_bottom_line:
        lines += ["## Bottom line", "", b.bottom_line or "(no bottom line given)", ""]
    if b.judgements:
        lines += ["## Key judgements", ""]
        for j in b.judgements:
            lines.append(f"{j.number}. {j.statement}  ")
            lines.append(f"   *Yardstick:* **{j.term_text}** · *Confidence:* **{j.confidence_text}**")
            if j.reasoning:
                lines.append(f"   {j.reasoning}")
            lines.append("")
    for sec in b.sections:
        lines += [f"## {sec.title}", ""]
        lines += [f"- {item}" for item in (sec.items or ("(none recorded)",))]
        lines.append("")
    if b.charts:
        lines += ["## Charts", ""]
        for n, c in enumerate(b.charts, 1):
            name = export_filename(c.title, c.marking, "png", b.generated_at)
            extra = f" — {c.caption}" if c.caption else ""
            lines.append(f"- Figure {n}: {c.title}{extra} ({c.marking.label}; image: `{name}`)")
            alt = c.alt_text.replace("[", "(").replace("]", ")")  # stored text must not close the alt text
            lines.append(f"  ![{alt}]({name})")
        lines.append("")
    lines += ["## Sources", ""]
    lines += [f"- {s}" for s in (b.sources or ("(no sources recorded)",))]
    lines += ["", mark, ""]
    return "\n".join(lines)
