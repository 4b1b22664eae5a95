"""The briefing formats offered for download, and the one place that picks a writer for a format name.

Pages list FORMATS (media types) and FORMAT_LABELS to draw one download button per format; the builder calls
`render` with the viewer's choice, so an unknown name is refused here, once.
"""

from __future__ import annotations

from analytics.export.briefing.content import Briefing
from analytics.export.briefing.docx_writer import to_docx
from analytics.export.briefing.markdown import to_markdown
from analytics.export.briefing.pdf import to_pdf
from analytics.export.briefing.slides import to_pptx

FORMATS: dict[str, str] = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "md": "text/markdown",
}
FORMAT_LABELS: dict[str, str] = {
    "pptx": "PowerPoint (16:9)",
    "docx": "Word",
    "pdf": "PDF",
    "md": "Markdown",
}


def render(b: Briefing, fmt: str) -> bytes:
    """The briefing in one of FORMATS."""
    if fmt == "pptx":
        return to_pptx(b)
    if fmt == "docx":
        return to_docx(b)
    if fmt == "pdf":
        return to_pdf(b)
    if fmt == "md":
        return to_markdown(b).encode("utf-8")
    raise ValueError(f"unknown briefing format {fmt!r}; expected one of {', '.join(FORMATS)}")
